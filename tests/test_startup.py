"""`status` loads only what it reads with: the database layer, not HTTP, parsing or templates."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import KADREY_CASE, write_config

HEAVY = ["requests", "urllib3", "lxml", "jinja2", "css_inline", "apscheduler", "icalendar", "flask",
         "feedgen", "tomlkit", "werkzeug", "alembic",
         "docketwatch.domain.calendar"]  # ours: its grammar compiles its regexes at import

CCB_CASE = '''
[[cases]]
name = "Oppenheimer v. Prutton"
court = "ccb"
docket_number = "22-CCB-0015"
sources = ["ccb"]
'''


def test_status_imports_no_heavy_library(tmp_path):
    """A status run in a new process (the process is the point: sys.modules) ends with none
    of the libraries only polling, digests, the service or the web page need (nor alembic,
    once the database is at HEAD: the first run creates it)."""
    path = write_config(tmp_path, "http://127.0.0.1:9", cases=KADREY_CASE + CCB_CASE)  # never contacted: status
    # reads the store only
    script = ("import json, sys\nfrom docketwatch.cli import cli\n"
              f"cli.main(['--config', {str(path)!r}, 'status'], standalone_mode=False)\n"
              f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    env = {k: v for k, v in os.environ.items() if k != "DOCKETWATCH_CONFIG"} | {"CL_TEST_TOKEN": "test-token"}
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
    assert "entries stored" in out.stdout
    assert json.loads(out.stdout.splitlines()[-1]) == []
