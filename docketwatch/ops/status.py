"""Answers to "what is the status of this case?", read from the store only."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from docketwatch import store
from docketwatch.domain.events import EventKind
from docketwatch.ops import health, plan
from docketwatch.pipeline import digests
from docketwatch.settings import CaseConfig, Config
from docketwatch.store.models import Entry, Event, iso


def case_status(session: Session, case: CaseConfig, config: Config) -> dict[str, Any]:
    """One case: entries stored, latest entry, last check, success and error, pending events."""
    out: dict[str, Any] = {
        "name": case.name, "court": case.court, "docket_number": case.docket_number,
        "source_ids": config.pinned_ids(case), "entries": 0, "latest_entry": None,
        "last_checked": None, "last_success": None, "last_error": None, "last_error_at": None,
        "pending_events": 0, "last_gap": None, "unwatched": plan.unwatched(config, case), "paused": case.paused,
    }
    row = store.find_case(session, case)
    if row is None:
        return out
    assert row.id is not None  # a stored row
    out["source_ids"] = row.source_ids or out["source_ids"]
    out["entries"] = session.exec(select(func.count()).select_from(Entry).where(Entry.case_id == row.id)).one()
    latest = session.exec(select(Entry).where(Entry.case_id == row.id).order_by(*Entry.newest_first()).limit(1)).first()
    out["latest_entry"] = latest.view().as_json() if latest else None
    last, success, failed = (store.last_run(session, row.id, ok=ok) for ok in (None, True, False))
    out["last_checked"] = iso(last.started_at) if last else None
    out["last_success"] = iso(success.started_at) if success else None
    if failed:
        out["last_error"], out["last_error_at"] = failed.error, iso(failed.started_at)
    gap = session.exec(
        select(Event).where(Event.case_id == row.id, Event.kind == EventKind.GAP)
        .order_by(col(Event.id).desc()).limit(1)
    ).first()
    out["last_gap"] = {"at": iso(gap.created_at), "source": gap.source, "summary": gap.summary} if gap else None
    out["pending_events"] = digests.pending_count(session, config, case)
    return out


def status(config: Config, engine: Engine, cases: list[CaseConfig]) -> dict[str, Any]:
    with Session(engine) as session:
        jobs = plan.current(session, config)
        job_health = [health.job_health(session, job) for job in jobs]
        sources = [record for name, source in config.source_plugins.items()
                   for record in source.status(session, plan.cases_of(config, name),
                                               [j for j in jobs if j.source == name])]
        return {
            "jobs": job_health,
            "unhealthy": health.unhealthy(session, config, jobs, job_health),
            "database": engine.url.render_as_string(hide_password=True),
            "cases": [case_status(session, c, config) for c in cases],
            "failed_digests": health.failing_deliveries(session, config),
            "sources": sources,
        }


def entries(config: Config, engine: Engine, case: CaseConfig, since: date | None = None) -> list[dict[str, Any]]:
    """The entries stored for `case`, newest first (those filed on or after `since`), each
    with when docketwatch first saw it."""
    with Session(engine) as session:
        row = store.find_case(session, case)
        if row is None:
            return []
        query = select(Entry).where(Entry.case_id == row.id)
        if since is not None:
            query = query.where(col(Entry.date_filed) >= since)
        return [{**e.view().as_json(), "first_seen": iso(e.first_seen)}
                for e in session.exec(query.order_by(*Entry.newest_first())).all()]
