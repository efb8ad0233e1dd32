"""The webhook channel: a signed JSON POST per delivery, with an idempotency key that is the
same on every retry. The receiver is docs/webhook_receiver.py, the example the README
documents, run on 127.0.0.1; events come from a real `check` against the fake
CourtListener and go through the real outbox."""

from __future__ import annotations

import importlib.util
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import KADREY_ID, dump_db, poll_cases, run_cli, write_config
from tests.servers import STOP_POLL
from tests.test_digests import KADREY, SCRIPT_TEXT
from tests.test_outbox import deliveries, run

SECRET = "whsec-0123456789abcdef-shared"
URL_TOKEN = "T0KEN-in-the-path-9f8e7d"

_spec = importlib.util.spec_from_file_location("webhook_receiver", Path(__file__).parents[1] / "docs" / "webhook_receiver.py")
assert _spec and _spec.loader
receiver_example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(receiver_example)


@dataclass
class Receiver:
    """The documented receiver on a loopback port, recording every request it got."""

    secret: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    digests: list[dict] = field(default_factory=list)
    drop_answers: int = 0  # process this many requests, then close the connection without answering
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        base = receiver_example.handler(self.secret, set(), self.digests)
        outer = self

        class Recording(base):  # type: ignore[misc, valid-type]
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.peek(length)[:length] if hasattr(self.rfile, "peek") else b""
                outer.requests.append((dict(self.headers), body))
                super().do_POST()

            def log_message(self, format: str, *args: object) -> None:
                """The receiver's own access log is not docketwatch's output."""

            def answer(self, status: int, text: str) -> None:
                if outer.drop_answers:
                    outer.drop_answers -= 1
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                super().answer(status, text)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": STOP_POLL}, daemon=True).start()

    @property
    def url(self) -> str:
        assert self.server
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{URL_TOKEN}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(SECRET)
    r.start()
    yield r
    assert r.server
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(autouse=True)
def secrets(monkeypatch, cl_token):
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)


def webhook_config(tmp_path: Path, base_url: str, url: str) -> Path:
    table = f'\n[[digests]]\nname = "newsroom"\nchannel = "webhook"\nurl = "{url}"\nsecret = "${{WEBHOOK_SECRET}}"\n'
    return write_config(tmp_path, base_url, cases=KADREY + table + "[outbox]\nretry_backoff = 0\n")


@pytest.fixture
def news(fake_cl, tmp_path, monkeypatch):
    """A config posting to `url` (the URL, with its token, from ${HOOK_URL}); a quiet
    baseline; then two new filings."""

    def setup(url: str) -> Path:
        monkeypatch.setenv("HOOK_URL", url)
        fake_cl.load_kadrey()
        path = webhook_config(tmp_path, fake_cl.base_url, "${HOOK_URL}")
        poll_cases(path)
        fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", SCRIPT_TEXT)
        fake_cl.add_entry(KADREY_ID, "601", "2025-07-03", "NOTICE of Appearance by A. Lawyer")
        poll_cases(path)
        return path

    return setup


def test_the_receiver_verifies_the_signature_and_reads_the_digest_as_json(news, receiver, tmp_path):
    path = news(receiver.url)
    report = run(path)
    assert report.ok, report.attempts
    [(headers, body)] = receiver.requests
    assert headers["Content-Type"] == "application/json" and headers["X-Docketwatch-Signature"].startswith("sha256=")
    assert receiver_example.verified(SECRET, body, headers["X-Docketwatch-Signature"])
    assert not receiver_example.verified("another-secret-of-16+", body, headers["X-Docketwatch-Signature"])
    [digest] = receiver.digests
    assert digest["subject"] == "Kadrey v. Meta Platforms, Inc.: 2 new filings"
    assert digest["text"].startswith(digest["subject"]) and SCRIPT_TEXT in digest["text"]
    assert digest["idempotency_key"] == headers["Idempotency-Key"]
    [case] = digest["digest"]["cases"]
    assert case["docket_number"] == "3:23-cv-03417"
    assert [(e["number"], e["date_filed"], e["text"]) for e in case["new"]] == [
        ("601", "2025-07-03", "NOTICE of Appearance by A. Lawyer"), ("600", "2025-07-02", SCRIPT_TEXT)]
    assert digest["digest"]["counts"]["new"] == 2

    # The URL (its token is in the path) is stored and shown only as its label.
    [delivery] = deliveries(path)
    port = receiver.url.split(":")[2].split("/")[0]
    assert re.fullmatch(rf"http://127\.0\.0\.1:{port} #[0-9a-f]{{8}}", delivery.recipient) and delivery.status == "sent"
    assert URL_TOKEN not in json.dumps(dump_db(tmp_path), default=str)
    assert SECRET not in json.dumps(dump_db(tmp_path), default=str)


def test_test_notify_posts_a_signed_test_message_the_receiver_reads(fake_cl, receiver, tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_URL", receiver.url)
    path = webhook_config(tmp_path, fake_cl.base_url, "${HOOK_URL}")
    ran = run_cli(path, "test-notify", "newsroom")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    [(headers, body)] = receiver.requests
    assert receiver_example.verified(SECRET, body, headers["X-Docketwatch-Signature"])
    [digest] = receiver.digests
    assert digest["subject"] == "docketwatch test message (newsroom)" and "test message" in digest["text"]
    assert digest["digest"]["cases"] == [] and "test message" in digest["digest"]["warnings"][0]


def test_a_retry_carries_the_same_key_and_body_and_is_processed_once(news, receiver):
    path = news(receiver.url)
    receiver.drop_answers = 1  # processed, but the answer is lost
    first = run(path)
    assert [a.ok for a in first.attempts] == [False]
    assert first.attempts[0].detail.startswith("the webhook: ") and URL_TOKEN not in first.attempts[0].detail
    second = run(path)
    assert [a.ok for a in second.attempts] == [True]
    (h1, b1), (h2, b2) = receiver.requests
    assert h1["Idempotency-Key"] == h2["Idempotency-Key"] and b1 == b2
    assert len(receiver.digests) == 1  # the receiver recognised the retry
    assert run(path).attempts == []


def test_a_rejected_signature_is_a_failed_delivery_saying_what_the_receiver_said(news, tmp_path, fake_cl):
    wrong = Receiver("a-different-secret-1234")
    wrong.start()
    try:
        path = news(wrong.url)
        proc = run_cli(path, "digest")
        assert proc.returncode == 3
        assert "HTTP 401" in proc.stdout + proc.stderr and "bad signature" in proc.stdout + proc.stderr
        assert URL_TOKEN not in proc.stdout + proc.stderr and SECRET not in proc.stdout + proc.stderr
        [delivery] = deliveries(path)
        assert delivery.status == "pending" and "HTTP 401" in delivery.last_error
        assert wrong.digests == []
    finally:
        assert wrong.server
        wrong.server.shutdown()
        wrong.server.server_close()


def test_a_short_secret_or_a_non_http_url_is_a_configuration_error(tmp_path, monkeypatch):
    monkeypatch.setenv("WEBHOOK_SECRET", "short")
    path = webhook_config(tmp_path, "http://127.0.0.1:9", "https://example.org/hook")
    proc = run_cli(path, "cases")
    assert proc.returncode == 2 and "secret" in proc.stderr and "Traceback" not in proc.stderr
    assert "short" not in proc.stderr.replace("at least", "")
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    path = webhook_config(tmp_path, "http://127.0.0.1:9", "ftp://example.org/hook")
    proc = run_cli(path, "cases")
    assert proc.returncode == 2 and "url" in proc.stderr and "http://" in proc.stderr
