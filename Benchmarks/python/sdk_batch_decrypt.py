#!/usr/bin/env python3
"""Times the official WorkOS Python SDK decrypting a file of blobs in a loop, against a Vault server.

The baseline of `vault bench batch-decrypt` (this client's `decrypt(many:)`) in Benchmarks/compare.
The SDK has no batch call, so this is the loop an application would write: `client.vault.decrypt`
once per blob, each a request (POST /keys/decrypt) plus the SDK's own AES-GCM work. The blobs come
one a line from --blobs (as `vault bench blobs` writes them, each under its own data key); the first
--warmup-count are decrypted once first, unmeasured, then all of them once, timed, every plaintext
checked against the text of --size bytes. Prints:

    python decrypt-loop-COUNT BLOBS_PER_SECOND CPU_MICROSECONDS_PER_BLOB
    python peak-rss-kib KIB

with CPU this process's user plus system time (resource.getrusage) and the peak its ru_maxrss.

Environment: WORKOS_API_KEY and WORKOS_BASE_URL (the server to measure).
Example: WORKOS_API_KEY=sk_test_x WORKOS_BASE_URL=http://127.0.0.1:8080 \\
    python3 sdk_batch_decrypt.py --blobs blobs.txt --size 64
"""

from __future__ import annotations

import argparse
import sys
import time

from bench_common import cpu_microseconds, peak_rss_kib, sdk_client_from_environment, text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blobs", required=True, help="the file of base64 blobs, one a line")
    parser.add_argument("--size", type=int, default=64, help="the plaintext size the blobs were made with")
    parser.add_argument("--warmup-count", type=int, default=100, help="blobs decrypted once before timing")
    arguments = parser.parse_args()

    client = sdk_client_from_environment()
    if client is None:
        return 1
    with open(arguments.blobs, encoding="ascii") as file:
        blobs = [line.strip() for line in file if line.strip()]
    if not blobs:
        print(f"{arguments.blobs} holds no blobs", file=sys.stderr)
        return 1

    expected = text(arguments.size)

    def decrypt_all(items: list[str]) -> None:
        for blob in items:
            if client.vault.decrypt(encrypted_data=blob) != expected:
                raise AssertionError("a blob decrypted to something else")

    decrypt_all(blobs[: arguments.warmup_count])
    cpu_before = cpu_microseconds()
    start = time.perf_counter()
    decrypt_all(blobs)
    elapsed = time.perf_counter() - start
    cpu = cpu_microseconds() - cpu_before
    print(f"python decrypt-loop-{len(blobs)} {len(blobs) / elapsed:.1f} {cpu / len(blobs):.1f}", flush=True)
    print(f"python peak-rss-kib {peak_rss_kib()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
