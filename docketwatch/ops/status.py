"""Answers to "what is the status of this case?", read from the store only."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as select_columns  # sqlmodel's select takes at most 4 columns
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from docketwatch import store
from docketwatch.domain.changes import EntryView
from docketwatch.domain.events import EventKind
from docketwatch.ops import health, plan
from docketwatch.pipeline import digests
from docketwatch.settings import CaseConfig, Config
from docketwatch.store.models import Case, Entry, Event, entry_view, iso


def case_statuses(session: Session, cases: list[CaseConfig], config: Config) -> list[dict[str, Any]]:
    """Per case: entries stored, latest entry, last check, success and error, pending
    events. A query per kind of fact for all the cases, not one per case: 10,000 cases
    cost a handful of queries (each latest check run is an index seek)."""
    rows = store.case_ids(session, cases)
    ids = list(rows.values())
    source_ids: dict[int, dict[str, str]] = {}
    counts: dict[int, int] = {}
    latest: dict[int, EntryView] = {}
    gaps: dict[int, Event] = {}
    for chunk in store.chunks(ids):
        source_ids.update((i, dict(known)) for i, known in session.exec(
            select(Case.id, Case.source_ids).where(col(Case.id).in_(chunk))) if i is not None)
        counts.update(session.exec(select(Entry.case_id, func.count()).where(col(Entry.case_id).in_(chunk))
                                   .group_by(col(Entry.case_id))).all())
        # Each case's latest entry by an index seek (ix_entry_case_day), not a ranking of its whole docket.
        newest = (select(Entry.id).where(Entry.case_id == Case.id).order_by(*Entry.newest_first()).limit(1)
                  .correlate(Case).scalar_subquery())
        newest_ids = select(newest).select_from(Case).where(col(Case.id).in_(chunk))
        latest.update((case_id, entry_view(*viewed)) for case_id, *viewed in session.execute(
            select_columns(col(Entry.case_id), *Entry.viewed()).where(col(Entry.id).in_(newest_ids))))
        last_gaps = select(func.max(Event.id)).where(col(Event.case_id).in_(chunk), Event.kind == EventKind.GAP) \
            .group_by(col(Event.case_id))
        gaps.update((e.case_id, e) for e in session.exec(select(Event).where(col(Event.id).in_(last_gaps))))
    successes, failures = (store.last_runs(session, ok=ok, case_ids=ids) for ok in (True, False))
    pending = digests.pending_counts(session, config, [c for c in cases if c.label in rows], rows)
    out = []
    for case in cases:
        record: dict[str, Any] = {
            "name": case.name, "court": case.court, "docket_number": case.docket_number,
            "source_ids": config.pinned_ids(case), "entries": 0, "latest_entry": None,
            "last_checked": None, "last_success": None, "last_error": None, "last_error_at": None,
            "pending_events": 0, "last_gap": None, "unwatched": plan.unwatched(config, case), "paused": case.paused,
        }
        out.append(record)
        case_id = rows.get(case.label)
        if case_id is None:
            continue
        record["source_ids"] = source_ids.get(case_id) or record["source_ids"]
        record["entries"] = counts.get(case_id, 0)
        record["latest_entry"] = latest[case_id].as_json() if case_id in latest else None
        success, failed = successes.get(case_id), failures.get(case_id)
        last = store.latest_run(success, failed)
        record["last_checked"] = iso(last.started_at) if last else None
        record["last_success"] = iso(success.started_at) if success else None
        if failed:
            record["last_error"], record["last_error_at"] = failed.error, iso(failed.started_at)
        gap = gaps.get(case_id)
        record["last_gap"] = {"at": iso(gap.created_at), "source": gap.source, "summary": gap.summary} if gap else None
        record["pending_events"] = pending[case.label]
    return out


@dataclass
class _Health:
    """What both `status` and `status --health` read: the poll jobs and their health,
    the deliveries and subscriptions that fail, and the verdict drawn from them."""

    jobs: list[plan.PlanRow]
    job_health: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    failing: list[dict[str, Any]]
    unconfigured: list[digests.Unconfigured]
    unhealthy: list[str]


def _health(session: Session, config: Config) -> _Health:
    jobs = plan.current(session, config)
    job_health = [health.job_health(session, job) for job in jobs]
    deliveries = health.failing_deliveries(session, config)
    failing = health.failing_subscriptions(session, config)
    unconfigured = digests.unconfigured(session, config)
    return _Health(jobs, job_health, deliveries, failing, unconfigured,
                   health.unhealthy(session, config, jobs, job_health, deliveries, failing, unconfigured))


def unhealthy(config: Config, engine: Engine) -> list[str]:
    """Why the service is not healthy (empty: healthy): `status --health`, which a
    container's health check runs every few seconds, reads no case's status."""
    with Session(engine) as session:
        return _health(session, config).unhealthy


def status(config: Config, engine: Engine, cases: list[CaseConfig]) -> dict[str, Any]:
    with Session(engine) as session:
        checked = _health(session, config)
        sources = [record for name, source in config.source_plugins.items()
                   for record in source.status(session, plan.cases_of(config, name),
                                               [j for j in checked.jobs if j.source == name])]
        return {
            "jobs": checked.job_health,
            "unhealthy": checked.unhealthy,
            "database": store.shown(engine.url),
            "cases": case_statuses(session, cases, config),
            "failed_digests": checked.deliveries,
            "failing_subscriptions": checked.failing,
            "unconfigured_subscriptions": [asdict(u) for u in checked.unconfigured],
            "sources": sources,
        }


def entries(config: Config, engine: Engine, case: CaseConfig, since: date | None = None) -> list[dict[str, Any]]:
    """The entries stored for `case`, newest first (those of `since` or later, by the day
    filed, else entered: a court feed's entries have only the latter), each with when
    docketwatch first saw it."""
    with Session(engine) as session:
        row = store.find_case(session, case)
        if row is None:
            return []
        query = select(Entry).where(Entry.case_id == row.id)
        if since is not None:
            query = query.where(Entry.day() >= since)
        return [{**e.view().as_json(), "first_seen": iso(e.first_seen)}
                for e in session.exec(query.order_by(*Entry.newest_first())).all()]
