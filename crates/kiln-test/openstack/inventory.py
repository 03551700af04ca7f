#!/usr/bin/python3
"""What the openstack tests' project holds, as JSON: servers, ports,
floating IPs, key pairs, volumes and images (the project's own, not the
shared base images), each as a sorted list of {id, name, status, ...}.
The tests compare it before and after a build (nothing left behind) and
between a kiln and a packer build. Credentials: the OS_* environment.
Uses openstacksdk from Debian's python3-openstacksdk (/usr/bin/python3).
"""
import json
import openstack


def main():
    c = openstack.connect()
    project = c.current_project_id
    out = {
        "servers": [{"id": s.id, "name": s.name, "status": s.status, "key_name": s.key_name,
                     "metadata": s.metadata} for s in c.compute.servers()],
        "ports": [{"id": p.id, "name": p.name, "device_owner": p.device_owner,
                   "device_id": p.device_id} for p in c.network.ports(project_id=project)
                  if not (p.device_owner or "").startswith("network:")],
        "floating_ips": [{"id": f.id, "address": f.floating_ip_address, "port_id": f.port_id,
                          "description": f.description}
                         for f in c.network.ips(project_id=project)],
        "keypairs": [{"name": k.name} for k in c.compute.keypairs()],
        "images": [{"id": i.id, "name": i.name, "status": i.status, "visibility": i.visibility,
                    "disk_format": i.disk_format, "size": i.size,
                    "tags": sorted(i.tags or []), "min_disk": i.min_disk,
                    "members": sorted([m.member_id, m.status] for m in c.image.members(i)),
                    "properties": {k: v for k, v in (i.properties or {}).items()
                                   if k.startswith("kiln:") or k in ("image_type",)}}
                   for i in c.image.images(owner=project)],
    }
    out["volumes"] = [{"id": v.id, "name": v.name, "status": v.status}
                      for v in c.block_storage.volumes()]
    for v in out.values():
        v.sort(key=lambda x: (x.get("name") or "", x.get("id") or ""))
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
