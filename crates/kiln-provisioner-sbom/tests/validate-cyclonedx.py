"""Validates CycloneDX 1.5 JSON files with cyclonedx-python-lib's strict
JSON validator (the reference schema, formats checked), and checks that
each component's package URL parses with the reference packageurl-python,
is in its canonical form and names the component. Prints each problem;
exits 1 when there is any. Used by kiln-provisioner-sbom's tests and the
`sbom` CLI tests."""

import json
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

validator = JsonStrictValidator(SchemaVersion.V1_5)
bad = 0
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    error = validator.validate_str(text)
    if error is not None:
        print(f"{path}: {error}")
        bad = 1
        continue
    for c in json.loads(text).get("components", []):
        purl = c["purl"]
        try:
            p = PackageURL.from_string(purl)
        except ValueError as e:
            print(f"{path}: bad purl {purl}: {e}")
            bad = 1
            continue
        if p.to_string() != purl:
            print(f"{path}: purl {purl} is not canonical: {p.to_string()}")
            bad = 1
        if p.name != c["name"] or not c["version"].endswith(p.version):
            print(f"{path}: purl {purl} does not name {c['name']} {c['version']}")
            bad = 1
sys.exit(bad)
