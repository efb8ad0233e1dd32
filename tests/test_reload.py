"""`docketwatch run` takes up an edited watchlist without a restart (the process is the
point): a case added is polled, a case paused is dropped, and a file that no longer
loads is said once while the cases already watched go on being polled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

from docketwatch import store
from docketwatch.store.models import Case, CheckRun
from tests.conftest import KADREY_CASE, run_cli, write_config

SUNEDISON = '''
[[cases]]
name = "In re SunEdison, Inc."
court = "nysb"
docket_number = "16-10992"
sources = ["pacer_rss"]
'''
KADREY_JOB = "courtlistener:cand:3:23-cv-03417"


def ok_runs(tmp_path: Path, name: str) -> int:
    engine = store.open_engine(f"sqlite:///{tmp_path / 'dw.db'}")
    try:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(CheckRun).join(Case).where(
                Case.name == name, CheckRun.ok)).one()
    finally:
        engine.dispose()


def wait_for(condition, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"docketwatch run exited with {proc.returncode}: {log.read_text()}")
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting; the log:\n{log.read_text()}")


def test_an_edited_watchlist_is_taken_up_and_a_broken_one_changes_nothing(tmp_path, fake_cl, court_feed):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, cases=SUNEDISON)
    config.write_text(config.read_text() + f'\n[sources.pacer_rss]\nurl_template = "{court_feed.url_template}"\n'
                      '\n[schedule]\ninterval = "1s"\njitter = "0s"\nreload_check = "1s"\n')
    log = tmp_path / "run.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "docketwatch", "--config", str(config), "run"],
                                stdout=subprocess.DEVNULL, stderr=err, text=True,
                                env={**os.environ, "CL_TEST_TOKEN": "test-token"})
    try:
        wait_for(lambda: ok_runs(tmp_path, "In re SunEdison, Inc.") >= 1, proc, log)
        assert ok_runs(tmp_path, "Kadrey v. Meta Platforms, Inc.") == 0

        with config.open("a") as f:  # the user adds a case by hand
            f.write(KADREY_CASE)
        wait_for(lambda: ok_runs(tmp_path, "Kadrey v. Meta Platforms, Inc.") >= 1, proc, log)
        assert f"reloaded: 2 poll jobs (added: {KADREY_JOB}; removed: none)" in log.read_text()

        paused = run_cli(config, "pause", "kadrey")  # the command line edits the file
        assert paused.returncode == 0, paused.stderr
        wait_for(lambda: f"removed: {KADREY_JOB})" in log.read_text(), proc, log)
        polled = ok_runs(tmp_path, "Kadrey v. Meta Platforms, Inc.")

        good = config.read_text()
        config.write_text(good + '\n[retention]\ndays = "soon"\n')  # a typo
        wait_for(lambda: "was edited but cannot be used" in log.read_text(), proc, log)
        sunedison = ok_runs(tmp_path, "In re SunEdison, Inc.")
        wait_for(lambda: ok_runs(tmp_path, "In re SunEdison, Inc.") >= sunedison + 2, proc, log)  # still polled
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    text = log.read_text()
    assert code == 0, text
    assert text.count("was edited but cannot be used") == 1 and "retention.days" in text  # said once, with the key
    assert ok_runs(tmp_path, "Kadrey v. Meta Platforms, Inc.") == polled  # paused: never polled again
    assert "test-token" not in text
