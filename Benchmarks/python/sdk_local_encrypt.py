#!/usr/bin/env python3
"""Times the official WorkOS Python SDK's local encrypt path: its own `vault.encrypt`, key call stubbed.

The baseline of `vault bench string` (this project's String API with a known data key) in
Benchmarks/compare. The SDK's `Vault.encrypt` (workos/vault/_resource.py) asks the API for a data key,
then decodes it, seals the UTF-8 text with `_aes_gcm_encrypt` (the `cryptography` package, OpenSSL)
under a fresh `os.urandom(12)` IV, frames IV, tag, LEB128 length, encrypted_keys and ciphertext, and
returns the base64 text. Here that very method runs with `create_data_key` replaced on the client's
vault resource by a function that returns one prepared response (a random 32-byte key and a random
180-byte encrypted_keys, the size `vault bench string` uses), so no request is made and everything
else is the SDK's code as shipped. The result is decrypted and checked once first.

Prints:

    python-local encrypt-SIZEb OPS_PER_SECOND CPU_MICROSECONDS_PER_OPERATION

Example: python3 sdk_local_encrypt.py --size 1048576 --seconds 2
"""

from __future__ import annotations

import argparse
import base64
import os
import sys

from bench_common import measure, text
from workos import WorkOSClient
from workos.vault._resource import _aes_gcm_decrypt, _decode_encrypted_payload
from workos.vault.models import CreateDataKeyResponse


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to measure")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured calls before the measurement")
    parser.add_argument("--size", type=int, default=64, help="the plaintext size in bytes (ASCII text)")
    arguments = parser.parse_args()

    # Never contacted: create_data_key, the only call encrypt makes, is replaced below.
    client = WorkOSClient(api_key="sk_test_local", client_id="client_test", base_url="http://127.0.0.1:9")
    key = os.urandom(32)
    context = {"organization_id": "org_bench"}
    prepared = CreateDataKeyResponse(
        context=context,
        data_key=base64.b64encode(key).decode("ascii"),
        encrypted_keys=base64.b64encode(os.urandom(180)).decode("ascii"),
        id="key_bench",
    )
    vault = client.vault
    vault.create_data_key = lambda *, context, request_options=None: prepared  # type: ignore[method-assign]

    plaintext = text(arguments.size)
    blob = vault.encrypt(data=plaintext, key_context=context)
    decoded = _decode_encrypted_payload(blob)
    opened = _aes_gcm_decrypt(ciphertext=decoded.ciphertext, key=key, iv=decoded.iv, tag=decoded.tag)
    if decoded.keys != prepared.encrypted_keys or opened.decode("utf-8") != plaintext:
        raise AssertionError("the blob decrypted to something else")

    measure(
        "python-local",
        f"encrypt-{arguments.size}b",
        lambda: vault.encrypt(data=plaintext, key_context=context),
        arguments.seconds,
        arguments.warmup,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
