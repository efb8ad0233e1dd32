"""The outbox: digests are stored before they are sent, and marked sent only after.

Data flows one way: events -> `store_due` (a Digest row and its event links, one
transaction per subscription) -> `deliver` (one transaction per step of each digest).
Why nothing is lost and nothing accepted is sent again under a new Message-ID, step by step:

1. Building: the digest, its rendered formats, its Message-ID and its links to the
   events commit together or not at all. A crash before the commit leaves the events
   unclaimed, and the next run builds them again. The links are unique per
   (subscription, event), so two runs can never put one event into two digests.
2. Claiming: `attempts` is counted up and `next_attempt_at` moved past the backoff in
   a commit *before* sending. A crash while sending therefore still counts as an
   attempt (no endless crash loop), and a second run started meanwhile skips it.
3. Sending: the notifier returns only when the SMTP server accepted the message or the
   file is in place; it sends the stored body with the stored Message-ID.
4. Bookkeeping: status "sent" commits. A crash between 3 and 4 leaves the digest
   pending; it is sent again after the backoff, as the same message with the same
   Message-ID (mail clients merge it; the Markdown file is replaced by itself).

Each digest is delivered on its own, so one failing subscription never holds back the
others. After `outbox.max_attempts` failures a digest is marked failed; its events
stay claimed (`status` lists it) until `digest --retry-failed` puts it back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from docketwatch import digests, render
from docketwatch.config import Config, DigestConfig
from docketwatch.models import Digest, DigestEvent, utcnow
from docketwatch.notifiers import REGISTRY, DeliveryError

log = logging.getLogger(__name__)

# However many attempts failed, the next one is at most this far away.
MAX_BACKOFF = timedelta(hours=6)


@dataclass
class Attempt:
    """What one delivery attempt of one digest did, for the command line to show."""

    digest: Digest
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
    """Store what is due for `subs`, then deliver every pending digest of theirs that is due."""
    now = now or utcnow()
    stored, errors = store_due(config, engine, subs, now)
    return RunReport(stored, deliver(config, engine, subs, now), errors)


def store_due(config: Config, engine: Engine, subs: list[DigestConfig],
              now: datetime) -> tuple[list[Digest], list[str]]:
    """Build and store the digest due now for each subscription, each in its own transaction."""
    stored, errors = [], []
    for sub in subs:
        with Session(engine, expire_on_commit=False) as session:
            try:
                outgoing = plan_new(session, config, sub, now)
                if outgoing is None:
                    continue
                digest, event_ids = outgoing
                session.add(digest)
                session.flush()
                session.add_all(DigestEvent(digest_id=digest.id, event_id=i, subscription=sub.name) for i in event_ids)
                session.commit()
                stored.append(digest)
            except IntegrityError:
                session.rollback()
                log.info("%s: another run stored these events first", sub.name)
            except Exception as e:  # a broken template for one subscription must not stop the others
                session.rollback()
                log.exception("%s: building the digest failed", sub.name)
                errors.append(f"{sub.name}: building the digest failed: {e}")
    return stored, errors


def plan_new(session: Session, config: Config, sub: DigestConfig, now: datetime) -> tuple[Digest, list[int]] | None:
    """The digest due now for `sub`, rendered but not stored, with its event ids; None when none is due."""
    drafted = digests.draft(session, config, sub, now)
    if drafted is None:
        return None
    notifier = REGISTRY[sub.channel]
    body = {fmt: render.render(config, drafted.model, fmt) for fmt in notifier.formats}
    subject = render.subject(sub, drafted.model)
    content = json.dumps({"subject": subject, **body}, sort_keys=True)
    digest = Digest(
        subscription=sub.name, channel=sub.channel, message_id=message_id(config, sub, drafted.event_ids),
        content_hash=hashlib.sha256(content.encode()).hexdigest(), subject=subject,
        body=json.dumps(body), period_start=drafted.model.period_start, period_end=drafted.model.period_end,
        next_attempt_at=now, created_at=now,
    )
    return digest, drafted.event_ids


def message_id(config: Config, sub: DigestConfig, event_ids: list[int]) -> str:
    """A Message-ID that follows from the subscription and its events alone: the same
    digest always has the same one, however often it is sent."""
    domain = config.smtp.from_address.rpartition("@")[2] if config.smtp else "docketwatch.invalid"
    key = hashlib.sha256(f"{sub.name}\x1f{','.join(map(str, sorted(event_ids)))}".encode()).hexdigest()[:32]
    slug = re.sub(r"[^a-z0-9]+", "-", sub.name.lower()).strip("-") or "digest"
    return f"<docketwatch.{slug}.{key}@{domain}>"


def due(session: Session, subs: list[DigestConfig], now: datetime) -> list[Digest]:
    """Pending digests of `subs` whose next attempt is due, oldest first."""
    return list(session.exec(
        select(Digest).where(Digest.status == "pending", Digest.next_attempt_at <= now,
                             Digest.subscription.in_([s.name for s in subs])).order_by(Digest.id)
    ))


def backoff(config: Config, attempts: int) -> timedelta:
    """The wait after the `attempts`-th attempt: retry_backoff, doubling each time, capped."""
    return min(timedelta(seconds=config.outbox.retry_backoff * 2 ** (attempts - 1)), MAX_BACKOFF)


def deliver(config: Config, engine: Engine, subs: list[DigestConfig], now: datetime) -> list[Attempt]:
    """Try every due pending digest of `subs` once, each on its own."""
    by_name = {s.name: s for s in subs}
    with Session(engine) as session:
        ids = [d.id for d in due(session, subs, now)]
    return [a for digest_id in ids if (a := _attempt(config, engine, by_name, digest_id, now))]


def _attempt(config: Config, engine: Engine, by_name: dict[str, DigestConfig], digest_id: int,
             now: datetime) -> Attempt | None:
    with Session(engine, expire_on_commit=False) as session:
        digest = session.get(Digest, digest_id)
        # Claim it (step 2): only if no other run claimed it since we looked.
        claimed = session.execute(
            update(Digest).where(Digest.id == digest_id, Digest.status == "pending",
                                 Digest.attempts == digest.attempts)
            .values(attempts=digest.attempts + 1, next_attempt_at=now + backoff(config, digest.attempts + 1))
        ).rowcount
        session.commit()
        if not claimed:
            return None
        session.refresh(digest)
        sub = by_name[digest.subscription]
        try:
            detail = REGISTRY[sub.channel](config, sub).send(digest)
        except Exception as e:  # one failing channel or digest never stops the others
            if isinstance(e, DeliveryError):
                log.warning("%s: digest %s: %s", sub.name, digest.id, e)
            else:
                log.exception("%s: digest %s: unexpected delivery error", sub.name, digest.id)
            digest.last_error = str(e) or type(e).__name__
            if digest.attempts >= config.outbox.max_attempts:
                digest.status = "failed"
            session.add(digest)
            session.commit()
            return Attempt(digest, False, digest.last_error)
        digest.status, digest.sent_at, digest.delivered_to, digest.last_error = "sent", utcnow(), detail, None
        session.add(digest)
        session.commit()
        return Attempt(digest, True, detail)


def retry_failed(engine: Engine, subs: list[DigestConfig], now: datetime | None = None) -> int:
    """Put failed digests of `subs` back in line (after fixing what made them fail); return how many."""
    with Session(engine) as session:
        count = session.execute(
            update(Digest).where(Digest.status == "failed", Digest.subscription.in_([s.name for s in subs]))
            .values(status="pending", attempts=0, next_attempt_at=now or utcnow())
        ).rowcount
        session.commit()
    return count


def plan(config: Config, engine: Engine, subs: list[DigestConfig],
         now: datetime | None = None) -> list[tuple[Digest, int]]:
    """What `run` would send now, with the number of events each covers; writes nothing."""
    now = now or utcnow()
    out: list[tuple[Digest, int]] = []
    with Session(engine) as session:
        for digest in due(session, subs, now):
            links = session.exec(select(DigestEvent).where(DigestEvent.digest_id == digest.id)).all()
            out.append((digest, len(links)))
        for sub in subs:
            planned = plan_new(session, config, sub, now)
            if planned:
                out.append((planned[0], len(planned[1])))
    return out
