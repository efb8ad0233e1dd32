"""`docketwatch run` as a real process against servers that stall: a request has a
total deadline, delivery never holds up polling, SIGTERM stops it within seconds in
both modes, a SIGKILLed run is restarted at once, and `status --health` says when
the monitor is stuck; a system clock set back does not stop it. Ctrl-C stops `check`
within moments too."""

from __future__ import annotations

import fcntl
import json
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from docketwatch import store
from docketwatch.store.models import Delivery, Digest, Event, SchedulerLock, utcnow
from tests import clock_step
from tests.conftest import (
    KADREY_CASE,
    SUNEDISON_CASE,
    query,
    run_cli,
    run_process,
    runs,
    signal_masks,
    signalled,
    signals_in,
    start_command,
    start_run,
    terminate,
    wait_for,
    write_config,
)
from tests.servers import NYSB_FEED, smtp_table, with_new_item

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

KADREY = KADREY_CASE


def configure(tmp_path: Path, base_url: str, *, feed=None, http: str = "", extra: str = "",
              database_url: str | None = None, cases: str = KADREY + SUNEDISON_CASE) -> Path:
    config = write_config(tmp_path, base_url, cases=cases, database_url=database_url)
    text = config.read_text().replace("[http]\n", "[http]\n" + http)
    if feed is not None:
        text += f'\n[sources.pacer_rss]\nurl_template = "{feed.url_template}"\n'
    config.write_text(text + '\n[schedule]\ninterval = "1s"\njitter = "0s"\n' + extra)
    return config


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dw.db'}"


def test_a_trickling_server_costs_one_deadline_per_poll_and_other_polls_go_on(tmp_path, slow_server, court_feed):
    cl = slow_server("trickle_body", pace=0.2, give_up=120)  # would hold a poll for two minutes
    config = configure(tmp_path, cl.url, feed=court_feed, http="timeout = 1\n")
    proc = start_run(config)
    try:
        wait_for(lambda: runs(sqlite_url(tmp_path), "pacer_rss", ok=True) >= 1, proc)
        court_feed.body = with_new_item(NYSB_FEED)
        wait_for(lambda: query(sqlite_url(tmp_path), select(func.count()).select_from(Event).where(
            Event.kind == "new", Event.summary == "new entry #5238")) == 1, proc, timeout=20)
        wait_for(lambda: runs(sqlite_url(tmp_path), "courtlistener", ok=False) >= 3, proc, timeout=30)
    finally:
        code, err, took = terminate(proc)
    assert code == 0 and took < 5, err
    assert "no complete response within 1 s ([http] timeout)" in err


def test_polls_queued_behind_a_hanging_one_run_late_instead_of_being_skipped(tmp_path, slow_server, court_feed):
    """Polls run one at a time: a court feed's poll waiting behind one that hangs until its
    deadline is late by that wait, which is no misfire (the machine did not sleep)."""
    cl = slow_server("hang", give_up=120)
    config = configure(tmp_path, cl.url, feed=court_feed, http="timeout = 2\n",
                       extra='misfire_grace = "1s"\n')
    config.write_text(config.read_text().replace("retries = 2", "retries = 0"))
    proc = start_run(config)
    try:
        wait_for(lambda: runs(sqlite_url(tmp_path), "pacer_rss", ok=True) >= 2, proc, timeout=30)
    finally:
        code, err, took = terminate(proc)
    assert code == 0, err
    assert runs(sqlite_url(tmp_path), "courtlistener", ok=False) >= 1  # the hanging one, ahead of each feed poll
    assert "was missed by" not in err


def test_a_hanging_smtp_server_never_holds_up_polling_nor_the_stop(tmp_path, slow_server, fake_cl, court_feed):
    fake_cl.load_kadrey()
    smtp = slow_server("hang", give_up=120)  # accepts, never greets: each attempt waits 30 s
    config = configure(tmp_path, fake_cl.base_url, feed=court_feed, extra=smtp_table(smtp.port) + '''
[[digests]]
name = "newsroom"
channel = "email"
to = ["desk@example.org"]
''')
    proc = start_run(config)
    try:
        wait_for(lambda: runs(sqlite_url(tmp_path), "pacer_rss", ok=True) >= 1, proc)
        court_feed.body = with_new_item(NYSB_FEED)
        wait_for(lambda: smtp.connections >= 1, proc)  # the digest is being sent, and hangs
        polled = runs(sqlite_url(tmp_path), "pacer_rss")
        wait_for(lambda: runs(sqlite_url(tmp_path), "pacer_rss") >= polled + 4, proc, timeout=10)
    finally:
        code, err, took = terminate(proc)
    assert code == 0 and took < 9, err  # the stuck delivery is abandoned after the grace
    assert "abandoned" in err
    with Session(store.open_engine(sqlite_url(tmp_path))) as session:
        delivery = session.exec(select(Delivery)).one()
    assert delivery.status == "pending" and delivery.attempts == 1  # counted, sent again after the restart


@pytest.mark.parametrize(("once", "signum"), [(False, signal.SIGTERM), (True, signal.SIGTERM), (False, signal.SIGHUP)],
                         ids=["run", "run --once", "run, its terminal closed"])
def test_sigterm_with_a_request_in_flight_stops_at_once_and_records_no_failure(tmp_path, slow_server, once, signum):
    """SIGHUP too (the terminal `run` was started from closed): before, it ended the
    process without a word and left the lock row describing a holder that was gone."""
    cl = slow_server("hang", give_up=120)
    config = configure(tmp_path, cl.url, http="timeout = 60\n", cases=KADREY)
    proc = start_run(config, *(["--once"] if once else []))
    wait_for(lambda: cl.connections >= 1, proc)
    _, err, took = signalled(proc, signum)
    assert proc.returncode == 0 and took < 5, err
    assert f"received {signum.name}: cancelling the work in flight, then stopping" in err
    assert runs(sqlite_url(tmp_path), "courtlistener") == 0  # cancelled: not a failure of the source
    assert query(sqlite_url(tmp_path), select(func.count()).select_from(Event)) == 0
    assert query(sqlite_url(tmp_path), select(func.count()).select_from(SchedulerLock)) == 0
    with open(tmp_path / "dw.db.lock") as lock_file:  # the lock was released: free to take
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)


@pytest.mark.parametrize("command", [["check"], ["status", "--refresh"], ["status", "--refresh", "--json"]])
def test_ctrl_c_stops_a_check_at_once_and_keeps_the_cases_it_finished(tmp_path, slow_server, court_feed, command):
    """Ctrl-C while a case's request hangs: the cases done are kept, and what the command
    shows is shown (status: what is stored, the JSON whole), then one line says so."""
    cl = slow_server("hang", give_up=120)  # a request to it would wait the whole 60 s timeout
    config = configure(tmp_path, cl.url, feed=court_feed, http="timeout = 60\n", cases=SUNEDISON_CASE + KADREY)
    proc = start_command(config, *command)
    wait_for(lambda: cl.connections >= 1, proc)  # the court feed's case is done; Kadrey's request hangs
    out, err, took = signalled(proc, signal.SIGINT)
    assert proc.returncode == 130 and took < 5, (proc.returncode, took, err)
    assert err == "interrupted: 1 of 2 cases checked; the rest were not\n"  # one line, no traceback
    if command == ["check"]:
        assert out == "In re SunEdison, Inc. (nysb 16-10992): baseline recorded (13 entries)\n"
    elif "--json" in command:
        shown = {c["name"]: c["entries"] for c in json.loads(out)["cases"]}
        assert shown == {"In re SunEdison, Inc.": 13, "Kadrey v. Meta Platforms, Inc.": 0}, out
    else:
        assert out.startswith("database: ") and "In re SunEdison, Inc. (nysb 16-10992)" in out, out
    assert runs(sqlite_url(tmp_path), "pacer_rss", ok=True) == 1  # stored, on its own commit
    assert runs(sqlite_url(tmp_path), "courtlistener") == 0  # cancelled: not a failure of the source


def test_ctrl_c_shows_what_a_half_checked_case_found(tmp_path, slow_server, court_feed):
    """The court feed stored a new filing, CourtListener hangs: the filing is shown, since
    the next check will not report it again."""
    cl = slow_server("hang", give_up=120)
    config = configure(tmp_path, cl.url, feed=court_feed, http="timeout = 60\n", cases=SUNEDISON_CASE)
    assert run_cli(config, "check").returncode == 0  # the feed's baseline
    config.write_text(config.read_text().replace('sources = ["pacer_rss"]', 'sources = ["pacer_rss", "courtlistener"]'))
    court_feed.body = with_new_item(NYSB_FEED)
    proc = start_command(config, "check")
    wait_for(lambda: cl.connections >= 1, proc)
    out, err, took = signalled(proc, signal.SIGINT)
    assert proc.returncode == 130 and took < 5, (proc.returncode, took, err)
    assert out.splitlines()[0] == ("In re SunEdison, Inc. (nysb 16-10992): 1 new, 0 changed, not every source checked "
                                   "(interrupted)")
    assert "#5238" in out.splitlines()[1]
    assert err == "interrupted: 0 of 1 cases checked, 1 in part (what they found is shown); the rest were not\n"


def test_ctrl_c_in_another_command_is_one_line_and_130(tmp_path, slow_server):
    cl = slow_server("hang", give_up=120)
    config = configure(tmp_path, cl.url, http="timeout = 60\n", cases=KADREY)
    proc = start_command(config, "add", "https://www.courtlistener.com/docket/4321/some-case/")  # looked up: hangs
    wait_for(lambda: cl.connections >= 1, proc)
    out, err, took = signalled(proc, signal.SIGINT)
    assert (proc.returncode, out, err) == (130, "", "interrupted\n") and took < 5


def test_a_check_started_with_ctrl_c_ignored_keeps_it_ignored_and_stops_on_sigterm(tmp_path, slow_server):
    """Started as a shell script's background job, which ignores SIGINT so that Ctrl-C at
    the terminal reaches only the command in the foreground: Ctrl-C stays ignored while
    it checks (as for every other command, which Python leaves so), SIGTERM still stops it."""
    cl = slow_server("hang", give_up=120)
    config = configure(tmp_path, cl.url, http="timeout = 60\n", cases=KADREY)
    proc = start_command(config, "check", preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    wait_for(lambda: cl.connections >= 1, proc)  # within the check: its handlers are in place
    masks = signal_masks(proc.pid)
    ignored, caught = signals_in(masks["SigIgn"]), signals_in(masks["SigCgt"])
    assert signal.SIGINT in ignored and signal.SIGINT not in caught
    assert signal.SIGTERM in caught
    _, err, took = signalled(proc, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM and took < 5, (proc.returncode, took, err)
    assert err == "interrupted: 0 of 1 cases checked; the rest were not\n"


def test_a_killed_run_is_restarted_at_once(tmp_path, database_url, fake_cl):
    fake_cl.load_kadrey()
    config = configure(tmp_path, fake_cl.base_url, cases=KADREY, database_url=database_url)
    proc = start_run(config)
    wait_for(lambda: runs(database_url, "courtlistener", ok=True) >= 1, proc)
    proc.kill()
    proc.wait()
    began = time.monotonic()
    restarted = start_run(config)
    try:
        done = runs(database_url, "courtlistener")
        wait_for(lambda: runs(database_url, "courtlistener") > done, restarted, timeout=10)
        assert time.monotonic() - began < 10
        second = run_process(config, "run")  # and the new holder's lock holds
        assert second.returncode == 3 and "another docketwatch run uses this database" in second.stderr
    finally:
        code, err, _ = terminate(restarted)
    assert code == 0, err


def test_a_clock_set_back_an_hour_does_not_stop_the_polls(tmp_path, fake_cl):
    """APScheduler keeps time by the wall clock: set back an hour, it waited an hour for
    every job's next run. `run` moves its jobs back with the clock, and says so."""
    fake_cl.load_kadrey()
    config = configure(tmp_path, fake_cl.base_url, cases=KADREY)
    url = sqlite_url(tmp_path)
    log = tmp_path / "run.log"
    proc = start_command(config, "run", log=log, module="tests.clock_step")
    try:
        wait_for(lambda: runs(url, "courtlistener", ok=True) >= 2, proc)
        (tmp_path / clock_step.TRIGGER).write_text("-3600")
        wait_for(lambda: "the wall clock was set" in log.read_text(), proc)
        done = runs(url, "courtlistener")
        wait_for(lambda: runs(url, "courtlistener") >= done + 3, proc, timeout=30)
    finally:
        code, _, _ = terminate(proc)
    said = log.read_text()
    assert code == 0, said
    assert "the system clock was set back by 1:00:00" in said


def test_health_says_a_poll_job_that_stopped_finishing_is_stuck(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    config.write_text(config.read_text() + '\n[schedule]\ninterval = "1m"\njitter = "0s"\n')
    engine = store.open_engine(sqlite_url(tmp_path))
    now = utcnow()
    with Session(engine) as session:  # a run started 10 minutes ago; its heartbeat is fresh
        session.add(SchedulerLock(name="scheduler", holder="host:1", acquired_at=now - timedelta(minutes=10),
                                  heartbeat_at=now))
        session.commit()
    result = run_cli(config, "status", "--health")
    assert result.returncode == 1
    assert "courtlistener:cand:3:23-cv-03417 is stuck: no poll has finished since" in result.stderr

    assert run_cli(config, "check").returncode in (0, 3)  # a poll finishes (here: fails, port 9)
    result = run_cli(config, "status", "--health")
    assert result.returncode == 0 and result.stdout.strip() == "healthy", result.stderr
    assert "is stuck" not in result.stdout + result.stderr


def test_health_says_a_stuck_outbox_is_stuck(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    engine = store.open_engine(sqlite_url(tmp_path))
    now = utcnow()
    with Session(engine) as session:
        session.add(SchedulerLock(name="scheduler", holder="host:1", acquired_at=now, heartbeat_at=now))
        digest = Digest(subscription="newsroom", channel="email", message_id="<x@example.org>", content_hash="0",
                        subject="s", body="{}",
                        period_start=now, period_end=now)
        session.add(digest)
        session.flush()
        session.add(Delivery(digest_id=digest.id, recipient="desk@example.org", message_id="<x@example.org>",
                             next_attempt_at=now - timedelta(hours=1)))
        session.commit()
    result = run_cli(config, "status", "--health")
    assert result.returncode == 1 and "the outbox is stuck: a delivery due since" in result.stderr
