"""An independent check of kiln's attestations with securesystemslib (the
in-toto project's signing library), run by tests/securesystemslib.rs.

    python securesystemslib_dsse.py verify ATTESTATION PUBLIC.pem [SHA256]
        Verifies every envelope of ATTESTATION (JSON Lines) with the public
        key, as in-toto does: the key id is the one securesystemslib computes
        for the key, the signature scheme its default for the key type. With
        SHA256, also checks that a subject of the statement has that digest.
        Prints `ok KEYID` and exits 0, or prints why and exits 1.

    python securesystemslib_dsse.py sign PRIVATE.pem PAYLOAD_FILE
        Prints a DSSE envelope of PAYLOAD_FILE (an in-toto statement) signed
        by securesystemslib's CryptoSigner, for kiln to verify.
"""

import json
import sys

from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_pem_public_key,
)
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

PAYLOAD_TYPE = "application/vnd.in-toto+json"


def verify(attestation, public_pem, sha256):
    with open(public_pem, "rb") as f:
        key = SSlibKey.from_crypto(load_pem_public_key(f.read()))
    with open(attestation, encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    if not lines:
        print("no envelope")
        return 1
    for line in lines:
        envelope = Envelope.from_dict(json.loads(line))
        if envelope.payload_type != PAYLOAD_TYPE:
            print(f"payload type {envelope.payload_type!r}")
            return 1
        try:
            accepted = envelope.verify([key], 1)
        except VerificationError as e:
            print(f"verification failed: {e}")
            return 1
        statement = json.loads(envelope.payload)
        if statement.get("_type") != "https://in-toto.io/Statement/v1":
            print(f"statement type {statement.get('_type')!r}")
            return 1
        if statement.get("predicateType") != "https://slsa.dev/provenance/v1":
            print(f"predicate type {statement.get('predicateType')!r}")
            return 1
        digests = [s["digest"].get("sha256") for s in statement["subject"]]
        if sha256 is not None and sha256 not in digests:
            print(f"no subject has sha256 {sha256} (subjects: {digests})")
            return 1
        print("ok " + ",".join(accepted))
    return 0


def sign(private_pem, payload_file):
    with open(private_pem, "rb") as f:
        private = load_pem_private_key(f.read(), password=None)
    public = SSlibKey.from_crypto(private.public_key())
    signer = CryptoSigner(private, public)
    with open(payload_file, "rb") as f:
        envelope = Envelope(f.read(), PAYLOAD_TYPE, {})
    envelope.sign(signer)
    print(json.dumps(envelope.to_dict()))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "verify":
        return verify(argv[1], argv[2], argv[3] if len(argv) > 3 else None)
    if len(argv) == 3 and argv[0] == "sign":
        return sign(argv[1], argv[2])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
