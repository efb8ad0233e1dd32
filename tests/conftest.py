"""Shared test helpers: a fake CourtListener on loopback, config files, the real CLI."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_courtlistener import FakeCourtListener

KADREY_ID = 67569326


@pytest.fixture
def fake_cl(httpserver) -> FakeCourtListener:
    fake = FakeCourtListener(base_url=httpserver.url_for("").rstrip("/"))
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    return fake


def write_config(tmp_path: Path, base_url: str, *, token: bool = True, budget: int = 125,
                 cases: str | None = None) -> Path:
    """A configuration for one Kadrey case against the fake server, in tmp_path."""
    cases = cases or f'''
[[cases]]
name = "Kadrey v. Meta Platforms, Inc."
court = "cand"
docket_number = "3:23-cv-03417-VC"
courtlistener_id = {KADREY_ID}
'''
    path = tmp_path / "docketwatch.toml"
    path.write_text(f'''
[database]
url = "sqlite:///{tmp_path / 'dw.db'}"

[http]
retries = 2
backoff = 0.01
max_throttle_wait = 5

[sources.courtlistener]
base_url = "{base_url}"
{'token = "${CL_TEST_TOKEN}"' if token else ''}
daily_request_budget = {budget}
{cases}''')
    return path


def run_cli(config: Path | None, *args: str, token: str = "test-token") -> subprocess.CompletedProcess:
    """The real command line, as a user runs it."""
    env = {**os.environ, "CL_TEST_TOKEN": token}
    env.pop("DOCKETWATCH_CONFIG", None)
    cmd = [sys.executable, "-m", "docketwatch"] + (["--config", str(config)] if config else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def check_json(config: Path, *args: str, token: str = "test-token") -> tuple[int, dict]:
    proc = run_cli(config, "check", "--json", *args, token=token)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)["cases"][0]


def dump_db(tmp_path: Path) -> dict[str, list]:
    """Every row of the tables that hold docket data, to compare before and after.

    Error events are left out: recording a failure is the one write a failed poll makes
    (see `error_events`).
    """
    queries = {t: f'SELECT * FROM "{t}" ORDER BY 1' for t in ("case", "entry", "sourcestate")}
    queries["event"] = "SELECT * FROM event WHERE kind != 'error' ORDER BY 1"
    with sqlite3.connect(tmp_path / "dw.db") as db:
        return {t: db.execute(q).fetchall() for t, q in queries.items()}


def error_events(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "dw.db") as db:
        return [row[0] for row in db.execute("SELECT summary FROM event WHERE kind = 'error' ORDER BY id")]
