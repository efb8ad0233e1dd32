"""The apprise channel, against loopback HTTP services: apprise's json:// and ntfy:// posting
to servers on 127.0.0.1. Each URL is its own delivery: one failing service holds back and
duplicates nothing; the URLs (they carry tokens) never show up in output or stored rows;
a digest longer than a service takes is cut with a link to the rest."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from docketwatch import redact
from docketwatch.notifiers.apprise import AppriseSettings, fit, labels
from tests.conftest import KADREY_ID, dump_db, poll_cases, run_cli, start_command, write_config
from tests.servers import STOP_POLL
from tests.test_digests import KADREY, SCRIPT_TEXT
from tests.test_outbox import deliveries, run

HOOK_TOKEN = "hookT0ken-8c1f2e9a7b"
TOPIC = "dw-alerts-5e4d3c2b1a"


@dataclass
class Service:
    """A loopback HTTP service that records each request and answers with `status`."""

    status: int = 200
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append((self.path, dict(self.headers), body))
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "x"}' if outer.status == 200 else b'{"error": "service unavailable"}')

            do_PUT = do_POST

            def log_message(self, format: str, *args: object) -> None:
                """Its access log is not docketwatch's output."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": STOP_POLL}, daemon=True).start()

    @property
    def port(self) -> int:
        assert self.server
        return int(self.server.server_address[1])

    def stop(self) -> None:
        assert self.server
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def services() -> Iterator[tuple[Service, Service]]:
    hook, ntfy = Service(), Service()
    hook.start()
    ntfy.start()
    yield hook, ntfy
    hook.stop()
    ntfy.stop()


@pytest.fixture
def chat(fake_cl, tmp_path, monkeypatch, cl_token, services):
    """A config sending to a json:// hook and an ntfy topic (both URLs from the environment);
    a quiet baseline; then two new filings (`extra` more, when asked)."""
    hook, ntfy = services

    def setup(extra: int = 0, table: str = "") -> Path:
        monkeypatch.setenv("CHAT_HOOK", f"json://127.0.0.1:{hook.port}/hooks/{HOOK_TOKEN}")
        monkeypatch.setenv("NTFY_URL", f"ntfy://127.0.0.1:{ntfy.port}/{TOPIC}")
        fake_cl.load_kadrey()
        digests = ('\n[[digests]]\nname = "chat"\nchannel = "apprise"\nurls = ["${CHAT_HOOK}", "${NTFY_URL}"]\n'
                   + table + "[outbox]\nretry_backoff = 0\n")
        path = write_config(tmp_path, fake_cl.base_url, cases=KADREY + digests)
        poll_cases(path)
        fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", SCRIPT_TEXT)
        fake_cl.add_entry(KADREY_ID, "601", "2025-07-03", "NOTICE of Appearance by A. Lawyer")
        for i in range(extra):
            fake_cl.add_entry(KADREY_ID, str(700 + i), "2025-07-04", f"DECLARATION {i} in support of the motion " * 8)
        poll_cases(path)
        return path

    return setup


def hook_label(hook: Service) -> str:
    return labels([f"json://127.0.0.1:{hook.port}/hooks/{HOOK_TOKEN}"])[0]


def ntfy_label(ntfy: Service) -> str:
    return labels([f"ntfy://127.0.0.1:{ntfy.port}/{TOPIC}"])[0]


def ntfy_message(request: tuple[str, dict[str, str], bytes]) -> tuple[str, str]:
    """The (title, message) ntfy got."""
    _, headers, body = request
    payload = json.loads(body)
    return payload["title"], payload["message"]


def test_each_url_gets_the_digest_titled_with_the_subject_in_the_format_it_renders(chat, services, tmp_path):
    hook, ntfy = services
    path = chat()
    report = run(path)
    assert report.ok, [a.detail for a in report.attempts]
    [(hook_path, _, hook_body)] = hook.requests
    assert hook_path == f"/hooks/{HOOK_TOKEN}"
    sent = json.loads(hook_body)
    assert sent["title"] == "Kadrey v. Meta Platforms, Inc.: 2 new filings"
    assert "### New filings (2)" in sent["message"] and "**\\#601**" in sent["message"]  # JSON takes Markdown
    title, message = ntfy_message(ntfy.requests[0])
    assert title == sent["title"]
    assert "New filings (2)" in message and "###" not in message and SCRIPT_TEXT in message  # ntfy: text

    # Stored: labels, never the URLs or their tokens.
    assert sorted(d.recipient for d in deliveries(path)) == [hook_label(hook),
                                                              ntfy_label(ntfy)]
    stored = json.dumps(dump_db(tmp_path), default=str)
    assert HOOK_TOKEN not in stored and TOPIC not in stored
    assert run(path).attempts == [] and len(hook.requests) == len(ntfy.requests) == 1


def test_a_failing_service_holds_back_and_duplicates_nothing(chat, services):
    hook, ntfy = services
    hook.status = 503
    path = chat()
    first = run(path)
    assert sorted((a.delivery.recipient, a.ok) for a in first.attempts) == [
        (hook_label(hook), False), (ntfy_label(ntfy), True)]
    failed = next(a for a in first.attempts if not a.ok)
    assert "503" in failed.detail and HOOK_TOKEN not in failed.detail
    assert len(ntfy.requests) == 1

    hook.status = 200
    second = run(path)
    assert [(a.delivery.recipient, a.ok) for a in second.attempts] == [(hook_label(hook), True)]
    assert len(hook.requests) == 2 and len(ntfy.requests) == 1  # ntfy was not sent it again
    assert {d.status for d in deliveries(path)} == {"sent"}


@pytest.mark.parametrize("failing", ["removed", "kept"])
def test_a_url_removed_from_the_list_neither_hands_its_delivery_to_another_nor_takes_one(chat, services, failing):
    """A delivery follows its own URL, not its place in the list: with the failing URL
    removed, the other is not sent the digest again; with the other removed, the failing
    one still gets it when it works."""
    hook, ntfy = services
    broken = hook if failing == "removed" else ntfy
    broken.status = 503
    path = chat()
    assert sorted(a.ok for a in run(path).attempts) == [False, True]
    path.write_text(path.read_text().replace('urls = ["${CHAT_HOOK}", "${NTFY_URL}"]', 'urls = ["${NTFY_URL}"]'))
    broken.status = 200
    run(path)
    assert (len(hook.requests), len(ntfy.requests)) == ((1, 1) if failing == "removed" else (1, 2))
    assert sorted((d.recipient, d.status) for d in deliveries(path)) == sorted(
        [(hook_label(hook), "dropped" if failing == "removed" else "sent"), (ntfy_label(ntfy), "sent")])


def test_no_url_or_token_in_what_the_commands_print(chat, services):
    hook, _ = services
    hook.status = 500
    path = chat()
    for args in (["digest", "--dry-run"], ["digest"], ["status"], ["status", "--json"]):
        proc = run_cli(path, *args)
        out = proc.stdout + proc.stderr
        assert HOOK_TOKEN not in out and TOPIC not in out, (args, out)
    assert hook_label(hook) in run_cli(path, "digest", "--retry-failed").stdout


def test_a_digest_longer_than_the_service_takes_is_cut_with_a_link_to_the_rest(chat, services):
    _, ntfy = services
    path = chat(extra=40, table='more_url = "https://news.example.org/docketwatch"\n')
    assert run(path).ok
    title, message = ntfy_message(ntfy.requests[0])
    assert title == "Kadrey v. Meta Platforms, Inc.: 42 new filings"
    assert 7000 < len(message) <= 7800  # ntfy's limit, as apprise knows it
    assert message.rstrip().endswith("more lines not shown. The rest: https://news.example.org/docketwatch")
    hook, _ = services
    assert "more lines not shown" not in json.loads(hook.requests[0][2])["message"]  # 32 KB fit whole


def test_fit_cuts_at_a_line_and_keeps_only_the_links_that_fit():
    text = "".join(f"line {i}\n" for i in range(100))
    assert fit(text, len(text), ["https://a.example"]) == text
    cut = fit(text, 120, ["https://a.example/x", "https://b.example/" + "y" * 200])
    assert len(cut) <= 120 and cut.startswith("line 0\nline 1\n")
    assert cut.endswith("more lines not shown. The rest: https://a.example/x\n")
    kept = cut.split("\n…")[0].splitlines()
    assert kept == [f"line {i}" for i in range(len(kept))]
    assert f"… {100 - len(kept)} more lines not shown." in cut


def test_an_unknown_url_is_a_configuration_error_that_does_not_show_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAT_HOOK", "nosuchservice://secret-token-123")
    path = write_config(tmp_path, "http://127.0.0.1:9", cases=KADREY + (
        '\n[[digests]]\nname = "chat"\nchannel = "apprise"\nurls = ["${CHAT_HOOK}"]\n'))
    proc = run_cli(path, "cases")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "digests[1].urls[1]" in proc.stderr and "${CHAT_HOOK}" in proc.stderr and "apprise" in proc.stderr
    assert "secret-token-123" not in proc.stderr


def test_a_label_shows_a_host_only_when_it_is_a_server_and_every_token_is_masked():
    urls = ["slack://T0AAAAAA/B0BBBBBB/XXXXXXXXXXXXXXXX", "ntfy://secret-topic-name", "discord://123456789/tok-abcdef",
            "tgram://123456:ABCDEFG/987654", "ntfys://ntfy.example.org/private-topic", "json://hooks.example.org/x/tok3n"]
    assert [label.rpartition(" #")[0] for label in labels(urls)] == [
        "slack", "ntfy", "discord", "tgram", "ntfys://ntfy.example.org", "json://hooks.example.org"]
    assert len(set(labels(urls))) == len(urls) and labels(urls[::-1]) == labels(urls)[::-1]  # by URL, not place
    redact.forget_all()
    AppriseSettings(urls=urls)
    text = redact.scrub(" ".join(urls) + " ntfy.example.org hooks.example.org")
    for secret in ("T0AAAAAA", "XXXXXXXXXXXXXXXX", "secret-topic-name", "tok-abcdef", "ABCDEFG", "private-topic", "tok3n"):
        assert secret not in text
    assert text.endswith(" ntfy.example.org hooks.example.org")
    redact.forget_all()


def test_words_in_a_secret_url_stay_readable_in_messages_where_its_tokens_are_masked():
    """The README's webhook URL, an ntfy topic that is a word: each URL is masked whole,
    its tokens alone too, but not the words of its path, which would mask them anywhere."""
    urls = ["json://app.example.org/hooks/docketwatch", "ntfy://Meta",
            "slack://T0A1B2C3D/B4E5F6G7H/aBcDeFgHiJkLmNoPqRsTuVwX"]
    AppriseSettings(urls=urls)
    said = "docketwatch: Kadrey v. Meta Platforms, Inc.: the hooks of /etc/docketwatch.toml"
    assert redact.scrub(said) == said
    assert redact.scrub(" ".join(urls)) == " ".join([redact.MASK] * 3)
    assert redact.scrub("token T0A1B2C3D, aBcDeFgHiJkLmNoPqRsTuVwX") == f"token {redact.MASK}, {redact.MASK}"
    redact.forget_all()


def test_a_service_trickling_its_answer_is_given_up_at_the_http_timeout_and_the_process_exits(
        tmp_path, slow_server, monkeypatch):
    """A process, since what is at stake is its exit: apprise's own pool threads, blocked
    on the read, kept `test-notify`, `digest` and `run --once` alive for minutes."""
    server = slow_server("trickle_body", pace=0.2, give_up=60)
    monkeypatch.setenv("CHAT_HOOK", f"json://127.0.0.1:{server.port}/hooks/{HOOK_TOKEN}")
    path = write_config(tmp_path, "http://127.0.0.1:9",
                        cases='[[digests]]\nname = "chat"\nchannel = "apprise"\nurls = ["${CHAT_HOOK}"]\n')
    path.write_text(path.read_text().replace("[http]\n", "[http]\ntimeout = 1\n"))
    began = time.monotonic()
    proc = start_command(path, "test-notify", "chat")
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert time.monotonic() - began < 10, err
    label = labels([f"json://127.0.0.1:{server.port}/hooks/{HOOK_TOKEN}"])[0]
    assert proc.returncode == 3 and out == (
        f"chat (apprise) to {label}: FAILED: {label} (JSON) gave no complete answer within 1 s ([http] timeout)\n"), err
