#!/usr/bin/python3
"""Waits until an RPC queue of kiln's test OpenStack has a consumer (scripts/openstack.sh start).

usage: wait_consumer.py QUEUE SECONDS
A nova service consumes its queue (e.g. `conductor`, `compute.fakehost`) once it is ready to
serve; a message sent before that is lost. Polls RabbitMQ on 127.0.0.1:5672 (guest) with
passive queue declares; exit 0 when QUEUE has a consumer, 1 after SECONDS.
"""
import sys
import time

import kombu
from amqp.exceptions import NotFound


def consumers(conn, queue):
    ch = conn.channel()
    try:
        return ch.queue_declare(queue=queue, passive=True).consumer_count
    except NotFound:
        return 0
    finally:
        if ch.is_open:
            ch.close()


def main(argv):
    if len(argv) != 3:
        raise SystemExit(__doc__)
    queue, seconds = argv[1], float(argv[2])
    deadline = time.monotonic() + seconds
    with kombu.Connection('amqp://guest:guest@127.0.0.1:5672//', connect_timeout=5) as conn:
        while consumers(conn, queue) == 0:
            if time.monotonic() > deadline:
                print(f'error: no consumer on RabbitMQ queue `{queue}` after {seconds:.0f}s',
                      file=sys.stderr)
                return 1
            time.sleep(0.2)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
