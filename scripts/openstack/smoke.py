#!/usr/bin/python3
"""Smoke test of kiln's test OpenStack (scripts/openstack.sh smoke), with openstacksdk.

As the user in the OS_* environment: boot a server from `tiny` on `private`, stop it,
snapshot it (the image must go `active` with bytes in it), give it a floating IP from
`public`, then delete all of it. Exits non-zero on any failure; cleans up either way.
"""
import os
import sys
import time
import uuid

import openstack

T0 = time.time()


def lap(msg):
    print(f'{time.time() - T0:6.1f}s {msg}', flush=True)


def fail(msg):
    raise SystemExit(f'error: {msg}')


def main():
    conn = openstack.connect()  # from the OS_* environment
    user = os.environ.get('OS_USERNAME', '?')
    name = f'kiln-smoke-{user}-{uuid.uuid4().hex[:8]}'
    made = {}
    try:
        kp = conn.compute.create_keypair(name=name)
        made['keypair'] = kp
        img = conn.image.find_image('tiny') or fail('image `tiny` not found')
        flavor = conn.compute.find_flavor('m1.tiny') or fail('flavor `m1.tiny` not found')
        net = conn.network.find_network('private') or fail('network `private` not found')
        ext = conn.network.find_network('public') or fail('network `public` not found')
        lap(f'as `{user}`: image {img.id}, flavor {flavor.id}, network {net.id}')

        srv = conn.compute.create_server(name=name, image_id=img.id, flavor_id=flavor.id,
                                         networks=[{'uuid': net.id}], key_name=kp.name)
        made['server'] = srv
        srv = conn.compute.wait_for_server(srv, status='ACTIVE', wait=120)
        lap(f'server {srv.status} on {srv.compute_host or "(host hidden)"} {srv.addresses}')
        if not srv.addresses.get('private'):
            fail(f'server `{name}` has no address on `private`: {srv.addresses}')

        conn.compute.stop_server(srv)
        srv = conn.compute.wait_for_server(srv, status='SHUTOFF', wait=60)
        lap(f'server {srv.status}')

        snap_id = conn.compute.create_server_image(srv, name=name + '-snap', wait=False)
        snap_id = getattr(snap_id, 'id', snap_id)
        made['image'] = snap_id
        for _ in range(120):
            im = conn.image.get_image(snap_id)
            if im.status in ('active', 'killed', 'deleted'):
                break
            time.sleep(0.5)
        if im.status != 'active' or not im.size:
            fail(f'snapshot `{name}-snap` is `{im.status}` with size {im.size}')
        lap(f'snapshot {im.status} size={im.size} disk_format={im.disk_format} owner={im.owner}')

        fip = conn.network.create_ip(floating_network_id=ext.id)
        made['fip'] = fip
        port = next(iter(conn.network.ports(device_id=srv.id)), None) or fail('server has no port')
        conn.network.update_ip(fip, port_id=port.id)
        fip = conn.network.get_ip(fip.id)
        if fip.fixed_ip_address is None or fip.port_id != port.id:
            fail(f'floating IP {fip.floating_ip_address} not associated: {fip}')
        lap(f'floating ip {fip.floating_ip_address} -> {fip.fixed_ip_address} (status {fip.status})')
    finally:
        if 'fip' in made:
            conn.network.delete_ip(made['fip'], ignore_missing=True)
        if 'server' in made:
            conn.compute.delete_server(made['server'], ignore_missing=True)
            conn.compute.wait_for_delete(made['server'], wait=60)
        if 'image' in made:
            conn.image.delete_image(made['image'], ignore_missing=True)
        if 'keypair' in made:
            conn.compute.delete_keypair(made['keypair'], ignore_missing=True)
        lap('deleted floating ip, server, snapshot, keypair')
    leftovers = [s.name for s in conn.compute.servers() if s.name == name]
    if leftovers:
        fail(f'server `{name}` still listed after delete')


if __name__ == '__main__':
    main()
