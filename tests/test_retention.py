"""Retention: `docketwatch prune` removes old history that nothing needs, and keeps
what status, health, the API budget, pending digests and the entries need; `run --once`
prunes too; `status` reads a bounded number of rows.

The history is written straight into a real database (SQLite and PostgreSQL), each row
labelled by the test as one that must go or must stay; prune runs through the CLI.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from docketwatch import bootstrap as config_mod
from docketwatch import store
from docketwatch.ops import retention
from docketwatch.store.models import (
    Case,
    CheckRun,
    Delivery,
    Digest,
    DigestEvent,
    Entry,
    Event,
    Subscription,
    as_utc,
    utcnow,
)
from tests.conftest import run_cli, start_run, terminate, wait_for, write_config
from tests.test_digests import ANDERSEN, KADREY, markdown_digest
from tests.test_run_stops import configure

pytestmark = pytest.mark.usefixtures("cl_token")  # configurations loaded in process

DAYS = 30
RETENTION = f"\n[retention]\ndays = {DAYS}\n"
TABLES = (CheckRun, Event, DigestEvent, Digest, Delivery, Entry)


class History:
    """Rows written with the fate the test expects for each: (table, id) -> "goes" or "stays"."""

    def __init__(self, session: Session, now: datetime):
        self.session, self.now, self.fate = session, now, {}

    def add(self, row: SQLModel, fate: str) -> SQLModel:
        self.session.add(row)
        self.session.flush()
        self.fate[(type(row), row.id)] = fate
        return row

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def runs(self, case: Case, fate: str, days: list[float], *, ok: bool = True, source: str = "courtlistener",
             quota: int = 0, error: str | None = None) -> None:
        for d in days:
            self.add(CheckRun(case_id=case.id, source=source, started_at=self.ago(d), finished_at=self.ago(d), ok=ok,
                              error=error, requests=quota or 1, quota_requests=quota), fate)

    def event(self, case: Case, days: float, fate: str, *, kind: str = "new", entry: Entry | None = None) -> Event:
        return self.add(Event(case_id=case.id, entry_id=entry.id if entry else None, kind=kind, source="courtlistener",
                              summary=f"{kind} {days}", created_at=self.ago(days)), fate)

    def digest(self, sub: str, days: float, fate: str, events: list[Event], *, delivery: str = "sent",
               sent_days: float | None = None, period_end_days: float | None = None) -> Digest:
        digest = self.add(Digest(subscription=sub, channel="markdown", message_id=f"<{sub}.{days}@example.org>",
                                 content_hash="x", subject=f"{sub} {days}", body=json.dumps({"md": "x"}),
                                 period_start=self.ago(days + 1), period_end=self.ago(period_end_days or days),
                                 created_at=self.ago(days)), fate)
        sent = self.ago(days if sent_days is None else sent_days)
        self.add(Delivery(digest_id=digest.id, recipient=sub, message_id=f"<{sub}.{days}.r@example.org>",
                          status=delivery, attempts=1, next_attempt_at=self.ago(days),
                          sent_at=sent if delivery == "sent" else None), fate)
        for event in events:
            # A link goes exactly when its event goes: with a digest that stays, too.
            self.add(DigestEvent(digest_id=digest.id, event_id=event.id, subscription=sub),
                     self.fate[(Event, event.id)])
        return digest


@pytest.fixture
def history(tmp_path, database_url):
    """Two cases (Andersen with no subscription), two subscriptions ("everything" for
    Kadrey's new and changed entries, "orders" for Kadrey's new entries that say ORDER),
    and history around the cutoff `DAYS` days back."""
    path = write_config(tmp_path, "http://127.0.0.1:9", database_url=database_url, cases=(
        KADREY + ANDERSEN + RETENTION
        + markdown_digest("everything", cases=["Kadrey"], events=["new", "changed"], schedule="daily 07:00")
        + markdown_digest("orders", cases=["Kadrey"], events=["new"], include=["ORDER"], schedule="daily 07:00")))
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    now = utcnow()
    with Session(engine) as session:
        h = History(session, now)
        kadrey, andersen = (store.case_row(session, c) for c in cfg.cases)
        session.add_all(Subscription(name=name, first_seen=h.ago(200)) for name in ("everything", "orders"))
        entries = [h.add(Entry(case_id=kadrey.id, key=f"k{i}", entry_number=number, date_filed=filed,
                               description=text, content_hash=str(i), first_seen=h.ago(300)), "stays")
                   for i, (number, filed, text) in enumerate([
                       ("9", date(2025, 7, 1), "ORDER granting"), ("10", date(2025, 7, 1), "NOTICE"),
                       ("10a", date(2025, 7, 1), "minute"), ("", None, "undated"), ("8", date(2025, 6, 1), "ORDER")])]
        order, notice = entries[0], entries[1]

        # Kadrey's API job: its last success and its only API use are old, then 57 failures.
        h.runs(kadrey, "stays", [120], quota=2)
        h.runs(kadrey, "stays", [110])
        h.runs(kadrey, "goes", [100 - i * 0.5 for i in range(7)], ok=False, error="HTTP 500")
        h.runs(kadrey, "stays", [90 - i * 0.5 for i in range(48)], ok=False, error="HTTP 500")
        h.runs(kadrey, "stays", [0.5, 0.2], ok=False, error="HTTP 503")
        # Andersen: an old last error, then 60 old successes and 2 new ones.
        h.runs(andersen, "stays", [150], ok=False, error="HTTP 404")
        h.runs(andersen, "goes", [140 - i for i in range(12)])
        h.runs(andersen, "stays", [120 - i for i in range(48)])
        h.runs(andersen, "stays", [0.9, 0.1], quota=2)  # the budget's last 24 h

        delivered = h.event(kadrey, 95, "goes", entry=notice)  # to "everything"; "orders" filters it out
        both = h.event(kadrey, 95, "goes", entry=order)  # delivered to both
        pending = h.event(kadrey, 85, "stays", entry=notice)  # its digest is not delivered yet
        owed = h.event(kadrey, 75, "stays", entry=order)  # "orders" has not had it
        beside = h.event(kadrey, 75, "goes", kind="changed", entry=notice)  # in a digest that stays for `owed`
        h.event(kadrey, 300, "goes", entry=order)  # before either subscription began
        h.event(kadrey, 80, "goes", kind="gap")
        h.event(kadrey, 70, "stays", kind="gap")  # Kadrey's latest gap: status shows it
        h.event(kadrey, 70, "goes", kind="error")
        h.event(andersen, 60, "goes", entry=None, kind="new")  # no subscription wants Andersen
        h.event(kadrey, 5, "stays", entry=order)  # new: owed to both
        recent = h.event(kadrey, 10, "stays", entry=order)

        h.digest("everything", 150, "goes", [])
        h.digest("everything", 94, "goes", [delivered, both])
        h.digest("orders", 94, "goes", [both])
        h.digest("everything", 84, "stays", [pending], delivery="pending")
        h.digest("everything", 74, "stays", [owed, beside])
        h.digest("everything", 65, "stays", [], sent_days=2)  # retried until two days ago
        h.digest("everything", 60, "goes", [], delivery="dropped")
        h.digest("everything", 50, "stays", [])  # the latest of "everything": its period ends last
        h.digest("orders", 9, "stays", [recent])
        session.commit()
        fate = dict(h.fate)
    return path, engine, fate


def rows(engine) -> dict[tuple[type, int], None]:
    with Session(engine) as session:
        return {(table, row.id): None for table in TABLES for row in session.exec(select(table))}


def answers(path: Path) -> tuple:
    """What status, `status --health` and the next digest say (the digest as --dry-run shows it)."""
    report = run_cli(path, "status", "--json")
    assert report.returncode == 0, report.stderr
    health = run_cli(path, "status", "--health")
    digest = run_cli(path, "digest", "--dry-run")
    return json.loads(report.stdout), health, digest


def test_prune_removes_exactly_the_old_history_nothing_needs(history):
    path, engine, fate = history
    before = answers(path)
    assert before[0]["cases"][0]["pending_events"] == 4 and before[0]["cases"][0]["last_gap"]
    stays = {key for key, f in fate.items() if f == "stays" and key[0] in TABLES}
    goes = {key for key, f in fate.items() if f == "goes"}
    counted = {"check_runs": CheckRun, "events": Event, "event_links": DigestEvent, "digests": Digest,
               "deliveries": Delivery}
    expected = {name: sum(1 for table, _ in goes if table is t) for name, t in counted.items()}

    ran = run_cli(path, "prune", "--dry-run", "--json")
    assert ran.returncode == 0, ran.stderr
    dry = json.loads(ran.stdout)
    assert dry["dry_run"] and dry["days"] == DAYS and dry["removed"] == expected
    assert set(rows(engine)) == stays | goes  # a dry run changes nothing

    ran = run_cli(path, "prune")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("removed history from before ") and f"([retention] days = {DAYS})" in ran.stdout
    assert f"  check runs   {expected['check_runs']:>8}" in ran.stdout.splitlines()
    assert set(rows(engine)) == stays
    assert answers(path) == before

    assert json.loads(run_cli(path, "prune", "--json").stdout)["removed"] == {name: 0 for name in counted}


def test_a_prune_cut_short_is_finished_by_the_next(history, monkeypatch):
    """Batches commit on their own: a prune that stops between them leaves a store the next finishes."""
    path, engine, fate = history
    monkeypatch.setattr(retention, "BATCH", 3)
    cfg = config_mod.load(path)
    original = retention._prune_digests

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(retention, "_prune_digests", crash)
    with pytest.raises(KeyboardInterrupt):
        retention.prune(engine, cfg)
    monkeypatch.setattr(retention, "_prune_digests", original)
    retention.prune(engine, cfg)
    assert set(rows(engine)) == {key for key, f in fate.items() if f == "stays" and key[0] in TABLES}


def test_check_runs_go_after_check_run_days_while_the_history_of_that_age_stays(tmp_path, database_url):
    """Five days of a court feed read every 10 minutes: a check run per poll. Those older
    than `check_run_days` go, but for the case's latest failure (status shows its last
    error); an event of that age stays (`days`); status, health and digests answer the same."""
    path = write_config(tmp_path, "http://127.0.0.1:9", database_url=database_url,
                        cases=KADREY + "\n[retention]\ndays = 30\ncheck_run_days = 2\n")
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    with Session(engine) as session:
        h = History(session, utcnow())
        kadrey = store.case_row(session, cfg.cases[0])
        polls = [5 - i / 144 for i in range(5 * 144)]  # oldest first
        h.runs(kadrey, "goes", [d for d in polls if d > 3.01], source="pacer_rss")
        h.runs(kadrey, "stays", [3], ok=False, error="HTTP 503", source="pacer_rss")  # its latest failure
        h.runs(kadrey, "goes", [d for d in polls if 2.01 < d < 2.99], source="pacer_rss")
        h.runs(kadrey, "stays", [d for d in polls if d < 1.99], source="pacer_rss")
        h.event(kadrey, 4, "stays", kind="gap")
        session.commit()
        fate = dict(h.fate)
    before = answers(path)
    assert before[0]["cases"][0]["last_error"] == "HTTP 503"

    ran = run_cli(path, "prune", "--json")
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    goes = sum(1 for f in fate.values() if f == "goes")
    assert report["check_run_days"] == 2 and report["removed"]["check_runs"] == goes > 400
    assert report["removed"]["events"] == 0
    assert set(rows(engine)) == {key for key, f in fate.items() if f == "stays"}
    assert answers(path) == before


def test_run_once_polls_then_prunes(fake_cl, tmp_path, database_url):
    fake_cl.load_kadrey()
    path = write_config(tmp_path, fake_cl.base_url, database_url=database_url, cases=KADREY + RETENTION)
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    now = utcnow()
    with Session(engine) as session:
        case = store.case_row(session, cfg.cases[0])
        session.add_all(CheckRun(case_id=case.id, source="courtlistener", started_at=now - timedelta(days=100 - i),
                                 ok=True) for i in range(60))
        session.commit()
    ran = run_cli(path, "run", "--once")
    assert ran.returncode == 0, ran.stderr
    with Session(engine) as session:
        started = [as_utc(r.started_at) for r in session.exec(select(CheckRun).order_by(CheckRun.id))]
    assert len(started) == 50 and started[-1] > now  # this run's poll and the 49 old runs before it
    assert any(line.endswith(": 11 check runs, 0 events, 0 event links, 0 digests, 0 deliveries")
               for line in ran.stderr.splitlines())  # the log line `run` writes


def test_run_prunes_when_it_starts(fake_cl, tmp_path):
    """The prune job of `run` (the process: the scheduler's own wiring is the point)."""
    fake_cl.load_kadrey()
    path = configure(tmp_path, fake_cl.base_url, cases=KADREY + RETENTION)
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    old = utcnow() - timedelta(days=100)
    with Session(engine) as session:
        case_id = store.case_row(session, cfg.cases[0]).id
        session.add_all(CheckRun(case_id=case_id, source="courtlistener", started_at=old, ok=True) for _ in range(60))
        session.commit()

    def old_runs() -> int:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(CheckRun).where(CheckRun.started_at <= old)).one()

    proc = start_run(path)
    try:
        wait_for(lambda: old_runs() < 60, proc)
    finally:
        code, stderr, _ = terminate(proc)
    removed = 60 - old_runs()  # at least those behind the latest 50; more if polls came first
    assert code == 0 and removed >= 10 and f": {removed} check runs, 0 events" in stderr


def test_status_picks_the_latest_entry_as_digests_order_them(tmp_path, database_url):
    """The latest entry comes from one ORDER BY ... LIMIT 1 that agrees with Entry.recency:
    filing date (undated last), then the entry number as a number, then arrival."""
    path = write_config(tmp_path, "http://127.0.0.1:9", database_url=database_url, cases=KADREY)
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    with Session(engine) as session:
        case_id = store.case_row(session, cfg.cases[0]).id
        session.commit()
    samples = [("9", date(2025, 7, 1)), ("", date(2025, 7, 1)), ("x7", date(2025, 7, 1)), ("10", date(2025, 7, 1)),
               ("100", date(2025, 6, 1)), ("0011", date(2025, 7, 1)), (None, None), ("12", None),
               ("10", date(2025, 7, 1))]
    for i, (number, filed) in enumerate(samples):
        with Session(engine) as session:
            session.add(Entry(case_id=case_id, key=f"k{i}", entry_number=number, date_filed=filed,
                              description=f"entry {i}", content_hash=str(i)))
            session.commit()
        with Session(engine) as session:
            stored = session.exec(select(Entry)).all()
            expected = max(stored, key=Entry.recency)
            ordered = session.exec(select(Entry).order_by(*Entry.newest_first())).all()
        assert [e.id for e in ordered] == [e.id for e in sorted(stored, key=Entry.recency, reverse=True)]
        report = json.loads(run_cli(path, "status", "--json").stdout)["cases"][0]
        assert report["entries"] == i + 1
        assert report["latest_entry"]["description"] == expected.description


@pytest.mark.parametrize("key", ["days", "check_run_days"])
@pytest.mark.parametrize("value, shown, says", [
    ("0", "0", "greater than or equal to 1"), ("36501", "36501", "less than or equal to 36500"),
    ('"a year"', "'a year'", "valid integer"), ("true", "true", "must be a number, not true or false"),
    ("90.5", "90.5", "valid integer")])
def test_retention_days_must_be_a_sensible_number(tmp_path, key, value, shown, says):
    path = write_config(tmp_path, "http://127.0.0.1:9", cases=KADREY + f"\n[retention]\n{key} = {value}\n")
    ran = run_cli(path, "prune")
    assert ran.returncode == 2 and len((ran.stdout + ran.stderr).strip().splitlines()) == 1
    assert f"retention.{key} = {shown}: " in ran.stderr and says in ran.stderr
