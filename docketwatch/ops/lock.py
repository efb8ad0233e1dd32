"""One scheduler per database, held exactly as long as its process lives.

The lock is one that the operating system or the database server drops the moment
its holder dies: on SQLite an exclusive `flock` on a file next to the database
(`<database>.lock`), on PostgreSQL a session-level advisory lock on a connection kept
open for the whole run. A `run` killed with SIGKILL therefore never holds up its
restart. The lock row (holder, since when, last heartbeat) only describes the holder:
`status` reads it, and a refused `run` names it.
"""

from __future__ import annotations

import fcntl
import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from docketwatch import store
from docketwatch.store.models import SchedulerLock, as_utc, utcnow

NAME = "scheduler"
# The row describing the last `run --once` that finished (a timer's run): when it started
# and, as its heartbeat, when it ended. Health reads it when no `run` keeps a heartbeat.
ONCE = "once"
HEARTBEAT = timedelta(seconds=20)
# A lock row whose heartbeat is older than this describes no live `run` (for `status`).
EXPIRY = timedelta(seconds=90)
# Any constant, the same in every process (migrations use another key).
_PG_LOCK_KEY = 0x646F6373  # "docs"


class AlreadyRunning(Exception):
    """Another `docketwatch run` holds the lock."""


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Lock:
    """A held scheduler lock; `release` it, or let the process end."""

    def __init__(self, engine: Engine, holder: str):
        self.engine = engine
        self.holder = holder
        self._fd: int | None = None
        self._connection: Connection | None = None
        backend = engine.url.get_backend_name()
        if backend == "sqlite":
            self._lock_file()
        elif backend == "postgresql":
            self._lock_session()
        else:
            raise store.StoreError(f"docketwatch run supports SQLite and PostgreSQL databases, not {backend}",
                                   store.EXIT_CONFIG)
        try:
            self._write_row()
        except BaseException:
            self._unlock()
            raise

    def _lock_file(self) -> None:
        path = store.sqlite_path(self.engine.url)
        if path is None:
            return  # an in-memory database belongs to this process alone
        path = path.resolve()  # one database reached through a symlink is still one database
        lock_path = path.with_name(path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise store.StoreError(f"cannot create the lock file {lock_path}: {e.strerror}; make its folder "
                                   "writable for the user running docketwatch") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(self._holder_text()) from None
        self._fd = fd

    def _lock_session(self) -> None:
        connection = self.engine.connect()
        got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _PG_LOCK_KEY}).scalar()
        connection.commit()  # the lock is the session's: it outlives the transaction
        if not got:
            connection.close()
            raise AlreadyRunning(self._holder_text())
        self._connection = connection

    def _write_row(self) -> None:
        """Describe ourselves; a row left by a dead holder is simply replaced."""
        now = utcnow()
        with Session(self.engine) as session:
            session.execute(delete(SchedulerLock).where(col(SchedulerLock.name) == NAME))
            session.add(SchedulerLock(name=NAME, holder=self.holder, acquired_at=now, heartbeat_at=now))
            session.commit()

    def _holder_text(self) -> str:
        with Session(self.engine) as session:
            row = session.get(SchedulerLock, NAME)
        if row is None:
            return "another docketwatch run is starting on this database"
        return (f"another docketwatch run uses this database: {row.holder}, running since "
                f"{as_utc(row.acquired_at):%Y-%m-%d %H:%M:%S} UTC, last heartbeat "
                f"{as_utc(row.heartbeat_at):%H:%M:%S} UTC. Stop it first.")

    def heartbeat(self) -> bool:
        """Renew the row; False when the lock is lost (PostgreSQL restarted and another
        `run` took it meanwhile)."""
        if self._connection is not None and not self._session_alive():
            self._connection = None
            try:
                self._lock_session()
            except AlreadyRunning:
                return False
        with Session(self.engine) as session:
            renewed = session.exec(
                update(SchedulerLock).where(col(SchedulerLock.name) == NAME, col(SchedulerLock.holder) == self.holder)
                .values(heartbeat_at=utcnow())
            ).rowcount
            session.commit()
        if not renewed:
            self._write_row()
        return True

    def _session_alive(self) -> bool:
        connection = self._connection
        assert connection is not None  # only asked while the PostgreSQL session holds the lock
        try:
            connection.execute(text("SELECT 1"))
            connection.commit()
            return True
        except (store.StoreError, SQLAlchemyError):
            connection.invalidate()
            return False

    def release(self) -> None:
        try:
            with Session(self.engine) as session:
                session.execute(delete(SchedulerLock).where(col(SchedulerLock.name) == NAME,
                                                            col(SchedulerLock.holder) == self.holder))
                session.commit()
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                self._connection.commit()
            except (store.StoreError, SQLAlchemyError):  # the server ended the session (a restart): the lock with it
                self._connection.invalidate()
            finally:
                self._connection.close()
                self._connection = None


def acquire(engine: Engine, holder: str) -> Lock:
    """Take the lock, or raise AlreadyRunning naming the holder."""
    return Lock(engine, holder)


def finished_once(engine: Engine, holder: str, started: datetime) -> None:
    """Record that `holder`, a `run --once` started at `started`, has just finished."""
    with Session(engine) as session:
        session.merge(SchedulerLock(name=ONCE, holder=holder, acquired_at=started, heartbeat_at=utcnow()))
        session.commit()


def last_once(session: Session) -> SchedulerLock | None:
    """The last `run --once` that finished (see `finished_once`), if any did."""
    return session.get(SchedulerLock, ONCE)


def alive(session: Session, now: datetime | None = None) -> SchedulerLock | None:
    """The running scheduler's lock row, or None when none has a fresh heartbeat."""
    row = session.get(SchedulerLock, NAME)
    if row is None or as_utc(row.heartbeat_at) < (now or utcnow()) - EXPIRY:
        return None
    return row
