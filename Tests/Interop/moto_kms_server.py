"""moto_server (moto 5.2.1) with AWS KMS's key-state rules on Encrypt and Decrypt.

moto 5.2.1 keeps encrypting and decrypting under a key after DisableKey or ScheduleKeyDeletion;
real KMS refuses: DisabledException for a disabled key, KMSInvalidStateException for a key pending
deletion (AWS KMS API Reference, Encrypt and Decrypt, "Errors"; "Key states of AWS KMS keys").
This launcher adds exactly those two checks to moto's KMS backend and runs moto's own server
with the same arguments as `moto_server` (e.g. `-H 127.0.0.1 -p 5000`). Nothing else changes.
"""

import sys

from moto.core.exceptions import JsonRESTError
from moto.kms.models import KmsBackend
from moto.server import main


class DisabledException(JsonRESTError):
    code = 400

    def __init__(self, arn: str):
        super().__init__("DisabledException", f"{arn} is disabled.")


class KMSInvalidStateException(JsonRESTError):
    code = 400

    def __init__(self, arn: str):
        super().__init__("KMSInvalidStateException", f"{arn} is pending deletion.")


def require_enabled(backend: KmsBackend, key_id: str) -> None:
    key = backend.keys[backend.any_id_to_key_id(key_id)]
    if key.key_state == "Disabled":
        raise DisabledException(key.arn)
    if key.key_state != "Enabled":
        raise KMSInvalidStateException(key.arn)


original_encrypt = KmsBackend.encrypt
original_decrypt = KmsBackend.decrypt


def encrypt(self, key_id, plaintext, encryption_context):
    require_enabled(self, key_id)
    return original_encrypt(self, key_id, plaintext, encryption_context)


def decrypt(self, ciphertext_blob, encryption_context, key_id=None):
    plaintext, arn = original_decrypt(self, ciphertext_blob, encryption_context, key_id)
    require_enabled(self, arn)  # the key the ciphertext names, as KMS checks it
    return plaintext, arn


KmsBackend.encrypt = encrypt
KmsBackend.decrypt = decrypt

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
