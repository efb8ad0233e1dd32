"""`status` over many cases: each case's facts read together (a query per kind of fact,
not a dozen per case), in a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session

from docketwatch import bootstrap, store
from docketwatch.domain.events import EventKind
from docketwatch.store.models import UPGRADED, Case, CheckRun, Entry, Event, Subscription, as_utc, utcnow
from tests.conftest import run_cli, start_command, write_config
from tests.test_digests import ANDERSEN, KADREY, case_table, markdown_digest


def test_status_reads_each_case_its_own_latest_runs_gap_and_pending_events(tmp_path, database_url, monkeypatch):
    """`status` reads every case's facts together (a query per kind of fact, not per
    case): interleaved histories, a case never polled, and subscriptions to some cases,
    to all (owed the announcements of discovered cases too) and with a keyword filter."""
    third = case_table("Third v. Never Polled", "3:23-cv-09999", 1)
    digests = (markdown_digest("all") + markdown_digest("kadrey", cases=["Kadrey"])
               + markdown_digest("no-orders", exclude=["order"]))
    path = write_config(tmp_path, "http://127.0.0.1:9", database_url=database_url,
                        cases=KADREY + ANDERSEN + third + digests)
    monkeypatch.setenv("CL_TEST_TOKEN", "test-token")
    cfg = bootstrap.load(path)
    engine = store.open_engine(cfg.database.url)
    now = utcnow()
    with Session(engine) as session:
        kadrey, andersen = (store.case_row(session, c) for c in cfg.cases[:2])
        found = Case(court="cand", docket_number="3:25-cv-00001", name="found by a rule")
        session.add(found)
        session.add(Subscription(name=UPGRADED, first_seen=now))  # every subscription gets every event
        session.flush()
        for hours, case, ok, error in [(6, kadrey, True, None), (5, andersen, False, "HTTP 500"),
                                       (4, kadrey, False, "HTTP 503"), (3, andersen, True, None),
                                       (2, kadrey, True, None), (1, andersen, False, "HTTP 502")]:
            session.add(CheckRun(case_id=case.id, source="courtlistener", started_at=now - timedelta(hours=hours),
                                 ok=ok, error=error))
            session.flush()
        entries = [Entry(case_id=kadrey.id, key=f"#{n}", entry_number=str(n), description=text, content_hash="")
                   for n, text in ((1, "ORDER granting"), (2, "MOTION to dismiss"))]
        session.add_all(entries)
        session.flush()
        session.add_all([Event(case_id=kadrey.id, entry_id=entries[0].id, kind=EventKind.NEW, source="x", summary="1"),
                         Event(case_id=kadrey.id, entry_id=entries[1].id, kind=EventKind.NEW, source="x", summary="2"),
                         Event(case_id=andersen.id, kind=EventKind.GAP, source="x", summary="old gap"),
                         Event(case_id=andersen.id, kind=EventKind.GAP, source="x", summary="new gap"),
                         Event(case_id=found.id, kind=EventKind.NEW_CASE, source="x", summary="found")])
        session.commit()
    ran = run_cli(path, "status", "--json")
    assert ran.returncode == 0, ran.stderr
    cases = {c["name"]: c for c in json.loads(ran.stdout)["cases"]}
    k, a, t = (cases[c.name] for c in cfg.cases)
    at = {hours: as_utc(now - timedelta(hours=hours)).isoformat(timespec="seconds") for hours in range(1, 7)}
    assert (k["last_checked"], k["last_success"], k["last_error"], k["last_error_at"]) == (
        at[2], at[2], "HTTP 503", at[4])
    assert (a["last_checked"], a["last_success"], a["last_error"], a["last_error_at"]) == (
        at[1], at[3], "HTTP 502", at[1])
    assert (k["entries"], k["latest_entry"]["description"], a["entries"], a["latest_entry"]) == (
        2, "MOTION to dismiss", 0, None)
    assert (k["last_gap"], a["last_gap"]["summary"]) == (None, "new gap")
    # Kadrey: its 2 entries (all, kadrey) and the announcement (all); Andersen: 2 gaps and the announcement.
    assert (k["pending_events"], a["pending_events"]) == (3, 3)
    assert (t["last_checked"], t["entries"], t["pending_events"]) == (None, 0, 0)


def test_a_database_path_is_shown_as_written_not_percent_encoded(tmp_path):
    folder = tmp_path / "dépôt à jour"
    config = write_config(tmp_path, "http://127.0.0.1:9", database_url=f"sqlite:///{folder / 'dw.db'}")
    result = run_cli(config, "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"database: sqlite:///{folder / 'dw.db'}"
    assert json.loads(run_cli(config, "status", "--json").stdout)["database"] == f"sqlite:///{folder / 'dw.db'}"

    (folder / "dw.db").unlink()
    (folder / "dw.db").write_bytes(b"not a database at all, " * 100)  # so that opening it fails
    result = run_cli(config, "status")
    assert result.returncode != 0 and f"database sqlite:///{folder / 'dw.db'}:" in result.stderr
    assert "%C3" not in result.stderr


def test_output_to_a_reader_that_stopped_early_ends_quietly_with_the_pipe_status(tmp_path):
    """`docketwatch cases | head -1`: the reader goes away, and the command ends without a
    word on stderr and with the status a SIGPIPE'd writer has (141), not 1, which
    `status --health` means as "unhealthy". The process and its pipe are the point here."""
    cases = "".join(f'[[cases]]\nname = "Case {i}"\ncourt = "cand"\ndocket_number = "3:24-cv-{i:05d}"\n'
                    f'sources = ["courtlistener"]\n' for i in range(1, 2001))  # more than a pipe holds
    proc = start_command(write_config(tmp_path, "http://127.0.0.1:9", cases=cases), "cases")
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    assert proc.stderr.read() == "" and proc.wait(timeout=60) == 141
