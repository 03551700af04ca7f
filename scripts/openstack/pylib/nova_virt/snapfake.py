"""STAND-IN compute driver for kiln's test OpenStack (scripts/openstack.sh).

Not a hypervisor: it is Nova's own nova.virt.fake.FakeDriver (no VM runs; servers just go
ACTIVE/SHUTOFF), with one change. The stock FakeDriver.snapshot() only flips the task state
and never uploads data, so the snapshot image stays `queued` forever; this subclass copies
the bytes of the server's source image into the snapshot, so it goes `active` like a real
one. Every API service around it (Nova, Glance, Neutron, Placement, Keystone) is real.

Nova loads drivers only as nova.virt.<name>: pylib/nova_compute_fake.py adds this
directory to nova.virt's package path, so `compute_driver = snapfake.SnapshotFakeDriver`.
"""
import io

from nova import exception
from nova.compute import task_states
from nova.image import glance as nova_glance
from nova.virt import fake


class SnapshotFakeDriver(fake.FakeDriver):
    def snapshot(self, context, instance, image_id, update_task_state):
        if instance.uuid not in self.instances:
            raise exception.InstanceNotRunning(instance_id=instance.uuid)
        api = nova_glance.API()
        update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
        src = api.get(context, instance.image_ref)
        buf = io.BytesIO()
        api.download(context, instance.image_ref, data=buf)
        buf.seek(0)
        update_task_state(task_state=task_states.IMAGE_UPLOADING,
                          expected_state=task_states.IMAGE_PENDING_UPLOAD)
        meta = {'disk_format': src.get('disk_format') or 'raw',
                'container_format': src.get('container_format') or 'bare'}
        api.update(context, image_id, meta, data=buf, purge_props=False)
