"""Loopback servers the tests talk to: an SMTP server (aiosmtpd, in process), a
court's RSS feed (pytest-httpserver), and a server that stalls (hangs or trickles).
Their fixtures are in conftest.py."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

USER, PASSWORD = "docketwatch", "s3cret-smtp-pass"
# How often a loopback HTTP server's loop looks for a stop: serve_forever's default, half a
# second, was most of a test's teardown for the many tests that start one of their own.
STOP_POLL = 0.01
NYSB_FEED = (Path(__file__).parent / "fixtures" / "pacer" / "rss__nysb__nysb_1.xml").read_bytes()
NEW_ITEM = b'''<item>
<title>16-10992-smb SunEdison, Inc., et al., and North Kern State Prison</title>
<link>https://ecf.nysb.uscourts.gov/cgi-bin/DktRpt.pl?265812</link>
<description>Type: bk Office: 1 Chapter: 11  [Order Confirming Plan] (&#x3C;a href=&#x27;https://ecf.nysb.uscourts.gov/doc1/126018830500?pdf_header=&#x26;de_seq_num=16741&#x26;caseid=265812&#x27;&#x3E;5238&#x3C;/a&#x3E;)</description>
<guid isPermaLink="true">https://ecf.nysb.uscourts.gov/cgi-bin/DktRpt.pl?265812-16741</guid>
<pubDate>Fri, 20 Apr 2018 15:02:11 GMT</pubDate>
</item>
'''


def with_new_item(feed: bytes, build_date: bytes = b"Fri, 20 Apr 2018 15:03:00 GMT", item: bytes = NEW_ITEM) -> bytes:
    feed = re.sub(rb"<lastBuildDate>[^<]*</lastBuildDate>", b"<lastBuildDate>" + build_date + b"</lastBuildDate>", feed)
    return feed.replace(b"<item>", item + b"<item>", 1)


class LoopbackHTTPServer(HTTPServer):
    """pytest-httpserver's server, stopped within STOP_POLL instead of half a second."""

    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=STOP_POLL)


HOLD = 5.0  # the longest a request is held waiting for others to be in flight with it


@dataclass
class InFlight:
    """Wraps a handler: counts the requests in flight at once, and holds each until
    `together` are in flight (once that happened, no request is held again), so that a
    client that sends one at a time is seen to (it waits HOLD seconds, alone)."""

    handler: Callable[[Request], Response]
    together: int = 2
    now: int = 0
    peak: int = 0
    arrived: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    reached: threading.Event = field(default_factory=threading.Event)

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.arrived += 1
            self.now += 1
            self.peak = max(self.peak, self.now)
            if self.now >= self.together:
                self.reached.set()
        try:
            self.reached.wait(HOLD)
            return self.handler(request)
        finally:
            with self.lock:
                self.now -= 1


@dataclass
class SmtpServer:
    """An in-process SMTP server requiring login; it keeps every message it accepts."""

    port: int
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    on_data: object = None  # called after a message is stored, before the reply
    controller: Controller | None = None
    tls: dict = field(default_factory=dict)  # Controller arguments for STARTTLS or implicit TLS
    refuse: set[str] = field(default_factory=set)  # recipients answered with 550 at RCPT TO
    echo_auth: bool = False  # reject every login, quoting the AUTH exchange (plain and base64) in the reply
    quit_reply: str | None = None  # the answer to QUIT, when not "221 Bye"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        if self.on_data:
            self.on_data()
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server, session, envelope) -> str:
        return self.quit_reply or "221 Bye"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if self.echo_auth:
            login, password = auth_data.login, auth_data.password
            blob = base64.b64encode(b"\0" + login + b"\0" + password).decode()
            echo = f"AUTH PLAIN {blob} / {base64.b64encode(password).decode()} / {password.decode()}"
            return AuthResult(success=False, handled=False, message=f"535 5.7.8 rejected: {echo}")
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(), PASSWORD.encode())
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, authenticator=self.authenticate,
                                     auth_required=True, auth_require_tls=False, **self.tls)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def message_ids(self) -> list[str]:
        return [m["Message-ID"].strip() for _, m in self.received]  # a long one is folded onto a line of its own


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_table(port: int, security: str = "none") -> str:
    return f'''
[smtp]
host = "127.0.0.1"
port = {port}
security = "{security}"
username = "{USER}"
password = "${{SMTP_TEST_PASSWORD}}"
from = "docketwatch@example.org"
'''


class CourtFeed:
    """A court's rss_outside.pl: serves `body`, with an ETag when `etags` is on; answers
    304 to every request while `always_304` is on (a cache in between gone wrong)."""

    def __init__(self) -> None:
        self.body = NYSB_FEED
        self.etags = True
        self.always_304 = False
        self.responses: list[int] = []

    def handle(self, request: Request) -> Response:
        etag = '"' + hashlib.sha1(self.body).hexdigest() + '"'
        if self.always_304 or (self.etags and request.headers.get("If-None-Match") == etag):
            response = Response(status=304, headers={"ETag": etag})
        else:
            response = Response(self.body, content_type="text/xml", headers={"ETag": etag} if self.etags else {})
        self.responses.append(response.status_code)
        return response


class SlowServer:
    """A loopback TCP server that misbehaves the way a stalled server does.

    `mode`: "hang" reads the request and never answers; "trickle_headers" sends a
    status line, then a header one byte every `pace` seconds; "trickle_body" sends
    complete headers, then the body one byte every `pace` seconds; "trickle_greeting"
    (SMTP) sends `220-` at once, then the rest of that greeting line one byte every `pace` seconds. Trickling stops
    (the connection closes) after `give_up` seconds, so a client without a deadline
    finishes too, late. `connections` counts the connections accepted.
    """

    def __init__(self, mode: str, pace: float = 0.1, give_up: float = 8.0) -> None:
        self.mode, self.pace, self.give_up = mode, pace, give_up
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1)
            try:
                if self.mode not in ("hang", "trickle_greeting"):  # SMTP clients wait for a greeting
                    conn.recv(65536)
                if self.mode == "trickle_greeting":
                    conn.sendall(b"220-")
                elif self.mode == "trickle_headers":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                elif self.mode == "trickle_body":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
                began = time.monotonic()
                while not self._stop.is_set() and time.monotonic() - began < self.give_up:
                    if self.mode != "hang":
                        conn.sendall(b"a")
                    self._stop.wait(self.pace)
            except OSError:
                pass  # the client gave up
