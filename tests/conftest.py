"""Shared test helpers: a fake CourtListener on loopback, config files, the command line
in process (and as a real process where that is the point)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, event, func, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session, SQLModel, select

from docketwatch import bootstrap, redact, store
from docketwatch.cli import cli
from docketwatch.pipeline import poll
from docketwatch.pipeline.poll import CaseResult
from docketwatch.store.models import CheckRun, iso, utcnow
from tests import servers
from tests.fake_courtlistener import FakeCourtListener

KADREY_ID = 67569326
POSTGRES_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# DOCKETWATCH_FULL_SOAKS=1 runs the soaks (kills, faults, fuzz) at their full size, as
# before the suite had to finish in 90 s; bench/ runs them longer still.
FULL_SOAKS = os.environ.get("DOCKETWATCH_FULL_SOAKS") == "1"


def soak_size(small: int, full: int) -> int:
    """How big a soak runs: `small` in the suite, `full` under DOCKETWATCH_FULL_SOAKS=1."""
    return full if FULL_SOAKS else small


# Modules whose tests take seconds each (real `run` processes waiting on intervals and
# deadlines, and the soaks), longest first.
LONG_FIRST = ("test_kills.py", "test_run_stops.py", "test_service.py", "test_faults.py", "test_reload.py",
              "test_web.py", "test_fuzz.py", "test_plugins.py", "test_http.py", "test_retention.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the tests for xdist's --dist worksteal (set in pyproject.toml): it gives each
    of N workers a contiguous share of the list, and a worker that runs out takes tests
    from the end of another's. So each share starts with every Nth long test, and the
    short tests (in file order) follow and balance the rest: no worker is left in a long
    test at the end while the others idle."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))  # set in each worker by xdist
    rank = {name: i for i, name in enumerate(LONG_FIRST)}
    long = sorted((item for item in items if item.path.name in rank), key=lambda item: rank[item.path.name])
    short = [item for item in items if item.path.name not in rank]
    ordered: list[pytest.Item] = []
    for worker in range(workers):
        share = (len(items) - len(ordered)) // (workers - worker)  # as worksteal deals them out
        mine = long[worker::workers]
        taken = max(share - len(mine), 0)
        ordered += mine + short[:taken]
        del short[:taken]
    items[:] = ordered + short


@pytest.fixture(autouse=True)
def _own_cache_folder(tmp_path_factory, monkeypatch) -> None:
    """Each test its own user cache folder (where `courts --refresh` stores court feed
    coverage), so no test reads what the user or another test stored there."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def cl_token(monkeypatch) -> None:
    """CL_TEST_TOKEN in this process's environment, as `write_config` refers to it: for the
    tests that load a configuration or poll in process (run_cli sets it for the CLI)."""
    monkeypatch.setenv("CL_TEST_TOKEN", "test-token")


@pytest.fixture
def fake_cl(httpserver) -> FakeCourtListener:
    fake = FakeCourtListener(base_url=httpserver.url_for("").rstrip("/"))
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    return fake


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Engine]:
    """The PostgreSQL server of $DOCKETWATCH_TEST_POSTGRES, where tests may CREATE DATABASE.

    When it is unreachable the PostgreSQL variants skip and say why; under CI=true they
    fail instead, since CI installs the server and a skip would hide a broken install.
    """
    url = make_url(os.environ.get("DOCKETWATCH_TEST_POSTGRES", POSTGRES_DEFAULT))
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        engine.connect().close()
    except OperationalError as e:
        reason = (f"no PostgreSQL at {url.render_as_string()} (set DOCKETWATCH_TEST_POSTGRES): "
                  f"{str(e.orig).splitlines()[0]}")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    yield engine
    engine.dispose()


_migrated: list[Path] = []  # the path `migrated_sqlite` made, for `at_head` (write_config takes no fixture)


@pytest.fixture(scope="session", autouse=True)
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite database migrated to HEAD once per session (per xdist worker), which
    `at_head` copies (for `database_url` and `write_config`)."""
    path = tmp_path_factory.mktemp("migrated") / "dw.db"
    store.open_engine(f"sqlite:///{path}").dispose()
    assert not path.with_name("dw.db-wal").exists(), "the template's last changes are still in its WAL file"
    _migrated[:] = [path]
    return path


def at_head(path: Path) -> None:
    """A database at the current schema with no rows at `path`: a copy of the one
    `migrated_sqlite` made (a copy costs a millisecond, a migration about sixty)."""
    shutil.copyfile(_migrated[0], path)


@pytest.fixture(scope="session")
def migrated_postgres(postgres_server: Engine) -> Iterator[str]:
    """The name of a PostgreSQL database migrated to HEAD once per session (per xdist
    worker), which `database_url` copies (CREATE DATABASE ... TEMPLATE; nothing stays
    connected to it, or the copy would be refused)."""
    with new_postgres_database(postgres_server) as url:
        store.open_engine(url).dispose()
        yield make_url(url).database


def create_database(server: Engine, template: str | None = None) -> str:
    """A new database on `server` (a copy of `template` if given): its name."""
    name = f"docketwatch_test_{uuid.uuid4().hex[:12]}"
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


def drop_database(server: Engine, name: str) -> None:
    with server.connect() as connection:  # FORCE: engines a test left open still hold connections
        connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')


@contextmanager
def new_postgres_database(server: Engine) -> Iterator[str]:
    """An empty database of its own on `server`, dropped afterwards: its URL."""
    name = create_database(server)
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(server, name)


# What a database's schema is made of, to tell a test's leftovers from the schema HEAD built.
SCHEMA = text("""
    SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
                     || ' ' || coalesce(column_default, '')
      FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT 'constraint', conrelid::regclass::text || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT 'object', relkind::text || ' ' || relname FROM pg_class WHERE relnamespace = 'public'::regnamespace
    UNION ALL SELECT 'trigger', tgname::text FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'version', version_num FROM alembic_version
    ORDER BY 1, 2""")


@dataclass
class PostgresDatabases:
    """This worker's PostgreSQL databases at HEAD, each handed to one test at a time and
    emptied after it (its rows deleted, its sequences restarted), instead of a CREATE DATABASE and DROP per test: a copy
    of the template and the first connections to it cost about half a second.

    A database a test left with another schema (or its version table changed) is
    dropped, not reused; connections a test left open are ended first."""

    server: Engine
    template: str
    schema: list[tuple[str, str]] = field(default_factory=list)
    free: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return self.server.url.set(database=name).render_as_string(hide_password=False)

    def take(self) -> str:
        return self.free.pop() if self.free else create_database(self.server, self.template)

    def give_back(self, name: str) -> None:
        self._end_connections(name)
        engine = create_engine(self.url(name))
        try:
            with engine.connect() as connection:
                try:
                    same = [tuple(row) for row in connection.execute(SCHEMA)] == self.schema
                except DBAPIError:  # no version table any more, say
                    same = False
                if same:  # DELETE: on tables this small, six times faster than TRUNCATE
                    for table in reversed(SQLModel.metadata.sorted_tables):  # the models are HEAD (test_migrations)
                        connection.execute(table.delete())
                    sequences = connection.execute(text(
                        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")).scalars().all()
                    for sequence in sequences:
                        connection.exec_driver_sql(f'ALTER SEQUENCE "{sequence}" RESTART')
                    connection.commit()
        finally:
            engine.dispose()
        if same:
            self.free.append(name)
        else:
            drop_database(self.server, name)

    def _end_connections(self, name: str) -> None:
        """End the sessions a test left open (and with them any advisory lock), and wait until they are gone."""
        deadline = time.monotonic() + 10
        with self.server.connect() as connection:
            while connection.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name}).scalar():
                assert time.monotonic() < deadline, f"sessions on {name} did not end within 10 s"
                time.sleep(0.01)


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: Engine, migrated_postgres: str) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(postgres_server, migrated_postgres)
    engine = create_engine(databases.url(migrated_postgres))
    with engine.connect() as connection:
        databases.schema = [tuple(row) for row in connection.execute(SCHEMA)]
    engine.dispose()
    yield databases
    for name in databases.free:
        drop_database(postgres_server, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path: Path) -> Iterator[str]:
    """The URL of a database at the current schema, with no rows: tmp_path/dw.db (a copy
    of one migrated per session), or on PostgreSQL a database of this worker's, emptied
    after each test (see PostgresDatabases). The tests of the migrations themselves take
    `empty_database_url`."""
    if request.param == "sqlite":
        at_head(tmp_path / "dw.db")
        yield f"sqlite:///{tmp_path / 'dw.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    name = databases.take()
    yield databases.url(name)
    databases.give_back(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database (no tables): tmp_path/dw.db, or a database of its own on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dw.db'}"
        return
    with new_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    """A session on a migrated database of each kind (`database_url`)."""
    engine = store.open_engine(database_url)
    with Session(engine) as s:
        yield s
    engine.dispose()


# The [[cases]] table of Kadrey v. Meta, pinned to its CourtListener docket.
KADREY_CASE = f'''
[[cases]]
name = "Kadrey v. Meta Platforms, Inc."
court = "cand"
docket_number = "3:23-cv-03417-VC"
courtlistener_id = {KADREY_ID}
'''
# The real S.D.N.Y. Bankruptcy feed's case (tests/servers.py NYSB_FEED), read from the court feed.
SUNEDISON_CASE = '''
[[cases]]
name = "In re SunEdison, Inc."
court = "nysb"
docket_number = "16-10992"
sources = ["pacer_rss"]
'''


def write_config(tmp_path: Path, base_url: str, *, token: bool = True, budget: int = 125,
                 cases: str | None = None, database_url: str | None = None) -> Path:
    """A configuration for one Kadrey case against the fake server, in tmp_path (database:
    tmp_path/dw.db unless `database_url` says otherwise, made at HEAD with no rows unless
    it exists: a new database's migration is tests/test_migrations.py's business)."""
    cases = cases or KADREY_CASE
    if database_url is None and not (tmp_path / "dw.db").exists():
        at_head(tmp_path / "dw.db")
    path = tmp_path / "docketwatch.toml"
    path.write_text(f'''
[database]
url = "{database_url or f'sqlite:///{tmp_path / "dw.db"}'}"

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


SERVER_LOGGERS = ("werkzeug", "mail.log", "mail.debug")  # pytest-httpserver, aiosmtpd


@dataclass
class Ran:
    """What one command did, named as on `subprocess.CompletedProcess`."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(config: Path | None, *args: str, token: str = "test-token", env: dict[str, str] | None = None) -> Ran:
    """The command line in this process (click's CliRunner), as a new `docketwatch` process
    would run it: no DOCKETWATCH_CONFIG, `env` added to the environment, no secret
    registered yet, logging as the command sets it up. stderr holds what a process would
    print there: error lines, log lines, warnings and, for a crash, the traceback."""
    argv = (["--config", str(config)] if config else []) + list(args)
    environment: dict[str, str | None] = {"DOCKETWATCH_CONFIG": None, "CL_TEST_TOKEN": token, **(env or {})}
    with _as_a_new_process() as warned:
        result = CliRunner().invoke(cli, argv, env=environment, prog_name="docketwatch")
    stderr = result.stderr + "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
                                     for w in warned)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return Ran(result.exit_code, result.stdout, stderr)


@contextmanager
def _as_a_new_process() -> Iterator[list[warnings.WarningMessage]]:
    """Run a command with the process state a new process starts with, then put this
    one's back: no handler on the root logger (the command's own goes to its stderr; so
    caplog sees nothing meanwhile), the test's servers silent in the log (they live in this
    process, not in the command's), no registered secret, and every engine it opened
    disposed. Yields the warnings it raised, which a process prints on stderr."""
    root, urllib3 = logging.getLogger(), logging.getLogger("urllib3")
    handlers, level, urllib3_level = root.handlers[:], root.level, urllib3.level
    servers_logs = [logging.getLogger(name) for name in SERVER_LOGGERS]
    engines: set[Engine] = set()

    def opened(connection) -> None:
        engines.add(connection.engine)

    root.handlers.clear()
    root.setLevel(logging.WARNING)
    for logger in servers_logs:
        logger.disabled = True
    redact.forget_all()
    event.listen(Engine, "engine_connect", opened)
    try:
        with warnings.catch_warnings(record=True) as warned:
            yield warned
    finally:
        event.remove(Engine, "engine_connect", opened)
        for engine in engines:
            engine.dispose()
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        urllib3.setLevel(urllib3_level)
        for logger in servers_logs:
            logger.disabled = False


def run_process(config: Path, *args: str) -> subprocess.CompletedProcess:
    """The command line as a real process, for the tests where the process is the point."""
    environment = {**os.environ, "CL_TEST_TOKEN": "test-token"}
    environment.pop("DOCKETWATCH_CONFIG", None)
    cmd = [sys.executable, "-m", "docketwatch", "--config", str(config), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=environment, timeout=120)


# ------------------------------------------------- `docketwatch run` as a real process

def fresh_court_coverage(cache_home: Path | None = None) -> None:
    """Store the shipped coverage snapshot as if `courts --refresh` had read it a minute ago,
    in `cache_home` (default: this test's own cache folder). `run` reads CourtListener's court
    list when only the snapshot is known, and a test must ask nothing of the internet."""
    from docketwatch.sources import federal

    data = json.loads(resources.files("docketwatch.data").joinpath(federal.COVERAGE_FILE).read_text())
    target = (cache_home / "docketwatch" / federal.COVERAGE_FILE) if cache_home else federal.coverage_cache()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({**data, "fetched_at": iso(utcnow())}))


def start_run(config: Path, *args: str, log: Path | None = None) -> subprocess.Popen:
    """`docketwatch run *args` as a real process, with the test secrets in its environment;
    its stderr to `log` when given (to read while it runs), else to a pipe."""
    return start_command(config, "run", *args, log=log)


def as_from_a_terminal() -> None:
    """A child's `preexec_fn`: SIGINT as a terminal leaves it. A child inherits an ignored
    SIGINT (the test process has one when a script started it in the background), and
    then Ctrl-C is meant not to reach it (signals.py)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_command(config: Path, command: str, *args: str, log: Path | None = None,
                  preexec_fn: Callable[[], None] = as_from_a_terminal, module: str = "docketwatch") -> subprocess.Popen:
    """`docketwatch COMMAND *args` as a real process, as `start_run` starts `run`: as
    from a terminal, unless `preexec_fn` says otherwise; through `module` when it is a
    harness that wraps the command line (tests/clock_step.py)."""
    # PYTHONFAULTHANDLER: a process that has to be aborted (`abort_stuck`) prints where each thread was.
    env = {**os.environ, "CL_TEST_TOKEN": "test-token", "SMTP_TEST_PASSWORD": servers.PASSWORD,
           "PYTHONFAULTHANDLER": "1"}
    env.pop("DOCKETWATCH_CONFIG", None)
    fresh_court_coverage()
    with (log.open("w") if log else contextlib.nullcontext(subprocess.PIPE)) as err:
        return subprocess.Popen([sys.executable, "-m", module, "--config", str(config), command, *args],
                                stdout=subprocess.PIPE, stderr=err, text=True, env=env, preexec_fn=preexec_fn)


def wait_for(condition: Callable[[], object], proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    """Wait until `condition()` is true; fail at the deadline, or at once (with its
    stderr) if `proc` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            said = proc.stderr.read() if proc.stderr else "(its stderr went to a log file)"
            raise AssertionError(f"docketwatch run exited with {proc.returncode}: {said}")
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting")


def signalled(proc: subprocess.Popen, signum: int, timeout: float = 30.0) -> tuple[str, str, float]:
    """Send `signum` to `proc` and collect it: its stdout and stderr (when piped), and the
    seconds it took to stop. Aborted if it has not stopped within `timeout` (the caller
    asserts on the time)."""
    began = time.monotonic()
    proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        out, err = abort_stuck(proc)
    return out, err, time.monotonic() - began


def terminate(proc: subprocess.Popen, timeout: float = 30.0) -> tuple[int, str, float]:
    """SIGTERM `proc` and collect it: its exit code, stderr, and the seconds it took to stop."""
    _, err, took = signalled(proc, signal.SIGTERM, timeout)
    return proc.returncode, err, took


def signal_masks(pid: int) -> dict[str, str]:
    """The signals process `pid` blocks, ignores and catches, as /proc shows them (SigBlk,
    SigIgn, SigCgt: hexadecimal, bit n - 1 for signal n); none once it is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return dict(line.split(":\t") for line in lines if line.startswith(("SigBlk", "SigIgn", "SigCgt")))


def signals_in(mask: str) -> set[int]:
    """The signal numbers of one of `signal_masks`."""
    return {n for n in range(1, 65) if int(mask, 16) >> (n - 1) & 1}


def abort_stuck(proc: subprocess.Popen) -> tuple[str, str]:
    """End a process that did not stop when asked: SIGABRT, so that its stderr shows each
    thread's stack (start_command enables faulthandler), then SIGKILL if even that hangs.
    Its stdout and stderr (when piped), the stderr followed by the signals it blocked,
    ignored and caught (/proc: a signal it never saw may have been blocked or ignored)."""
    masks = "".join(f"\n{name}:\t{mask}" for name, mask in signal_masks(proc.pid).items())
    proc.send_signal(signal.SIGABRT)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, (err or "") + masks


def refuse_connections(server: Engine, database: str, refused: bool) -> None:
    """Make PostgreSQL refuse (or accept again) connections to `database`, ending those
    open, as a server that is down would (other databases go on)."""
    with server.connect() as admin:
        admin.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(not refused).lower()}')
        if refused:
            admin.exec_driver_sql("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                                  "WHERE datname = %(db)s", {"db": database})


def query(url: str, statement):
    """The one result of `statement` on the database at `url`."""
    engine = store.open_engine(url)
    try:
        with Session(engine) as session:
            return session.exec(statement).one()
    finally:
        engine.dispose()


def runs(url: str, source: str, ok: bool | None = None) -> int:
    """How many polls `source` recorded (CheckRun rows), of them the ok ones if `ok` is set."""
    statement = select(func.count()).select_from(CheckRun).where(CheckRun.source == source)
    if ok is not None:
        statement = statement.where(CheckRun.ok == ok)
    return query(url, statement)


def poll_cases(path: Path, **options: Any) -> list[CaseResult]:
    """A real `check` of every case of the configuration at `path`, in process: a result
    per case, in configuration order. `options` go to `poll.check`."""
    config = bootstrap.load(path)
    engine = store.open_engine(config.database.url)
    try:
        return poll.check(config, engine, config.cases, **options)
    finally:
        engine.dispose()


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


def today() -> date:
    """Today in UTC, as docketwatch dates the start of a watch: a filing of today is news
    to every source, where the real dockets' old dates are history to a source's first read."""
    return datetime.now(UTC).date()


def age_docket_read(database_url: str, docket_id: int, days: float = 2) -> None:
    """Make the stored CourtListener docket fields of `docket_id` look `days` old, so that
    the next API poll reads them again (courtlistener.DOCKET_REFRESH)."""
    from docketwatch.sources.courtlistener import EntriesState

    engine = create_engine(database_url)
    with Session(engine) as session:
        target = f"entries:{docket_id}"
        state = store.load_state(session, "courtlistener", target, EntriesState)
        assert state.docket_read_at is not None, "no docket read to age"
        state.docket_read_at = utcnow() - timedelta(days=days)
        store.save_state(session, "courtlistener", target, state)
        session.commit()
    engine.dispose()


def error_events(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "dw.db") as db:
        return [row[0] for row in db.execute("SELECT summary FROM event WHERE kind = 'error' ORDER BY id")]


@pytest.fixture
def smtp_server():
    server = servers.SmtpServer(servers.free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def court_feed():
    server = servers.LoopbackHTTPServer(host="127.0.0.1", port=0)
    server.start()
    feed = servers.CourtFeed()
    server.expect_request("/nysb/cgi-bin/rss_outside.pl").respond_with_handler(feed.handle)
    feed.url_template = server.url_for("/{court}/cgi-bin/rss_outside.pl")
    yield feed
    server.stop()


@pytest.fixture
def threaded_server() -> Iterator[servers.LoopbackHTTPServer]:
    """A loopback HTTP server answering each request on a thread of its own."""
    server = servers.LoopbackHTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def slow_server():
    """Start a `servers.SlowServer(mode, ...)`; stopped after the test."""
    started: list[servers.SlowServer] = []

    def start(mode: str, **kwargs) -> servers.SlowServer:
        server = servers.SlowServer(mode, **kwargs)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[object]:
    """Headless Chromium from Debian (chromium, chromium-driver), driven by selenium.
    Skipped, saying why, where it is not installed, unless CI is set: then it fails.
    Its temporary files go to pytest's own temporary folder, which pytest prunes: in
    /tmp, Chromium leaves a folder behind at every start."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        if os.environ.get("CI"):
            pytest.fail("CI is set but Chromium is not installed: apt-get install chromium chromium-driver")
        pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    scratch = tmp_path_factory.mktemp("chromium")
    environment = {**os.environ, "TMPDIR": str(scratch)}
    driver = webdriver.Chrome(service=Service(driver_path, env=environment), options=options)
    yield driver
    driver.quit()
