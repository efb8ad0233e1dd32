"""The outbox: digests are stored before they are sent, and marked sent only after.

Data flows one way: events -> `store_due` (a Digest row, its event links and one
Delivery per recipient, one transaction per subscription) -> `deliver` (one transaction
per step of each delivery). Why nothing is lost and nothing accepted is sent again under
a new Message-ID, step by step:

1. Building: the digest, its rendered formats, its links to the events and its
   deliveries (each with its Message-ID) commit together or not at all. A crash before
   the commit leaves the events unclaimed, and the next run builds them again. The links
   are unique per (subscription, event), so two runs can never put one event into two
   digests of a subscription.
2. Claiming: a delivery's `attempts` is counted up and `next_attempt_at` moved one
   backoff past the moment of the claim (not of the run's start: earlier sends may have
   been slow) in a commit *before* sending. A crash while sending therefore still counts
   as an attempt (no endless crash loop), and a second run started meanwhile skips it
   unless the send outlasts the backoff (`[outbox] retry_backoff`, 5 minutes by default).
3. Sending: the notifier returns only when the SMTP server accepted the message or the
   file is in place; it sends the stored body with the delivery's Message-ID.
4. Bookkeeping: status "sent" commits. A crash between 3 and 4 leaves the delivery
   pending; it is sent again after the backoff, as the same message with the same
   Message-ID (mail clients merge it; the Markdown file is replaced by itself).

Each delivery goes on its own, so one failing subscription or bouncing address never
holds back or duplicates another. A delivery is never given up by itself: after
`outbox.max_attempts` failures it is retried every MAX_BACKOFF, `status` and
`status --health` report it, and the operator gets one alert, until it is delivered or
an operator drops it (`docketwatch digest --drop ID`).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from docketwatch import redact, registry
from docketwatch.notifiers.base import DeliveryError, Notifier
from docketwatch.pipeline import digests, render
from docketwatch.settings import ADMIN_SUBSCRIPTION, Config, DigestConfig
from docketwatch.store.models import (
    DIGEST_JOB,
    UPGRADED,
    Delivery,
    Digest,
    DigestEvent,
    HealthAlert,
    Subscription,
    SubscriptionCase,
    utcnow,
)

log = logging.getLogger(__name__)

# However many attempts failed, the next one is at most this far away; past
# `outbox.max_attempts`, every retry waits this long.
MAX_BACKOFF = timedelta(hours=6)


@dataclass
class Attempt:
    """What one delivery attempt did, for the command line to show."""

    digest: Digest
    delivery: Delivery
    ok: bool
    detail: str  # where it went, or why it failed


@dataclass
class RunReport:
    """One `digest` run: what was stored, every attempt, and subscriptions that could not be built."""

    stored: list[Digest]
    attempts: list[Attempt]
    errors: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors and all(a.ok for a in self.attempts)


def run(config: Config, engine: Engine, subs: list[DigestConfig], now: datetime | None = None) -> RunReport:
    """Store what is due for `subs`, deliver every pending delivery of theirs that is due,
    then record how far their events are settled (what the next reads skip)."""
    now = now or utcnow()
    stored, errors = store_due(config, engine, subs, now)
    report = RunReport(stored, deliver(config, engine, subs, now), errors)
    digests.settle(engine, config, subs)
    return report


def store_due(config: Config, engine: Engine, subs: list[DigestConfig],
              now: datetime) -> tuple[list[Digest], list[str]]:
    """Build and store the digest due now for each subscription, each in its own transaction.
    A subscription whose digest cannot be built (a template that fails on real data) is
    an error for the caller and a health problem: see `_watch_building`."""
    digests.record_subscriptions(engine, config, now)
    with Session(engine) as session:
        failing = set(session.exec(select(HealthAlert.job).where(col(HealthAlert.job).startswith(DIGEST_JOB),
                                                                  col(HealthAlert.failing))))
    stored: list[Digest] = []
    errors: list[str] = []
    for sub in subs:
        error = _store(config, engine, sub, now, stored)
        if error is not None:
            errors.append(f"{sub.name}: building the digest failed: {error}")
        if error is not None or DIGEST_JOB + sub.name in failing:
            _watch_building(config, engine, sub.name, error, now)
    return stored, errors


def _store(config: Config, engine: Engine, sub: DigestConfig, now: datetime, stored: list[Digest]) -> str | None:
    """Store the digest due now for `sub` (added to `stored`); why it could not be built, or
    None. The why is one line for the caller to show; the traceback only at --log-level debug."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            outgoing = plan_new(session, config, sub, now)
            if outgoing is None:
                return None
            digest, event_ids = outgoing
            enqueue(session, config, digest, sub, now)
            assert digest.id is not None  # enqueue flushed it
            session.add_all(DigestEvent(digest_id=digest.id, event_id=i, subscription=sub.name) for i in event_ids)
            session.commit()
            stored.append(digest)
        except IntegrityError:
            session.rollback()
            log.info("%s: another run stored these events first", sub.name)
        except Exception as e:  # a broken template for one subscription must not stop the others
            session.rollback()
            log.debug("%s: building the digest failed", sub.name, exc_info=True)
            return redact.scrub(f"{type(e).__name__}: {e}")
    return None


def _watch_building(config: Config, engine: Engine, name: str, error: str | None, now: datetime) -> None:
    """Whether `name`'s digest builds, as a health state (`digest:NAME`) with its alerts."""
    about = f"docketwatch: the digest for {name!r}"
    failed = (f"{about} cannot be built",
              f"{about} cannot be built.\n\nError: {error}\n\nIt is tried again every minute (and at each "
              "`docketwatch digest`); the events it owes wait for it. Fix what the error names (a template in "
              "templates_dir, the subscription's settings).\n")
    with Session(engine) as session:
        watch_health(session, config, DIGEST_JOB + name, error, now, failed=failed,
                     recovered=(f"{about} is built again", f"{about} is built again; what it owed goes out with it.\n"))
        session.commit()


def watch_health(session: Session, config: Config, job: str, error: str | None, now: datetime, *,
                 failed: tuple[str, str], recovered: tuple[str, str]) -> None:
    """Keep `job`'s health state (HealthAlert): failing while there is an `error` (kept for
    `status --health`), and alert the operator (`failed` or `recovered`: subject, text)
    once when it starts failing and once when it works again. Not committed."""
    state = session.get(HealthAlert, job) or HealthAlert(job=job)
    if (error is not None) == state.failing:
        if error is not None and error != state.error:  # still failing, now for another reason: no second alert
            state.error = error
            session.add(state)
        return
    if error is not None:
        subject, text = failed
        state.failing, state.error, state.alerted_at = True, error, now
        log.error("%s", subject)
    else:
        subject, text = recovered
        state.failing, state.error, state.recovered_at = False, None, now
        log.warning("%s", subject)
    session.add(state)
    alert(session, config, subject, text, now)


def enqueue(session: Session, config: Config, digest: Digest, sub: DigestConfig, now: datetime) -> None:
    """Add `digest` with a pending delivery to each of `sub`'s recipients (not committed)."""
    session.add(digest)
    session.flush()
    session.add_all(digest.address(config.recipients[sub.name], now))


def plan_new(session: Session, config: Config, sub: DigestConfig, now: datetime) -> tuple[Digest, list[int]] | None:
    """The digest due now for `sub`, rendered but not stored, with its event ids; None when none is due."""
    drafted = digests.draft(session, config, sub, now)
    if drafted is None:
        return None
    notifier = registry.notifier(sub.channel)
    body = {fmt: render.render(config, drafted.model, fmt) for fmt in notifier.formats}
    subject = render.subject(sub, drafted.model)
    digest = _digest(sub, message_id(config, sub, drafted.event_ids), subject, body, drafted.model.period_start,
                     drafted.model.period_end, now)
    return digest, drafted.event_ids


def _digest(sub: DigestConfig, msg_id: str, subject: str, body: dict[str, str], start: datetime, end: datetime,
            now: datetime) -> Digest:
    """The one builder of a Digest row: what a subscription is sent, rendered."""
    content = json.dumps({"subject": subject, **body}, sort_keys=True)
    return Digest(subscription=sub.name, channel=sub.channel, message_id=msg_id,
                  content_hash=hashlib.sha256(content.encode()).hexdigest(), subject=subject, body=json.dumps(body),
                  period_start=start, period_end=end, created_at=now)


def alert(session: Session, config: Config, subject: str, text: str, now: datetime) -> None:
    """An operator alert in the outbox, a delivery to each `[admin] to` address (not
    committed); without `[admin] to` and `[smtp]`, only logged (by the caller)."""
    admin = config.admin_subscription
    if admin is not None:
        enqueue(session, config, _alert_digest(config, admin, subject, text, now), admin, now)


def alert_now(config: Config, subject: str, text: str, now: datetime) -> list[Probe]:
    """An operator alert sent at once, not stored: for when the database the outbox lives
    in cannot be used. What each `[admin] to` address's server said (none without
    `[admin] to` and `[smtp]`); the caller decides whether to try again."""
    admin = config.admin_subscription
    if admin is None:
        return []
    notifier = registry.notifier(admin.channel)(config, admin)
    return _send_unstored(notifier, config.recipients[admin.name], _alert_digest(config, admin, subject, text, now))


def _alert_digest(config: Config, admin: DigestConfig, subject: str, text: str, now: datetime) -> Digest:
    body = {"txt": text, "html": f"<pre>{html.escape(text)}</pre>"}
    key = hashlib.sha256(f"{subject}\x1f{now.isoformat()}".encode()).hexdigest()[:32]
    domain = config.smtp.from_address.rpartition("@")[2] if config.smtp else "docketwatch.invalid"
    return _digest(admin, f"<docketwatch.admin.{key}@{domain}>", subject, body, now, now, now)


def _undelivered(session: Session, config: Config, digest: Digest, delivery: Delivery, now: datetime) -> None:
    """A delivery has failed `outbox.max_attempts` times or more: say so (log at ERROR, and
    one alert to the operator, stored in `session`; not for alerts themselves)."""
    subject = (f"docketwatch: the digest for {digest.subscription!r} was not delivered to "
               f"{delivery.recipient or 'its recipients'} after {delivery.attempts} attempts")
    log.error("%s: %s", subject, delivery.last_error)
    if digest.subscription == ADMIN_SUBSCRIPTION:
        return
    text = (f"{subject}.\n\nDigest: {digest.subject}\nLast error: {delivery.last_error}\n\n"
            f"It is tried again every {MAX_BACKOFF.total_seconds() / 3600:g} hours until it is delivered. "
            f"`docketwatch digest --retry-failed` tries now; `docketwatch digest --drop {delivery.id}` gives it up.\n")
    alert(session, config, subject, text, now)


@dataclass
class Probe:
    """One test message (`docketwatch test-notify`): to whom, and what the server said."""

    recipient: str
    ok: bool
    detail: str


def test_message(config: Config, sub: DigestConfig, now: datetime | None = None) -> list[Probe]:
    """Send a short test message through `sub`'s channel to each of its recipients and
    say what each server answered. Nothing is stored: no digest, no delivery, no event."""
    now = now or utcnow()
    notifier = registry.notifier(sub.channel)(config, sub)
    text = (f"This is a test message from docketwatch for the subscription {sub.name!r} ({sub.channel}). "
            "If it reached you, its digests will too.")
    subject = f"docketwatch test message ({sub.name})"
    # A webhook or Apprise reads the JSON rendering: a digest model of no case, the text as its warning.
    model = digests.DigestModel(title=subject, period_start=now, period_end=now, timezone=config.timezone,
                                cases=[], warnings=[text])
    body = {fmt: render.as_json(model) if fmt == "json" else f"<p>{html.escape(text)}</p>" if fmt == "html"
            else text for fmt in notifier.formats}
    key = hashlib.sha256(f"test\x1f{sub.name}\x1f{now.isoformat()}".encode()).hexdigest()[:32]
    domain = config.smtp.from_address.rpartition("@")[2] if config.smtp else "docketwatch.invalid"
    digest = _digest(sub, f"<docketwatch.test.{key}@{domain}>", subject, body, now, now, now)
    return _send_unstored(notifier, config.recipients[sub.name], digest)


def _send_unstored(notifier: Notifier[Any], recipients: list[str], digest: Digest) -> list[Probe]:
    """Send `digest` to each recipient once, storing nothing: what each server said."""
    probes = []
    for recipient in recipients:
        delivery = Delivery(digest_id=0, recipient=recipient, message_id=digest.message_id)
        try:
            probes.append(Probe(recipient, True, notifier.send(digest, delivery)))
        except Exception as e:  # to be reported, whatever it is: there is no retry
            probes.append(Probe(recipient, False, redact.scrub(str(e) or type(e).__name__)))
    return probes


def message_id(config: Config, sub: DigestConfig, event_ids: list[int]) -> str:
    """A Message-ID that follows from the subscription and its events alone: the same
    digest always has the same one, however often it is sent."""
    domain = config.smtp.from_address.rpartition("@")[2] if config.smtp else "docketwatch.invalid"
    key = hashlib.sha256(f"{sub.name}\x1f{','.join(map(str, sorted(event_ids)))}".encode()).hexdigest()[:32]
    slug = re.sub(r"[^a-z0-9]+", "-", sub.name.lower()).strip("-") or "digest"
    return f"<docketwatch.{slug}.{key}@{domain}>"


def due(session: Session, subs: list[DigestConfig], now: datetime) -> list[tuple[Delivery, Digest]]:
    """Pending deliveries of `subs` whose next attempt is due, oldest first, with their digests."""
    return list(session.exec(
        select(Delivery, Digest).join(Digest, col(Digest.id) == Delivery.digest_id)
        .where(col(Delivery.status) == "pending", col(Delivery.next_attempt_at) <= now,
               col(Digest.subscription).in_([s.name for s in subs])).order_by(col(Delivery.id))
    ))


def backoff(config: Config, attempts: int) -> timedelta:
    """The wait after the `attempts`-th attempt: retry_backoff, doubling each time, capped;
    once `max_attempts` have failed, the cap."""
    if attempts >= config.outbox.max_attempts:
        return MAX_BACKOFF
    return min(timedelta(seconds=config.outbox.retry_backoff * 2 ** (attempts - 1)), MAX_BACKOFF)


def deliver(config: Config, engine: Engine, subs: list[DigestConfig], now: datetime) -> list[Attempt]:
    """Try every due pending delivery of `subs` once, each on its own."""
    by_name = {s.name: s for s in subs}
    address_unaddressed(config, engine, subs)
    follow_recipients(config, engine, subs, now)
    with Session(engine) as session:
        ids = [delivery.id for delivery, _ in due(session, subs, now) if delivery.id is not None]
    return [a for delivery_id in ids if (a := _attempt(config, engine, by_name, delivery_id, now))]


def address_unaddressed(config: Config, engine: Engine, subs: list[DigestConfig]) -> None:
    """Pending deliveries carried over from before per-recipient delivery (recipient None)
    become one per recipient of their subscription, keeping their state and Message-ID:
    what that release would have sent, so a resend after an old crash still merges."""
    by_name = {s.name: s for s in subs}
    with Session(engine) as session:
        rows = session.exec(
            select(Delivery, Digest).join(Digest, col(Digest.id) == Delivery.digest_id)
            .where(col(Delivery.recipient).is_(None), col(Delivery.status) == "pending",
                   col(Digest.subscription).in_(list(by_name)))).all()
        for old, digest in rows:
            assert digest.id is not None  # a stored row
            session.add_all(Delivery(digest_id=digest.id, recipient=r, message_id=old.message_id,
                                     attempts=old.attempts, next_attempt_at=old.next_attempt_at,
                                     last_error=old.last_error)
                            for r in config.recipients[digest.subscription])
            session.delete(old)
        try:
            session.commit()
        except IntegrityError:  # another run addressed them first
            session.rollback()


def follow_recipients(config: Config, engine: Engine, subs: list[DigestConfig], now: datetime) -> None:
    """Pending deliveries follow the subscription's recipients as configured now: one to
    an address no longer listed is dropped (a person removed stops getting retries), and
    its digest goes to each listed address that has no delivery of it, so the corrected
    spelling of a bouncing address gets what the misspelt one was owed."""
    with Session(engine) as session:
        for sub in subs:
            current = config.recipients[sub.name]
            gone = session.exec(
                select(Delivery, Digest).join(Digest, col(Digest.id) == Delivery.digest_id)
                .where(col(Digest.subscription) == sub.name, col(Delivery.status) == "pending",
                       col(Delivery.recipient).is_not(None), col(Delivery.recipient).not_in(current))).all()
            for delivery, digest in gone:
                delivery.status, delivery.last_error = "dropped", "no longer a recipient of the subscription"
                session.add(delivery)
                log.warning("%s: delivery %s to %s dropped: no longer a recipient", sub.name, delivery.id,
                            delivery.recipient)
                had = set(session.exec(select(Delivery.recipient).where(col(Delivery.digest_id) == digest.id)))
                session.add_all(digest.address([r for r in current if r not in had], now))
        try:
            session.commit()
        except IntegrityError:  # another run did the same first
            session.rollback()


def _attempt(config: Config, engine: Engine, by_name: dict[str, DigestConfig], delivery_id: int,
             now: datetime) -> Attempt | None:
    with Session(engine, expire_on_commit=False) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None  # `due` found it pending and addressed: such a row is never deleted
        # Claim it (step 2): only if no other run claimed it since we looked. The clock is
        # read again: `now` is when this run started, and earlier sends may have been slow.
        claimed = session.exec(
            update(Delivery).where(col(Delivery.id) == delivery_id, col(Delivery.status) == "pending",
                                   col(Delivery.attempts) == delivery.attempts)
            .values(attempts=delivery.attempts + 1,
                    next_attempt_at=max(now, utcnow()) + backoff(config, delivery.attempts + 1))
        ).rowcount
        session.commit()
        if not claimed:
            return None
        session.refresh(delivery)
        digest = session.get(Digest, delivery.digest_id)
        assert digest is not None  # a foreign key
        sub = by_name[digest.subscription]
        try:
            detail = registry.notifier(sub.channel)(config, sub).send(digest, delivery)
        except Exception as e:  # one failing channel or delivery never stops the others
            if not isinstance(e, DeliveryError):
                log.exception("%s: delivery %s: unexpected delivery error", sub.name, delivery.id)
            delivery.last_error = redact.scrub(str(e) or type(e).__name__)
            if delivery.attempts >= config.outbox.max_attempts and delivery.alerted_at is None:
                _undelivered(session, config, digest, delivery, now)
                delivery.alerted_at = now
            else:
                log.warning("%s: delivery %s to %s: %s", sub.name, delivery.id, delivery.recipient,
                            delivery.last_error)
            session.add(delivery)
            session.commit()
            return Attempt(digest, delivery, False, delivery.last_error)
        if delivery.attempts > config.outbox.max_attempts:
            log.warning("%s: delivery %s to %s arrived after %d attempts", sub.name, delivery.id, delivery.recipient,
                        delivery.attempts)
        delivery.status, delivery.sent_at, delivery.delivered_to, delivery.last_error = "sent", utcnow(), detail, None
        session.add(delivery)
        session.commit()
        return Attempt(digest, delivery, True, detail)


def retry_failed(engine: Engine, subs: list[DigestConfig], now: datetime | None = None) -> int:
    """Make the pending deliveries of `subs` that have failed before due now; return how many."""
    with Session(engine) as session:
        digest_ids = select(Digest.id).where(col(Digest.subscription).in_([s.name for s in subs]))
        count = session.exec(
            update(Delivery).where(col(Delivery.status) == "pending", col(Delivery.attempts) > 0,
                                   col(Delivery.digest_id).in_(digest_ids))
            .values(next_attempt_at=now or utcnow())
        ).rowcount
        session.commit()
    return count


class NotPending(ValueError):
    """`drop` was given an id that is not an undelivered delivery."""


def drop(engine: Engine, delivery_ids: list[int]) -> list[tuple[Delivery, Digest]]:
    """An operator gives these pending deliveries up: they are never tried again. All or none."""
    with Session(engine, expire_on_commit=False) as session:
        rows = session.exec(
            select(Delivery, Digest).join(Digest, col(Digest.id) == Delivery.digest_id)
            .where(col(Delivery.id).in_(delivery_ids), col(Delivery.status) == "pending")).all()
        missing = sorted(set(delivery_ids) - {delivery.id for delivery, _ in rows})
        if missing:
            raise NotPending(", ".join(map(str, missing)))
        for delivery, digest in rows:
            delivery.status = "dropped"
            session.add(delivery)
            log.warning("%s: delivery %s to %s dropped by the operator after %d attempts", digest.subscription,
                        delivery.id, delivery.recipient, delivery.attempts)
        session.commit()
        return list(rows)


class NotForgettable(ValueError):
    """`forget` was given a subscription that is configured, or that this database does not know."""


def forget(config: Config, engine: Engine, name: str) -> digests.Unconfigured:
    """An operator gives up a recorded subscription no longer configured (removed, or
    renamed without `renamed_from`): `status` stops naming it, its pending deliveries are
    dropped, and the name, if used again, starts afresh. Returns what it was not sent."""
    if name in {d.name for d in config.digests}:
        raise NotForgettable(f"{name!r} is configured; remove its [[digests]] table first")
    with Session(engine) as session:
        row = session.get(Subscription, name)
        if row is None or row.renamed_to is not None or name == UPGRADED:
            raise NotForgettable(f"this database has no subscription {name!r} that is no longer configured; "
                                 "`docketwatch status` names them")
        owed = next((u for u in digests.unconfigured(session, config) if u.name == name),
                    digests.Unconfigured(name, 0, 0))
        session.execute(update(Delivery).where(
            col(Delivery.status) == "pending",
            col(Delivery.digest_id).in_(select(Digest.id).where(col(Digest.subscription) == name)))
            .values(status="dropped", last_error="its subscription was given up (docketwatch digest --forget)"))
        session.execute(delete(SubscriptionCase).where(col(SubscriptionCase.subscription) == name))
        session.delete(row)
        session.commit()
    log.warning("subscription %r given up: %d events not sent, %d pending deliveries dropped", name, owed.events,
                owed.pending)
    return owed


def plan(config: Config, engine: Engine, subs: list[DigestConfig],
         now: datetime | None = None) -> list[tuple[Digest, list[str], int]]:
    """What `run` would send now: each digest with the recipients it would go to and the
    number of events it covers; writes nothing."""
    now = now or utcnow()
    out: dict[int, tuple[Digest, list[str], int]] = {}
    with Session(engine) as session:
        for delivery, digest in due(session, subs, now):
            assert digest.id is not None  # a stored row
            if digest.id not in out:
                links = session.exec(select(func.count()).select_from(DigestEvent)
                                     .where(DigestEvent.digest_id == digest.id)).one()
                out[digest.id] = (digest, [], links)
            out[digest.id][1].append(delivery.recipient or f"each recipient of {digest.subscription!r}")
        planned = [(p[0], config.recipients[sub.name], len(p[1]))
                   for sub in subs if (p := plan_new(session, config, sub, now))]
    return [*out.values(), *planned]
