"""The tables docketwatch keeps.

Cases and their entries are the current picture; events are the append-only history
of what changed (what digests are made of); check runs record every poll, successful
or not, so a monitor that stopped working shows it. Source state holds what a source
needs between polls (validators for conditional requests, watermarks, throttling).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Column,
    Dialect,
    Index,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    case,
    cast,
    column,
    false,
    func,
    literal,
)
from sqlalchemy.orm import Mapped
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel, col

from docketwatch.domain.changes import EntryView


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored time, zone attached: SQLite hands datetimes back naive, and all are stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime | None) -> str | None:
    """A stored time as people and JSON read it: ISO 8601, UTC, to the second."""
    return as_utc(moment).isoformat(timespec="seconds") if moment else None


class NameList(TypeDecorator[list[str]]):
    """A list of names as JSON in a text column: `Entry.sources`, which began as a
    comma-joined text (migration 0014 rewrote the rows; the column's type is the one it had)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> str | None:
        if isinstance(value, str):  # would be stored as one name and read back as its letters
            raise TypeError(f"a list of names, not the text {value!r}")
        return None if value is None else json.dumps(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> list[str] | None:
        return None if value is None else json.loads(value)


class Case(SQLModel, table=True):
    """A watched docket, identified by court and normalized docket number."""

    __table_args__ = (UniqueConstraint("court", "docket_number"),)

    id: int | None = Field(default=None, primary_key=True)
    court: str
    docket_number: str
    name: str
    case_name: str | None = None
    # Each source's own id for the docket, where it has one ({"courtlistener": "67569326"}):
    # pinned in the configuration, or learned from the source's first answer.
    source_ids: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    pacer_case_id: str | None = None
    assigned_to: str | None = None
    date_terminated: date | None = None
    # Set by the first successful poll; until then a poll records a quiet baseline.
    baseline_at: datetime | None = None


class StoredCase(NamedTuple):
    """A stored case as a poll hands it to sources: `Case`'s columns, read-only. A poll
    of 10,000 cases reads them as plain rows (`store.case_rows`): no ORM object to build
    and track per case, and every read of a column after is a plain attribute's (a poll
    reads a case's columns a dozen times). `diff.apply` loads the `Case` of one that changed."""

    court: str  # court and docket number first: store._stored_rows reads them by position
    docket_number: str
    id: int
    name: str
    source_ids: dict[str, str]
    case_name: str | None = None
    pacer_case_id: str | None = None
    assigned_to: str | None = None
    date_terminated: date | None = None
    baseline_at: datetime | None = None


class CaseFact(SQLModel, table=True):
    """Case-level facts as one source last showed them. Sources spell them differently
    ("Kadrey v. Meta" here, "Kadrey et al v. Meta" there), so a case change is reported
    only when a source changes its own earlier value; `Case` holds what people see."""

    case_id: int = Field(foreign_key="case.id", primary_key=True)
    source: str = Field(primary_key=True)
    case_name: str | None = None
    assigned_to: str | None = None
    date_terminated: date | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class Entry(SQLModel, table=True):
    """One docket entry; `key` is its identity within the case, the same from any source."""

    __table_args__ = (
        UniqueConstraint("case_id", "key"),
        # See `day`; created by migration 0011 (its SQLite form has no NULLS LAST, which SQLite orders so anyway).
        Index("ix_entry_case_day", "case_id", func.coalesce(column("date_filed"), column("date_entered")).desc()
              .nulls_last()),
        # A minute entry shown by its date entered alone (a court feed) finds one stored under its filing date (0017).
        Index("ix_entry_case_entered", "case_id", "date_entered"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    key: str
    entry_number: str | None = None
    date_filed: date | None = None
    # The day the clerk entered it: all a court's RSS feed tells; never taken as date_filed.
    date_entered: date | None = None
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    short_description: str | None = None
    pacer_doc_id: str | None = None
    url: str | None = None
    document_available: bool | None = None
    sealed: bool | None = None
    content_hash: str
    # The sources that showed it, by name, sorted.
    sources: list[str] = Field(default_factory=list, sa_column=Column(NameList, nullable=False))
    first_seen: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    def view(self, changes: list[str] | None = None) -> EntryView:
        """The entry as people are shown it (its latest text)."""
        return entry_view(self.entry_number, self.date_filed, self.description, self.short_description, self.url,
                          self.date_entered, changes)

    @classmethod
    def viewed(cls) -> tuple[Mapped[Any], ...]:
        """The columns `view` reads, in `entry_view`'s order: a read of many entries' views
        (`status` of 10,000 cases) selects these rather than build an Entry per row."""
        return (col(cls.entry_number), col(cls.date_filed), col(cls.description), col(cls.short_description),
                col(cls.url), col(cls.date_entered))

    def recency(self) -> tuple[date, int, int]:
        """Sort key, newest last: filing date (else date entered), then entry number, then arrival."""
        number = int(self.entry_number) if self.entry_number and self.entry_number.isdigit() else -1
        return (self.date_filed or self.date_entered or date.min, number, self.id or 0)

    @classmethod
    def newest_first(cls) -> tuple[ColumnElement[Any], ...]:
        """`recency` as ORDER BY terms, newest first, the same on SQLite and PostgreSQL:
        so the latest entry is one row (LIMIT 1), not a case's whole docket. An entry
        number counts only when it is all digits ("12", not "12a" or "")."""
        digits = (col(cls.entry_number) != "") & (func.trim(cls.entry_number, "0123456789") == "")
        number = case((digits, cast(cls.entry_number, Numeric)), else_=literal(-1))
        return (cls.day().desc().nulls_last(), number.desc(), col(cls.id).desc())

    @classmethod
    def day(cls) -> ColumnElement[Any]:
        """The day an entry counts from: filed, else entered (`recency`), as SQL; indexed
        per case (ix_entry_case_day), so a case's latest entry and "a filing since" are
        index seeks, whatever the length of its docket."""
        return func.coalesce(cls.date_filed, cls.date_entered)


def entry_view(number: str | None, date_filed: date | None, description: str, short_description: str | None,
               url: str | None, date_entered: date | None, changes: list[str] | None = None) -> EntryView:
    """An entry as people are shown it, from its columns (`Entry.viewed`)."""
    return EntryView(number, date_filed, description or short_description or "", url, changes=changes or [],
                     date_entered=date_entered)


class EntryAlias(SQLModel, table=True):
    """Another key under which a source knows a stored entry: a minute entry has no number
    to share, so each source keys it its own way (`diff.entry_key`), and the diff engine
    records here the key of a source that shows an entry another source stored first."""

    case_id: int = Field(foreign_key="case.id", primary_key=True)
    key: str = Field(primary_key=True)
    entry_id: int = Field(foreign_key="entry.id")


class Event(SQLModel, table=True):
    """Something a person may want to hear about. Never updated once written."""

    __table_args__ = (Index("ix_event_case_kind", "case_id", "kind"),)  # a case's latest gap (status)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    entry_id: int | None = Field(default=None, foreign_key="entry.id")
    kind: str  # an events.EventKind
    source: str
    summary: str = Field(sa_column=Column(Text, nullable=False))  # one line for people and logs
    # For a "changed" event, what changed ("text filled in", "document now available", ...).
    changes: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class CheckRun(SQLModel, table=True):
    """One poll of one case by one source."""

    # Each case's latest (successful, failed) run is one index seek (status, digests).
    __table_args__ = (Index("ix_checkrun_case_ok_id", "case_id", "ok", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    source: str = Field(index=True)
    started_at: datetime = Field(default_factory=utcnow, index=True)
    finished_at: datetime | None = None
    ok: bool = False
    error: str | None = Field(default=None, sa_column=Column(Text))
    warning: str | None = Field(default=None, sa_column=Column(Text))
    requests: int = 0
    # Of `requests`, those counted against the source's daily budget.
    quota_requests: int = 0


class SourceState(SQLModel, table=True):
    """What a source keeps between polls for one fetch target (a court's feed, a docket's
    entry list): the source's own `TargetState` model, as JSON."""

    source: str = Field(primary_key=True)
    target: str = Field(primary_key=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Digest(SQLModel, table=True):
    """One digest in the outbox: what it says, rendered and stored before any attempt to send it.

    Where it goes and how that went is in its deliveries, one per recipient. `message_id`
    is the digest's own; each delivery derives its Message-ID from it.
    """

    id: int | None = Field(default=None, primary_key=True)
    subscription: str = Field(index=True)
    channel: str
    message_id: str = Field(unique=True)
    content_hash: str
    subject: str = Field(sa_column=Column(Text, nullable=False))
    # The rendered formats the channel sends, as JSON {"txt": ..., "html": ..., "md": ...}.
    body: str = Field(sa_column=Column(Text, nullable=False))
    period_start: datetime
    period_end: datetime
    created_at: datetime = Field(default_factory=utcnow)

    def rendered(self) -> dict[str, str]:
        """The stored formats, e.g. {"txt": ..., "html": ...}."""
        formats: dict[str, str] = json.loads(self.body)
        return formats

    def address(self, recipients: list[str], now: datetime) -> list[Delivery]:
        """A pending delivery to each recipient (the digest must have its id), each with a
        Message-ID of its own: separate messages to separate people."""
        assert self.id is not None, "address a digest once it is stored"
        local, _, domain = self.message_id.strip("<>").rpartition("@")
        return [Delivery(digest_id=self.id, recipient=r, next_attempt_at=now,
                         message_id=f"<{local}.{hashlib.sha256(r.encode()).hexdigest()[:10]}@{domain}>")
                for r in recipients]


class Delivery(SQLModel, table=True):
    """One digest on its way to one recipient (an address; for Markdown, the folder).

    Status: pending (to send at `next_attempt_at`; past `outbox.max_attempts` failures
    it keeps being retried, and `status` reports it), sent, or dropped (by an operator,
    `docketwatch digest --drop ID`, or when the recipient was removed from the
    subscription: see `outbox.follow_recipients`). Every attempt sends the stored Message-ID, so a
    resend after a crash is the same message. `recipient` is None only for digests
    stored before deliveries existed: the outbox addresses those to the subscription's
    recipients before sending them (they keep the Message-ID that release gave them).
    """

    __table_args__ = (UniqueConstraint("digest_id", "recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    digest_id: int = Field(foreign_key="digest.id", index=True)
    recipient: str | None = None
    message_id: str
    status: str = Field(default="pending", index=True)  # pending | sent | dropped
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    delivered_to: str | None = None
    sent_at: datetime | None = None
    # When the operator was told it failed `outbox.max_attempts` times (once, at or past that count).
    alerted_at: datetime | None = None


class DigestEvent(SQLModel, table=True):
    """The events a digest covers. Unique per subscription: an event goes into at most
    one digest of each subscription, so it is never delivered twice to it."""

    __table_args__ = (UniqueConstraint("subscription", "event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    digest_id: int = Field(foreign_key="digest.id", index=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    subscription: str


class Subscription(SQLModel, table=True):
    """When each `[[digests]]` subscription was first seen: it gets the events from then
    on (less its `backfill_days`), not the history the others already had.

    The row named `UPGRADED` ("") is left by the upgrade of a database that predates this
    table: subscriptions first recorded while it is there keep every event, as they would
    have before (they may be owed them), and the first recording removes it.

    `cases_recorded` is False for rows from before SubscriptionCase: until their first
    recording, and by it, the cases they have then are theirs from their start. `renamed_to` marks
    a name given up by `renamed_from`: its start, cases and digests went to that name.

    `settled_through`: every event with an id up to it is settled for the subscription
    as configured when it was set (`settled_for`, a digest of that configuration): in
    one of its digests with every delivery done, or not wanted. Reads of what it is owed
    start after it, not at its first event (see digests.settle); NULL: nothing is settled.
    """

    name: str = Field(primary_key=True)
    first_seen: datetime
    cases_recorded: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    renamed_to: str | None = None
    settled_through: int | None = None
    settled_for: str | None = None


class SubscriptionCase(SQLModel, table=True):
    """A case a subscription has, and since when: a case that joins an existing
    subscription gets its events from `joined_at`, not the history kept before; NULL: from
    the subscription's own start (a case it had when first seen). Keyed by the case's
    identity, so a case is recorded before its first poll makes its row."""

    subscription: str = Field(primary_key=True)
    court: str = Field(primary_key=True)
    docket_number: str = Field(primary_key=True)
    joined_at: datetime | None = None


UPGRADED = ""


class SchedulerLock(SQLModel, table=True):
    """Who holds the scheduler lock (see lock.py: the lock itself is an OS file lock or
    a PostgreSQL advisory lock, freed when the holder dies). The holder renews
    `heartbeat_at`, so `status` can tell a live `run` from a row a crashed one left.
    A second row, `lock.ONCE`, describes the last `run --once` that finished (for health
    under a timer): `acquired_at` when it started, `heartbeat_at` when it ended."""

    name: str = Field(primary_key=True)
    holder: str  # host:pid, for the message the second `run` prints
    acquired_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow)


# HealthAlert.job of a subscription's digest building: this and the subscription's name.
DIGEST_JOB = "digest:"


class HealthAlert(SQLModel, table=True):
    """Operator alerts per poll job (one when it has failed N times in a row) and per
    subscription whose digest cannot be built (one at the first failure); one more when it
    recovers. The row remembers which was sent last."""

    # The poll job's id, as its source plans it (PlanRow.job_id), or "digest:" and a
    # subscription's name for the building of its digests.
    job: str = Field(primary_key=True)
    failing: bool = False
    # Why it fails (scrubbed), while it does: `status --health` says it.
    error: str | None = Field(default=None, sa_column=Column(Text))
    alerted_at: datetime | None = None
    recovered_at: datetime | None = None


class Suggestion(SQLModel, table=True):
    """A docket worth watching: one a watched case's text links to (an appeal, a transfer,
    an MDL), or one a `[[discover]]` rule found in a court feed. Announced once: `key` is
    `court:docket_number` for a docket that can be watched (whichever way it was found),
    else the link and the entry that named it.

    Status: suggested (`docketwatch add --suggestion ID` watches it), auto (to be added by
    follow = "auto" or a rule's `watch`), watched, or announced (nothing to watch: a
    state court, or a transfer whose new docket number is not known yet).
    """

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    court: str | None = None
    docket_number: str | None = None
    case_name: str | None = None
    # How it was found: a link kind (appeal, transfer, remand, mdl) or "discover".
    reason: str
    rule: str | None = None  # the [[discover]] rule that matched
    from_case_id: int | None = Field(default=None, foreign_key="case.id")  # the case whose text named it
    # The Case row of a discovered docket (its "new_case" event belongs to it).
    case_id: int | None = Field(default=None, foreign_key="case.id")
    status: str = Field(default="suggested", index=True)
    created_at: datetime = Field(default_factory=utcnow)


def core_table(model: type[SQLModel]) -> Table:
    """A model's Core table: an executemany through it does no ORM work per row."""
    return SQLModel.metadata.tables[str(model.__tablename__)]
