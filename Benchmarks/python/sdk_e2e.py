#!/usr/bin/env python3
"""Times the official WorkOS Python SDK's vault encrypt and decrypt against a Vault server.

The counterpart of `vault bench e2e`, with the same method and output, so that Benchmarks/compare
can set the two side by side: a sequential loop per operation for --seconds after a --warmup (or
--threads loops sharing one client, the SDK being synchronous), each call one request (POST
/keys/data-key or /keys/decrypt) plus the SDK's own AES-GCM work; decrypt calls open one blob made
at the start; every result is checked. Prints, per operation:

    e2e NAME OPS_PER_SECOND CPU_MICROSECONDS_PER_OPERATION

with NAME encrypt-64b or decrypt-64b (encrypt-64b-c8 with --threads 8), and CPU this process's user
plus system time (resource.getrusage, all threads) divided by the operations completed.

Environment: WORKOS_API_KEY and WORKOS_BASE_URL (the server to measure).
Example: WORKOS_API_KEY=sk_test_x WORKOS_BASE_URL=http://127.0.0.1:8080 python3 sdk_e2e.py --seconds 5
"""

from __future__ import annotations

import argparse
import sys

from bench_common import measure, sdk_client_from_environment, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to measure each operation")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured calls before each measurement")
    parser.add_argument("--size", type=int, default=64, help="the plaintext size in bytes (ASCII text)")
    parser.add_argument(
        "--threads", type=int, default=1, help="calls in flight: threads sharing the client, each in a loop"
    )
    arguments = parser.parse_args()

    client = sdk_client_from_environment()
    if client is None:
        return 1

    plaintext = text(arguments.size)
    context = {"organization_id": "org_bench"}
    suffix = f"-{arguments.size}b" + (f"-c{arguments.threads}" if arguments.threads > 1 else "")

    def encrypt() -> None:
        client.vault.encrypt(data=plaintext, key_context=context, associated_data=None)

    blob = client.vault.encrypt(data=plaintext, key_context=context, associated_data=None)

    def decrypt() -> None:
        if client.vault.decrypt(encrypted_data=blob) != plaintext:
            raise AssertionError("the blob decrypted to something else")

    measure("e2e", "encrypt" + suffix, encrypt, arguments.seconds, arguments.warmup, arguments.threads)
    measure("e2e", "decrypt" + suffix, decrypt, arguments.seconds, arguments.warmup, arguments.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
