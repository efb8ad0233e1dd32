"""Opening the database (migrated to the current schema), and the few lookups every command needs.

SQLite runs in WAL mode with a busy timeout, so a `status` while a `check` writes
neither fails with "database is locked" nor blocks for long.

A database that cannot be used (a bad URL, a folder that cannot be created, a
read-only file, a full disk, a lock held too long, an unreachable server) raises
`StoreError`: one line naming the database, password hidden, and what to do. The
engine turns the driver's operational errors into it wherever they happen.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import BindParameter, bindparam, event, func, insert, update
from sqlalchemy import select as select_columns  # sqlmodel's select takes at most 4 columns
from sqlalchemy.engine import URL, Engine, ExceptionContext, Row, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError, ProgrammingError
from sqlalchemy.orm import aliased
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Select
from sqlmodel import Session, col, create_engine, select

from docketwatch import redact
from docketwatch.domain.snapshot import TargetState
from docketwatch.settings import CaseConfig
from docketwatch.store import migrations
from docketwatch.store.models import Case, CheckRun, Entry, SourceState, StoredCase, as_utc, core_table, utcnow

BUSY_TIMEOUT_MS = 30_000
StateT = TypeVar("StateT", bound=TargetState)
T = TypeVar("T")
PG_CONNECT_TIMEOUT = 10  # seconds; an unreachable server is an error soon, not a hang
EXIT_CONFIG, EXIT_FAILED = 2, 3


class StoreError(Exception):
    """The database cannot be used. `exit_code`: 2 when the configuration must change,
    3 when an operation failed (nothing stored is lost; try again once it is fixed)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(redact.scrub(message))
        self.exit_code = exit_code


def open_engine(url: str) -> Engine:
    """Create the engine (and the SQLite file's folder), and bring the schema up to date."""
    parsed = _parse(url)
    name = shown(parsed)
    redact.register(parsed.password)
    connect_args = {}
    path = sqlite_path(parsed) if parsed.get_backend_name() == "sqlite" else None  # None: a server's database
    if parsed.get_backend_name() == "sqlite":
        if path is None:  # each command would start from an empty database: every check a baseline again
            raise StoreError(f"database {name}: is a SQLite database in memory, which keeps nothing from one "
                             "command to the next; set [database] url to a file, like sqlite:///docketwatch.db",
                             EXIT_CONFIG)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"database {name}: cannot create the folder {path.parent}: {e.strerror}; "
                             "set [database] url to a place docketwatch may write", EXIT_CONFIG) from None
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT
    try:  # a long `run` survives a server restart (pre-ping)
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except (NoSuchModuleError, ArgumentError, ImportError, ValueError, TypeError) as e:  # ValueError: ?timeout=abc
        raise StoreError(f"database {name}: [database] url cannot be used: {redact.scrub(str(e))}",
                         EXIT_CONFIG) from None
    event.listen(engine, "handle_error", _store_error)
    try:
        connection = engine.connect()
    except ProgrammingError as e:  # an option the driver does not know (?bogusopt=1), or a bad value for one
        detail = redact.scrub(str(getattr(e, "orig", None) or e).strip().splitlines()[0])
        raise StoreError(f"database {name}: [database] url has an option the database driver refuses ({detail}); "
                         "correct or remove it", EXIT_CONFIG) from None
    with connection:  # before SQLite's pragmas: WAL would change another's file
        ours = migrations.is_docketwatch(connection)
    if not ours:
        raise StoreError(f"{path or name} is not a docketwatch database (it has tables but no "
                         "docketwatch revision); set [database] url to a database of its own", EXIT_CONFIG)
    if path is not None:
        engine.dispose()  # the connection that looked has no pragmas: each one from now on has them
        event.listen(engine, "connect", _sqlite_pragmas)
        same_file = _SameFile(path)  # the file now exists: the one this engine uses from here on
        event.listen(engine, "do_connect", same_file)
        event.listen(engine, "checkout", same_file)
    try:
        migrations.upgrade(engine)
    except migrations.UnknownRevision as e:
        raise StoreError(f"database {name} was written by a newer docketwatch (schema {e}); upgrade "
                         "docketwatch, or restore a backup made with this version", EXIT_CONFIG) from None
    return engine


class _SameFile:
    """A pool hook, before each new connection and each checkout: the SQLite file is
    still the one the engine opened.

    A file deleted, or replaced (a backup moved over it), while a long `run` or `serve`
    has it open is no error to SQLite: the connections already open go on reading and
    writing the old file, which nobody sees any more, and a new connection would create
    an empty one. So each use of a connection, and each new one, first compares the file
    at the path with the one opened (device and inode): a StoreError instead, which `run`
    reports as a database that cannot be used, until docketwatch is restarted."""

    def __init__(self, path: Path):
        self.path = path
        self.opened = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as e:  # its folder made unreadable, say
            raise StoreError(f"database {self.path}: cannot be read: {e.strerror}") from None
        return stat.st_dev, stat.st_ino

    def __call__(self, *_event_args: object) -> None:
        now = self._identity()
        if now == self.opened:
            return
        what = "deleted or moved away" if now is None else "replaced by another file"
        raise StoreError(f"database {self.path}: the file was {what} while docketwatch had it open, so nothing "
                         "more is read from or written to it; restart docketwatch to use the file at that path "
                         "(with nothing there, it starts a new database)")


def _parse(url: str) -> URL:
    """The URL, or StoreError (exit 2) that never quotes it: it may hold a password."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a password with ':' or '@' read as a port
        raise StoreError("[database] url is not a database URL (dialect+driver://user:password@host/name, "
                         "or sqlite:////path/to/file.db); percent-encode '@', ':' and '/' in a password "
                         "(%40, %3A, %2F)", EXIT_CONFIG) from None
    if "@" in (parsed.host or ""):
        raise StoreError("[database] url: the password (or user name) contains '@'; percent-encode it: "
                         "'@' as %40 (and ':' as %3A, '/' as %2F)", EXIT_CONFIG)
    return parsed


def shown(url: URL) -> str:
    """The URL as people write it, to print: the password hidden, the database's name or
    file not percent-encoded (SQLAlchemy's rendering writes /tmp/dép as /tmp/d%C3%A9p)."""
    if url.database is None:
        return url.render_as_string(hide_password=True)
    query = url.render_as_string(hide_password=True).partition("?")[2]
    bare = url.difference_update_query(url.query)._replace(database=None)  # set() cannot unset the database
    return f"{bare.render_as_string(hide_password=True)}/{url.database}" + (f"?{query}" if query else "")


def sqlite_path(url: URL) -> Path | None:
    """The file of an SQLite URL (also of a `file:` URI); None for an in-memory database."""
    database = url.database or ""
    if url.query.get("uri") == "true" and database.startswith("file:"):
        database = database.removeprefix("file:").partition("?")[0]
    if database in ("", ":memory:"):
        return None
    return Path(database).expanduser()


def anchored(url: str, folder: Path) -> str:
    """`url` with its SQLite file's path made absolute: a relative one is taken from `folder`
    (the configuration file's), so that `run` started in any folder uses the same database,
    and `~` is expanded (SQLite itself would not); any other URL as it is."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return url  # open_engine says what is wrong with it
    path = sqlite_path(parsed) if parsed.get_backend_name() == "sqlite" else None
    if path is None or parsed.query.get("uri") == "true":
        return url
    path = folder / path  # an absolute path stays itself
    if str(path) == parsed.database:
        return url
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def _store_error(context: ExceptionContext) -> StoreError | None:
    """The engine's error hook: a database that cannot be used becomes a StoreError.
    Errors that code handles (IntegrityError) and bugs (ProgrammingError) pass through."""
    error = context.sqlalchemy_exception
    if context.is_pre_ping or not (isinstance(error, OperationalError) or type(error) is DatabaseError):
        return None
    assert context.engine is not None  # the hook is registered on an engine
    name = shown(context.engine.url)
    advice, code = _advice(context.original_exception, context.engine.url)
    return StoreError(f"database {name}: {advice}", code)


# SQLite's primary result codes -> (what happened, what to do, exit code).
_SQLITE_ADVICE: dict[int, tuple[str, str, int]] = {
    sqlite3.SQLITE_BUSY: ("another process kept it locked for more than {busy} s",
                          "nothing was lost: try again once that process is done", EXIT_FAILED),
    sqlite3.SQLITE_READONLY: ("it is read-only",
                              "make the file, its folder and the mount writable for the user running docketwatch",
                              EXIT_FAILED),
    sqlite3.SQLITE_FULL: ("the disk is full", "nothing was lost: free some space and try again", EXIT_FAILED),
    sqlite3.SQLITE_IOERR: ("writing failed",
                           "nothing was lost: check the disk (is it full, or did it fail?) and try again", EXIT_FAILED),
    sqlite3.SQLITE_CANTOPEN: ("cannot open the file", "check that its folder exists and is writable for the user "
                              "running docketwatch, or set [database] url", EXIT_CONFIG),
    sqlite3.SQLITE_NOTADB: ("the file is not an SQLite database", "set [database] url to another file", EXIT_CONFIG),
}
_SQLITE_ADVICE[sqlite3.SQLITE_LOCKED] = _SQLITE_ADVICE[sqlite3.SQLITE_BUSY]


def _advice(error: BaseException, url: URL) -> tuple[str, int]:
    """What went wrong, in words, and the exit code."""
    said = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if isinstance(error, sqlite3.Error) and error.sqlite_errorcode is not None:
        known = _SQLITE_ADVICE.get(error.sqlite_errorcode & 0xFF)
        if known:
            what, todo, code = known
            return f"{what.format(busy=BUSY_TIMEOUT_MS // 1000)} ({said}); {todo}", code
    elif url.get_backend_name() == "postgresql" and getattr(error, "sqlstate", None) is None:
        return (f"cannot connect ({said}); check that the server is running and reachable and that "
                "[database] url is right", EXIT_FAILED)
    return f"{said}; nothing was lost: try again once the cause is fixed", EXIT_FAILED


def _use_wal(cursor: DBAPICursor) -> None:
    """Switch the file to WAL (it stays so). Switching needs a lock that SQLite does not
    wait for, so two processes opening a new file at once retry within the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    _use_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def begin_write(session: Session) -> None:
    """Open the session's transaction as a writer now, so savepoints nest inside it.

    On SQLite the driver (pysqlite) begins a transaction only at the first INSERT, and a
    SAVEPOINT before it would commit on release; BEGIN IMMEDIATE also takes the write
    lock at once, waiting out (busy timeout) another writer instead of failing later.
    """
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if isinstance(raw, sqlite3.Connection) and not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def case_rows(session: Session, cases: list[CaseConfig],
              pinned: Mapping[str, Mapping[str, str]] | None = None) -> list[StoredCase]:
    """The stored cases for configured ones (in their order), created on first sight:
    one query for all, read as plain rows, so a poll of 10,000 cases neither asks 10,000
    times nor builds 10,000 ORM objects.

    The configured name and the docket ids pinned in the configuration (case label ->
    source -> id, see `Config.pinned_ids`) always win over stored values.
    """
    stored = _stored_cases(session, cases)
    new = {(c.court, c.docket_number): c.name for c in cases if (c.court, c.docket_number) not in stored}
    table = core_table(Case)
    if new:  # first sight: inserted in one statement (Core), then read like the others
        session.execute(insert(table), [{"court": court, "docket_number": number, "name": name, "source_ids": {}}
                                        for (court, number), name in new.items()])
        stored = _stored_cases(session, cases)
    rows = []
    for case in cases:
        row = stored[(case.court, case.docket_number)]
        pins = (pinned.get(case.label) if pinned else None) or {}  # a label formats: only when any is pinned
        values: dict[str, Any] = {}
        if row.name != case.name:
            values["name"] = case.name
        if any(row.source_ids.get(s) != i for s, i in pins.items()):
            values["source_ids"] = {**row.source_ids, **pins}
        if values:
            session.execute(update(table).where(table.c.id == row.id).values(values))
            row = stored[(case.court, case.docket_number)] = row._replace(**values)
        rows.append(row)
    return rows


def end_baselines(session: Session, case_ids: list[int]) -> None:
    """Set the cases' `baseline_at` to now: one UPDATE per IN_CHUNK cases, not one
    each (a first poll of 10,000 cases)."""
    now = utcnow()
    table = core_table(Case)
    for chunk in chunks(case_ids):
        session.execute(table.update().where(table.c.id.in_(chunk)).values(baseline_at=now))


def case_row(session: Session, case: CaseConfig, pinned: Mapping[str, str] | None = None) -> Case:
    """The stored case for one configured case (see `case_rows`), as an ORM object to write to."""
    stored = case_rows(session, [case], {case.label: pinned} if pinned else None)[0]
    row = session.get(Case, stored.id, populate_existing=True)  # as just written
    assert row is not None  # stored above
    return row


def find_case(session: Session, case: CaseConfig) -> StoredCase | None:
    """The stored case, or None when it was never polled (read-only)."""
    return next(iter(find_cases(session, [case])), None)


def find_cases(session: Session, cases: list[CaseConfig]) -> list[StoredCase]:
    """The stored cases among those configured, in their order (a case never polled has
    none): one query for many cases, read as plain rows (read-only)."""
    stored = _stored_cases(session, cases)
    return [row for c in cases if (row := stored.get((c.court, c.docket_number))) is not None]


def _stored_cases(session: Session, cases: list[CaseConfig]) -> dict[tuple[str, str], StoredCase]:
    """The stored cases among `cases`, by court and docket number: one query."""
    return {(row.court, row.docket_number): row
            for row in map(StoredCase._make, _stored_rows(session, cases, StoredCase._fields))}


def case_ids(session: Session, cases: list[CaseConfig]) -> dict[str, int]:
    """The ids of the stored cases among those configured, by label (a case never polled
    has none): one query for many cases, three columns only (read-only)."""
    labels = {(c.court, c.docket_number): c.label for c in cases}
    return {labels[(court, number)]: id_ for court, number, id_ in
            _stored_rows(session, cases, ("court", "docket_number", "id"))}


# A case has an entry: a seek per case (index on entry.case_id), not a walk through every
# entry kept, which grows with the dockets.
HAS_ENTRY = select(Entry.id).where(Entry.case_id == Case.id).exists()


def never_seen(session: Session, cases: list[CaseConfig]) -> dict[str, datetime]:
    """Of `cases`, those polled successfully that no source has shown a single entry of,
    by label: when their first successful poll was (a quiet docket and a mistyped
    number look alike to a source that lists new filings only)."""
    ids = case_ids(session, cases)
    labels = {id_: label for label, id_ in ids.items()}
    out: dict[str, datetime] = {}
    for chunk in chunks(list(labels)):
        out.update((labels[id_], as_utc(baseline)) for id_, baseline in session.exec(
            select(Case.id, Case.baseline_at).where(col(Case.id).in_(chunk), col(Case.baseline_at).is_not(None),
                                                   ~HAS_ENTRY)) if id_ is not None and baseline is not None)
    return out


def _stored_rows(session: Session, cases: list[CaseConfig], columns: Sequence[str]) -> list[Row[*tuple[Any, ...]]]:
    """The stored cases among `cases`, as rows of the case table's `columns`, of which
    court and docket_number come first: one query for the cases of their courts, the
    others left out (by position: a row's attribute lookups cost 10,000 cases 30 ms)."""
    assert columns[:2] == ("court", "docket_number")
    wanted = {(c.court, c.docket_number) for c in cases}
    table = core_table(Case)
    query = select_columns(*(table.c[name] for name in columns)).where(
        table.c.court.in_(sorted({c.court for c in cases})))
    return [row for row in session.execute(query).all() if (row[0], row[1]) in wanted]


def load_state(session: Session, source: str, target: str, model: type[StateT]) -> StateT:
    """What `source` kept for `target`, in its own model (empty when nothing was kept)."""
    row = session.get(SourceState, (source, target))
    return model.model_validate(row.data) if row else model()


def load_states(session: Session, source: str, model: type[StateT]) -> dict[str, StateT]:
    """What `source` kept for each of its targets: one query where a source reads a state
    per court, not one per court."""
    rows = session.exec(select(SourceState).where(SourceState.source == source))
    return {row.target: model.model_validate(row.data) for row in rows}


def save_state(session: Session, source: str, target: str, state: TargetState) -> None:
    """Keep `state` for `target`, replacing what was kept (in the caller's transaction)."""
    row = session.get(SourceState, (source, target)) or SourceState(source=source, target=target)
    row.data = state.model_dump(mode="json", exclude_none=True)
    session.add(row)


def quota_used(session: Session, source: str, now: datetime | None = None) -> int:
    """Requests counted against `source`'s budget in the last 24 hours."""
    since = (now or utcnow()) - timedelta(days=1)
    total = session.exec(
        select(func.coalesce(func.sum(CheckRun.quota_requests), 0)).where(
            CheckRun.source == source, CheckRun.started_at >= since
        )
    ).one()
    return int(total)


def last_run(session: Session, case_id: int, *, source: str | None = None, ok: bool | None = None) -> CheckRun | None:
    """A case's latest check run (of one source; only successful or only failed ones).

    Check runs accumulate one per poll, so callers ask for the one they need rather than
    loading a case's whole history: each of a success and a failure is a walk down the
    (case_id, ok, id) index (the latest of either would be a sort of all the case's runs)."""
    if ok is None:
        return max((run for kind in (True, False) if (run := last_run(session, case_id, source=source, ok=kind))),
                   key=lambda run: run.id or 0, default=None)
    query = select(CheckRun).where(CheckRun.case_id == case_id, CheckRun.ok == ok)
    if source is not None:
        query = query.where(CheckRun.source == source)
    return session.exec(query.order_by(col(CheckRun.id).desc()).limit(1)).first()


@dataclass(frozen=True)
class LastRun:
    """Of a case's latest successful (or failed) check run, what `status` and digests show."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    warning: str | None


def last_runs(session: Session, *, ok: bool, source: str | None = None,
              case_ids: list[int] | None = None) -> dict[int, LastRun]:
    """Each case's latest successful (or failed) check run (of one source; of the cases
    `case_ids` only), by case id."""
    rows: Iterable[Row[Any]]
    if case_ids is None:
        rows = session.execute(_last_runs_query(ok, source, by_ids=False))
    else:  # one statement, run per chunk of ids
        query = _last_runs_query(ok, source, by_ids=True)
        rows = (row for chunk in chunks(case_ids) for row in session.execute(query, {"ids": chunk}))
    return {case_id: LastRun(id_, started_at, finished_at, error, warning)
            for case_id, id_, started_at, finished_at, error, warning in rows if id_ is not None}


@cache
def _last_runs_query(ok: bool, source: str | None, *,
                     by_ids: bool) -> Select[int, int | None, datetime, datetime | None, str | None, str | None]:
    """The statement of `last_runs`, built once per form (a statement is immutable): on a
    small database, building it took longer than running it."""
    columns = select_columns(col(CheckRun.case_id), col(CheckRun.id), col(CheckRun.started_at),
                             col(CheckRun.finished_at), col(CheckRun.error), col(CheckRun.warning))
    ids: BindParameter[list[int]] | None = bindparam("ids", expanding=True) if by_ids else None
    return columns.where(col(CheckRun.id).in_(_latest_runs(ok, source, ids)))


def latest_run(success: LastRun | None, failure: LastRun | None) -> LastRun | None:
    """The later of a case's latest successful and latest failed run."""
    return max((r for r in (success, failure) if r), key=lambda r: r.id, default=None)


IN_CHUNK = 500  # values per IN (...): well under any database's limit on parameters


def chunks(values: list[T]) -> list[list[T]]:
    """`values` in lists of IN_CHUNK, for one IN (...) each."""
    return [values[i:i + IN_CHUNK] for i in range(0, len(values), IN_CHUNK)]


def _latest_runs(ok: bool, source: str | None = None,
                 case_ids: BindParameter[list[int]] | None = None) -> Select[tuple[int | None]]:
    """The id of each case's latest successful (or failed) run (of one source): a walk
    down the (case_id, ok, id) index per case, not a scan of every run retention keeps."""
    owner, run = aliased(Case), aliased(CheckRun)
    latest = select(run.id).where(run.case_id == owner.id, run.ok == ok)
    if source is not None:
        latest = latest.where(run.source == source)
    query = select(latest.order_by(col(run.id).desc()).limit(1).correlate(owner).scalar_subquery()).select_from(owner)
    return query if case_ids is None else query.where(col(owner.id).in_(case_ids))


def last_court_successes(session: Session, source: str) -> dict[str, datetime]:
    """When a court-wide source (a court's RSS feed) last served any case of each court:
    one query for all courts, not one per court over the same check runs."""
    query = (select(Case.court, func.max(CheckRun.started_at)).join(Case, col(Case.id) == CheckRun.case_id)
             .where(col(CheckRun.id).in_(_latest_runs(True, source))).group_by(Case.court))
    return {court: last for court, last in session.exec(query) if last is not None}
