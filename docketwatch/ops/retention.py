"""Retention: removing history older than `[retention] days` (`docketwatch prune`, and daily in `run`).

What goes, and what stays because something still reads it or is still owed it:

- Check runs started more than `[retention] check_run_days` ago go (nothing reads a
  case's older runs, and there is one per case and poll), except, per (case, source):
  the latest `health.RUNS_READ` (health counts failures in a row over them), the latest
  successful and the latest failed one (`status` shows last success and last error;
  digests warn about stale cases and court feeds; a court feed's gap is measured from
  each case's latest success, so a case paused for months still gets one), and the
  latest that used the metered API (it paces the CourtListener API). The API budget
  counts the last 24 hours, and the cutoff is at least a day back.
- An event created before the cutoff goes, with its links to digests, unless some
  configured subscription wants it and has not had it delivered (in none of its
  digests, or in one with a delivery still pending: the rule of `status`'s pending
  events), or it is its case's latest gap (`status` shows it).
- A digest made before the cutoff goes, with its deliveries, when none of them is
  pending or was sent after the cutoff, it is not its subscription's latest (the next
  digest's period starts where that one ended), and it covers no event that stays (a
  link removed while its event stays would send the event to that subscription again).
- Never removed: entries, cases and their facts, source state, subscriptions, health
  alert rows, the scheduler lock.

The work goes in batches, each its own transaction: a first prune of a large database
holds no long write lock, and a prune cut short leaves a consistent store whose next
prune finishes the job. A dry run counts what would go and changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import delete, exists, func, union
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from docketwatch.ops.health import RUNS_READ
from docketwatch.pipeline import digests
from docketwatch.settings import Config
from docketwatch.store.models import CheckRun, Delivery, Digest, DigestEvent, Event, utcnow

# Rows handled per transaction (also under SQLite's oldest limit of 999 bound parameters).
BATCH = 500


@dataclass
class PruneResult:
    """What a prune removed (or, dry, would remove), per table, and from before when
    (check runs: from before `check_run_cutoff`)."""

    cutoff: datetime
    check_run_cutoff: datetime
    dry_run: bool
    check_runs: int = 0
    events: int = 0
    event_links: int = 0
    digests: int = 0
    deliveries: int = 0

    def counts(self) -> dict[str, int]:
        return {"check_runs": self.check_runs, "events": self.events, "event_links": self.event_links,
                "digests": self.digests, "deliveries": self.deliveries}


def prune(engine: Engine, config: Config, *, dry_run: bool = False, now: datetime | None = None) -> PruneResult:
    """Remove the history older than `config`'s `[retention]` days that nothing needs any
    more (see the module's rules).

    `config` also says which subscriptions may still be owed events; `now` is when those
    not yet recorded start (see digests.start)."""
    now = now or utcnow()
    before = now - timedelta(days=config.retention.days)
    result = PruneResult(cutoff=before, check_run_cutoff=now - timedelta(days=config.retention.check_run_days),
                         dry_run=dry_run)
    result.check_runs = _prune_check_runs(engine, result.check_run_cutoff, dry_run)
    result.events, result.event_links = _prune_events(engine, config, before, now, dry_run)
    result.digests, result.deliveries = _prune_digests(engine, config, before, now, dry_run)
    return result


def _prune_check_runs(engine: Engine, before: datetime, dry_run: bool) -> int:
    group = (col(CheckRun.case_id), col(CheckRun.source))
    ranked = select(CheckRun.id, func.row_number().over(partition_by=group, order_by=col(CheckRun.id).desc())
                    .label("rank")).subquery()
    keep = union(
        select(ranked.c.id).where(ranked.c.rank <= RUNS_READ),
        select(func.max(CheckRun.id)).where(col(CheckRun.ok)).group_by(*group),
        select(func.max(CheckRun.id)).where(~col(CheckRun.ok)).group_by(*group),
        select(func.max(CheckRun.id)).where(col(CheckRun.quota_requests) > 0).group_by(*group),
    )
    doomed = select(CheckRun.id).where(col(CheckRun.started_at) < before, col(CheckRun.id).not_in(keep))
    with Session(engine) as session:
        if dry_run:
            return session.exec(select(func.count()).select_from(doomed.subquery())).one()
    removed = 0
    while True:
        with Session(engine) as session:
            ids = session.exec(doomed.order_by(col(CheckRun.id)).limit(BATCH)).all()
            if not ids:
                return removed
            session.execute(delete(CheckRun).where(col(CheckRun.id).in_(ids)))
            session.commit()
            removed += len(ids)


def _old_events(before: datetime) -> SelectOfScalar[int]:
    """Ids of the events from before the cutoff that may go when nobody is owed them."""
    latest_gaps = select(func.max(Event.id)).where(col(Event.kind) == "gap").group_by(col(Event.case_id))
    # A stored row's primary key is never NULL, though the model's `id` is optional.
    return cast(SelectOfScalar[int],
                select(Event.id).where(col(Event.created_at) < before, col(Event.id).not_in(latest_gaps)))


def _doomed_events(session: Session, config: Config, before: datetime, now: datetime,
                   ids: Collection[int]) -> set[int]:
    """Of the events `ids`, those that go: old, not a latest gap, owed to no subscription."""
    ordered = sorted(ids)
    doomed: set[int] = set()
    for start in range(0, len(ordered), BATCH):
        old = set(session.exec(_old_events(before).where(col(Event.id).in_(ordered[start:start + BATCH]))).all())
        for sub in config.digests if old else ():
            owed = digests.events_for(session, sub, config.subscribed_cases(sub), config.recipients[sub.name], now,
                                     undelivered=True, among=old)
            old -= {event.id for event, _ in owed if event.id is not None}
        doomed |= old
    return doomed


def _prune_events(engine: Engine, config: Config, before: datetime, now: datetime,
                  dry_run: bool) -> tuple[int, int]:
    """(events, links to digests) removed."""
    events = links = 0
    after = 0
    while True:
        with Session(engine) as session:
            batch = session.exec(_old_events(before).where(col(Event.id) > after).order_by(col(Event.id))
                                 .limit(BATCH)).all()
            if not batch:
                return events, links
            after = batch[-1]
            doomed = _doomed_events(session, config, before, now, batch)
            if not doomed:
                continue
            linked = col(DigestEvent.event_id).in_(doomed)
            links += session.exec(select(func.count()).select_from(DigestEvent).where(linked)).one()
            events += len(doomed)
            if not dry_run:
                session.execute(delete(DigestEvent).where(linked))
                session.execute(delete(Event).where(col(Event.id).in_(doomed)))
                session.commit()


def _prune_digests(engine: Engine, config: Config, before: datetime, now: datetime,
                   dry_run: bool) -> tuple[int, int]:
    """(digests, deliveries) removed."""
    later = aliased(Digest)
    # A stored row's primary key is never NULL, though the model's `id` is optional.
    candidates = cast(SelectOfScalar[int], select(Digest.id).where(
        col(Digest.created_at) < before,
        exists().where(col(later.subscription) == Digest.subscription, col(later.period_end) > Digest.period_end),
        ~exists().where(col(Delivery.digest_id) == Digest.id,
                        (col(Delivery.status) == "pending") | (col(Delivery.sent_at) >= before)),
    ))
    digests_removed = deliveries = 0
    after = 0
    while True:
        with Session(engine) as session:
            batch = session.exec(candidates.where(col(Digest.id) > after).order_by(col(Digest.id)).limit(BATCH)).all()
            if not batch:
                return digests_removed, deliveries
            after = batch[-1]
            links = session.exec(select(DigestEvent.digest_id, DigestEvent.event_id)
                                 .where(col(DigestEvent.digest_id).in_(batch))).all()
            # The events the event pass removes are gone by now; in a dry run they are still there.
            staying = {event_id for _, event_id in links}
            if dry_run and staying:
                staying -= _doomed_events(session, config, before, now, staying)
            doomed = sorted(set(batch) - {digest_id for digest_id, event_id in links if event_id in staying})
            if not doomed:
                continue
            owned = col(Delivery.digest_id).in_(doomed)
            deliveries += session.exec(select(func.count()).select_from(Delivery).where(owned)).one()
            digests_removed += len(doomed)
            if not dry_run:
                session.execute(delete(Delivery).where(owned))
                session.execute(delete(Digest).where(col(Digest.id).in_(doomed)))
                session.commit()
