"""The scheduler lock: an flock next to an SQLite database, an advisory lock on PostgreSQL,
and the row that describes its holder."""

from __future__ import annotations

import fcntl
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from docketwatch import store
from docketwatch.ops import lock
from docketwatch.store.models import SchedulerLock, as_utc, utcnow


@pytest.fixture
def engines(database_url):
    """Two engines on one database: two would-be schedulers in this process."""
    opened = [store.open_engine(database_url), store.open_engine(database_url)]
    yield opened
    for engine in opened:
        engine.dispose()


def row(engine) -> SchedulerLock | None:
    with Session(engine) as session:
        return session.get(SchedulerLock, lock.NAME)


def kill_lock_sessions(server, engine) -> int:
    """End the server sessions holding the scheduler lock on `engine`'s database (as a
    server restart would), waiting until they are gone; how many there were."""
    with server.connect() as admin:
        return admin.execute(text(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_locks "
            "WHERE locktype = 'advisory' AND objid = :key "
            "AND database = (SELECT oid FROM pg_database WHERE datname = :db)"),  # this test's only
            {"key": lock._PG_LOCK_KEY, "db": engine.url.database}).scalar()


def set_row(engine, holder: str, heartbeat_age: timedelta) -> None:
    then = utcnow() - heartbeat_age
    with Session(engine) as session:
        session.merge(SchedulerLock(name=lock.NAME, holder=holder, acquired_at=then, heartbeat_at=then))
        session.commit()


def test_a_second_acquire_is_refused_naming_the_holder_until_release(engines):
    first, second = engines
    held = lock.acquire(first, "host-a:101")
    assert row(first).holder == "host-a:101"
    with pytest.raises(lock.AlreadyRunning) as refused:
        lock.acquire(second, "host-b:202")
    assert "host-a:101" in str(refused.value) and "Stop it first" in str(refused.value)
    assert row(first).holder == "host-a:101"  # the refused one wrote nothing

    held.release()
    assert row(first) is None
    again = lock.acquire(second, "host-b:202")
    assert row(first).holder == "host-b:202"
    with pytest.raises(lock.AlreadyRunning, match="host-b:202"):
        lock.acquire(first, "host-a:101")
    again.release()


def test_a_row_left_by_a_dead_holder_does_not_block(engines):
    """The row only describes a holder: with nobody holding the OS or server lock, even a
    fresh-looking row of a process that is gone is replaced."""
    engine, _ = engines
    set_row(engine, "gone-host:999999", heartbeat_age=timedelta(seconds=1))
    held = lock.acquire(engine, "host-a:101")
    stored = row(engine)
    assert stored.holder == "host-a:101"
    assert utcnow() - as_utc(stored.acquired_at) < timedelta(seconds=30)
    held.release()


def test_heartbeat_renews_the_row_and_rewrites_a_lost_one(engines):
    engine, _ = engines
    held = lock.acquire(engine, "host-a:101")
    set_row(engine, "host-a:101", heartbeat_age=timedelta(minutes=10))
    with Session(engine) as session:
        assert lock.alive(session) is None
    assert held.heartbeat() is True
    renewed = row(engine)
    assert utcnow() - as_utc(renewed.heartbeat_at) < timedelta(seconds=30)
    assert utcnow() - as_utc(renewed.acquired_at) > timedelta(minutes=9)  # still "running since" then
    with Session(engine) as session:
        assert lock.alive(session).holder == "host-a:101"

    with Session(engine) as session:  # someone deleted the row (a manual clean-up)
        session.delete(session.get(SchedulerLock, lock.NAME))
        session.commit()
    assert held.heartbeat() is True
    assert row(engine).holder == "host-a:101"
    held.release()


def test_alive_is_none_once_the_heartbeat_is_older_than_expiry(engines):
    engine, _ = engines
    set_row(engine, "host-a:101", heartbeat_age=timedelta(0))
    with Session(engine) as session:
        beat = as_utc(session.get(SchedulerLock, lock.NAME).heartbeat_at)
        assert lock.alive(session, beat + lock.EXPIRY - timedelta(seconds=1)).holder == "host-a:101"
        assert lock.alive(session, beat + lock.EXPIRY + timedelta(seconds=1)) is None
        session.delete(session.get(SchedulerLock, lock.NAME))
        session.commit()
        assert lock.alive(session, beat) is None


def lock_file(engine) -> Path:
    path = store.sqlite_path(engine.url)
    return path.with_name(path.name + ".lock")


def try_flock(path: Path) -> bool:
    """Whether a new open file description of `path` gets the exclusive flock (then dropped)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_lock_is_an_flock_on_a_file_next_to_the_database(engines, tmp_path):
    """flock locks belong to the open file description, not the process: a second open of the
    file in this same process conflicts, which is what lets the tests above run two
    schedulers in one process."""
    engine, _ = engines
    path = lock_file(engine)
    assert path == tmp_path / "dw.db.lock"
    held = lock.acquire(engine, "host-a:101")
    assert path.exists() and try_flock(path) is False
    held.release()
    assert try_flock(path) is True


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_flock_held_by_someone_else_refuses_even_without_a_row(engines):
    engine, _ = engines
    fd = os.open(lock_file(engine), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(lock.AlreadyRunning, match="another docketwatch run is starting on this database"):
            lock.acquire(engine, "host-a:101")
    finally:
        os.close(fd)
    lock.acquire(engine, "host-a:101").release()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_one_sqlite_database_reached_through_a_symlink_is_one_lock(engines, tmp_path):
    engine, _ = engines
    link = tmp_path / "elsewhere" / "link.db"
    link.parent.mkdir()
    link.symlink_to(store.sqlite_path(engine.url))
    through_link = store.open_engine(f"sqlite:///{link}")
    held = lock.acquire(engine, "host-a:101")
    try:
        with pytest.raises(lock.AlreadyRunning):
            lock.acquire(through_link, "host-b:202")
    finally:
        held.release()
        through_link.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_lock_survives_a_lost_session_unless_another_run_took_it(engines, postgres_server):
    """The advisory lock lives in one server session: when that session dies (server restart),
    `heartbeat` takes the lock again, or reports it lost when another `run` got there first."""
    first, second = engines
    held = lock.acquire(first, "host-a:101")
    assert kill_lock_sessions(postgres_server, first) == 1
    assert held.heartbeat() is True  # retaken on a new session
    with pytest.raises(lock.AlreadyRunning, match="host-a:101"):
        lock.acquire(second, "host-b:202")

    assert kill_lock_sessions(postgres_server, first) == 1
    thief = lock.acquire(second, "host-b:202")
    assert held.heartbeat() is False
    assert row(first).holder == "host-b:202"
    thief.release()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_release_after_a_lost_session_stops_cleanly(engines, postgres_server):
    """`run` stopped in the seconds between a server restart and its next heartbeat: the
    session that held the lock is gone, and the lock with it, so releasing is no error
    (before, `run` exited 3 saying "terminating connection due to administrator command")."""
    first, second = engines
    held = lock.acquire(first, "host-a:101")
    assert kill_lock_sessions(postgres_server, first) == 1
    held.release()
    assert row(first) is None
    lock.acquire(second, "host-b:202").release()  # nothing left held
