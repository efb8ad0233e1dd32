"""A minimal receiver for docketwatch's webhook channel (standard library only).

It accepts a POST only when X-Docketwatch-Signature matches the HMAC-SHA256 of the raw
body keyed with the shared secret, and processes each Idempotency-Key once (a retry
of a delivery whose answer was lost carries the same key). tests/test_webhook.py runs
this file against docketwatch over loopback.

    WEBHOOK_SECRET=... python webhook_receiver.py 8000
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verified(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature docketwatch computes for `body`."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return header is not None and hmac.compare_digest(expected, header)


def handler(secret: str, seen: set[str], digests: list[dict]) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))  # the raw bytes, before parsing
            if not verified(secret, body, self.headers.get("X-Docketwatch-Signature")):
                return self.answer(401, "bad signature")
            key = self.headers["Idempotency-Key"]
            if key not in seen:  # a retry of a digest already processed is acknowledged, not processed again
                digests.append(json.loads(body))
                seen.add(key)
                print(digests[-1]["subject"], flush=True)
            self.answer(200, "ok")

        def answer(self, status: int, text: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(text.encode())

    return Receiver


if __name__ == "__main__":
    receiver = handler(os.environ["WEBHOOK_SECRET"], set(), [])
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), receiver)
    server.serve_forever()
