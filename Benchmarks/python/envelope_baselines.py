#!/usr/bin/env python3
"""Times envelope encryption with a fresh data key per message in two Python libraries, no network.

The baselines of `vault bench embedded` (this project's embedded resolver) in Benchmarks/compare:

- Google Tink's KmsEnvelopeAead, DEK template AES256_GCM, with a local AES256_GCM AEAD standing in
  for the remote KMS key (the KEK): each encrypt makes a new DEK, seals the text with it and wraps it
  with the KEK;
- the AWS Encryption SDK with a RawMasterKey (a raw AES-256-GCM wrapping key, no KMS) and the
  committing algorithm suite without a signature, AES_256_GCM_HKDF_SHA512_COMMIT_KEY (the SDK's
  default suite adds an ECDSA P-384 signature per message: timed too, as aws-esdk-signed, when
  --signed is given): each encrypt makes a new data key and writes an SDK message (default framing).

Both take and return bytes (their API); ASCII text of --size bytes is encoded once. A sequential loop
per library for --seconds after a --warmup, the clock read between calls; every library's output is
decrypted and checked once first. Prints, per library:

    SOURCE encrypt-SIZEb OPS_PER_SECOND CPU_MICROSECONDS_PER_OPERATION

with SOURCE tink, aws-esdk or aws-esdk-signed, and CPU this process's user plus system time
(resource.getrusage) divided by the operations completed.

Example: python3 envelope_baselines.py --size 1024 --seconds 2
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from bench_common import measure, text


def tink_encrypt(plaintext: bytes) -> Callable[[], None]:
    import tink
    from tink import aead

    aead.register()
    # The "remote" KEK: a local AEAD, so that no network is involved.
    kek = tink.new_keyset_handle(aead.aead_key_templates.AES256_GCM).primitive(aead.Aead)
    envelope = aead.KmsEnvelopeAead(aead.aead_key_templates.AES256_GCM, kek)
    if envelope.decrypt(envelope.encrypt(plaintext, b""), b"") != plaintext:
        raise AssertionError("Tink: the envelope decrypted to something else")

    def encrypt() -> None:
        envelope.encrypt(plaintext, b"")

    return encrypt


def aws_esdk_encrypt(plaintext: bytes, signed: bool) -> Callable[[], None]:
    import aws_encryption_sdk
    from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
    from aws_encryption_sdk.key_providers.raw import RawMasterKey, WrappingKey

    master_key = RawMasterKey(
        provider_id="vault-compare",
        key_id=b"kek-1",
        wrapping_key=WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=os.urandom(32),
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        ),
    )
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    options = {} if signed else {"algorithm": Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY}
    ciphertext, _ = client.encrypt(source=plaintext, key_provider=master_key, **options)
    decrypted, _ = client.decrypt(source=ciphertext, key_provider=master_key)
    if decrypted != plaintext:
        raise AssertionError("AWS Encryption SDK: the message decrypted to something else")

    def encrypt() -> None:
        client.encrypt(source=plaintext, key_provider=master_key, **options)

    return encrypt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to measure each library")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured calls before each measurement")
    parser.add_argument("--size", type=int, default=64, help="the plaintext size in bytes (ASCII text)")
    parser.add_argument("--signed", action="store_true", help="also time the AWS SDK's default (signed) suite")
    parser.add_argument("--only", choices=["tink", "aws-esdk"], help="time one library only")
    arguments = parser.parse_args()

    plaintext = text(arguments.size).encode("utf-8")
    name = f"encrypt-{arguments.size}b"
    if arguments.only in (None, "tink"):
        measure("tink", name, tink_encrypt(plaintext), arguments.seconds, arguments.warmup)
    if arguments.only in (None, "aws-esdk"):
        measure("aws-esdk", name, aws_esdk_encrypt(plaintext, signed=False), arguments.seconds, arguments.warmup)
        if arguments.signed:
            measure(
                "aws-esdk-signed", name, aws_esdk_encrypt(plaintext, signed=True), arguments.seconds, arguments.warmup
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
