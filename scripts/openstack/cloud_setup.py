#!/usr/bin/python3
"""Creates the Keystone entries and the resources of kiln's test OpenStack, with openstacksdk.

Run by scripts/openstack.sh start (as admin, OS_* in the environment); every step is
find-or-create, so a rerun after a failed start is safe.
  cloud_setup.py identity         service project/role/users, catalog, users `kiln`, `kiln-other`
  cloud_setup.py resources IMAGE  flavor m1.tiny (id 1), public image `tiny` from IMAGE,
                                  networks `private` (shared) and `public` (external), router1
"""
import sys
import time

import openstack

REGION = 'RegionOne'
SERVICE_USERS = ('glance', 'nova', 'placement', 'neutron', 'cinder')
# type, name, url
CATALOG = (
    ('image', 'glance', 'http://127.0.0.1:9292'),
    ('placement', 'placement', 'http://127.0.0.1:8778'),
    ('compute', 'nova', 'http://127.0.0.1:8774/v2.1'),
    ('network', 'neutron', 'http://127.0.0.1:9696'),
    ('volumev3', 'cinderv3', 'http://127.0.0.1:8776/v3/%(project_id)s'),
)
# user, password, project: the non-admin users the builder tests use (member role)
TEST_USERS = (('kiln', 'kiln-secret', 'kiln'), ('kiln-other', 'kiln-other-secret', 'kiln-other'))


def log(msg):
    print(f'cloud_setup: {msg}', file=sys.stderr, flush=True)


class Identity:
    """Find-or-create over listings fetched once (each Keystone call costs ~0.1 s here)."""

    def __init__(self, idn, domain):
        self.idn = idn
        self.domain = domain
        self.projects = {p.name: p for p in idn.projects(domain_id=domain.id)}
        self.users = {u.name: u for u in idn.users(domain_id=domain.id)}
        self.roles = {r.name: r for r in idn.roles()}

    def project(self, name):
        if name not in self.projects:
            self.projects[name] = self.idn.create_project(
                name=name, domain_id=self.domain.id, description=f'kiln test cloud: {name}')
            log(f'created project `{name}`')
        return self.projects[name]

    def user(self, name, password, default_project=None):
        if name not in self.users:
            args = {'name': name, 'password': password, 'domain_id': self.domain.id}
            if default_project is not None:
                args['default_project_id'] = default_project.id
            self.users[name] = self.idn.create_user(**args)
            log(f'created user `{name}`')
        return self.users[name]

    def role(self, name):
        if name not in self.roles:
            self.roles[name] = self.idn.create_role(name=name)
            log(f'created role `{name}`')
        return self.roles[name]

    def grant(self, role_name, user_obj, project_obj):
        # one PUT, idempotent
        self.idn.assign_project_role_to_user(project_obj, user_obj, self.role(role_name))


def identity(conn):
    idn = conn.identity
    domain = idn.get_domain('default')
    ids = Identity(idn, domain)
    service = ids.project('service')
    for name in SERVICE_USERS:
        u = ids.user(name, 'secret')
        ids.grant('admin', u, service)
        ids.grant('service', u, service)
    services = {s.type: s for s in idn.services()}
    endpoints = {(e.service_id, e.interface) for e in idn.endpoints()}
    for stype, name, url in CATALOG:
        svc = services.get(stype)
        if svc is None:
            svc = idn.create_service(name=name, type=stype, enabled=True)
            log(f'created service `{name}`')
        for iface in ('public', 'internal', 'admin'):
            if (svc.id, iface) not in endpoints:
                idn.create_endpoint(service_id=svc.id, interface=iface, url=url, region_id=REGION)
    for uname, password, pname in TEST_USERS:
        p = ids.project(pname)
        ids.grant('member', ids.user(uname, password, p), p)


def resources(conn, image_file):
    if conn.compute.find_flavor('m1.tiny') is None:
        conn.create_flavor('m1.tiny', ram=512, vcpus=1, disk=1, flavorid='1', is_public=True)
        log('created flavor `m1.tiny`')

    img = conn.image.find_image('tiny')
    if img is not None and img.status != 'active':
        log(f'deleting image `tiny` left `{img.status}` by an earlier start')
        conn.image.delete_image(img)
        img = None
    if img is None:
        conn.create_image('tiny', filename=image_file, disk_format='qcow2', container_format='bare',
                          visibility='public', wait=True, timeout=120)
        log('created image `tiny`')

    net = conn.network
    private = net.find_network('private')
    if private is None:
        private = net.create_network(name='private', is_shared=True)
        log('created network `private`')
    psub = net.find_subnet('private-subnet')
    if psub is None:
        psub = net.create_subnet(name='private-subnet', network_id=private.id, ip_version=4,
                                 cidr='10.99.0.0/24')
    public = net.find_network('public')
    if public is None:
        public = net.create_network(name='public', is_router_external=True,
                                    provider_network_type='flat',
                                    provider_physical_network='public')
        log('created network `public`')
    if net.find_subnet('public-subnet') is None:
        net.create_subnet(name='public-subnet', network_id=public.id, ip_version=4,
                          cidr='172.31.250.0/24', is_dhcp_enabled=False)
    router = net.find_router('router1')
    if router is None:
        router = net.create_router(name='router1', external_gateway_info={'network_id': public.id})
        log('created router `router1`')
    elif not router.external_gateway_info:
        net.update_router(router, external_gateway_info={'network_id': public.id})
    attached = any(ip.get('subnet_id') == psub.id
                   for p in net.ports(device_id=router.id) for ip in p.fixed_ips)
    if not attached:
        net.add_interface_to_router(router, subnet_id=psub.id)


def main(argv):
    if len(argv) < 2 or argv[1] not in ('identity', 'resources'):
        raise SystemExit(__doc__)
    start = time.time()
    conn = openstack.connect()  # OS_* from the environment
    if argv[1] == 'identity':
        identity(conn)
    else:
        if len(argv) != 3:
            raise SystemExit(__doc__)
        resources(conn, argv[2])
    log(f'{argv[1]} done in {time.time() - start:.1f}s')


if __name__ == '__main__':
    main(sys.argv)
