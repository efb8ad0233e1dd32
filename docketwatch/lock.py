"""One scheduler per database: a lock row with a heartbeat.

The lock lives in the database itself, so it holds across machines and works the
same on SQLite and PostgreSQL. Taking it is a single conditional write (insert, or
take over a lock whose heartbeat is older than EXPIRY), so two starting schedulers
cannot both win; a crashed holder's lock simply expires.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from docketwatch.models import SchedulerLock, as_utc, utcnow

NAME = "scheduler"
HEARTBEAT = timedelta(seconds=20)
EXPIRY = timedelta(seconds=90)


class AlreadyRunning(Exception):
    """Another `docketwatch run` holds the lock."""


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire(engine: Engine, holder: str) -> None:
    """Take the lock, or raise AlreadyRunning naming the holder."""
    now = utcnow()
    with Session(engine) as session:
        session.add(SchedulerLock(name=NAME, holder=holder, acquired_at=now, heartbeat_at=now))
        try:
            session.commit()
            return
        except IntegrityError:
            session.rollback()
        taken = session.execute(
            update(SchedulerLock).where(SchedulerLock.name == NAME, SchedulerLock.heartbeat_at < now - EXPIRY)
            .values(holder=holder, acquired_at=now, heartbeat_at=now)
        ).rowcount
        session.commit()
        if taken:
            return
        row = session.get(SchedulerLock, NAME)
        raise AlreadyRunning(
            f"another docketwatch run uses this database: {row.holder}, running since "
            f"{as_utc(row.acquired_at):%Y-%m-%d %H:%M:%S} UTC, last heartbeat "
            f"{as_utc(row.heartbeat_at):%H:%M:%S} UTC. Stop it first; a crashed one's lock "
            f"expires {int(EXPIRY.total_seconds())} s after its last heartbeat."
        )


def heartbeat(engine: Engine, holder: str) -> bool:
    """Renew the lock; False when it was lost (taken over after a long stall)."""
    with Session(engine) as session:
        renewed = session.execute(
            update(SchedulerLock).where(SchedulerLock.name == NAME, SchedulerLock.holder == holder)
            .values(heartbeat_at=utcnow())
        ).rowcount
        session.commit()
    return bool(renewed)


def release(engine: Engine, holder: str) -> None:
    with Session(engine) as session:
        session.execute(delete(SchedulerLock).where(SchedulerLock.name == NAME, SchedulerLock.holder == holder))
        session.commit()


def alive(session: Session, now: datetime | None = None) -> SchedulerLock | None:
    """The running scheduler's lock row, or None when none has a fresh heartbeat."""
    row = session.get(SchedulerLock, NAME)
    if row is None or as_utc(row.heartbeat_at) < (now or utcnow()) - EXPIRY:
        return None
    return row
