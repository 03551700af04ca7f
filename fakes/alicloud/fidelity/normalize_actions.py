#!/usr/bin/env python3
"""Turns the FAKE Alibaba Cloud API's request log into a stable action list.

One line per request: `<service> <Action> <region>` plus ` -> <Code>` when
the fake answered an error. Ids are left out, so two runs of the same client
give the same list:
- consecutive identical lines (status polls, whose count depends on
  timing) are collapsed into one;
- a run of the same action over several regions is sorted by region (packer
  walks its region -> image map, a Go map, in random order);
- the Location service's DescribeEndpoints (the Go SDK's endpoint
  discovery, cached per region, so where it falls depends on that order)
  is left out.

Usage: normalize_actions.py requests.json  (prints the list)
"""

import json
import sys


def normalize(log):
    lines = []
    for r in log:
        if r["service"] == "location":
            continue
        line = f"{r['service']} {r['action']} {r['region'] or '-'}"
        if r.get("code"):
            line += f" -> {r['code']}"
        if not lines or lines[-1] != line:
            lines.append(line)
    out = []
    i = 0
    while i < len(lines):
        j = i
        head = lines[i].split()[:2]
        while j < len(lines) and lines[j].split()[:2] == head:
            j += 1
        out.extend(sorted(lines[i:j]))
        i = j
    return out


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        for line in normalize(json.load(f)):
            print(line)
