#!/usr/bin/env python3
"""A proxy in front of `vault serve` that answers as the WorkOS API does: without this project's
version numbers (every `version` field is removed from JSON answers), for `vault doctor` tests.

Usage: workos_like_proxy.py UPSTREAM_URL [--fail-updates]
With --fail-updates, PUT /vault/v1/kv/{id} (an update) answers 500, so that a test can see the
doctor delete its canary after a failed step. The first line on standard output is
`listening on http://127.0.0.1:PORT`.
"""

from __future__ import annotations

import argparse
import http.server
import json
import urllib.error
import urllib.request


def without_versions(value):
    if isinstance(value, dict):
        return {key: without_versions(item) for key, item in value.items() if key != "version"}
    if isinstance(value, list):
        return [without_versions(item) for item in value]
    return value


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def forward(self):
        path = self.path.split("?", 1)[0]
        if self.server.fail_updates and self.command == "PUT" and path.startswith("/vault/v1/kv/"):
            self.answer(500, b'{"message": "injected failure"}')
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        request = urllib.request.Request(self.server.upstream + self.path, data=body, method=self.command)
        for name in ("Authorization", "Content-Type", "Idempotency-Key"):
            if self.headers.get(name):
                request.add_header(name, self.headers[name])
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, data = error.code, error.read()
        try:
            data = json.dumps(without_versions(json.loads(data))).encode()
        except ValueError:
            pass
        self.answer(status, data)

    def answer(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = forward


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("upstream")
    parser.add_argument("--fail-updates", action="store_true")
    arguments = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    server.daemon_threads = True
    server.upstream = arguments.upstream.rstrip("/")
    server.fail_updates = arguments.fail_updates
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
