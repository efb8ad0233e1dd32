"""Polling: every configured source for every chosen case, stored one case at a time.

Each (case, source) poll is its own transaction, together with its check run: a
crash or a failing case never loses what other cases already stored, and a failed
poll leaves nothing behind but the record of its failure.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from docketwatch import store
from docketwatch.domain.events import EventKind
from docketwatch.domain.snapshot import ParsedEntry, Snapshot
from docketwatch.http import Cancelled, HttpClient, HttpError, Throttled
from docketwatch.pipeline import diff, digests, follow
from docketwatch.settings import CaseConfig, Config
from docketwatch.sources.base import Source, SourceContext
from docketwatch.store import StoreError
from docketwatch.store.models import Case, CheckRun, Entry, Event, utcnow

log = logging.getLogger(__name__)


def entry_view(entry: Entry | ParsedEntry) -> dict[str, Any]:
    """An entry (stored, or as a source or file shows it) as the CLI and JSON show it."""
    return {
        "entry_number": entry.entry_number,
        "date_filed": entry.date_filed.isoformat() if entry.date_filed else None,
        "description": entry.description or entry.short_description or "",
        "url": entry.url,
    }


@dataclass
class CaseResult:
    """What one `check` found for one case, across its sources."""

    case: CaseConfig
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    baseline: bool = False
    baseline_entries: int = 0
    new: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    case_changes: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    # A source showed the docket with no entries yet, and none is stored: a quiet, valid state.
    no_entries: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def check(
    config: Config,
    engine: Engine,
    cases: list[CaseConfig],
    *,
    notify_baseline: bool = False,
    http: HttpClient | None = None,
    source: str | None = None,
    api_intervals: dict[tuple[str, str], timedelta] | None = None,
) -> list[CaseResult]:
    """Poll `cases` now (through `source` only, when given); return a result per case,
    in configuration order. `api_intervals` paces metered APIs (see plan.py)."""
    http = http or HttpClient(config.http)
    digests.record_subscriptions(engine, config)  # a new subscription starts before the events it should get
    with Session(engine, expire_on_commit=False) as session:
        rows = {c.label: store.case_row(session, c) for c in cases}
        session.commit()
        results = {rows[c.label].id: CaseResult(c) for c in cases}
        by_source: dict[str, list[Case]] = defaultdict(list)
        for c in cases:
            for name in c.sources:
                if source is None or name == source:
                    by_source[name].append(rows[c.label])
        for name, source_cases in by_source.items():
            ctx = SourceContext(config, session, http, api_intervals or {})
            _poll_source(name, source_cases, session, ctx, results, notify_baseline)
        # The baseline ends once every source has had its first say about the case.
        for row in rows.values():
            if row.baseline_at is None and results[row.id].baseline:
                row.baseline_at = utcnow()
                session.add(row)
        session.commit()
    follow.accept_automatic(config, engine)  # follow = "auto", a [[discover]] rule's watch
    return list(results.values())


def _poll_source(name: str, cases: list[Case], session: Session, ctx: SourceContext,
                 results: dict[int | None, CaseResult], notify_baseline: bool) -> None:
    source = ctx.config.source_plugins[name]
    http = ctx.http
    pending = {c.id: c for c in cases}
    mark = (http.requests, http.quota_requests, utcnow())
    try:
        for case, outcome in source.fetch(cases, ctx):
            assert case.id is not None  # a stored case (store.case_row)
            run = CheckRun(case_id=case.id, source=name, started_at=mark[2],
                           requests=http.requests - mark[0], quota_requests=http.quota_requests - mark[1])
            _store(session, ctx.config, source, case, outcome, run, results[case.id], notify_baseline)
            pending.pop(case.id, None)
            mark = (http.requests, http.quota_requests, utcnow())
    except StoreError:
        raise  # the database failed, not the source: nothing more can be stored now
    except Exception as e:  # a bug in a source must not hide the other cases' state
        log.exception("source %s failed", name)
        session.rollback()
        for case in pending.values():
            assert case.id is not None  # a stored case (store.case_row)
            run = CheckRun(case_id=case.id, source=name, started_at=mark[2])
            _store(session, ctx.config, source, case, RuntimeError(f"{name}: internal error: {e!r}"), run,
                   results[case.id], False)


def _store(session: Session, config: Config, source: Source, case: Case, outcome: Snapshot | Exception,
           run: CheckRun, result: CaseResult, notify_baseline: bool) -> None:
    if isinstance(outcome, Snapshot):
        try:
            change = diff.apply(session, case, outcome, notify_baseline=notify_baseline,
                                normalize=source.normalize_docket_number, follow=config.follow)
            if config.discover:
                follow.discover(session, config, outcome)
            _save_state(session, outcome.state)
        except StoreError:
            raise
        except Exception as e:
            outcome = e
        else:
            run.ok = True
            run.warning = "; ".join(outcome.warnings) or None
            result.warnings += outcome.warnings
            if change.baseline:
                result.baseline = True
                result.baseline_entries += change.added
            result.new += [entry_view(e) for e in change.new]
            result.changed += [{**entry_view(c.entry), "changes": c.what} for c in change.changed]
            result.case_changes += change.case_changes
            if change.gap:
                result.gaps.append(change.gap)
            result.no_entries = change.empty
    if isinstance(outcome, Cancelled):
        # docketwatch is stopping: not the source's failure, so no failed run, no error event.
        session.rollback()
        result.errors.append(str(outcome))
        return
    if isinstance(outcome, Exception):
        session.rollback()
        expected = isinstance(outcome, (HttpError, ValueError))
        # Expected failures reach the user through the result (and `run`'s log); a bug gets a traceback.
        log.log(logging.INFO if expected else logging.ERROR, "%s: %s: %s", case.name, run.source, outcome,
                exc_info=None if expected else outcome)
        if isinstance(outcome, Throttled):
            _save_state(session, {run.source: {"throttled_until": outcome.until}})
        run.error = str(outcome) or type(outcome).__name__
        result.errors.append(run.error)
        if _was_ok(session, case, run.source):
            # One event when a source starts failing for a case, not one per failed poll.
            assert case.id is not None  # a stored case
            session.add(Event(case_id=case.id, kind=EventKind.ERROR, source=run.source, summary=run.error))
    run.finished_at = utcnow()
    session.add(run)
    session.commit()


def _was_ok(session: Session, case: Case, source: str) -> bool:
    """True when the previous poll of this case by this source succeeded (or there was none)."""
    assert case.id is not None  # a stored case
    previous = store.last_run(session, case.id, source=source)
    return previous is None or previous.ok


def _save_state(session: Session, state: dict[str, dict[str, object]]) -> None:
    for key, values in state.items():
        row = store.source_state(session, key)
        for column, value in values.items():
            setattr(row, column, value)
        session.add(row)

