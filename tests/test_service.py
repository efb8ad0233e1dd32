"""`docketwatch run` as a real process: second-scale intervals, a CourtListener-like and a
PACER-RSS-like server over loopback, an in-process SMTP server."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.conftest import (
    KADREY_CASE,
    KADREY_ID,
    SUNEDISON_CASE,
    poll_cases,
    refuse_connections,
    run_cli,
    run_process,
    runs,
    start_run,
    terminate,
    wait_for,
    write_config,
)
from tests.kill_harness import Court, Mailbox, mail_entries
from tests.servers import NYSB_FEED, PASSWORD, SmtpServer, smtp_table, with_new_item

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

CASES = KADREY_CASE + SUNEDISON_CASE


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv("SMTP_TEST_PASSWORD", PASSWORD)


@pytest.fixture
def service_config(tmp_path, fake_cl, court_feed, smtp_server):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, cases=CASES)
    config.write_text(config.read_text() + f'''
[sources.pacer_rss]
url_template = "{court_feed.url_template}"

[schedule]
interval = "1s"
jitter = "0s"

[[digests]]
name = "newsroom"
channel = "email"
to = ["desk@example.org"]
''' + smtp_table(smtp_server.port))
    return config


def baselined(config: Path) -> bool:
    status = json.loads(run_cli(config, "status", "--json").stdout)
    return all(c["last_success"] for c in status["cases"])


def polled_again(url: str, cycles: int = 3) -> Callable[[], bool]:
    """A condition: every source has recorded `cycles` more polls (CheckRun rows) than now.
    Three, not two: what the first two found has had a full cycle to be delivered."""
    before = {source: runs(url, source) for source in ("courtlistener", "pacer_rss")}
    return lambda: all(runs(url, source) >= count + cycles for source, count in before.items())


def mentions(smtp_server: SmtpServer, text: str) -> int:
    return sum(text in m.get_body(("plain",)).get_content() for _, m in smtp_server.received)


def test_new_entries_arrive_by_email_exactly_once_and_sigterm_stops_cleanly(
        service_config, fake_cl, court_feed, smtp_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'dw.db'}"
    proc = start_run(service_config)
    try:
        wait_for(lambda: baselined(service_config), proc, timeout=60)
        assert smtp_server.received == []  # a baseline is quiet

        second = run_process(service_config, "run")  # one scheduler per database
        assert second.returncode == 3 and "another docketwatch run uses this database" in second.stderr

        fake_cl.add_entry(KADREY_ID, "602", "2025-07-09", "STIPULATION AND ORDER extending time to answer")
        court_feed.body = with_new_item(NYSB_FEED)
        wait_for(lambda: mentions(smtp_server, "STIPULATION AND ORDER") and mentions(smtp_server, "Order Confirming Plan"),
                 proc, timeout=60)
        wait_for(polled_again(url), proc, timeout=30)  # a few more poll cycles: nothing is sent again
        assert mentions(smtp_server, "STIPULATION AND ORDER") == 1 and mentions(smtp_server, "Order Confirming Plan") == 1
        assert [rcpt for rcpt, _ in smtp_server.received][0] == ["desk@example.org"]

        health = run_cli(service_config, "status", "--health")
        assert health.returncode == 0 and health.stdout.strip() == "healthy"
    finally:
        code, err, took = terminate(proc, timeout=15)
    assert took < 10, "SIGTERM must stop it within 10 seconds"
    assert code == 0, err
    assert "received SIGTERM" in err and "stopped" in err
    assert "test-token" not in err and PASSWORD not in err  # secrets never in the log
    assert "desk@example.org" in err  # one line per event: the digest sent
    assert "Kadrey v. Meta Platforms, Inc.: new #602 2025-07-09: STIPULATION AND ORDER" in err  # and the filing
    assert "apscheduler" not in err  # the scheduler's own chatter is for --log-level DEBUG
    assert "alembic" not in err  # nor is the first run's migration chatter

    sent = len(smtp_server.received)
    again = polled_again(url)
    proc = start_run(service_config)  # a restart sends nothing again
    try:
        wait_for(again, proc, timeout=30)
    finally:
        code, err, took = terminate(proc, timeout=15)
    assert took < 10, "SIGTERM must stop it within 10 seconds"
    assert code == 0 and len(smtp_server.received) == sent
    unhealthy = run_cli(service_config, "status", "--health")
    assert unhealthy.returncode == 1 and "no docketwatch run has a fresh heartbeat" in unhealthy.stderr


def with_immediate_desk(config: Path, mail: Mailbox, interval: str) -> None:
    """Add to `config`: a poll every `interval` (no jitter), and each filing mailed at once
    to desk@example.org through `mail`."""
    config.write_text(config.read_text() + f"""
[schedule]
interval = "{interval}"
jitter = "0s"

[[digests]]
name = "desk"
channel = "email"
to = ["desk@example.org"]
schedule = "immediate"
""" + smtp_table(mail.port))


def delivered(mail: Mailbox) -> list[str]:
    """The entry numbers of every mail `mail` received, in the order they came."""
    return [n for _, message in list(mail.received) for n in mail_entries(message)]


def test_news_a_poll_stores_while_the_outbox_is_sending_goes_out_right_after_not_a_minute_later(tmp_path):
    """An immediate subscription: the outbox run in progress when a poll stores a filing
    built its digests before that filing, so another outbox run follows it at once (before,
    the filing waited for the outbox job's next turn, a minute on)."""
    mail = Mailbox()
    mail.start()
    court = Court(held=f"/docket/{KADREY_ID}/")  # Kadrey's poll job runs first; the other docket's after it
    court.fake.add_docket(67810584, "nysd", "1:23-cv-08292", "Authors Guild v. OpenAI Inc.")
    config = write_config(tmp_path, court.fake.base_url, token=False, cases=KADREY_CASE + """
[[cases]]
name = "Authors Guild v. OpenAI Inc."
court = "nysd"
docket_number = "1:23-cv-08292"
courtlistener_id = 67810584
""")
    with_immediate_desk(config, mail, "1h")

    proc = None
    try:
        assert run_cli(config, "check").returncode == 0  # the baseline
        court.fake.add_entry(KADREY_ID, "1000", "2025-08-04", "ORDER granting stipulation re briefing schedule (1000)")
        assert run_cli(config, "check").returncode == 0  # stored: owed to the desk when `run` starts
        court.fake.add_entry(KADREY_ID, "1001", "2025-08-05", "NOTICE of Appearance by counsel (1001)")
        court.gate.arm()
        mail.after_accept.arm()
        proc = start_run(config)
        wait_for(mail.after_accept.entered.is_set, proc)  # the outbox is sending #1000: its digests are built
        wait_for(court.gate.entered.is_set, proc)
        asked = len(court.request_times)
        court.gate.release()  # Kadrey's poll stores #1001 while the outbox is still sending
        wait_for(lambda: len(court.request_times) > asked, proc)  # the next poll job's request: Kadrey's has ended
        mail.after_accept.release()
        wait_for(lambda: "1001" in delivered(mail), proc, timeout=20)
        assert sorted(delivered(mail)) == ["1000", "1001"]  # each once
    finally:
        if proc is not None:
            terminate(proc)
        court.stop()
        mail.stop()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_run_carries_on_when_the_server_ends_its_sessions_and_still_stops_cleanly(
        tmp_path, database_url, postgres_server):
    """A PostgreSQL restart as `run` sees it: the server ends every session, the pool's
    and the one that holds the scheduler lock. The next poll and delivery take new
    connections, and a stop before the heartbeat retakes the lock is a clean one (it
    exited 3, the unlock failing on the ended session)."""
    mail = Mailbox()
    mail.start()
    court = Court()
    config = write_config(tmp_path, court.fake.base_url, token=False, database_url=database_url)
    with_immediate_desk(config, mail, "1s")

    def end_sessions() -> int:
        with postgres_server.connect() as admin:
            return admin.exec_driver_sql(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
                "WHERE datname = %(db)s", {"db": make_url(database_url).database}).scalar()

    proc = None
    try:
        assert run_cli(config, "check").returncode == 0  # the baseline
        proc = start_run(config)
        court.fake.add_entry(KADREY_ID, "1000", "2025-08-04", "ORDER granting stipulation (1000)")
        wait_for(lambda: "1000" in delivered(mail), proc)
        assert end_sessions() >= 2  # the lock's, and the pool's
        court.fake.add_entry(KADREY_ID, "1001", "2025-08-05", "NOTICE of Appearance by counsel (1001)")
        wait_for(lambda: "1001" in delivered(mail), proc)
    finally:
        code, err, _ = terminate(proc) if proc is not None else (None, "", 0.0)
        court.stop()
        mail.stop()
    assert code == 0, err
    assert sorted(delivered(mail)) == ["1000", "1001"]


def polled_every_second_with_an_admin(tmp_path: Path, database_url: str | None = None) -> tuple[Mailbox, Court, Path]:
    """A started mail server and court, and a configuration polling the court every second
    whose [admin] hears of a database that fails three jobs in a row."""
    mail = Mailbox()
    mail.start()
    court = Court()
    config = write_config(tmp_path, court.fake.base_url, token=False, database_url=database_url)
    config.write_text(config.read_text() + """
[schedule]
interval = "1s"
jitter = "0s"

[admin]
to = ["ops@example.org"]
failures_before_alert = 3
""" + smtp_table(mail.port))
    return mail, court, config


def polling(config: Path, court: Court, log: Path) -> subprocess.Popen:
    """`run` started after a baseline, once it polls the court."""
    assert run_cli(config, "check").returncode == 0
    asked = len(court.request_times)
    proc = start_run(config, log=log)
    wait_for(lambda: len(court.request_times) > asked, proc)
    return proc


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_database_that_cannot_be_used_is_mailed_to_the_admin_at_once_and_its_recovery_once(
        tmp_path, database_url, postgres_server):
    """Alerts go through the outbox, which lives in the database: when the database
    itself cannot be used, the [admin] addresses get one mail sent directly, however long
    it lasts, and one more (through the outbox) when it works again. The server refuses
    the test's database (ALLOW_CONNECTIONS false, its sessions ended), as one down would."""
    mail, court, config = polled_every_second_with_an_admin(tmp_path, database_url)
    name = make_url(database_url).database
    log = tmp_path / "run.log"

    def subjects() -> list[str]:
        return [message["Subject"] for _, message in list(mail.received)]

    def failed_jobs() -> int:
        return log.read_text().count(f"/{name}: ")  # a job's line names the database

    proc = None
    try:
        proc = polling(config, court, log)
        refuse_connections(postgres_server, name, True)
        wait_for(lambda: subjects(), proc)
        assert subjects() == ["docketwatch: the database cannot be used"]
        text = mail.received[0][1].get_body(("plain",)).get_content()
        assert f"/{name}: " in text and "sent directly" in text
        assert mail.received[0][0] == ["ops@example.org"]
        alerted_at = failed_jobs()
        wait_for(lambda: failed_jobs() >= alerted_at + 4, proc)  # still failing: no second mail
        assert len(subjects()) == 1
        refuse_connections(postgres_server, name, False)
        wait_for(lambda: len(subjects()) == 2, proc)
        assert subjects()[1] == "docketwatch: the database works again"
    finally:
        refuse_connections(postgres_server, name, False)
        code, err, _ = terminate(proc) if proc is not None else (None, "", 0.0)
        court.stop()
        mail.stop()
    assert code == 0, err
    said = log.read_text()
    assert "ERROR docketwatch.ops.health: docketwatch: the database cannot be used (3 jobs in a row" in said
    assert "WARNING docketwatch.ops.health: docketwatch: the database works again" in said
    assert subjects() == ["docketwatch: the database cannot be used", "docketwatch: the database works again"]


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_file_deleted_or_replaced_under_run_is_mailed_to_the_admin_and_nothing_goes_to_the_old_one(
        tmp_path, how):
    """SQLite lets open connections go on with a file deleted, or replaced by another
    (a backup moved over it): `run` would poll and store into a file nobody sees. It
    says so instead, as a database that cannot be used, and writes nothing there."""
    mail, court, config = polled_every_second_with_an_admin(tmp_path)
    db, log = tmp_path / "dw.db", tmp_path / "run.log"
    proc = None
    try:
        proc = polling(config, court, log)
        if how == "deleted":
            db.unlink()
        else:
            with sqlite3.connect(db) as source, sqlite3.connect(tmp_path / "backup.db") as copy:
                source.backup(copy)
            (tmp_path / "backup.db").replace(db)
        wait_for(lambda: mail.received, proc)
        polls = len(court.request_times)
    finally:
        code, err, _ = terminate(proc) if proc is not None else (None, "", 0.0)
        court.stop()
        mail.stop()
    # Stopping, it cannot release its lock in the database either: one line, exit 3.
    assert code == 3 and log.read_text().splitlines()[-1].startswith(f"docketwatch: database {db}: the file was")
    (to, message), = mail.received
    assert to == ["ops@example.org"] and message["Subject"] == "docketwatch: the database cannot be used"
    said = {"deleted": "the file was deleted or moved away while docketwatch had it open",
            "replaced": "the file was replaced by another file while docketwatch had it open"}[how]
    assert said in message.get_body(("plain",)).get_content() and said in log.read_text()
    assert "restart docketwatch to use the file at that path" in log.read_text()
    # Polls stopped at the database, before any request: nothing is read or written elsewhere.
    assert len(court.request_times) == polls
    assert db.exists() == (how == "replaced")


def test_a_daily_digest_whose_time_passed_while_run_was_down_goes_out_when_it_starts(tmp_path, fake_cl, smtp_server,
                                                                                  cl_token):
    """`run` restarted just after 07:00 (an upgrade, a reboot) sends 07:00's digest now,
    not tomorrow: the scheduler's own clock only knows the next 07:00."""
    fake_cl.load_kadrey()
    slot = datetime.now(UTC) - timedelta(minutes=2)
    config = write_config(tmp_path, fake_cl.base_url, cases=KADREY_CASE + f'''
[[digests]]
name = "morning"
channel = "email"
to = ["desk@example.org"]
schedule = "daily {slot:%H:%M}"
''' + smtp_table(smtp_server.port))
    poll_cases(config)
    fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", "ORDER granting motion to compel")
    poll_cases(config)
    stamp = "%Y-%m-%d %H:%M:%S.%f"
    with sqlite3.connect(tmp_path / "dw.db") as db:  # the filing and the subscription from before the slot
        db.execute("UPDATE event SET created_at = ?", ((slot - timedelta(hours=1)).strftime(stamp),))
        db.execute("UPDATE subscription SET first_seen = ?", ((slot - timedelta(days=1)).strftime(stamp),))
    proc = start_run(config)
    try:
        wait_for(lambda: mentions(smtp_server, "motion to compel"), proc, timeout=30)
    finally:
        terminate(proc)
    assert len(smtp_server.received) == 1


def test_run_once_polls_every_job_and_exits(service_config, court_feed):
    proc = run_cli(service_config, "run", "--once")
    assert proc.returncode == 0, proc.stderr
    assert "courtlistener:cand:3:23-cv-03417: Kadrey v. Meta Platforms, Inc.: baseline recorded" in proc.stderr
    assert "pacer_rss:nysb: In re SunEdison, Inc.: baseline recorded" in proc.stderr
    assert court_feed.responses == [200]


def test_plan_covers_every_case_of_the_bundled_watchlist_on_the_free_budget(tmp_path):
    bundled = Path(__file__).parents[1] / "config" / "ai-copyright.toml"
    config = tmp_path / "watchlist.toml"
    config.write_text(bundled.read_text().replace('# token = "${COURTLISTENER_TOKEN}"', 'token = "${CL_TEST_TOKEN}"')
                      .replace("[sources.courtlistener]", f'[database]\nurl = "sqlite:///{tmp_path}/dw.db"\n\n[sources.courtlistener]'))
    plan = json.loads(run_cli(config, "plan", "--json").stdout)
    jobs = plan["jobs"]
    assert plan["sources"][0]["api"] and plan["sources"][0]["daily_request_budget"] == 125
    assert len(jobs) == 22 and all(j["api_interval_seconds"] for j in jobs)  # every case covered
    assert sum(j["budgeted_per_day"] for j in jobs) <= 125
    assert all(j["new_filing_delay_seconds"] == 3600 for j in jobs)


def test_operator_hears_once_after_three_failures_in_a_row_and_once_on_recovery(
        service_config, fake_cl, smtp_server):
    service_config.write_text(service_config.read_text() + '\n[admin]\nto = ["ops@example.org"]\n')
    assert run_cli(service_config, "run", "--once").returncode == 0  # baseline
    fake_cl.fail_with = 500
    for _ in range(4):
        assert run_cli(service_config, "run", "--once").returncode == 3  # a case failed: a timer unit shows it
    alerts = [m for rcpt, m in smtp_server.received if rcpt == ["ops@example.org"]]
    assert [m["Subject"] for m in alerts] == [
        "docketwatch: courtlistener:cand:3:23-cv-03417 failed 3 times in a row"]
    assert "HTTP 500" in alerts[0].get_body(("plain",)).get_content()
    status = json.loads(run_cli(service_config, "status", "--json").stdout)
    job = next(j for j in status["jobs"] if j["job"] == "courtlistener:cand:3:23-cv-03417")
    assert job["consecutive_failures"] == 4 and "HTTP 500" in job["last_error"]

    fake_cl.fail_with = None
    assert run_cli(service_config, "run", "--once").returncode == 0
    alerts = [m["Subject"] for rcpt, m in smtp_server.received if rcpt == ["ops@example.org"]]
    assert alerts[1:] == ["docketwatch: courtlistener:cand:3:23-cv-03417 works again"]
