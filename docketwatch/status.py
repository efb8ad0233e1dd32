"""Answers to "what is the status of this case?", read from the store only."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from docketwatch import store
from docketwatch.checks import entry_view
from docketwatch.config import CaseConfig, Config
from docketwatch.models import Case, CheckRun, Digest, Entry, Event, utcnow
from docketwatch.sources.courtlistener import MIN_API_REQUESTS


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def case_status(session: Session, case: CaseConfig, config: Config) -> dict:
    """One case: entries stored, latest entry, last check, success and error, pending events."""
    out = {
        "name": case.name, "court": case.court, "docket_number": case.docket_number,
        "courtlistener_id": case.courtlistener_id, "entries": 0, "latest_entry": None,
        "last_checked": None, "last_success": None, "last_error": None, "last_error_at": None,
        "pending_events": 0, "last_gap": None,
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
    gap = session.exec(
        select(Event).where(Event.case_id == row.id, Event.kind == "gap").order_by(Event.id.desc()).limit(1)
    ).first()
    out["last_gap"] = {"at": _iso(gap.created_at), "source": gap.source, "summary": gap.summary} if gap else None
    from docketwatch.digests import pending_count  # digests import this module: resolve late

    out["pending_events"] = pending_count(session, config, case)
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


def feed_status(session: Session, config: Config) -> list[dict]:
    """Court RSS feeds in use: last success, and whether they carry every entry type."""
    courts = sorted({c.court for c in config.cases if "pacer_rss" in c.sources})
    out = []
    for court in courts:
        last = session.exec(
            select(func.max(CheckRun.started_at)).join(Case, Case.id == CheckRun.case_id)
            .where(CheckRun.source == "pacer_rss", CheckRun.ok, Case.court == court)
        ).one()
        entry_types = store.source_state(session, f"pacer_rss:{court}").entry_types
        out.append({
            "source": "pacer_rss", "court": court, "url": config.sources.pacer_rss.feed_url(court),
            "last_success": _iso(last), "entry_types": entry_types,
            "complete": None if entry_types is None else entry_types.strip().lower() == "all",
        })
    return out


def status(config: Config, engine: Engine, cases: list[CaseConfig]) -> dict:
    with Session(engine) as session:
        return {
            "database": engine.url.render_as_string(hide_password=True),
            "cases": [case_status(session, c, config) for c in cases],
            "failed_digests": [
                {"subscription": d.subscription, "subject": d.subject, "message_id": d.message_id,
                 "attempts": d.attempts, "last_error": d.last_error, "created_at": _iso(d.created_at)}
                for d in session.exec(select(Digest).where(Digest.status == "failed").order_by(Digest.id))
            ],
            "sources": [budget_status(session, config), *feed_status(session, config)],
        }
