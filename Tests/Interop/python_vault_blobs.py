"""Client-side blobs through the official WorkOS Python SDK, for interop tests.

Reads JSON on stdin: {"encrypt": [{"data", "context", "aad"}], "decrypt": [{"blob", "aad"}]}
and prints {"encrypted": [blob, ...], "decrypted": [text or {"error": type}, ...]} on stdout.
The SDK is pointed at the server by WORKOS_BASE_URL and WORKOS_API_KEY.
"""

import json
import os
import sys

from workos import WorkOSClient


def main() -> None:
    request = json.load(sys.stdin)
    client = WorkOSClient(
        api_key=os.environ["WORKOS_API_KEY"],
        client_id=os.environ.get("WORKOS_CLIENT_ID", "client_test"),
        base_url=os.environ["WORKOS_BASE_URL"],
    )
    encrypted = [
        client.vault.encrypt(data=item["data"], key_context=item["context"], associated_data=item.get("aad"))
        for item in request.get("encrypt", [])
    ]
    decrypted = []
    for item in request.get("decrypt", []):
        try:
            decrypted.append(client.vault.decrypt(encrypted_data=item["blob"], associated_data=item.get("aad")))
        except Exception as error:  # the test asserts which items fail
            decrypted.append({"error": type(error).__name__})
    json.dump({"encrypted": encrypted, "decrypted": decrypted}, sys.stdout)


if __name__ == "__main__":
    main()
