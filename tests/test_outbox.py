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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlmodel import Session, select

from docketwatch import bootstrap as config_mod
from docketwatch import registry, store
from docketwatch.notifiers.email import EmailNotifier
from docketwatch.pipeline import outbox
from docketwatch.settings import ADMIN_SUBSCRIPTION
from docketwatch.store.models import Delivery, Digest, DigestEvent, Event, utcnow
from tests.conftest import KADREY_ID, poll_cases, run_cli, write_config
from tests.servers import PASSWORD, SmtpServer, free_port, smtp_table
from tests.test_digests import KADREY, SCRIPT_TEXT

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SUBJECT = "Kadrey v. Meta Platforms, Inc.: 2 new filings, 1 updated"


@pytest.fixture(autouse=True)
def secrets(monkeypatch, cl_token):
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
        poll_cases(path)
        fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", SCRIPT_TEXT)
        fake_cl.add_entry(KADREY_ID, "601", "2025-07-03", "NOTICE of Appearance by A. Lawyer")
        fake_cl.update_entry(KADREY_ID, "599", description="ORDER Denying Motion to Seal. Signed by Judge Chhabria.")
        poll_cases(path)
        return path

    return setup


def run(path: Path, now: datetime | None = None) -> outbox.RunReport:
    """Every subscription, and the operator alerts when [admin] is set (as `docketwatch digest`)."""
    cfg = config_mod.load(path)
    admin = cfg.admin_subscription
    return outbox.run(cfg, store.open_engine(cfg.database.url), list(cfg.digests) + ([admin] if admin else []), now)


def rows(path: Path) -> list[Digest]:
    cfg = config_mod.load(path)
    with Session(store.open_engine(cfg.database.url)) as session:
        return list(session.exec(select(Digest).order_by(Digest.id)))


def event_ids(path: Path) -> set[int]:
    cfg = config_mod.load(path)
    with Session(store.open_engine(cfg.database.url)) as session:
        return set(session.exec(select(Event.id)))


def delivered(path: Path, subscription: str, recipient: str) -> list[int]:
    """Event ids in digests of `subscription` sent to `recipient` (with repeats, if any)."""
    cfg = config_mod.load(path)
    with Session(store.open_engine(cfg.database.url)) as session:
        return list(session.exec(
            select(DigestEvent.event_id).join(Delivery, Delivery.digest_id == DigestEvent.digest_id)
            .where(Delivery.status == "sent", Delivery.recipient == recipient,
                   DigestEvent.subscription == subscription)))


def everyone_has_everything(path: Path) -> bool:
    """Every event went to ann and to bob, once each."""
    return all(sorted(delivered(path, "lawyers", r)) == sorted(event_ids(path))
               for r in ("ann@example.org", "bob@example.org"))


def deliveries(path: Path) -> list[Delivery]:
    cfg = config_mod.load(path)
    with Session(store.open_engine(cfg.database.url)) as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)))


def later(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


# -- email -------------------------------------------------------------------------

def test_email_digest_is_multipart_alternative_with_escaped_html(kadrey, smtp_server):
    path = kadrey()
    report = run(path)
    assert report.ok and [a.ok for a in report.attempts] == [True, True]
    (ann, message), (bob, _) = smtp_server.received
    assert ann == ["ann@example.org"] and bob == ["bob@example.org"]
    assert message["To"] == "ann@example.org" and message["From"] == "docketwatch <docketwatch@example.org>"
    assert message["Subject"] == SUBJECT
    assert len(rows(path)) == 1
    first = deliveries(path)[0]
    assert message["Message-ID"].strip() == first.message_id and first.message_id.endswith("@example.org>")
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert text.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert SCRIPT_TEXT in text.get_content() and "NOTICE of Appearance" in text.get_content()
    body = html.get_content()
    assert "<script>" not in body and "&lt;script&gt;alert(" in body
    assert body.index("#601") < body.index("#600")  # newest first

    assert [(d.status, d.attempts) for d in deliveries(path)] == [("sent", 1), ("sent", 1)]
    assert "ann@example.org" in first.delivered_to
    assert everyone_has_everything(path)
    assert run(path).attempts == [] and len(smtp_server.received) == 2  # nothing new: nothing sent
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
    *failed, written = sorted(report.attempts, key=lambda a: a.ok)
    assert len(failed) == 2 and all(not a.ok and f"127.0.0.1:{smtp_server.port}" in a.detail for a in failed)
    assert written.ok and len(list((tmp_path / "archive").glob("*.md"))) == 1  # the other channel did not wait
    email = [d for d in deliveries(path) if "@" in d.recipient]
    assert [(d.status, d.attempts, bool(d.last_error)) for d in email] == [("pending", 1, True)] * 2
    assert run(path).attempts == []  # backing off: not before the next attempt time

    smtp_server.start()
    report = run(path, later(2))
    assert report.ok and [a.digest.subscription for a in report.attempts] == ["lawyers", "lawyers"]
    assert smtp_server.message_ids() == [d.message_id for d in email]
    assert everyone_has_everything(path)


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
    assert not any("wr0ng" in str(row.model_dump()) for row in rows(path) + deliveries(path))
    assert smtp_server.received == []


# -- crashes -------------------------------------------------------------------------

class Crash(BaseException):
    """Stands for a kill: not an Exception, so nothing on the way catches it."""


def crashing_email(when: str) -> type[EmailNotifier]:
    class CrashingEmail(EmailNotifier):
        def send(self, digest, delivery):
            if when == "before sending":
                raise Crash
            super().send(digest, delivery)  # the SMTP server accepted the message
            raise Crash  # before the outbox records it

    return CrashingEmail


@pytest.mark.parametrize("when", ["before sending", "after acceptance, before bookkeeping"])
def test_a_crash_loses_no_event_and_a_resend_keeps_the_message_id(kadrey, smtp_server, monkeypatch, when):
    path = kadrey()
    real = registry.notifier
    monkeypatch.setattr(registry, "notifier", lambda name: crashing_email(when) if name == "email" else real(name))
    with pytest.raises(Crash):
        run(path)
    ann, bob = deliveries(path)
    assert (ann.status, ann.attempts, bob.status, bob.attempts) == ("pending", 1, "pending", 0)
    assert len(smtp_server.received) == (0 if when == "before sending" else 1)

    monkeypatch.setattr(registry, "notifier", real)
    report = run(path)
    assert [a.delivery.recipient for a in report.attempts] == ["bob@example.org"]  # ann waits for the backoff
    report = run(path, later(2))
    assert report.ok
    assert [d.status for d in deliveries(path)] == ["sent", "sent"] and len(rows(path)) == 1
    assert everyone_has_everything(path)  # every event, once
    resent = [ann.message_id] * (1 if when == "before sending" else 2)
    assert sorted(smtp_server.message_ids()) == sorted([*resent, bob.message_id])  # a resend is the same message


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
    ann, bob = deliveries(path)
    assert (ann.status, ann.attempts, bob.attempts) == ("pending", 1, 0)

    again = run_cli(path, "digest")
    assert again.returncode == 0, again.stdout + again.stderr
    assert smtp_server.message_ids() == [ann.message_id, ann.message_id, bob.message_id]
    assert [d.status for d in deliveries(path)] == ["sent", "sent"] and len(rows(path)) == 1
    assert everyone_has_everything(path)
    assert "nothing is due" in run_cli(path, "digest").stdout


def test_events_arriving_after_a_digest_go_into_the_next_one(kadrey, smtp_server, fake_cl):
    path = kadrey()
    run(path)
    fake_cl.add_entry(KADREY_ID, "602", "2025-07-09", "STIPULATION and ORDER")
    poll_cases(path)
    run(path)
    first, second = rows(path)
    assert first.message_id != second.message_id
    assert second.subject == "Kadrey v. Meta Platforms, Inc.: 1 new filing"
    assert everyone_has_everything(path)


# -- Markdown and the CLI ----------------------------------------------------------------

def test_markdown_files_are_written_whole_and_only_when_there_is_news(kadrey, tmp_path):
    path = kadrey(MARKDOWN)
    proc = run_cli(path, "digest", "--name", "archive")
    assert proc.returncode == 0, proc.stderr
    (written,) = (tmp_path / "archive").iterdir()  # no temporary file left behind
    text = written.read_text()
    assert text.startswith(f"# {SUBJECT}") and r"&lt;script\>" in text
    assert "nothing is due" in run_cli(path, "digest").stdout
    assert len(list((tmp_path / "archive").iterdir())) == 1  # no empty file


def test_dry_run_prints_what_would_be_sent_and_changes_nothing(kadrey, smtp_server):
    path = kadrey(EMAIL + MARKDOWN)
    before = len(rows(path))
    proc = run_cli(path, "digest", "--dry-run", "--name", "lawyers")
    assert proc.returncode == 0, proc.stderr
    assert f"Subject: {SUBJECT}" in proc.stdout and "3 events" in proc.stdout and "archive" not in proc.stdout
    assert "to ann@example.org, bob@example.org" in proc.stdout
    assert len(rows(path)) == before == 0
    assert smtp_server.received == []
    unknown = run_cli(path, "digest", "--name", "nobody")
    assert unknown.returncode == 2 and "no [[digests]] named 'nobody'" in unknown.stderr


# -- TLS ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def certificate_files(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made once (a key takes openssl a while)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture
def certificate(certificate_files, monkeypatch) -> ssl.SSLContext:
    """The certificate for 127.0.0.1, trusted by the client (via SSL_CERT_FILE)."""
    cert, key = certificate_files
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
        poll_cases(path)
        fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", "ORDER re Discovery Letter Brief.")
        poll_cases(path)
        assert run(path).ok
        assert [m["Subject"] for _, m in server.received] == ["Kadrey v. Meta Platforms, Inc.: 1 new filing"] * 2
    finally:
        server.stop()


# -- issue 8: digests that never arrive, and digest safety --------------------------------

ADMIN = '\n[admin]\nto = ["ops@example.org"]\n'


def recipients(server: SmtpServer) -> list[list[str]]:
    return [rcpt for rcpt, _ in server.received]


def test_a_digest_past_max_attempts_keeps_retrying_and_arrives_when_the_server_is_back(kadrey, smtp_server, caplog):
    path = kadrey(EMAIL + ADMIN)
    smtp_server.stop()
    for minutes in (0, 2, 5):  # backoff 60 s, 120 s: each run is past the next attempt time
        run(path, later(minutes))
    assert "lawyers" in caplog.text and any(r.levelname == "ERROR" and "3 attempts" in r.getMessage()
                                            for r in caplog.records)
    health = run_cli(path, "status", "--health")
    assert health.returncode == 1
    assert "'lawyers' to ann@example.org: not delivered after 3 attempts" in health.stderr
    assert "'lawyers' to bob@example.org: not delivered after 3 attempts" in health.stderr
    status = run_cli(path, "status")
    assert "not delivered after 3 attempts" in status.stdout and "--drop" in status.stdout
    assert json.loads(run_cli(path, "status", "--json").stdout)["cases"][0]["pending_events"] == 3

    smtp_server.start()
    report = run(path, later(60))
    # Only the operator alerts, one for each recipient; past max_attempts the digest waits MAX_BACKOFF (6 h).
    assert [a.delivery.recipient for a in report.attempts] == ["ops@example.org"] * 2
    alerts = [m for _, m in smtp_server.received]
    assert all("'lawyers'" in m["Subject"] for m in alerts)
    assert sorted(a for m in alerts for a in ("ann@example.org", "bob@example.org") if a in m["Subject"]) == [
        "ann@example.org", "bob@example.org"]
    assert "--drop" in alerts[0].get_body(("plain",)).get_content()

    report = run(path, later(6 * 60 + 6))
    assert report.ok and [a.delivery.recipient for a in report.attempts] == ["ann@example.org", "bob@example.org"]
    assert everyone_has_everything(path)
    assert json.loads(run_cli(path, "status", "--json").stdout)["failed_digests"] == []
    assert run(path, later(48 * 60)).attempts == []  # and nothing more: each alert went once


def test_the_undelivered_alert_comes_once_even_when_the_count_passes_max_attempts_unseen(kadrey, smtp_server):
    """An attempt killed mid-send is counted without failing (the 3rd of 3, say), and a
    lower max_attempts skips counts: the operator hears at the next failure, once."""
    path = kadrey(EMAIL + ADMIN)
    smtp_server.stop()
    run(path)  # the first attempts fail
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    with Session(engine) as session:  # as a kill during each third attempt leaves them
        for delivery in session.exec(select(Delivery)):
            delivery.attempts = 3
            session.add(delivery)
        session.commit()

    def alerts() -> list[str]:
        with Session(engine) as session:
            return list(session.exec(select(Digest.subject).where(Digest.subscription == ADMIN_SUBSCRIPTION)))

    run(path, later(10))
    assert sorted(alerts()) == [
        f"docketwatch: the digest for 'lawyers' was not delivered to {to} after 4 attempts"
        for to in ("ann@example.org", "bob@example.org")]
    run(path, later(6 * 60 + 10))  # failing again, past MAX_BACKOFF: no second alert
    assert len(alerts()) == 2 and {d.attempts for d in deliveries(path) if d.recipient != "ops@example.org"} == {5}
    engine.dispose()
    smtp_server.start()  # for the fixture's stop


@pytest.mark.parametrize("quit_reply", ["421 4.4.2 closing, idle", "500 5.5.1 unrecognized"])
def test_a_message_the_server_accepted_is_sent_whatever_it_answers_to_quit(kadrey, smtp_server, quit_reply):
    """250 to the message is delivery; a bad answer to the QUIT after it must not make it
    a failure, retried (and mailed again) every `retry_backoff`."""
    smtp_server.quit_reply = quit_reply
    path = kadrey(outbox_table="[outbox]\nretry_backoff = 0\n")
    report = run(path)
    assert report.ok and [a.ok for a in report.attempts] == [True, True]
    assert [(d.status, d.attempts) for d in deliveries(path)] == [("sent", 1), ("sent", 1)]
    assert run(path).attempts == [] and len(smtp_server.received) == 2


def test_a_delivery_being_sent_is_due_for_no_other_run_however_slow_the_sends_before_it(kadrey, smtp_server):
    """The claim's backoff runs from the claim, not from the run's start: after a slow
    send to ann, bob's delivery must not be due again (to a `digest` started meanwhile)
    while it is being sent."""
    path = kadrey(outbox_table="[outbox]\nretry_backoff = 60\n")
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    due_while_sending: list[list[str | None]] = []
    slow = time_machine.travel(utcnow() + timedelta(minutes=2), tick=True)

    def slow_then_look() -> None:
        if len(smtp_server.received) == 1:
            slow.start()  # ann's message takes two minutes, longer than the backoff (the clock says so)
        else:
            with Session(engine) as session:
                due_while_sending.append([d.recipient for d, _ in outbox.due(session, cfg.digests, utcnow())])

    smtp_server.on_data = slow_then_look
    try:
        assert run(path).ok and len(smtp_server.received) == 2
    finally:
        slow.stop()
    assert due_while_sending == [[]]


def test_retry_failed_tries_the_failing_ones_now_and_drop_gives_one_up(kadrey, smtp_server):
    path = kadrey()
    smtp_server.stop()
    run(path)
    smtp_server.start()
    smtp_server.refuse = {"bob@example.org"}
    proc = run_cli(path, "digest", "--retry-failed")  # before the backoff has passed
    assert proc.returncode == 3 and "2 failing deliveries put back in line" in proc.stdout
    assert recipients(smtp_server) == [["ann@example.org"]]
    bob = next(d for d in deliveries(path) if d.recipient == "bob@example.org")
    assert bob.status == "pending" and "550" in bob.last_error

    for give_up in (["--drop", str(bob.id)], ["--forget", "lawyers"]):
        tried = run_cli(path, "digest", "--dry-run", *give_up)  # it changes nothing, so it gives nothing up
        assert tried.returncode == 2 and "cannot be used with --drop or --forget" in tried.stderr
    assert next(d for d in deliveries(path) if d.id == bob.id).status == "pending"
    proc = run_cli(path, "digest", "--drop", str(bob.id))
    assert proc.returncode == 0 and f"dropped delivery {bob.id}" in proc.stdout
    assert run(path, later(24 * 60)).attempts == []  # never tried again
    assert json.loads(run_cli(path, "status", "--json").stdout)["failed_digests"] == []
    again = run_cli(path, "digest", "--drop", str(bob.id))
    assert again.returncode == 2 and f"no undelivered delivery with id {bob.id}" in again.stderr


def test_each_recipient_gets_a_message_of_its_own_and_a_bouncing_one_blocks_no_one(kadrey, smtp_server):
    path = kadrey()
    smtp_server.refuse = {"bob@example.org"}
    report = run(path)
    assert not report.ok
    ((rcpt, message),) = smtp_server.received
    assert rcpt == ["ann@example.org"] and message["To"] == "ann@example.org"
    assert "bob@" not in message.as_string()

    smtp_server.refuse = set()
    assert run(path, later(2)).ok
    assert recipients(smtp_server) == [["ann@example.org"], ["bob@example.org"]]  # ann only once
    ann, bob = (m for _, m in smtp_server.received)
    assert bob["To"] == "bob@example.org" and ann["Message-ID"] != bob["Message-ID"]
    assert ann["Subject"] == bob["Subject"] == SUBJECT
    assert everyone_has_everything(path)


def test_a_corrected_address_gets_what_the_misspelt_one_was_owed_and_a_removed_one_no_more_retries(
        kadrey, smtp_server):
    path = kadrey(EMAIL.replace("bob@example.org", "bob@exmaple.org"))
    smtp_server.refuse = {"bob@exmaple.org"}
    assert not run(path).ok
    assert recipients(smtp_server) == [["ann@example.org"]]

    path.write_text(path.read_text().replace("bob@exmaple.org", "bob@example.org"))  # the typo mended
    report = run(path)
    assert report.ok and [a.delivery.recipient for a in report.attempts] == ["bob@example.org"]
    assert recipients(smtp_server) == [["ann@example.org"], ["bob@example.org"]]  # ann only once
    assert {(d.recipient, d.status) for d in deliveries(path)} == {
        ("ann@example.org", "sent"), ("bob@exmaple.org", "dropped"), ("bob@example.org", "sent")}
    assert run(path, later(2)).attempts == []  # the misspelt address is tried no more
    assert json.loads(run_cli(path, "status", "--json").stdout)["failed_digests"] == []


def test_an_smtp_server_echoing_the_auth_exchange_leaks_no_credential(kadrey, smtp_server, monkeypatch):
    import base64

    path = kadrey()
    secret = "An0ther-s3cret-pa55"
    monkeypatch.setenv("SMTP_TEST_PASSWORD", secret)
    smtp_server.echo_auth = True
    proc = run_cli(path, "digest")
    assert proc.returncode == 3 and "rejected the login of user 'docketwatch'" in proc.stdout
    leaks = [secret, base64.b64encode(secret.encode()).decode().rstrip("="),
             base64.b64encode(b"\0docketwatch\0" + secret.encode()).decode().rstrip("=")]
    stored = [d.last_error for d in deliveries(path)]
    assert all(stored)
    for text in (proc.stdout, proc.stderr, run_cli(path, "status").stdout, run_cli(path, "status", "--json").stdout,
                 *stored):
        for leak in leaks:
            assert leak not in text


def test_line_breaks_in_a_case_name_or_an_address_are_refused_at_load(kadrey, tmp_path):
    path = kadrey()
    text = path.read_text()
    path.write_text(text.replace('name = "Kadrey v. Meta Platforms, Inc."',
                                 'name = "Kadrey v. Meta\\r\\nBcc: eve@example.org"'))
    proc = run_cli(path, "check")
    assert proc.returncode == 2 and "cases[1].name" in proc.stderr and "Traceback" not in proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    path.write_text(text.replace('"bob@example.org"', '"bob@example.org\\r\\nBcc: eve@example.org"'))
    proc = run_cli(path, "digest")
    assert proc.returncode == 2 and "digests[1].to" in proc.stderr


def test_a_subscription_added_later_starts_when_it_first_appears(kadrey, smtp_server, fake_cl, tmp_path):
    path = kadrey()
    assert run(path).ok
    path.write_text(path.read_text() + MARKDOWN.replace('"archive"', '"late"')
                    + MARKDOWN.replace('"archive"', '"backfill"') + "backfill_days = 1\n")
    run(path)
    assert not (tmp_path / "late").exists()  # what the others already had is not news to it
    (backfilled,) = (tmp_path / "backfill").iterdir()
    assert "#600" in backfilled.read_text() and "#601" in backfilled.read_text()

    fake_cl.add_entry(KADREY_ID, "602", "2025-07-09", "STIPULATION and ORDER")
    poll_cases(path)
    run(path)
    (late,) = (tmp_path / "late").iterdir()
    assert "#602" in late.read_text() and "#600" not in late.read_text() and "#601" not in late.read_text()


def test_an_upgraded_database_delivers_what_it_owed_to_each_recipient_and_never_resends(
        fake_cl, tmp_path, smtp_server, empty_database_url):
    """A database left by the release before per-recipient deliveries: a sent digest, a
    pending one (its subject broken over two lines, as that release stored it), a failed
    one, and a subscription that never had a digest yet."""
    from alembic import command
    from sqlalchemy import MetaData, create_engine, insert

    from docketwatch.domain import docket_numbers
    from docketwatch.store import migrations

    old = create_engine(empty_database_url)
    with old.begin() as connection:
        command.upgrade(migrations.alembic_config(connection), "0002_scheduler")
    at = datetime.now(UTC) - timedelta(hours=2)
    with old.begin() as connection:
        t = MetaData()
        t.reflect(connection)
        case_id = connection.execute(insert(t.tables["case"]).values(
            court="cand", docket_number=docket_numbers.normalize("3:23-cv-03417-VC"),
            name="Kadrey v. Meta Platforms, Inc.", courtlistener_id=KADREY_ID, baseline_at=at)).inserted_primary_key[0]
        events = []
        for n in (600, 601, 602):
            entry_id = connection.execute(insert(t.tables["entry"]).values(
                case_id=case_id, key=f"#{n}", entry_number=str(n), description=f"FILING number {n}",
                content_hash=str(n), sources="courtlistener", first_seen=at, updated_at=at)).inserted_primary_key[0]
            events.append(connection.execute(insert(t.tables["event"]).values(
                case_id=case_id, entry_id=entry_id, kind="new", source="courtlistener", summary=f"#{n}",
                created_at=at)).inserted_primary_key[0])
        for n, (status, attempts, subject) in enumerate([("sent", 1, "sent long ago"),
                                                         ("pending", 1, "pending\r\n two lines"),
                                                         ("failed", 3, "given up")]):
            body = json.dumps({"txt": f"digest {n}", "html": f"<p>digest {n}</p>"})
            digest_id = connection.execute(insert(t.tables["digest"]).values(
                subscription="lawyers", channel="email", message_id=f"<old-{status}@example.org>", content_hash="x",
                subject=subject, body=body, period_start=at, period_end=at, status=status, attempts=attempts,
                next_attempt_at=at, created_at=at, sent_at=at if status == "sent" else None,
                last_error=None if status == "sent" else "SMTP down")).inserted_primary_key[0]
            connection.execute(insert(t.tables["digestevent"]).values(
                digest_id=digest_id, event_id=events[n], subscription="lawyers"))
    old.dispose()

    fake_cl.load_kadrey()
    path = write_config(tmp_path, fake_cl.base_url, database_url=empty_database_url,
                        cases=KADREY + EMAIL + MARKDOWN + smtp_table(smtp_server.port))
    assert run(path).ok
    received = sorted((rcpt, m["Message-ID"].strip(), m["Subject"]) for rcpt, m in smtp_server.received)
    assert received == [(["ann@example.org"], "<old-failed@example.org>", "given up"),
                        (["ann@example.org"], "<old-pending@example.org>", "pending two lines"),
                        (["bob@example.org"], "<old-failed@example.org>", "given up"),
                        (["bob@example.org"], "<old-pending@example.org>", "pending two lines")]
    (archive,) = (tmp_path / "archive").iterdir()  # owed everything, as before the upgrade
    assert all(f"#{n}" in archive.read_text() for n in (600, 601, 602))
    assert run(path, later(24 * 60)).attempts == [] and len(smtp_server.received) == 4
