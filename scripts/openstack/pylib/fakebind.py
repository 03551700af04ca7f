"""STAND-IN ML2 mechanism driver for kiln's test OpenStack (scripts/openstack.sh).

Not a real network backend: with no Neutron agents running, nothing can bind a port, so
Nova's boot would fail. This driver binds every port on any host (VIF type ovs, no port
filter) and marks it ACTIVE. The Neutron API server itself is real; only the data plane is
missing (a floating IP stays DOWN: no L3 agent). Registered through
fakebind-0.1.dist-info/entry_points.txt.
"""
from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class FakeBindDriver(api.MechanismDriver):
    """Binds every port on any host, marking it ACTIVE. No agents needed."""

    def initialize(self):
        pass

    def bind_port(self, context):
        for seg in context.segments_to_bind:
            context.set_binding(seg[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: False},
                                status=constants.PORT_STATUS_ACTIVE)
            return
