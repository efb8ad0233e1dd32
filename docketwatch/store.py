"""Opening the database (migrated to the current schema), and the few lookups every command needs.

SQLite runs in WAL mode with a busy timeout, so a `status` while a `check` writes
neither fails with "database is locked" nor blocks for long.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import event, func
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine, select

from docketwatch import migrations
from docketwatch.config import CaseConfig
from docketwatch.models import Case, CheckRun, SourceState, utcnow

BUSY_TIMEOUT_MS = 30_000


def open_engine(url: str) -> Engine:
    """Create the engine (and the SQLite file's folder), and bring the schema up to date."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)  # a long `run` survives a server restart
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    migrations.upgrade(engine)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def case_row(session: Session, case: CaseConfig) -> Case:
    """The stored case for a configured one, created on first sight.

    The configured name and a pinned CourtListener id always win over stored values.
    """
    row = session.exec(
        select(Case).where(Case.court == case.court, Case.docket_number == case.docket_number)
    ).first()
    if row is None:
        row = Case(court=case.court, docket_number=case.docket_number, name=case.name)
    row.name = case.name
    if case.courtlistener_id is not None:
        row.courtlistener_id = case.courtlistener_id
    session.add(row)
    session.flush()
    return row


def find_case(session: Session, case: CaseConfig) -> Case | None:
    """The stored case, or None when it was never polled (read-only)."""
    return session.exec(
        select(Case).where(Case.court == case.court, Case.docket_number == case.docket_number)
    ).first()


def source_state(session: Session, key: str) -> SourceState:
    """State for a fetch target, created empty when new (not yet added to the session)."""
    return session.get(SourceState, key) or SourceState(key=key)


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
    loading a case's whole history."""
    query = select(CheckRun).where(CheckRun.case_id == case_id)
    if source is not None:
        query = query.where(CheckRun.source == source)
    if ok is not None:
        query = query.where(CheckRun.ok == ok)
    return session.exec(query.order_by(CheckRun.id.desc()).limit(1)).first()


def last_court_success(session: Session, source: str, court: str) -> datetime | None:
    """When a court-wide source (a court's RSS feed) last served any of its cases."""
    return session.exec(
        select(func.max(CheckRun.started_at)).join(Case, Case.id == CheckRun.case_id)
        .where(CheckRun.source == source, CheckRun.ok, Case.court == court)
    ).one()
