"""Plug-ins: a third-party source and channel, built at test time, work without a core change.

The package is a module plus a `*.dist-info` folder (METADATA, entry_points.txt) in
tmp_path, put on sys.path (in-process) or PYTHONPATH (`run --once`), so importlib.metadata
finds its entry points exactly as it finds an installed package's: no pip, no network.
Its source (`ccbjson`: a stand-in, not the built-in `ccb`) reads Copyright Claims Board
dockets (`22-CCB-0015`, court `ccb`) as JSON from a loopback HTTP server; its channel writes each digest as a JSON file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select

from docketwatch import store
from docketwatch.domain.events import EventKind
from docketwatch.store.models import Case, Entry, Event
from tests.conftest import run_cli

SOURCE_MODULE = '''
"""A third-party docketwatch source and channel (built by tests/test_plugins.py)."""

import json
import re
from datetime import date
from pathlib import Path

from docketwatch.http import HttpError, describe_status
from docketwatch.notifiers.base import Notifier
from docketwatch.settings import HttpUrl, Section
from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry, Snapshot
from docketwatch.sources.base import Source

NUMBER = re.compile(r"^\\s*(\\d{2})\\s*-\\s*CCB\\s*-\\s*(\\d{1,4})\\s*$", re.IGNORECASE)


class CcbSettings(Section):
    base_url: HttpUrl


class CcbSource(Source):
    name = "ccbjson"
    Settings = CcbSettings

    def check_court(self, court):
        if court != "ccb":
            raise ValueError("is not the Copyright Claims Board; write ccb")

    def normalize_docket_number(self, number):
        m = NUMBER.match(number)
        if not m:
            raise ValueError("is not a CCB docket number; write it like 22-CCB-0015")
        return f"{m[1]}-CCB-{int(m[2]):04d}"

    def court_name(self, court):
        return "Copyright Claims Board"

    def servers(self, case):
        return [self.settings.base_url]

    def status(self, session, cases, jobs):
        return [{"source": self.name, "server": self.settings.base_url, "cases": len(cases), "jobs": len(jobs)}]

    def status_lines(self, record):
        return [f"ccbjson: {record['cases']} case(s) read from {record['server']}"]

    def fetch(self, cases, ctx):
        for case in cases:
            url = f"{self.settings.base_url}/dockets/{case.docket_number}.json"
            try:
                response = ctx.http.get(url)
                if response.status_code != 200:
                    raise HttpError(f"{url}: {describe_status(response)}", response.status_code)
                data = response.json()
                docket = ParsedDocket(court="ccb", docket_number=data["docket_number"], case_name=data["caption"])
                docket.entries = [ParsedEntry(entry_number=str(e["number"]), date_filed=date.fromisoformat(e["date"]),
                                              description=e["text"]) for e in data["entries"]]
                yield case, Snapshot(source=self.name, docket=docket)
            except (HttpError, ValueError) as e:
                yield case, e


class JsonFileSettings(Section):
    folder: Path


class JsonFileNotifier(Notifier):
    channel = "jsonfile"
    formats = ("txt",)
    Settings = JsonFileSettings

    @classmethod
    def recipients(cls, settings):
        return [str(settings.folder)]

    def send(self, digest, delivery):
        folder = self.config.resolve(Path(delivery.recipient))
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"digest-{digest.id}.json"
        target.write_text(json.dumps({"subject": digest.subject, "message_id": delivery.message_id,
                                      "text": digest.rendered()["txt"]}))
        return str(target)
'''

ENTRY_POINTS = """\
[docketwatch.notifiers]
jsonfile = ccbwatch:JsonFileNotifier

[docketwatch.sources]
ccbjson = ccbwatch:CcbSource
"""

ORDER = {"number": 1, "date": "2022-03-01", "text": "CLAIM filed by Smith against Jones"}
NOTICE = {"number": 2, "date": "2022-03-09", "text": "NOTICE of compliance review"}


def build_package(folder: Path) -> Path:
    """The third-party package, as an installer would leave it on a path entry."""
    folder.mkdir()
    (folder / "ccbwatch.py").write_text(SOURCE_MODULE)
    info = folder / "ccbwatch-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ccbwatch\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return folder


@pytest.fixture
def ccb(httpserver, tmp_path):
    """A loopback CCB server whose docket grows as a test appends to `entries`."""
    entries = [ORDER]

    def docket(_request):
        from werkzeug import Response

        body = {"docket_number": "22-ccb-15", "caption": "Smith v. Jones", "entries": entries}
        return Response(json.dumps(body), content_type="application/json")

    httpserver.expect_request("/dockets/22-CCB-0015.json").respond_with_handler(docket)
    return httpserver.url_for("").rstrip("/"), entries


def write_config(tmp_path: Path, base_url: str, case: str = "") -> Path:
    path = tmp_path / "dw.toml"
    path.write_text(textwrap.dedent(f"""\
        [database]
        url = "sqlite:///{tmp_path / 'dw.db'}"

        [sources.ccbjson]
        base_url = "{base_url}"

        [[cases]]
        name = "Smith v. Jones"
        court = "ccb"
        docket_number = "22-CCB-0015"
        sources = ["ccbjson"]
        {case}
        [[digests]]
        name = "desk"
        channel = "jsonfile"
        folder = "out"
        """))
    return path


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    """The package on sys.path of this process (as if installed)."""
    folder = build_package(tmp_path / "site")
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    sys.modules.pop("ccbwatch", None)


def test_a_third_party_source_is_planned_polled_shown_and_its_channel_delivers(tmp_path, ccb, on_path):
    base_url, entries = ccb
    path = write_config(tmp_path, base_url)

    plan = json.loads(run_cli(path, "plan", "--json").stdout)
    assert [(j["job"], j["source"], j["cases"]) for j in plan["jobs"]] == [
        ("ccbjson:ccb:22-CCB-0015", "ccbjson", ["Smith v. Jones"])]
    assert plan["unwatched"] == []

    first = run_cli(path, "check", "--json")
    assert first.returncode == 0, first.stderr
    [case] = json.loads(first.stdout)["cases"]
    assert (case["docket_number"], case["ok"], case["baseline"]) == ("22-CCB-0015", True, True)

    entries.append(NOTICE)
    # The case by its docket number, written the way the plug-in's rules read it.
    second = run_cli(path, "check", "22-ccb-15", "--json")
    assert second.returncode == 0, second.stderr
    assert [e["description"] for e in json.loads(second.stdout)["cases"][0]["new"]] == [NOTICE["text"]]

    status = json.loads(run_cli(path, "status", "--json").stdout)
    assert status["sources"] == [{"source": "ccbjson", "server": base_url, "cases": 1, "jobs": 1}]
    assert status["cases"][0]["entries"] == 2 and [j["job"] for j in status["jobs"]] == ["ccbjson:ccb:22-CCB-0015"]
    assert f"ccbjson: 1 case(s) read from {base_url}" in run_cli(path, "status").stdout

    sent = run_cli(path, "digest")
    assert sent.returncode == 0 and "desk: sent" in sent.stdout, sent.stderr
    [written] = (tmp_path / "out").glob("digest-*.json")
    digest = json.loads(written.read_text())
    assert NOTICE["text"] in digest["text"] and "Copyright Claims Board" in digest["text"]
    assert digest["subject"] == "Smith v. Jones: 1 new filing"


def test_run_once_schedules_and_polls_a_third_party_source_in_a_real_process(tmp_path, ccb):
    base_url, entries = ccb
    site = build_package(tmp_path / "site")
    path = write_config(tmp_path, base_url)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    run = [sys.executable, "-m", "docketwatch", "--config", str(path), "run", "--once"]

    first = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "ccbjson:ccb:22-CCB-0015: Smith v. Jones: baseline recorded (1 entries)" in first.stderr

    entries.append(NOTICE)
    second = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "ccbjson:ccb:22-CCB-0015: Smith v. Jones: 1 new, 0 changed" in second.stderr
    [written] = (tmp_path / "out").glob("digest-*.json")
    assert NOTICE["text"] in json.loads(written.read_text())["text"]


def test_an_unregistered_source_is_named_with_the_registered_ones(tmp_path, ccb, on_path):
    path = write_config(tmp_path, ccb[0])
    path.write_text(path.read_text().replace('sources = ["ccbjson"]', 'sources = ["ccbb"]'))
    result = run_cli(path, "check")
    assert result.returncode == 2
    assert ("cases[1].sources = ['ccbb']: 'ccbb' is not a registered source; "
            "registered: 'ccb', 'ccbjson', 'courtlistener', 'pacer_rss'") in result.stderr


@pytest.mark.parametrize("change, key", [
    (('base_url = "http', 'base_url = "gopher'), "sources.ccbjson.base_url = 'gopher"),
    (('[sources.ccbjson]', '[sources.ccbjson]\nbase = "x"'), "unknown key 'sources.ccbjson.base'"),
    (('docket_number = "22-CCB-0015"', 'docket_number = "3:23-cv-03417"'),
     "cases[1].docket_number = '3:23-cv-03417': is not a CCB docket number; write it like 22-CCB-0015"),
    (('court = "ccb"', 'court = "cand"'), "cases[1].court = 'cand': is not the Copyright Claims Board"),
    (('folder = "out"', 'dir = "out"'), "unknown key 'digests[1].dir'"),
    (('channel = "jsonfile"', 'channel = "jsonfil"'),
     "digests[1].channel = 'jsonfil': 'jsonfil' is not a registered channel; registered: 'apprise', 'email', 'jsonfile', 'markdown', 'webhook'"),
])
def test_a_plug_in_checks_its_own_settings_and_case_identity(tmp_path, ccb, on_path, change, key):
    path = write_config(tmp_path, ccb[0])
    path.write_text(path.read_text().replace(*change))
    result = run_cli(path, "plan")
    assert result.returncode == 2
    [line] = (result.stdout + result.stderr).strip().splitlines()
    assert line.startswith(f"Error: {path}: ") and key in line


def test_plug_ins_are_imported_only_when_their_name_is_used(tmp_path, ccb):
    """Loading a configuration that uses only the third-party plug-ins imports no built-in
    one; importing the command line imports none at all, nor any heavy library."""
    site = build_package(tmp_path / "site")
    path = write_config(tmp_path, ccb[0])
    builtins = ["docketwatch.sources.courtlistener", "docketwatch.sources.pacer_rss",
                "docketwatch.notifiers.email", "docketwatch.notifiers.markdown",
                "requests", "lxml", "jinja2", "css_inline", "sqlalchemy", "apscheduler"]
    script = (f"import json, sys, docketwatch.cli\nbefore = [m for m in {builtins!r} if m in sys.modules]\n"
              f"from docketwatch import bootstrap\nbootstrap.load(__import__('pathlib').Path({str(path)!r}))\n"
              f"print(json.dumps([before, [m for m in {builtins[:4]!r} + ['ccbwatch'] if m in sys.modules]]))")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [[], ["ccbwatch"]]


ANSWER = {"number": 1, "date": "2022-03-02", "text": "CLAIM filed by Doe against Roe"}


def _stored_meanwhile(httpserver, tmp_path, entries: list[dict]) -> Path:
    """Smith v. Jones (entry ORDER) and Doe v. Roe, whose docket shows `entries`: when it
    shows some, another process stores its entry #1 (ANSWER) on a connection of its own
    while its request is answered, after the poll read which cases have entries."""
    url = f"sqlite:///{tmp_path / 'dw.db'}"

    def first(_request):
        from werkzeug import Response

        return Response(json.dumps({"docket_number": "22-ccb-15", "caption": "Smith v. Jones", "entries": [ORDER]}),
                        content_type="application/json")

    def second(_request):
        from werkzeug import Response

        if entries:
            engine = store.open_engine(url)
            with Session(engine) as session:
                case = session.exec(select(Case).where(Case.docket_number == "22-CCB-0016")).one()
                session.add(Entry(case_id=case.id, key="#1", entry_number="1", date_filed=date(2022, 3, 2),
                                  description=ANSWER["text"], content_hash="", sources=["ccbjson"]))
                session.commit()
            engine.dispose()
        return Response(json.dumps({"docket_number": "22-ccb-16", "caption": "Doe v. Roe", "entries": entries}),
                        content_type="application/json")

    httpserver.expect_request("/dockets/22-CCB-0015.json").respond_with_handler(first)
    httpserver.expect_request("/dockets/22-CCB-0016.json").respond_with_handler(second)
    return write_config(tmp_path, httpserver.url_for("").rstrip("/"), case=textwrap.dedent("""
        [[cases]]
        name = "Doe v. Roe"
        court = "ccb"
        docket_number = "22-CCB-0016"
        sources = ["ccbjson"]
        """))


def test_first_sights_stored_meanwhile_by_another_process_are_stored_one_by_one(httpserver, tmp_path, on_path):
    """A first check keeps what it first sees of its cases, to store it together (one
    savepoint for all) before its next request. Here another process stores the second
    case's first entry after this poll read which cases have entries: storing what was
    kept breaks the unique key, and each case is stored on its own instead. Neither case
    fails, the entry is kept once, and the baseline stays quiet."""
    url = f"sqlite:///{tmp_path / 'dw.db'}"
    path = _stored_meanwhile(httpserver, tmp_path, [ANSWER])
    checked = run_cli(path, "--log-level", "info", "check", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "storing first sights together failed" in checked.stderr  # the path under test was taken
    cases = json.loads(checked.stdout)["cases"]
    assert [(c["name"], c["ok"], c["new"]) for c in cases] == [("Smith v. Jones", True, []), ("Doe v. Roe", True, [])]
    engine = store.open_engine(url)
    with Session(engine) as session:
        assert [(e.key, e.description) for e in session.exec(select(Entry).order_by(Entry.id))] == [
            ("#1", ORDER["text"]), ("#1", ANSWER["text"])]
        assert session.exec(select(Event)).all() == []
        assert all(c.baseline_at is not None for c in session.exec(select(Case)))
    engine.dispose()


def test_an_entry_another_process_stored_meanwhile_is_read_again_not_a_failure(httpserver, tmp_path, on_path):
    """A `check` beside `run`: this poll read which cases have entries once, at its first
    case; another process stores the second case's first entry before this poll gets to
    it. Inserting it again breaks the unique key: the poll reads the case again and finds
    nothing new, rather than failing the case (and mailing the database's error)."""
    url = f"sqlite:///{tmp_path / 'dw.db'}"
    entries: list[dict] = []
    path = _stored_meanwhile(httpserver, tmp_path, entries)
    assert run_cli(path, "check").returncode == 0  # the baseline: Doe v. Roe has no entries yet

    entries.append(ANSWER)
    checked = run_cli(path, "check", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    doe = json.loads(checked.stdout)["cases"][1]
    assert (doe["name"], doe["ok"], doe["new"]) == ("Doe v. Roe", True, [])
    engine = store.open_engine(url)
    with Session(engine) as session:
        assert [e.description for e in session.exec(select(Entry).where(Entry.key == "#1"))] == [
            ORDER["text"], ANSWER["text"]]
        assert session.exec(select(Event).where(Event.kind == EventKind.ERROR)).all() == []
    engine.dispose()
