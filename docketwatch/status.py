"""Answers to "what is the status of this case?", read from the store only."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from docketwatch import store
from docketwatch.checks import entry_view
from docketwatch.config import CaseConfig, Config
from docketwatch.models import CheckRun, Entry, Event, utcnow
from docketwatch.sources.courtlistener import MIN_API_REQUESTS


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def case_status(session: Session, case: CaseConfig) -> dict:
    """One case: entries stored, latest entry, last check, success and error, pending events."""
    out = {
        "name": case.name, "court": case.court, "docket_number": case.docket_number,
        "courtlistener_id": case.courtlistener_id, "entries": 0, "latest_entry": None,
        "last_checked": None, "last_success": None, "last_error": None, "last_error_at": None,
        "pending_events": 0,
    }
    row = store.find_case(session, case)
    if row is None:
        return out
    out["courtlistener_id"] = row.courtlistener_id
    entries = session.exec(select(Entry).where(Entry.case_id == row.id)).all()
    out["entries"] = len(entries)
    if entries:
        out["latest_entry"] = entry_view(max(entries, key=_recency))
    runs = session.exec(select(CheckRun).where(CheckRun.case_id == row.id).order_by(CheckRun.started_at.desc())).all()
    if runs:
        out["last_checked"] = _iso(runs[0].started_at)
        out["last_success"] = _iso(next((r.started_at for r in runs if r.ok), None))
        failed = next((r for r in runs if not r.ok), None)
        if failed:
            out["last_error"], out["last_error_at"] = failed.error, _iso(failed.started_at)
    out["pending_events"] = session.exec(select(func.count()).select_from(Event).where(Event.case_id == row.id)).one()
    return out


def _recency(entry: Entry) -> tuple:
    number = int(entry.entry_number) if (entry.entry_number or "").isdigit() else -1
    return (entry.date_filed or datetime.min.date(), number, entry.id or 0)


def budget_status(session: Session, config: Config) -> dict:
    """CourtListener API budget: how much is spent, and whether it limits freshness."""
    settings = config.sources.courtlistener
    used = store.quota_used(session, "courtlistener")
    limited = bool(settings.token) and settings.daily_request_budget - used < MIN_API_REQUESTS
    frees_at = None
    if limited:
        since = utcnow() - timedelta(days=1)
        oldest = session.exec(
            select(func.min(CheckRun.started_at)).where(
                CheckRun.source == "courtlistener", CheckRun.quota_requests > 0, CheckRun.started_at >= since)
        ).one()
        frees_at = _iso(oldest + timedelta(days=1)) if oldest else None
    throttled = store.source_state(session, "courtlistener").throttled_until
    api_cases = sum(1 for c in config.cases if "courtlistener" in c.sources)
    return {
        "source": "courtlistener",
        "mode": "api" if settings.token else "feed",
        "requests_24h": used,
        "daily_request_budget": settings.daily_request_budget,
        "budget_limits_freshness": limited,
        "budget_frees_at": frees_at,
        "throttled_until": _iso(throttled) if throttled and throttled > utcnow() else None,
        # Each API poll costs at least MIN_API_REQUESTS; beyond that, cases use the free feed.
        "api_polls_per_case_per_day": (settings.daily_request_budget // MIN_API_REQUESTS // api_cases)
        if settings.token and api_cases else None,
    }


def status(config: Config, engine: Engine, cases: list[CaseConfig]) -> dict:
    with Session(engine) as session:
        return {
            "database": engine.url.render_as_string(hide_password=True),
            "cases": [case_status(session, c) for c in cases],
            "sources": [budget_status(session, config)],
        }
