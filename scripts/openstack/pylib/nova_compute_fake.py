"""Runs nova-compute with kiln's STAND-IN compute driver (scripts/openstack.sh start).

Same as /usr/bin/nova-compute, except that:
- nova_virt/ (next to this file) is added to the nova.virt package, where Nova looks up
  `compute_driver`, so snapfake.SnapshotFakeDriver loads without copying anything into
  /usr/lib/python3/dist-packages;
- with KILN_COMPUTE_GO_FILE set, it loads its modules (the slow part) and then waits for that
  file before starting, so scripts/openstack.sh can start it early yet let it begin only once
  nova-conductor and Placement are ready.
"""
import os
import sys
import time

from nova.cmd.compute import main  # nova.cmd monkey-patches eventlet first
import nova.virt

nova.virt.__path__.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'nova_virt'))


def wait_for_go(path, seconds=600):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            sys.exit(f'error: `{path}` did not appear within {seconds}s')
        time.sleep(0.2)


if __name__ == '__main__':
    go = os.environ.get('KILN_COMPUTE_GO_FILE')
    if go:
        wait_for_go(go)
    sys.exit(main())
