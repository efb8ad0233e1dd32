"""Health: per-job figures from the check runs, the reasons `status --health` gives, and the
operator alerts (one on reaching N failures in a row, one on recovery)."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func
from sqlmodel import Session, select

from docketwatch import bootstrap, store
from docketwatch.ops import health, lock, plan
from docketwatch.pipeline import digests
from docketwatch.settings import ADMIN_SUBSCRIPTION
from docketwatch.store.models import CheckRun, Delivery, Digest, HealthAlert, SchedulerLock, iso, utcnow
from tests.conftest import fresh_court_coverage, refuse_connections, run_cli
from tests.servers import PASSWORD, smtp_table

CASES = '''
[[cases]]
name = "Kadrey"
court = "cand"
docket_number = "3:23-cv-03417"
courtlistener_id = 67569326

[[cases]]
name = "SunEdison"
court = "nysb"
docket_number = "16-10992"
sources = ["pacer_rss"]

[[cases]]
name = "Other"
court = "nysb"
docket_number = "16-10993"
sources = ["pacer_rss"]
'''
ADMIN = '''
[admin]
to = ["ops@example.org"]
failures_before_alert = 2

[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
from = "docketwatch@example.org"
'''
INTERVAL = timedelta(minutes=10)
JITTER = timedelta(seconds=60)


def load(tmp_path: Path, url: str, extra: str = ""):
    path = tmp_path / "docketwatch.toml"
    path.write_text(f'[database]\nurl = "{url}"\n[schedule]\ninterval = "10m"\njitter = "60s"\n{extra}\n{CASES}')
    return bootstrap.load(path)


@pytest.fixture
def setup(tmp_path, database_url):
    """(config, engine, {job id: job}) on a new database."""
    config = load(tmp_path, database_url)
    engine = store.open_engine(database_url)
    yield config, engine, {j.job_id: j for j in plan.make_plan(config, set())}
    engine.dispose()


SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
KADREY, NYSB = "courtlistener:cand:3:23-cv-03417", "pacer_rss:nysb"


def record(engine, config, case_name: str, source: str, started: datetime, error: str | None = None,
           finished: datetime | None = None, unfinished: bool = False) -> None:
    """A check run of one case by one source; failed when `error` is given; finished 5 s after
    it started unless `finished` says when or `unfinished` (still running, or killed)."""
    case = next(c for c in config.cases if c.name == case_name)
    with Session(engine) as session:
        row = store.case_row(session, case)
        session.add(CheckRun(case_id=row.id, source=source, started_at=started, ok=error is None, error=error,
                             finished_at=None if unfinished else finished or started + timedelta(seconds=5)))
        session.commit()


def set_lock(engine, acquired: datetime, heartbeat: datetime) -> None:
    with Session(engine) as session:
        session.merge(SchedulerLock(name=lock.NAME, holder="host:1", acquired_at=acquired, heartbeat_at=heartbeat))
        session.commit()


def reasons(engine, config, jobs) -> list[str]:
    with Session(engine) as session:
        return health.unhealthy(session, config, jobs, [health.job_health(session, j) for j in jobs],
                                health.failing_deliveries(session, config),
                                health.failing_subscriptions(session, config), digests.unconfigured(session, config))


def test_job_health_counts_failures_since_the_last_success(setup):
    config, engine, jobs = setup
    with Session(engine) as session:
        assert health.job_health(session, jobs[KADREY]) == {
            "job": KADREY, "last_success": None, "consecutive_failures": 0, "last_error": None, "next_run": "now"}
    t = utcnow().replace(microsecond=0) - timedelta(hours=2)
    record(engine, config, "Kadrey", "courtlistener", t, error="old failure")
    record(engine, config, "Kadrey", "courtlistener", t + timedelta(minutes=10))
    record(engine, config, "Kadrey", "courtlistener", t + timedelta(minutes=20), error="HTTP 502")
    record(engine, config, "Kadrey", "pacer_rss", t + timedelta(minutes=25))  # another source: not this job
    record(engine, config, "SunEdison", "courtlistener", t + timedelta(minutes=26))  # another case
    record(engine, config, "Kadrey", "courtlistener", t + timedelta(minutes=30), error="HTTP 503")
    with Session(engine) as session:
        assert health.job_health(session, jobs[KADREY]) == {
            "job": KADREY, "last_success": iso(t + timedelta(minutes=10)), "consecutive_failures": 2,
            "last_error": "HTTP 503", "next_run": iso(t + timedelta(minutes=40))}
    record(engine, config, "Kadrey", "courtlistener", t + timedelta(minutes=40))
    with Session(engine) as session:
        h = health.job_health(session, jobs[KADREY])
    assert (h["consecutive_failures"], h["last_error"], h["last_success"]) == (0, None, iso(t + timedelta(minutes=40)))


@SQLITE_ONLY
def test_a_court_feed_jobs_health_is_that_of_its_first_case(setup):
    config, engine, jobs = setup
    assert [c.name for c in jobs[NYSB].cases] == ["SunEdison", "Other"]
    t = utcnow().replace(microsecond=0) - timedelta(hours=1)
    for i in range(3):
        record(engine, config, "SunEdison", "pacer_rss", t + timedelta(minutes=i), error=f"feed down {i}")
        record(engine, config, "Other", "pacer_rss", t + timedelta(minutes=i), error=f"feed down {i}")
    with Session(engine) as session:
        h = health.job_health(session, jobs[NYSB])
    assert (h["consecutive_failures"], h["last_error"], h["last_success"]) == (3, "feed down 2", None)


def test_without_a_fresh_heartbeat_the_service_is_unhealthy(setup):
    config, engine, jobs = setup
    gone = "no docketwatch run has a fresh heartbeat on this database"
    assert reasons(engine, config, list(jobs.values())) == [gone]
    now = utcnow()
    set_lock(engine, now - timedelta(hours=1), now - lock.EXPIRY - timedelta(seconds=5))
    assert reasons(engine, config, list(jobs.values())) == [gone]
    set_lock(engine, now, now)
    assert reasons(engine, config, list(jobs.values())) == []


def test_under_a_timer_a_recent_run_once_keeps_the_monitor_healthy_and_a_late_one_does_not(tmp_path):
    """The timer deployment (`run --once` every few minutes) keeps no heartbeat: health
    said "unhealthy" after every run. Now a `run --once` that finished within twice the
    interval is a live monitor; one that finished longer ago is not."""
    path = load(tmp_path, f"sqlite:///{tmp_path}/dw.db", '[http]\nbackoff = 0.01\n'
                '[sources.courtlistener]\nbase_url = "http://127.0.0.1:9"\n'
                '[sources.pacer_rss]\nurl_template = "http://127.0.0.1:9/{court}"').path
    fresh_court_coverage()
    assert run_cli(path, "run", "--once").returncode == 3  # every poll failed (port 9): each still finished
    health = run_cli(path, "status", "--health")
    assert (health.returncode, health.stdout, health.stderr) == (0, "healthy\n", "")
    assert json.loads(run_cli(path, "status", "--health", "--json").stdout) == {"healthy": True, "unhealthy": []}

    with time_machine.travel(utcnow() + 2 * INTERVAL + JITTER + timedelta(seconds=5)):  # the timer stopped
        health = run_cli(path, "status", "--health")
        as_json = run_cli(path, "status", "--health", "--json")
    assert health.returncode == 1
    assert health.stderr.startswith("unhealthy: no docketwatch run has a fresh heartbeat on this database, and the "
                                    "last run --once finished at ")
    assert "more than twice the interval (0:10:00) ago" in health.stderr
    assert as_json.returncode == 1 and as_json.stderr == ""
    assert json.loads(as_json.stdout) == {"healthy": False, "unhealthy": [health.stderr.removeprefix("unhealthy: ")
                                                                          .removesuffix("\n")]}


@SQLITE_ONLY
def test_a_job_failing_n_times_in_a_row_is_unhealthy(setup):
    config, engine, jobs = setup
    held = lock.acquire(engine, "host:1")
    t = utcnow() - timedelta(minutes=5)
    for i in range(2):  # failures_before_alert defaults to 3
        record(engine, config, "Kadrey", "courtlistener", t + timedelta(seconds=i), error=f"HTTP 50{i}")
    assert reasons(engine, config, list(jobs.values())) == []
    record(engine, config, "Kadrey", "courtlistener", t + timedelta(seconds=2), error="HTTP 502")
    assert reasons(engine, config, list(jobs.values())) == [f"{KADREY} failed 3 times in a row: HTTP 502"]
    held.release()


def test_a_job_with_no_finished_poll_within_twice_its_interval_is_stuck(setup):
    config, engine, jobs = setup
    now = utcnow()
    window = 2 * INTERVAL + JITTER  # 21 minutes
    set_lock(engine, now - window + timedelta(seconds=30), now)  # started 20.5 min ago: not yet
    assert reasons(engine, config, [jobs[KADREY]]) == []

    set_lock(engine, now - window - timedelta(seconds=30), now)  # started 21.5 min ago, nothing finished
    (reason,) = reasons(engine, config, [jobs[KADREY]])
    assert reason.startswith(f"{KADREY} is stuck: no poll has finished since ")

    # A poll (even a failed one) that finished within the window: not stuck.
    record(engine, config, "Kadrey", "courtlistener", now - timedelta(minutes=6), error="HTTP 500",
           finished=now - timedelta(minutes=5))
    assert reasons(engine, config, [jobs[KADREY]]) == []
    # A poll that started but never finished does not count.
    record(engine, config, "SunEdison", "pacer_rss", now - timedelta(minutes=1), unfinished=True)
    (reason,) = reasons(engine, config, [jobs[NYSB]])
    assert reason.startswith(f"{NYSB} is stuck")

    # A poll that finished long ago, before this run started: measured from the run's start.
    set_lock(engine, now - timedelta(minutes=20), now)
    record(engine, config, "SunEdison", "pacer_rss", now - timedelta(hours=3), finished=now - timedelta(hours=3))
    assert reasons(engine, config, [jobs[NYSB]]) == []


def add_delivery(engine, *, attempts: int, due: datetime, status: str = "pending") -> int:
    with Session(engine) as session:
        digest = Digest(subscription="newsroom", channel="email", message_id=f"<{due.timestamp()}.{attempts}@x>",
                        content_hash="h", subject="New filings", body="{}", period_start=due, period_end=due)
        session.add(digest)
        session.flush()
        delivery = Delivery(digest_id=digest.id, recipient="desk@example.org", message_id=digest.message_id,
                            status=status, attempts=attempts, next_attempt_at=due, last_error="550 mailbox full")
        session.add(delivery)
        session.commit()
        return delivery.id


def test_a_due_delivery_nobody_attempts_means_the_outbox_is_stuck(setup):
    config, engine, _ = setup
    now = utcnow()
    set_lock(engine, now, now)
    add_delivery(engine, attempts=0, due=now - health.OUTBOX_STUCK + timedelta(minutes=1))
    add_delivery(engine, attempts=1, due=now - timedelta(days=1), status="sent")
    assert reasons(engine, config, []) == []
    add_delivery(engine, attempts=0, due=now - health.OUTBOX_STUCK - timedelta(minutes=1))
    (reason,) = reasons(engine, config, [])
    assert reason.startswith("the outbox is stuck: a delivery due since ")


def test_a_delivery_failing_max_attempts_times_is_unhealthy(setup):
    config, engine, _ = setup
    now = utcnow()
    set_lock(engine, now, now)
    later = now + timedelta(hours=1)  # retried later: the outbox is not stuck
    max_attempts = config.outbox.max_attempts
    add_delivery(engine, attempts=max_attempts - 1, due=later)
    add_delivery(engine, attempts=max_attempts + 2, due=later, status="dropped")
    assert reasons(engine, config, []) == []
    failing = add_delivery(engine, attempts=max_attempts, due=later)
    assert reasons(engine, config, []) == [
        f"delivery {failing} of the digest for 'newsroom' to desk@example.org: not delivered after "
        f"{max_attempts} attempts: 550 mailbox full"]


def admin_alerts(engine) -> list[tuple[str, str | None]]:
    with Session(engine) as session:
        return [(digest.subject, delivery.recipient) for digest, delivery in session.exec(
            select(Digest, Delivery).join(Delivery, Delivery.digest_id == Digest.id)
            .where(Digest.subscription == ADMIN_SUBSCRIPTION).order_by(Digest.id))]


@SQLITE_ONLY
def test_alerts_once_on_reaching_n_failures_and_once_on_recovery(tmp_path, database_url, caplog):
    config = load(tmp_path, database_url, ADMIN)
    engine = store.open_engine(database_url)
    job = {j.job_id: j for j in plan.make_plan(config, set())}[KADREY]
    t = utcnow() - timedelta(hours=1)
    outcomes = ["HTTP 500", None, "HTTP 501", "HTTP 502", "HTTP 503", None, None, "HTTP 504", "HTTP 505"]
    seen = []
    with caplog.at_level(logging.WARNING, logger="docketwatch.ops.health"):
        for i, error in enumerate(outcomes):
            record(engine, config, "Kadrey", "courtlistener", t + timedelta(minutes=i), error=error)
            health.observe(engine, config, job, t + timedelta(minutes=i, seconds=30))
            seen.append(len(admin_alerts(engine)))
    # One failure is no alert; the 2nd in a row is; the 3rd is not another; a success is the
    # recovery alert; the next success is silent; two failures in a row alert again.
    assert seen == [0, 0, 0, 1, 1, 2, 2, 2, 3]
    assert admin_alerts(engine) == [
        (f"docketwatch: {KADREY} failed 2 times in a row", "ops@example.org"),
        (f"docketwatch: {KADREY} works again", "ops@example.org"),
        (f"docketwatch: {KADREY} failed 2 times in a row", "ops@example.org")]
    with Session(engine) as session:
        first = session.exec(select(Digest).where(Digest.subscription == ADMIN_SUBSCRIPTION)
                             .order_by(Digest.id)).first()
        assert "Last error: HTTP 502" in first.rendered()["txt"]
        state = session.get(HealthAlert, KADREY)
        assert state.failing is True
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING", "ERROR"]
    engine.dispose()


def test_without_a_mail_route_alerts_are_only_logged(tmp_path, caplog):
    config = load(tmp_path, f"sqlite:///{tmp_path / 'dw.db'}", "")
    engine = store.open_engine(config.database.url)
    job = {j.job_id: j for j in plan.make_plan(config, set())}[NYSB]
    n = config.admin.failures_before_alert
    t = utcnow() - timedelta(hours=1)
    with caplog.at_level(logging.WARNING, logger="docketwatch.ops.health"):
        for i in range(n + 1):
            record(engine, config, "SunEdison", "pacer_rss", t + timedelta(minutes=i), error="feed down")
            health.observe(engine, config, job)
        record(engine, config, "SunEdison", "pacer_rss", t + timedelta(minutes=n + 1))
        health.observe(engine, config, job)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", f"docketwatch: {NYSB} failed {n} times in a row"), ("WARNING", f"docketwatch: {NYSB} works again")]
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Digest)).one() == 0
        assert session.get(HealthAlert, NYSB).failing is False
    engine.dispose()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_database_watch_mails_once_and_says_the_recovery_once_even_when_it_fails_again_at_first(
        tmp_path, database_url, postgres_server, smtp_server, monkeypatch, caplog):
    """Failures of the database itself: one mail at N in a row, sent directly; the
    recovery alert through the outbox, and when the database fails again before that
    alert is stored, at the next job that works."""
    monkeypatch.setenv("SMTP_TEST_PASSWORD", PASSWORD)
    config = load(tmp_path, database_url, '[admin]\nto = ["ops@example.org"]\nfailures_before_alert = 2\n'
                  + smtp_table(smtp_server.port))
    engine = store.open_engine(database_url)
    name = engine.url.database
    watch = health.DatabaseWatch(engine)
    down = store.StoreError(f"database {name}: cannot connect (refused)")

    def recoveries() -> int:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(Digest).where(
                Digest.subject == "docketwatch: the database works again")).one()

    try:
        watch.failed(config, down)
        assert smtp_server.received == []  # one failure is no alert
        watch.failed(config, down)
        watch.failed(config, down)
        assert [m["Subject"] for _, m in smtp_server.received] == ["docketwatch: the database cannot be used"]
        assert f"database {name}: cannot connect (refused)" in smtp_server.received[0][1].get_body(("plain",)) \
            .get_content()
        refuse_connections(postgres_server, name, True)
        with caplog.at_level(logging.ERROR, logger="docketwatch.ops.health"):
            watch.worked(config)  # the recovery alert cannot be stored: said, and kept for later
        assert "docketwatch: the database works again: database" in caplog.text
        refuse_connections(postgres_server, name, False)
        watch.failed(config, down)  # failing again: still no second mail
        assert len(smtp_server.received) == 1
        watch.worked(config)
        watch.worked(config)
        assert recoveries() == 1
        watch.failed(config, down)  # a new run of failures counts from one
        assert len(smtp_server.received) == 1
    finally:
        refuse_connections(postgres_server, name, False)
        engine.dispose()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_database_alert_no_server_took_is_tried_again_after_as_many_failures_more(
        tmp_path, smtp_server, monkeypatch, caplog):
    """Both the database and the mail server fail: the operator is not left unaware. The
    direct mail is tried again every `failures_before_alert` failures until a server
    takes it, then never again in that outage."""
    monkeypatch.setenv("SMTP_TEST_PASSWORD", PASSWORD)
    database_url = f"sqlite:///{tmp_path / 'dw.db'}"
    config = load(tmp_path, database_url, '[admin]\nto = ["ops@example.org"]\nfailures_before_alert = 2\n'
                  + smtp_table(smtp_server.port))
    engine = store.open_engine(database_url)
    watch = health.DatabaseWatch(engine)
    down = store.StoreError("database dw.db: disk I/O error")
    smtp_server.refuse.add("ops@example.org")
    with caplog.at_level(logging.INFO, logger="docketwatch.ops.health"):
        for _ in range(3):
            watch.failed(config, down)
        assert smtp_server.received == []
        assert "docketwatch: the database cannot be used: could not be mailed to ops@example.org" in caplog.text
        assert "tried again after 2 more failures" in caplog.text
        smtp_server.refuse.clear()
        watch.failed(config, down)  # the 4th: two after the try that failed
    assert [m["Subject"] for _, m in smtp_server.received] == ["docketwatch: the database cannot be used"]
    assert "4 jobs in a row found it so" in smtp_server.received[0][1].get_body(("plain",)).get_content()
    for _ in range(4):
        watch.failed(config, down)
    assert len(smtp_server.received) == 1  # taken: not sent again
    watch.worked(config)
    with Session(engine) as session:
        assert session.exec(select(Digest.subject)).all() == ["docketwatch: the database works again"]
    engine.dispose()
