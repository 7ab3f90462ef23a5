#!/usr/bin/env python3
"""Regenerates the seed corpus in Fuzz/corpus/ (the files are committed; run this only to change them).

Real blobs come from Fixtures/format-vectors.json (layouts A and B, as the official SDKs write them). No SDK
vector exists for the legacy layout A', so one is sealed here with a 32-byte IV; that needs the `cryptography`
package (pip install cryptography). The rest are hand-made edge cases for the length checks, LEB128 and base64.
"""

import base64
import json
import pathlib

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "Fuzz" / "corpus"
TAG_COUNT = 16


def leb128(value):
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def main():
    vectors = json.loads((ROOT / "Fixtures" / "format-vectors.json").read_text())["vectors"]
    seeds = {}

    # Vectors 0, 1, 3 and 5: empty, 1-byte, non-ASCII and 1000-byte plaintexts; 1- and 2-byte LEB128 lengths.
    # The 5000-byte vectors are left out: they exceed the fuzzer's -max_len and would be truncated.
    for index, name in [(0, "empty-plaintext"), (1, "short-keys"), (3, "unicode"), (5, "1000-bytes")]:
        seeds[f"a-{name}.bin"] = base64.b64decode(vectors[index]["blob_format_a"])
    for index, name in [(0, "empty-plaintext"), (1, "short-keys"), (2, "associated-data")]:
        seeds[f"b-{name}.bin"] = base64.b64decode(vectors[index]["blob_format_b"])

    # A' is layout A with a 32-byte IV. A fixed IV keeps the file stable across runs of this script.
    vector = vectors[2]
    iv = bytes(range(32))
    sealed = AESGCM(base64.b64decode(vector["data_key"])).encrypt(
        iv, vector["plaintext"].encode(), (vector["associated_data"] or "").encode()
    )
    ciphertext, tag = sealed[:-TAG_COUNT], sealed[-TAG_COUNT:]
    keys = base64.b64decode(vector["encrypted_keys"])
    seeds["legacy-a-associated-data.bin"] = iv + tag + leb128(len(keys)) + keys + ciphertext

    # Blobs that parse as more than one layout, so detection has to choose: B wins on a known key-service
    # prefix, A' on a key-service tag (a dotted name of 8 or more characters) even though A fits; a short tag
    # such as KMS.1 is no evidence, and A wins.
    workos = b"WOS.EKM.v1\0"
    b_keys = leb128(len(workos)) + workos
    seeds["ambiguous-b-wins.bin"] = b_keys + bytes(28 - len(b_keys)) + b"\x05" + bytes(5) + bytes(26)
    seeds["ambiguous-a-wins-over-short-tag.bin"] = bytes(28) + b"\x02\x01\x01" + bytes(17) + b"\x06" + b"KMS.1\0" + bytes(8)
    seeds["ambiguous-a-python-sdk-untagged.bin"] = base64.b64decode(
        json.loads((ROOT / "Fixtures" / "layout-detection-vectors.json").read_text())["vectors"][0]["blob"]
    )
    seeds["ambiguous-legacy-a-wins.bin"] = bytes(28) + b"\x02\x01\x01" + bytes(17) + b"\x0c" + b"ACME.KMS.v1\0" + bytes(8)

    # Edge cases: nothing, one byte short of the smallest A blob, LEB128 at its limits and just past them,
    # and the wrapped-keys cap (65536 accepted, 65537 rejected) with too few bytes to follow.
    seeds["empty.bin"] = b""
    seeds["short-a-header.bin"] = bytes(28) + b"\x01"
    seeds["leb128-max-u32.bin"] = bytes.fromhex("ffffffff0f")
    seeds["leb128-overflow.bin"] = bytes.fromhex("ffffffff1f")
    seeds["leb128-five-byte.bin"] = bytes.fromhex("8080808010")
    seeds["leb128-non-minimal.bin"] = bytes.fromhex("8000")
    seeds["keys-at-cap.bin"] = bytes(28) + leb128(65_536) + b"WOS.EKM.v1\0"
    seeds["keys-over-cap.bin"] = leb128(65_537) + b"WOS.EKM.v1\0" + bytes(28)

    # Base64 text: a whole blob, the three padding shapes, and two near misses (non-zero padding bits, a newline).
    seeds["base64-a-blob.txt"] = vectors[1]["blob_format_a"].encode()
    seeds["base64-padding.txt"] = b"QQ=="
    seeds["base64-one-pad.txt"] = b"QUI="
    seeds["base64-no-pad.txt"] = b"QUJD"
    seeds["base64-padding-bits.txt"] = b"QR=="
    seeds["base64-newline.txt"] = b"QUJD\n"

    CORPUS.mkdir(parents=True, exist_ok=True)
    for old in CORPUS.iterdir():
        old.unlink()
    for name, data in sorted(seeds.items()):
        (CORPUS / name).write_bytes(data)
    print(f"wrote {len(seeds)} seeds to {CORPUS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
