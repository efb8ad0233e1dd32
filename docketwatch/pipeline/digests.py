"""Which events a subscription gets, when it gets them, and the one model every format renders.

A subscription (`[[digests]]`) wants the events of its cases, of its kinds, that pass its
keyword filters. `cutoff` decides from the schedule whether a digest is due; `draft`
gathers the wanted events not yet in any digest of the subscription and builds a
`DigestModel`. The text, HTML and Markdown templates render that model and nothing
else, so the three formats can never disagree. What is written here is about the
subscriptions themselves: when each was first seen and with which cases
(`record_subscriptions`), and how far its events are settled (`settle`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, insert, or_, tuple_, update
from sqlalchemy import select as select_columns  # sqlmodel's select takes at most 4 columns
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from docketwatch import store
from docketwatch.domain.changes import CaseChanges, EntryView
from docketwatch.domain.courts import court_timezone
from docketwatch.domain.events import EventKind
from docketwatch.domain.schedule import cutoff
from docketwatch.settings import CaseConfig, Config, DigestConfig
from docketwatch.store.models import (
    DIGEST_JOB,
    UPGRADED,
    Case,
    Delivery,
    Digest,
    DigestEvent,
    Entry,
    Event,
    HealthAlert,
    StoredCase,
    Subscription,
    SubscriptionCase,
    as_utc,
    core_table,
    utcnow,
)

if TYPE_CHECKING:
    from docketwatch.domain.calendar import Item

log = logging.getLogger(__name__)
# A case whose last successful check is older than this gets a warning in its digests.
STALE_AFTER = timedelta(days=2)
# `preview` shows at most this many stored events (the latest).
PREVIEW_EVENTS = 50
# A digest lists each of its cases' hearings and deadlines this many days ahead.
UPCOMING_DAYS = 14
# A poll stores and commits an event well within this of stamping its `created_at` (a
# store step is local work of seconds), even when another writer kept the database
# locked or two hosts' clocks disagree (a clock on local time instead of UTC is off by
# at most 14 hours). `settle` relies on it.
COMMIT_MARGIN = timedelta(days=1)

# -- selection ---------------------------------------------------------------

def events_for(session: Session, sub: DigestConfig, cases: list[CaseConfig], recipients: Collection[str],
               now: datetime, *, until: datetime | None = None, undelivered: bool = False,
               among: Collection[int] | None = None) -> list[tuple[Event, Entry | None]]:
    """The events of `cases` that `sub` wants, from its start on, oldest first, with their
    entries: those in none of its digests, or (`undelivered`) in none it has delivered
    (every delivery sent or dropped); only those with ids `among`, when given. Its
    `recipients` (as configured) are not sent again what it backfills."""
    case_ids = list(store.case_ids(session, cases).values())
    query = _events_query(session, sub, case_ids, recipients, now, until=until, undelivered=undelivered, among=among,
                          settled=settled_key(sub, cases, recipients))
    return [(event, entry) for event, entry in session.exec(query) if passes_filters(sub, entry)]


def settled_key(sub: DigestConfig, cases: list[CaseConfig], recipients: Collection[str]) -> str:
    """A digest of all that decides which events `sub` wants (its table, the cases it
    covers, its recipients): `settled_through` holds only while this is unchanged, so an
    edited filter, a case that joins or a `renamed_from` added (another name's digests
    carried over) is read against every kept event again."""
    wanted = [sub.model_dump(mode="json"), sorted(c.label for c in cases), sorted(recipients)]
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def _events_query(session: Session, sub: DigestConfig, case_ids: list[int], recipients: Collection[str],
                  now: datetime, *, until: datetime | None, undelivered: bool,
                  among: Collection[int] | None, settled: str) -> Select[Event, Entry]:
    """`events_for`'s query (of the stored cases `case_ids`), before the keyword filters.
    A case's events count from when it joined the subscription (see SubscriptionCase):
    one join, not a query per case. Events settled for the subscription as configured
    (`settled`: `settled_key`) are not read: the read is a range of ids."""
    of_cases: ColumnElement[bool] = col(Event.case_id).in_(case_ids)
    # Until its cases are recorded (a subscription not seen yet, or from before
    # SubscriptionCase), each case it has is its own from its start, as its recording will make it.
    row = _recorded(session, sub)
    by_case = row is not None and row.cases_recorded
    if by_case:
        of_cases = and_(of_cases, col(SubscriptionCase.subscription).is_not(None),
                        or_(col(SubscriptionCase.joined_at).is_(None),
                            col(Event.created_at) >= SubscriptionCase.joined_at))
    # A case found by a [[discover]] rule is no configured case: subscriptions to every
    # case ("*") get its announcement.
    if "*" in sub.cases:
        of_cases = or_(of_cases, col(Event.kind) == EventKind.NEW_CASE)
    # Per event read, an index seek (subscription, event_id): not a list of all it was ever sent.
    taken = select(DigestEvent.id).where(col(DigestEvent.subscription) == sub.name,
                                         col(DigestEvent.event_id) == Event.id)
    if undelivered:
        pending = select(Delivery.id).where(col(Delivery.digest_id) == DigestEvent.digest_id,
                                            col(Delivery.status) == "pending")
        taken = taken.where(~pending.exists())
    query = (select(Event, Entry).join(Entry, col(Event.entry_id) == Entry.id, isouter=True)
             .where(of_cases, col(Event.kind).in_(sub.events), ~taken.exists())
             .order_by(col(Event.id)))
    if by_case:
        member = and_(col(SubscriptionCase.subscription) == sub.name, col(SubscriptionCase.court) == Case.court,
                      col(SubscriptionCase.docket_number) == Case.docket_number)
        query = query.join(Case, col(Case.id) == Event.case_id).join(SubscriptionCase, member, isouter=True)
    if (since := start(session, sub, now)) is not None:
        query = query.where(col(Event.created_at) >= since)
        if sub.backfill_days:
            # What it backfills is catching up, not news: never again to an address (or
            # folder) that another subscription sent it to, or will (a rename without
            # `renamed_from` is such a new subscription).
            first_seen = as_utc(row.first_seen) if row else now
            sent_there = select(DigestEvent.id).join(Delivery, col(Delivery.digest_id) == DigestEvent.digest_id).where(
                col(DigestEvent.event_id) == Event.id, col(Delivery.recipient).in_(recipients),
                col(Delivery.status) != "dropped")
            query = query.where(or_(col(Event.created_at) >= first_seen, ~sent_there.exists()))
    if row is not None and row.settled_through is not None and row.settled_for == settled:
        query = query.where(col(Event.id) > row.settled_through)
    if until is not None:
        query = query.where(col(Event.created_at) <= until)
    if among is not None:
        query = query.where(col(Event.id).in_(among))
    return query


def settle(engine: Engine, config: Config, subs: list[DigestConfig]) -> None:
    """Move each subscription's `settled_through` up to the last event stamped two
    COMMIT_MARGINs ago, or to just before the oldest event it is still owed, whichever
    comes first; so `draft` and `pending_counts` read the last two days or so, and what
    still waits, not every event kept since the subscription started.

    Safe because nothing settled becomes owed again while the subscription's
    configuration stays the same (a changed one starts unsettled: `settled_key`): an
    event in a digest whose deliveries are all done stays there, one not wanted stays
    unwanted. And none is still being written: an event gets its id after its stamp and
    is committed within a COMMIT_MARGIN of it, so one with a smaller id than an event
    stamped two margins ago was committed a margin ago. Reads the events after the
    current `settled_through`; the outbox calls it after each delivery round.
    """
    now = utcnow()  # the clock, not a caller's `now`: events are stamped by the clock
    with Session(engine) as session:
        # The last event stamped two margins ago, the same for every subscription: a walk down the ids from the newest.
        horizon = session.exec(select(func.max(Event.id)).where(col(Event.created_at) < now - 2 * COMMIT_MARGIN)).one()
    if horizon is None:
        return
    for sub in subs:
        with Session(engine) as session:
            row = _recorded(session, sub)
            if row is None:
                continue
            cases = config.subscribed_cases(sub)
            recipients = config.recipients[sub.name]
            key = settled_key(sub, cases, recipients)
            query = _events_query(session, sub, list(store.case_ids(session, cases).values()), recipients, now,
                                  until=None, undelivered=True, among=None, settled=key)
            rows = session.execute(query.with_only_columns(
                col(Event.id), col(Event.entry_id), col(Entry.description), col(Entry.short_description))
                .where(col(Event.id) <= horizon))
            first_owed = next((event_id for event_id, entry_id, description, short in rows  # in id order
                               if entry_id is None or _text_passes(sub, description, short)), None)
            rows.close()  # the rest is not read
            through = horizon if first_owed is None else first_owed - 1
            if row.settled_for == key and row.settled_through == through:
                continue
            row.settled_through, row.settled_for = through, key
            session.add(row)
            session.commit()


def start(session: Session, sub: DigestConfig, now: datetime) -> datetime | None:
    """The oldest event `sub` gets: from when it was first seen (now, if it has not been
    recorded yet), less `backfill_days`; None: every event (see Subscription)."""
    row = _recorded(session, sub)
    if row is None and session.get(Subscription, UPGRADED) is not None:
        return None
    first_seen = as_utc(row.first_seen) if row else now
    return first_seen - timedelta(days=sub.backfill_days)


class RenameError(store.StoreError):
    """A `renamed_from` that does not fit the database: the configuration must change (exit 2)."""

    def __init__(self, message: str):
        super().__init__(message, store.EXIT_CONFIG)


def _recorded(session: Session, sub: DigestConfig) -> Subscription | None:
    """`sub`'s row; None when it is not recorded yet (a name given up by a rename and
    used again is a new subscription)."""
    row = session.get(Subscription, sub.name)
    return row if row is not None and row.renamed_to is None else None


def record_subscriptions(engine: Engine, config: Config, now: datetime | None = None) -> None:
    """Remember when each configured subscription was first seen, the cases it has and
    since when (see Subscription, SubscriptionCase), and carry renamed subscriptions over
    (`renamed_from`). Writes nothing when nothing changed.

    Called whenever events may be made or digests built, so a subscription, and a case
    that joins one, starts when it first appears in the configuration docketwatch runs
    with. A `renamed_from` naming no subscription this database knows is a RenameError.
    Its cases are read as columns: every poll and every minute's outbox call it, with up
    to 10,000 cases (bench/startup.py).
    """
    now = now or utcnow()
    table = core_table(SubscriptionCase)
    with Session(engine) as session:
        rows = {row.name: row for row in session.exec(select(Subscription))}
        names = [d.name for d in config.digests] + [d.renamed_from for d in config.digests if d.renamed_from]
        members: Members = defaultdict(dict)
        for name, court, number, joined in session.execute(
                select_columns(table.c.subscription, table.c.court, table.c.docket_number, table.c.joined_at)
                .where(table.c.subscription.in_(names))):
            members[name][(court, number)] = joined
        try:
            if _record(session, config, rows, members, now):
                session.commit()
        except IntegrityError:  # another process recorded them at the same moment
            session.rollback()


# Per subscription name: its cases (court, docket number) and when each joined it.
Members = dict[str, dict[tuple[str, str], datetime | None]]


def _record(session: Session, config: Config, rows: dict[str, Subscription], members: Members,
            now: datetime) -> bool:
    """`record_subscriptions`' changes, in `session`; whether there were any."""
    table = core_table(SubscriptionCase)
    changed = False
    # A database that has recorded no subscription (a new one, or a move to PostgreSQL) has
    # nothing to carry: a `renamed_from` left in the file does nothing there.
    if any(name != UPGRADED for name in rows):
        for sub in config.digests:
            if sub.renamed_from is not None:
                changed |= _carry(session, config, rows, members, sub)
    upgraded = rows.get(UPGRADED)
    fresh_any = False
    for sub in config.digests:
        row = rows.get(sub.name)
        fresh = row is None or row.renamed_to is not None  # first seen (or a name given up, used again)
        if fresh:
            first_seen = upgraded.first_seen if upgraded else now
            row = rows[sub.name] = session.merge(Subscription(name=sub.name, first_seen=first_seen,
                                                              cases_recorded=True))
            fresh_any = changed = True
        assert row is not None
        # Cases it has when first seen (or first recorded after the upgrade) are its own
        # from its start; one that joins later, from now.
        joined = None if fresh or not row.cases_recorded else now
        have = members[sub.name]
        wanted = {(c.court, c.docket_number) for c in config.subscribed_cases(sub)}
        if added := sorted(wanted - have.keys()):
            session.execute(insert(table), [{"subscription": sub.name, "court": court, "docket_number": number,
                                             "joined_at": joined} for court, number in added])
            changed = True
        # A case that leaves it is forgotten: added again, it joins afresh.
        if gone := sorted(have.keys() - wanted):
            session.execute(delete(table).where(table.c.subscription == sub.name,
                                                tuple_(table.c.court, table.c.docket_number).in_(gone)))
            changed = True
        if not row.cases_recorded:
            row.cases_recorded = changed = True
            session.add(row)
    if upgraded is not None and fresh_any:
        session.delete(upgraded)
    return changed


def _carry(session: Session, config: Config, rows: dict[str, Subscription], members: Members,
           sub: DigestConfig) -> bool:
    """`sub`'s `renamed_from`: the old name's start, cases, digests (sent and pending) and
    links to events become `sub`'s, so it gets what the old name was owed and nothing the
    old name was sent. When `sub` was recorded already (renamed without the key, then
    the key added), the two merge: each case keeps the start it had, under the older
    start of the two. False when it was carried before."""
    assert sub.renamed_from is not None
    old = rows.get(sub.renamed_from)
    where = f"{config.path}: [[digests]] {sub.name!r}: renamed_from = {sub.renamed_from!r}"
    if old is None or old.name == UPGRADED:
        raise RenameError(f"{where}: this database has no subscription of that name; remove the key (a "
                          "subscription is recorded when check, digest or run first sees it)")
    if old.renamed_to == sub.name:
        return False
    if old.renamed_to is not None:
        raise RenameError(f"{where}: that subscription was renamed to {old.renamed_to!r} already; remove the key")
    target = rows.get(sub.name)
    theirs, ours = members[old.name], members[sub.name]
    if target is None or target.renamed_to is not None:
        target = rows[sub.name] = session.merge(Subscription(name=sub.name, first_seen=old.first_seen,
                                                             cases_recorded=old.cases_recorded))
        ours.clear()
    else:
        # A case only the new name had keeps the start it had there.
        own_start = as_utc(target.first_seen) - timedelta(days=sub.backfill_days)
        for key, joined in ours.items():
            ours[key] = theirs[key] if key in theirs else (joined or own_start)
        target.first_seen = min(as_utc(target.first_seen), as_utc(old.first_seen))
        session.add(target)
    ours.update((key, joined) for key, joined in theirs.items() if key not in ours)
    theirs.clear()
    table = core_table(SubscriptionCase)
    session.execute(delete(table).where(table.c.subscription.in_([old.name, sub.name])))
    if ours:
        session.execute(insert(table), [{"subscription": sub.name, "court": court, "docket_number": number,
                                         "joined_at": joined} for (court, number), joined in ours.items()])
    had = select(DigestEvent.event_id).where(col(DigestEvent.subscription) == sub.name)
    session.execute(delete(DigestEvent).where(col(DigestEvent.subscription) == old.name,
                                              col(DigestEvent.event_id).in_(had)))
    session.execute(update(DigestEvent).where(col(DigestEvent.subscription) == old.name)
                    .values(subscription=sub.name))
    session.execute(update(Digest).where(col(Digest.subscription) == old.name).values(subscription=sub.name))
    # A digest that could not be built under the old name: its recovery is announced under the new one.
    if session.get(HealthAlert, DIGEST_JOB + sub.name) is None:
        session.execute(update(HealthAlert).where(col(HealthAlert.job) == DIGEST_JOB + old.name)
                        .values(job=DIGEST_JOB + sub.name))
    old.renamed_to = sub.name
    session.add(old)
    log.info("subscription %r renamed to %r: its start, cases and digests carried over", old.name, sub.name)
    return True


def passes_filters(sub: DigestConfig, entry: Entry | None) -> bool:
    """Include/exclude keywords, matched case-insensitively against the entry's text.

    Events without an entry (case changes, gaps, errors) are about the monitoring, not a
    filing, and always pass.
    """
    return entry is None or _text_passes(sub, entry.description, entry.short_description)


def _text_passes(sub: DigestConfig, description: str, short_description: str | None) -> bool:
    text = f"{description} {short_description or ''}".lower()
    if sub.include and not any(word.lower() in text for word in sub.include):
        return False
    return not any(word.lower() in text for word in sub.exclude)


def pending_counts(session: Session, config: Config, cases: list[CaseConfig], ids: dict[str, int]) -> dict[str, int]:
    """By case label: events of the case not yet delivered to every subscription that
    wants them (one query per subscription, not per case). A subscription to every case
    is owed the announcements of cases found by `[[discover]]` rules too, so they count
    for each of its cases. `ids`: the stored cases' ids by label (`store.case_ids`)."""
    now = utcnow()
    pending: dict[str, set[int]] = {c.label: set() for c in cases}
    for sub in config.digests:
        subscribed = config.subscribed_cases(sub)
        labels = {c.label for c in subscribed}
        chosen = [c for c in cases if c.label in labels]
        query = _events_query(session, sub, [ids[c.label] for c in chosen if c.label in ids],
                              config.recipients[sub.name], now, until=None, undelivered=True, among=None,
                              settled=settled_key(sub, subscribed, config.recipients[sub.name]))
        by_case: dict[int, set[int]] = defaultdict(set)
        announced: set[int] = set()
        # Columns, not objects: counting 20,000 events needs no Event or Entry built.
        for event_id, case_id, kind, entry_id, description, short in session.execute(query.with_only_columns(
                col(Event.id), col(Event.case_id), col(Event.kind), col(Event.entry_id), col(Entry.description),
                col(Entry.short_description))):
            if entry_id is None or _text_passes(sub, description, short):
                by_case[case_id].add(event_id)
                if kind == EventKind.NEW_CASE and "*" in sub.cases:
                    announced.add(event_id)
        for c in chosen:
            pending[c.label] |= announced | (by_case[ids[c.label]] if c.label in ids else set())
    return {label: len(events) for label, events in pending.items()}


@dataclass
class Unconfigured:
    """A recorded subscription no longer in the configuration (renamed without
    `renamed_from`, or removed): what it was not sent."""

    name: str
    events: int  # events of its cases since its last digest, not in any of its digests
    pending: int  # deliveries of its digests still pending


def unconfigured(session: Session, config: Config) -> list[Unconfigured]:
    """Recorded subscriptions missing from `config`, until given up (`digest --forget`) or
    carried (`renamed_from`): so a rename without the key is not silent, even when the old
    name owed nothing (the new one starts afresh, `backfill_days` included). A query or
    two per such subscription."""
    names = {d.name for d in config.digests}
    out = []
    for row in session.exec(select(Subscription).where(col(Subscription.renamed_to).is_(None),
                                                       col(Subscription.name) != UPGRADED).order_by(Subscription.name)):
        if row.name in names:
            continue
        last = session.exec(select(func.max(Digest.period_end)).where(col(Digest.subscription) == row.name)).one()
        since = max(as_utc(row.first_seen), as_utc(last)) if last else as_utc(row.first_seen)
        member = and_(col(SubscriptionCase.subscription) == row.name, col(SubscriptionCase.court) == Case.court,
                      col(SubscriptionCase.docket_number) == Case.docket_number)
        taken = select(DigestEvent.event_id).where(col(DigestEvent.subscription) == row.name)
        events = session.exec(
            select(func.count(col(Event.id))).join(Case, col(Case.id) == Event.case_id).join(SubscriptionCase, member)
            .where(col(Event.created_at) >= since,
                   or_(col(SubscriptionCase.joined_at).is_(None), col(Event.created_at) >= SubscriptionCase.joined_at),
                   col(Event.id).not_in(taken))).one()
        pending = session.exec(select(func.count(col(Delivery.id))).join(Digest, col(Digest.id) == Delivery.digest_id)
                               .where(col(Digest.subscription) == row.name, col(Delivery.status) == "pending")).one()
        out.append(Unconfigured(row.name, events, pending))
    return out


# -- the model ----------------------------------------------------------------


@dataclass
class CalendarLine:
    """A hearing, conference, trial or deadline coming up, as a digest lists it."""

    when: str  # "2026-11-25 10:00 PST" or "2026-11-25" (all day)
    what: str  # the docket's own words: "Motion Hearing"
    kind: str
    cancelled: bool

    @classmethod
    def of(cls, item: Item, zone: ZoneInfo | None) -> CalendarLine:
        """`zone`: the court's time zone, None when unknown (`courts.court_timezone`)."""
        when = item.on.isoformat()
        if item.at is not None:
            moment = datetime.combine(item.on, item.at, tzinfo=zone)
            when += f" {item.at:%H:%M}" + (f" {moment.tzname()}" if zone else "")
        return cls(when=when, what=item.label, kind=item.kind.value, cancelled=item.cancelled)


@dataclass(kw_only=True)
class CaseSection(CaseChanges):
    """One case in a digest: its facts and what happened to it."""

    name: str
    court: str
    court_name: str
    docket_number: str
    url: str | None
    # Dates from the docket text in the next UPCOMING_DAYS days (see add_upcoming).
    upcoming: list[CalendarLine] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # dockets its filings link to (appeal, transfer, ...)


@dataclass
class DigestModel:
    """Everything a digest says; the templates render this and nothing else."""

    title: str
    period_start: datetime
    period_end: datetime
    timezone: str
    cases: list[CaseSection]
    warnings: list[str] = field(default_factory=list)
    new_cases: list[str] = field(default_factory=list)  # found by [[discover]] rules

    def _total(self, attribute: str) -> int:
        return sum(len(getattr(c, attribute)) for c in self.cases)

    @property
    def new_count(self) -> int:
        return self._total("new")

    @property
    def changed_count(self) -> int:
        return self._total("changed")

    @property
    def period(self) -> str:
        zone = ZoneInfo(self.timezone)
        start, end = (m.astimezone(zone).strftime("%Y-%m-%d %H:%M") for m in (self.period_start, self.period_end))
        return f"{start} to {end} ({self.timezone})"

    @property
    def summary(self) -> str:
        """The default subject, e.g. `Kadrey v. Meta: 2 new filings, 1 updated` or
        `docketwatch: 5 new filings in 3 cases`."""
        parts = [
            _plural(self.new_count, "new filing"),
            f"{self.changed_count} updated" if self.changed_count else "",
            _plural(self._total("case_changes"), "case change"),
            _plural(self._total("gaps"), "possible gap"),
            _plural(self._total("errors"), "source error"),
            _plural(self._total("links"), "linked docket"),
            _plural(len(self.new_cases), "new case"),
        ]
        what = ", ".join(p for p in parts if p) or "no news"
        if len(self.cases) == 1 and not self.new_cases:
            return f"{self.cases[0].name}: {what}"
        return f"docketwatch: {what}" + (f" in {_plural(len(self.cases), 'case')}" if self.cases else "")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}" if n else ""


def build_model(config: Config, title: str, cases: list[StoredCase], items: list[tuple[Event, Entry | None]],
                start: datetime, end: datetime, warnings: list[str]) -> DigestModel:
    """Group events by case (in the order of `cases`), entries newest first.

    An entry both new and changed within one digest is shown once, as new, with its
    current text; several changes of one entry are shown together.
    """
    sections = []
    by_identity = {(c.court, c.docket_number): c for c in config.cases}
    by_case: dict[int | None, list[tuple[Event, Entry | None]]] = defaultdict(list)
    for pair in items:
        by_case[pair[0].case_id].append(pair)
    for case in cases:
        section = _section(config, case, by_identity.get((case.court, case.docket_number)))
        new: dict[int | None, tuple[Entry, Event]] = {}
        changed: dict[int | None, tuple[Entry, Event, list[str]]] = {}
        for event, entry in by_case.get(case.id, []):
            if event.kind == EventKind.NEW and entry is not None:
                new[entry.id] = (entry, event)
            elif event.kind == EventKind.CHANGED and entry is not None:
                changes = changed.setdefault(entry.id, (entry, event, []))[2]
                changes.extend(c for c in event.changes or [] if c not in changes)
            elif event.kind == EventKind.CASE:
                section.case_changes.append(event.summary)
            elif event.kind == EventKind.GAP:
                section.gaps.append(event.summary)
            elif event.kind == EventKind.ERROR:
                section.errors.append(event.summary)
            elif event.kind == EventKind.LINKED:
                section.links.append(event.summary)
        section.new = [_item(entry, event) for entry, event in _newest_first(new.values())]
        section.changed = [_item(entry, event, changes) for entry, event, changes in _newest_first(changed.values())
                           if entry.id not in new]
        if section.anything or section.links:
            sections.append(section)
    new_cases = [event.summary for event, _ in items if event.kind == EventKind.NEW_CASE]
    return DigestModel(title=title, period_start=start, period_end=end, timezone=config.timezone,
                       cases=sections, warnings=warnings, new_cases=new_cases)


_Row = TypeVar("_Row", bound=tuple[Entry, *tuple[Any, ...]])


def _newest_first(rows: Iterable[_Row]) -> list[_Row]:
    """(entry, ...) tuples, the latest filing first."""
    return sorted(rows, key=lambda row: row[0].recency(), reverse=True)


def _section(config: Config, case: StoredCase, configured: CaseConfig | None) -> CaseSection:
    """The case's facts; its court's name and its link from its sources (from every
    source in use for a case that is not configured, like preview's samples)."""
    sources = [config.source_plugins[n] for n in configured.sources] if configured else config.source_plugins.values()
    court_name = next((name for s in sources if (name := s.court_name(case.court))), case.court)
    url = next((url for s in sources if (url := s.case_url(case))), None)
    return CaseSection(name=case.name, court=case.court, court_name=court_name,
                       docket_number=case.docket_number, url=web_link(url))


def _item(entry: Entry, event: Event, changes: list[str] | None = None) -> EntryView:
    return EntryView(number=entry.entry_number, date_filed=entry.date_filed, date_entered=entry.date_entered,
                     text=entry.description or entry.short_description or "", url=web_link(entry.url),
                     source=event.source, changes=changes or [])


def web_link(url: str | None) -> str | None:
    """`url` when it is an http(s) link, else None: links come from feeds, and a
    `javascript:` or `data:` one must never become clickable in a digest."""
    if not url or not url.isprintable() or " " in url:
        return None
    parts = urlsplit(url)
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def monitoring_warnings(session: Session, config: Config, cases: list[CaseConfig], now: datetime) -> list[str]:
    """What a reader should know about how complete the digest is: stale cases, warnings
    from the latest polls, and what each source says (a feed missing entry types, a spent
    API budget). A query per kind of fact for all the cases, not one per case."""
    warnings: list[str] = []
    ids = store.case_ids(session, cases)
    wanted = list(ids.values())
    successes, failures = store.last_runs(session, ok=True, case_ids=wanted), \
        store.last_runs(session, ok=False, case_ids=wanted)
    by_source = {name: (store.last_runs(session, ok=True, source=name, case_ids=wanted),
                        store.last_runs(session, ok=False, source=name, case_ids=wanted))
                 for name in sorted({s for c in cases for s in c.sources})}
    for case in cases:
        if (case_id := ids.get(case.label)) is None:
            continue
        last, success_run = store.latest_run(successes.get(case_id), failures.get(case_id)), successes.get(case_id)
        success = as_utc(success_run.started_at) if success_run else None
        if case.paused:
            since = f"{success:%Y-%m-%d %H:%M} UTC" if success else "it was paused"
            warnings.append(f"{case.name}: paused, not checked since {since} (`docketwatch resume` watches it again)")
        elif last and success is None:
            warnings.append(f"{case.name}: never checked successfully; the latest error: {last.error}")
        elif success is not None and now - success > STALE_AFTER:
            warnings.append(f"{case.name}: last successful check {success:%Y-%m-%d %H:%M} UTC, "
                            f"{(now - success).days} days ago; new filings may be missing")
        for name in case.sources:
            ok, failed = by_source[name][0].get(case_id), by_source[name][1].get(case_id)
            if ok and ok.warning and store.latest_run(ok, failed) is ok:
                warnings.append(f"{case.name}: {ok.warning}")
    for name, source in config.source_plugins.items():
        if served := [c for c in cases if name in c.sources]:
            warnings += source.digest_warnings(session, served)
    return list(dict.fromkeys(warnings))


# -- drafts ------------------------------------------------------------------


@dataclass
class Draft:
    """A digest that is due, before it is stored: its subscription, model and events."""

    subscription: DigestConfig
    model: DigestModel
    event_ids: list[int]


def draft(session: Session, config: Config, sub: DigestConfig, now: datetime) -> Draft | None:
    """The digest due now for `sub`, or None: nothing due, or nothing to say."""
    latest = session.exec(select(func.max(Digest.period_end)).where(col(Digest.subscription) == sub.name)).one()
    last = as_utc(latest) if latest else None
    until = cutoff(sub.schedule, last, now, ZoneInfo(config.timezone))
    if until is None:
        return None
    cases = config.subscribed_cases(sub)
    items = events_for(session, sub, cases, config.recipients[sub.name], now, until=until)
    if not items:
        return None
    start = last or min(as_utc(event.created_at) for event, _ in items)
    rows = store.find_cases(session, cases)
    model = build_model(config, sub.name, rows, items, start, until, monitoring_warnings(session, config, cases, now))
    add_upcoming(session, config, model, now)
    return Draft(sub, model, [event.id for event, _ in items if event.id is not None])


def add_upcoming(session: Session, config: Config, model: DigestModel, now: datetime) -> None:
    """List, in each case of the digest, the hearings and deadlines of the next
    UPCOMING_DAYS days (from today in the configured time zone), read from its docket."""
    from docketwatch.pipeline import calendar  # its grammar's regexes: not for commands that build no digest

    today = now.astimezone(ZoneInfo(config.timezone)).date()
    by_identity = {(c.court, c.docket_number): c for c in config.cases}
    for section in model.cases:
        if (case := by_identity.get((section.court, section.docket_number))) is not None:
            zone = court_timezone(case.court)
            items = calendar.upcoming(session, case, today, UPCOMING_DAYS)
            section.upcoming = [CalendarLine.of(i, zone) for i in items]


def preview(session: Session, config: Config, now: datetime | None = None) -> DigestModel:
    """A digest of the latest stored events of the configured cases, or of sample
    entries when there are none, to see what digests look like."""
    now = now or utcnow()
    rows = store.find_cases(session, config.cases)
    query = (select(Event, Entry).join(Entry, col(Event.entry_id) == Entry.id, isouter=True)
             .where(or_(col(Event.case_id).in_([r.id for r in rows]), col(Event.kind) == EventKind.NEW_CASE))
             .order_by(col(Event.id).desc()).limit(PREVIEW_EVENTS))
    items: list[tuple[Event, Entry | None]] = list(session.exec(query))
    if not items:
        rows, items = _sample()
        return build_model(config, "Preview (sample entries)", rows, items, now - timedelta(days=1), now, [])
    start = min(as_utc(event.created_at) for event, _ in items)
    model = build_model(config, "Preview", rows, items, start, now,
                        monitoring_warnings(session, config, config.cases, now))
    add_upcoming(session, config, model, now)
    return model


def _sample() -> tuple[list[StoredCase], list[tuple[Event, Entry | None]]]:
    """Real docket entries shipped with the package, as unsaved rows."""
    text = resources.files("docketwatch.data").joinpath("sample_entries.json").read_text(encoding="utf-8")
    cases: list[StoredCase] = []
    items: list[tuple[Event, Entry | None]] = []
    for case_id, c in enumerate(json.loads(text)["cases"], start=1):
        cases.append(StoredCase(id=case_id, court=c["court"], docket_number=c["docket_number"], name=c["name"],
                                source_ids={"courtlistener": str(c["courtlistener_id"])}))
        for e in c["entries"]:
            entry = Entry(id=len(items) + 1, case_id=case_id, key="", content_hash="", entry_number=e["entry_number"],
                          date_filed=date.fromisoformat(e["date_filed"]) if e["date_filed"] else None,
                          description=e["text"], url=e["url"])
            items.append((Event(case_id=case_id, entry_id=entry.id, kind=e["event"], source=c["source"],
                                summary=e.get("change", ""), changes=[e["change"]] if "change" in e else None),
                          entry))
        if c.get("gap"):
            items.append((Event(case_id=case_id, kind=EventKind.GAP, source=c["source"], summary=c["gap"]), None))
    return cases, items
