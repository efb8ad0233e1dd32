"""The outbox and delivery, against a real SMTP server (aiosmtpd) on 127.0.0.1, with the
store on SQLite and on PostgreSQL.

Events come from a real `check` against the fake CourtListener; digests go through the
real outbox and notifiers. Crashes are simulated by raising where a kill would strike,
and once by really killing the `docketwatch digest` process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlmodel import Session, select

from docketwatch import config as config_mod, notifiers, outbox, store
from docketwatch.models import Digest, DigestEvent, Event
from docketwatch.notifiers.email import EmailNotifier
from tests.conftest import KADREY_ID, run_cli, write_config
from tests.servers import PASSWORD, SmtpServer, free_port, smtp_table
from tests.test_digests import KADREY, SCRIPT_TEXT, poll

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SUBJECT = "Kadrey v. Meta Platforms, Inc.: 2 new filings, 1 updated"


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("CL_TEST_TOKEN", "test-token")
    monkeypatch.setenv("SMTP_TEST_PASSWORD", PASSWORD)


EMAIL = '''
[[digests]]
name = "lawyers"
channel = "email"
to = ["ann@example.org", "bob@example.org"]
'''
MARKDOWN = '''
[[digests]]
name = "archive"
channel = "markdown"
dir = "archive"
'''


@pytest.fixture
def kadrey(fake_cl, tmp_path, smtp_server, database_url):
    """A config with the given tables; a quiet baseline; then 2 new entries and 1 filled in."""

    def setup(tables: str = EMAIL, outbox_table: str = "[outbox]\nretry_backoff = 60\nmax_attempts = 3\n") -> Path:
        fake_cl.load_kadrey()
        fake_cl.add_entry(KADREY_ID, "599", "2025-06-27", "", short="Order")
        path = write_config(tmp_path, fake_cl.base_url, database_url=database_url,
                            cases=KADREY + tables + smtp_table(smtp_server.port) + outbox_table)
        poll(path)
        fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", SCRIPT_TEXT)
        fake_cl.add_entry(KADREY_ID, "601", "2025-07-03", "NOTICE of Appearance by A. Lawyer")
        fake_cl.update_entry(KADREY_ID, "599", description="ORDER Denying Motion to Seal. Signed by Judge Chhabria.")
        poll(path)
        return path

    return setup


def run(path: Path, now: datetime | None = None) -> outbox.RunReport:
    cfg = config_mod.load(path)
    return outbox.run(cfg, store.open_engine(cfg.database.url), list(cfg.digests), now)


def rows(path: Path) -> list[Digest]:
    cfg = config_mod.load(path)
    with Session(store.open_engine(cfg.database.url)) as session:
        return list(session.exec(select(Digest).order_by(Digest.id)))


def event_ids(path: Path) -> set[int]:
    cfg = config_mod.load(path)
    with Session(store.open_engine(cfg.database.url)) as session:
        return set(session.exec(select(Event.id)))


def delivered(path: Path, subscription: str) -> list[int]:
    """Event ids in sent digests of `subscription` (with repeats, if any)."""
    cfg = config_mod.load(path)
    with Session(store.open_engine(cfg.database.url)) as session:
        return list(session.exec(
            select(DigestEvent.event_id).join(Digest, Digest.id == DigestEvent.digest_id)
            .where(Digest.status == "sent", DigestEvent.subscription == subscription)))


def later(minutes: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(minutes=minutes)


# -- email -------------------------------------------------------------------------

def test_email_digest_is_multipart_alternative_with_escaped_html(kadrey, smtp_server):
    path = kadrey()
    report = run(path)
    assert report.ok and [a.ok for a in report.attempts] == [True]
    ((rcpt, message),) = smtp_server.received
    assert rcpt == ["ann@example.org", "bob@example.org"]
    assert message["To"] == "ann@example.org, bob@example.org" and message["From"] == "docketwatch@example.org"
    assert message["Subject"] == SUBJECT
    (digest,) = rows(path)
    assert message["Message-ID"] == digest.message_id and digest.message_id.endswith("@example.org>")
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert SCRIPT_TEXT in text.get_content() and "NOTICE of Appearance" in text.get_content()
    body = html.get_content()
    assert "<script>" not in body and "&lt;script&gt;alert(" in body
    assert body.index("#601") < body.index("#600")  # newest first

    assert digest.status == "sent" and digest.attempts == 1 and "ann@example.org" in digest.delivered_to
    assert sorted(delivered(path, "lawyers")) == sorted(event_ids(path))
    assert run(path).attempts == [] and len(smtp_server.received) == 1  # nothing new: nothing sent
    status = json.loads(run_cli(path, "status", "--json").stdout)
    assert status["cases"][0]["pending_events"] == 0 and status["failed_digests"] == []


def test_status_counts_events_until_every_subscription_has_them(kadrey, smtp_server):
    path = kadrey(EMAIL + '''
[[digests]]
name = "weekly-archive"
channel = "markdown"
dir = "archive"
schedule = "weekly monday 07:00"
exclude = ["appearance"]
''')
    cfg = config_mod.load(path)
    outbox.run(cfg, store.open_engine(cfg.database.url), cfg.subscriptions("lawyers"))
    # The email went out; the weekly archive still wants 600 and 599 (not 601, excluded).
    status = json.loads(run_cli(path, "status", "--json").stdout)
    assert status["cases"][0]["pending_events"] == 2


def test_smtp_down_keeps_the_digest_pending_and_other_subscriptions_go_out(kadrey, smtp_server, tmp_path):
    path = kadrey(EMAIL + MARKDOWN)
    smtp_server.stop()
    report = run(path)
    assert not report.ok
    failed, written = sorted(report.attempts, key=lambda a: a.ok)
    assert not failed.ok and f"127.0.0.1:{smtp_server.port}" in failed.detail
    assert written.ok and len(list((tmp_path / "archive").glob("*.md"))) == 1  # the other channel did not wait
    email = next(d for d in rows(path) if d.channel == "email")
    assert email.status == "pending" and email.attempts == 1 and email.last_error
    assert run(path).attempts == []  # backing off: not before the next attempt time

    smtp_server.start()
    report = run(path, later(2))
    assert report.ok and [a.digest.subscription for a in report.attempts] == ["lawyers"]
    assert smtp_server.message_ids() == [email.message_id]
    assert sorted(delivered(path, "lawyers")) == sorted(event_ids(path))


def test_after_max_attempts_a_digest_is_failed_status_says_so_and_it_can_be_retried(kadrey, smtp_server):
    path = kadrey()
    smtp_server.stop()
    for minutes in (0, 2, 5):  # backoff 60 s, 120 s: each run is past the next attempt time
        run(path, later(minutes))
    (digest,) = rows(path)
    assert digest.status == "failed" and digest.attempts == 3
    status = run_cli(path, "status")
    assert "digest FAILED for 'lawyers' after 3 attempts" in status.stdout and "--retry-failed" in status.stdout
    assert json.loads(run_cli(path, "status", "--json").stdout)["cases"][0]["pending_events"] == 3
    assert run(path, later(60)).attempts == []  # given up: not tried again by itself

    smtp_server.start()
    proc = run_cli(path, "digest", "--retry-failed")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"sent '{SUBJECT}'" in proc.stdout
    assert smtp_server.message_ids() == [digest.message_id]


def test_wrong_password_is_a_clear_error_naming_server_and_user_never_the_password(kadrey, smtp_server, monkeypatch):
    path = kadrey()
    monkeypatch.setenv("SMTP_TEST_PASSWORD", "wr0ng-pa55word")
    proc = run_cli(path, "digest")
    assert proc.returncode == 3
    assert f"SMTP server 127.0.0.1:{smtp_server.port} rejected the login of user 'docketwatch'" in proc.stdout
    status = run_cli(path, "status")
    for output in (proc.stdout, proc.stderr, status.stdout, status.stderr,
                   run_cli(path, "--log-level", "DEBUG", "digest", "--dry-run").stdout):
        assert "wr0ng-pa55word" not in output and PASSWORD not in output
    assert not any("wr0ng" in str(digest.model_dump()) for digest in rows(path))
    assert smtp_server.received == []


# -- crashes -------------------------------------------------------------------------

class Crash(BaseException):
    """Stands for a kill: not an Exception, so nothing on the way catches it."""


def crashing_email(when: str) -> type[EmailNotifier]:
    class CrashingEmail(EmailNotifier):
        def send(self, digest):
            if when == "before sending":
                raise Crash
            super().send(digest)  # the SMTP server accepted the message
            raise Crash  # before the outbox records it

    return CrashingEmail


@pytest.mark.parametrize("when", ["before sending", "after acceptance, before bookkeeping"])
def test_a_crash_loses_no_event_and_a_resend_keeps_the_message_id(kadrey, smtp_server, monkeypatch, when):
    path = kadrey()
    monkeypatch.setitem(notifiers.REGISTRY, "email", crashing_email(when))
    with pytest.raises(Crash):
        run(path)
    (digest,) = rows(path)
    assert digest.status == "pending" and digest.attempts == 1
    assert len(smtp_server.received) == (0 if when == "before sending" else 1)

    monkeypatch.setitem(notifiers.REGISTRY, "email", EmailNotifier)
    assert run(path).attempts == []  # the crashed attempt counts: wait for the backoff
    report = run(path, later(2))
    assert report.ok
    assert rows(path)[0].status == "sent" and len(rows(path)) == 1
    assert sorted(delivered(path, "lawyers")) == sorted(event_ids(path))  # every event, once
    assert set(smtp_server.message_ids()) == {digest.message_id}  # a resend is the same message


def test_killed_after_the_server_accepted_the_resend_has_the_same_message_id(kadrey, smtp_server):
    """A real SIGKILL of `docketwatch digest` once the server has stored the message,
    before the client has read the server's reply."""
    path = kadrey(outbox_table="[outbox]\nretry_backoff = 0\n")
    env = {**os.environ}
    env.pop("DOCKETWATCH_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "docketwatch", "--config", str(path), "digest"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    smtp_server.on_data = lambda: os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL and len(smtp_server.received) == 1
    smtp_server.on_data = None
    (digest,) = rows(path)
    assert digest.status == "pending" and digest.attempts == 1

    again = run_cli(path, "digest")
    assert again.returncode == 0, again.stdout + again.stderr
    assert smtp_server.message_ids() == [digest.message_id, digest.message_id]
    assert rows(path)[0].status == "sent" and len(rows(path)) == 1
    assert sorted(delivered(path, "lawyers")) == sorted(event_ids(path))
    assert "nothing is due" in run_cli(path, "digest").stdout


def test_events_arriving_after_a_digest_go_into_the_next_one(kadrey, smtp_server, fake_cl):
    path = kadrey()
    run(path)
    fake_cl.add_entry(KADREY_ID, "602", "2025-07-09", "STIPULATION and ORDER")
    poll(path)
    run(path)
    first, second = rows(path)
    assert first.message_id != second.message_id
    assert second.subject == "Kadrey v. Meta Platforms, Inc.: 1 new filing"
    assert sorted(delivered(path, "lawyers")) == sorted(event_ids(path))


# -- Markdown and the CLI ----------------------------------------------------------------

def test_markdown_files_are_written_whole_and_only_when_there_is_news(kadrey, tmp_path):
    path = kadrey(MARKDOWN)
    proc = run_cli(path, "digest", "--name", "archive")
    assert proc.returncode == 0, proc.stderr
    (written,) = (tmp_path / "archive").iterdir()  # no temporary file left behind
    text = written.read_text()
    assert text.startswith(f"# {SUBJECT}") and r"\<script\>" in text
    assert "nothing is due" in run_cli(path, "digest").stdout
    assert len(list((tmp_path / "archive").iterdir())) == 1  # no empty file


def test_dry_run_prints_what_would_be_sent_and_changes_nothing(kadrey, smtp_server):
    path = kadrey(EMAIL + MARKDOWN)
    before = len(rows(path))
    proc = run_cli(path, "digest", "--dry-run", "--name", "lawyers")
    assert proc.returncode == 0, proc.stderr
    assert f"Subject: {SUBJECT}" in proc.stdout and "3 events" in proc.stdout and "archive" not in proc.stdout
    assert len(rows(path)) == before == 0
    assert smtp_server.received == []
    unknown = run_cli(path, "digest", "--name", "nobody")
    assert unknown.returncode == 2 and "no [[digests]] named 'nobody'" in unknown.stderr


# -- TLS ---------------------------------------------------------------------------------

@pytest.fixture
def certificate(tmp_path, monkeypatch) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 that the client trusts (via SSL_CERT_FILE)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_starttls_and_ssl(fake_cl, tmp_path, certificate, security, database_url):
    if security == "starttls":
        tls = {"tls_context": certificate, "require_starttls": True}
    else:
        tls = {"ssl_context": certificate}
    server = SmtpServer(free_port(), tls=tls)
    server.start()
    try:
        fake_cl.load_kadrey()
        path = write_config(tmp_path, fake_cl.base_url, database_url=database_url,
                            cases=KADREY + EMAIL + smtp_table(server.port, security))
        poll(path)
        fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", "ORDER re Discovery Letter Brief.")
        poll(path)
        assert run(path).ok
        assert [m["Subject"] for _, m in server.received] == ["Kadrey v. Meta Platforms, Inc.: 1 new filing"]
    finally:
        server.stop()
