"""The diff engine: the only place where a fetched snapshot meets the store.

It checks the snapshot first (right docket; not suddenly empty) and raises before
writing anything, so a bad fetch never looks like "everything was removed". A docket
that has no entries yet (a new case) is a valid, quiet state; a source that showed
entries before and now shows none is not. Then it upserts
entries (entries are never deleted: a docket only grows) and appends events for
what a person should hear about. The caller commits (the poll: a savepoint per case and source).

The same entry reaches us in several renderings (the CourtListener API with markup and
entities, its Atom feed as plain text, a court's RSS feed with only the short text), so
texts are compared by their words (`words`): markup dropped, entities decoded,
whitespace collapsed, case and trailing punctuation ignored. Switching sources therefore
reports nothing, and a rendering with the same words never overwrites the stored text
(which is kept as the source gave it, whitespace collapsed; renderers escape it).
A minute (unnumbered) entry has no number every source shares: a second source's
rendering of one is paired with the stored entry by day and words (`_pair_minutes`) and
its key kept as an alias, so it is one entry, reported once.

A new or newly worded entry that names a linked docket (an appeal's USCA number, a
transfer, a remand, an MDL transfer: domain/links.py) is announced once ("linked"
event, a suggestion to watch it) unless `follow` is "off". Gaps come only from a window
that no longer overlaps the store or a feed read after an outage, never from entry
numbers: an MDL numbers its documents differently from its member cases (recap#406),
so jumps in numbering say nothing.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from docketwatch import store
from docketwatch.domain import docket_numbers, links
from docketwatch.domain.changes import CaseChanges
from docketwatch.domain.events import EventKind
from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry, Snapshot
from docketwatch.store.models import (
    Case,
    CaseFact,
    Entry,
    EntryAlias,
    Event,
    StoredCase,
    Suggestion,
    as_utc,
    core_table,
    utcnow,
)


class SnapshotError(ValueError):
    """A fetch that must not be stored (wrong docket, empty, unparseable)."""


@dataclass(kw_only=True)
class DiffResult(CaseChanges):
    """What one snapshot changed: what is reported (the summary), and what was stored."""

    baseline: bool = False
    added: int = 0  # entries stored for the first time, reported or not
    updated: int = 0  # stored entries that changed, reported or not
    # New to docketwatch but filed before it watched the case (a source's first read, or
    # its resumption): history, stored quietly, like a baseline's entries.
    earlier: int = 0
    empty: bool = False  # no entry of the case is known yet: a new docket, not a failure


def entry_key(source: str, parsed: ParsedEntry) -> str:
    """Identity of an entry within its case, the same whichever source shows it.

    Numbered entries are known by number. An unnumbered (minute) entry is known by the
    source's own id where it has one, else by the moment it was entered (a court feed's
    pubDate: two "Order" entries of one day are two) or, without one, its date, and a
    hash of its text; so each source keys a minute entry its own way, and `_pair_minutes`
    decides when a second source's key names a stored entry (kept in EntryAlias).
    """
    if parsed.entry_number:
        return f"#{parsed.entry_number.strip().lstrip('0') or '0'}"
    if parsed.source_id:
        return f"{source}:{parsed.source_id}"
    if parsed.filed_at is not None:
        return f"{parsed.filed_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}:{_text_digest(parsed)}"
    return _dated_key(parsed)


def _page_keys(source: str, entries: list[ParsedEntry]) -> list[tuple[str, ParsedEntry]]:
    """The keys of a saved docket page's rows, which it lists in the docket's order. Rows
    that share a key are separate filings: a bankruptcy docket numbers two rows 1, a
    clerk enters the same minute entry twice in a day. The second and later get their
    place among them ("#1/2"), which the same page, or a later one, gives them again.
    Only a saved page: a source's own order (CourtListener pages by modification time)
    is not the docket's, so there a repeated key stays one entry."""
    seen: Counter[str] = Counter()
    keyed = []
    for parsed in entries:
        key = entry_key(source, parsed)
        seen[key] += 1
        keyed.append((key if seen[key] == 1 else f"{key}/{seen[key]}", parsed))
    return keyed


def _one_row_per_key(keyed: list[tuple[str, ParsedEntry]], stored: dict[str, Entry]) -> list[tuple[str, ParsedEntry]]:
    """One row of those a source shows under one key (CourtListener's two rows numbered 1
    of a bankruptcy docket; unlike a saved page, its order is not the docket's, so they
    stay one entry): the one whose words are the stored entry's, else the first. Merging
    each into the entry in turn made every poll report its text edited, back and forth."""
    rows: dict[str, list[ParsedEntry]] = {}
    for key, parsed in keyed:
        rows.setdefault(key, []).append(parsed)
    if len(rows) == len(keyed):
        return keyed
    out = []
    for key, shown in rows.items():
        entry = stored.get(key)
        said = words(entry.description or "") if entry is not None else None
        out.append((key, next((p for p in shown if words(p.description or "") == said), shown[0])))
    return out


def _dated_key(parsed: ParsedEntry) -> str:
    """A minute entry's key by its day and words, for a source that gives neither an id
    nor a moment (a court feed's entries had it in releases before: `_claim_dated`)."""
    return f"{parsed.date_filed or parsed.date_entered or 'undated'}:{_text_digest(parsed)}"


def _text_digest(parsed: ParsedEntry) -> str:
    text = _clean(parsed.description or parsed.short_description or "")
    return hashlib.sha256(text.lower().encode()).hexdigest()[:16]


@dataclass
class _Unheard:
    """A new entry stored quietly: `Entry`'s fields that `_merge` fills, without an ORM object."""

    key: str
    entry_number: str | None = None
    date_filed: date | None = None
    date_entered: date | None = None
    description: str = ""
    short_description: str | None = None
    pacer_doc_id: str | None = None
    url: str | None = None
    document_available: bool | None = None
    sealed: bool | None = None
    sources: list[str] = field(default_factory=list)

    @property
    def id(self) -> None:
        return None  # not stored yet (`_merge` reads it)


def content_hash(entry: Entry | _Unheard) -> str:
    """A fingerprint of what a person hears about: the words, document availability, sealing.

    Recomputed on every write. Changes are decided by comparing words (`_merge`), never by
    comparing this with a stored value, so rows hashed by an older release raise no alert.
    """
    basis = f"{words(entry.description or entry.short_description)}\x1f{entry.document_available}\x1f{entry.sealed}"
    return hashlib.sha256(basis.encode()).hexdigest()


_TAG = re.compile(r"<[A-Za-z/!?][^<>]*>")


def words(text: str | None) -> str:
    """What two renderings of one docket text share when they say the same: markup
    dropped, entities decoded, whitespace collapsed, case folded (a text retyped in
    capitals says nothing new), trailing punctuation ignored (the feed drops a final
    period the API keeps)."""
    return _clean(html.unescape(_TAG.sub("", text or ""))).casefold().rstrip(" .,;:")


def apply(
    session: Session, case: Case, snapshot: Snapshot, *, notify_baseline: bool = False, backfill: bool = False,
    normalize: Callable[[str], str] = docket_numbers.normalize, follow: str = "ask", has_stored: bool = True,
    has_facts: bool = True,
) -> DiffResult:
    """Store what `snapshot` shows of `case` and record events; raise SnapshotError
    (having written nothing) when the snapshot must not be trusted.

    `normalize` reads the snapshot's docket number (ValueError: not one) by the rules of
    the source that fetched it; the default is the federal one of PACER files.

    Until the caller sets `case.baseline_at` (after all sources of a case's first
    check), polls are a quiet baseline, unless `notify_baseline`. After it, a source's
    first say of the case (`has_facts=False`: a source added later, or failing at the
    first check), a first read of the whole docket resumed (`snapshot.history`) and a
    backfill (an imported docket report) are history where they show entries filed
    before the watch began (`_watch_began`): those are stored quietly and counted
    (`earlier`), not reported; a filing since, missed by the polls (an outage), is news.
    A backfill may be older than what is stored: it only fills in what stored entries
    lack, quietly, and reports no case change.
    `follow` ("ask", "auto", "off") is what to do with linked dockets (settings.Document).
    `has_stored=False`: the caller knows that no entry of the case is stored (nothing to
    read); `has_facts=False`: that the snapshot's source has recorded no case facts of it.

    Entries stored quietly (a backfill, a quiet baseline) and new go in one Core
    executemany, not one ORM object each: nothing reads them back here.
    """
    assert case.id is not None  # a stored case (store.case_row flushed it)
    if is_first_sight(case, notify_baseline=notify_baseline, backfill=backfill, has_stored=has_stored,
                      has_facts=has_facts):
        sight = first_sight(case, snapshot, normalize)
        store_first_sights(session, [sight])
        return sight.result
    source = snapshot.source
    keyed = _page_keys(source, snapshot.docket.entries) if backfill else \
        [(entry_key(source, p), p) for p in snapshot.docket.entries]
    _check_number(case, snapshot, normalize)
    stored: dict[str, Entry] = {}
    if has_stored:
        _check_not_emptied(session, case, snapshot)
        # Only the entries the snapshot shows are read: a new filing on a docket of 50,000
        # entries costs what the filing costs.
        stored = _stored(session, case.id, [key for key, _ in keyed])
        _claim_dated(session, case.id, source, keyed, stored)
    if not backfill:
        keyed = _one_row_per_key(keyed, stored)
    # Stored minute entries of the days of those the snapshot shows for the first time.
    unknown = [(key, p) for key, p in keyed if key not in stored and not p.entry_number]
    others = _minutes_of_days(session, case.id, [p for _, p in unknown]) if has_stored and unknown else {}
    paired = _pair_minutes(others, unknown, source)
    result = DiffResult(baseline=case.baseline_at is None)
    quiet = result.baseline and not notify_baseline
    # A docket empty until now, shown whole (not a delta: a court feed's items are new
    # arrivals): its first entries are a first read of it, as the API's read of the
    # whole docket is, whichever source shows them.
    first_read = snapshot.history or not has_facts or backfill or (
        not snapshot.delta and not quiet and bool(keyed) and not stored
        and not (has_stored and has_entries(session, case.id)))
    began = _watch_began(case.baseline_at) if first_read and not quiet and case.baseline_at else None

    gap = None if result.baseline else snapshot.gap or _window_gap(session, case.id, snapshot, keyed, stored)
    if gap:
        result.gaps.append(gap)
        _event(session, case, None, EventKind.GAP, source, gap)

    # Events in the snapshot's order, written once the new entries have ids (one flush).
    events: list[tuple[Entry, EventKind, str, list[str] | None]] = []
    fresh = False
    unheard: dict[str, _Unheard] = {}  # new entries stored quietly
    for key, parsed in keyed:
        entry = stored.get(key)
        if entry is None and (entry := paired.get(key)) is not None:
            assert entry.id is not None  # read from the store
            session.add(EntryAlias(case_id=case.id, key=key, entry_id=entry.id))
            stored[key] = entry
        if entry is None and (quiet or _filed_before(parsed, began)):
            if key not in unheard:
                unheard[key] = _Unheard(key=key)
                result.added += 1
                result.earlier += not quiet
            _merge(unheard[key], parsed, source)
            continue
        if entry is None:
            entry = Entry(case_id=case.id, key=key, content_hash="")
            _merge(entry, parsed, source)
            entry.content_hash = content_hash(entry)
            session.add(entry)
            stored[key] = entry
            fresh = True
            result.added += 1
            if not quiet:
                result.new.append(entry.view())
                events.append((entry, EventKind.NEW, f"new entry {_label(entry)}", None))
            continue
        what = _merge(entry, parsed, source, fill_only=backfill)
        entry.content_hash = content_hash(entry)
        if what:
            entry.updated_at = utcnow()
            result.updated += 1
            if not quiet and not backfill:
                result.changed.append(entry.view(what))
                events.append((entry, EventKind.CHANGED, f"entry {_label(entry)}: {'; '.join(what)}", what))
        session.add(entry)
    if fresh:
        session.flush()
    if unheard:
        session.execute(insert(core_table(Entry)), _entry_rows(case.id, unheard.values()))
    for entry, kind, summary, changes in events:
        _event(session, case, entry, kind, source, summary, changes)

    if follow != "off":  # what a new entry, or one whose words changed, links to
        for entry, kind, _, changes in events:
            if kind == EventKind.NEW or {"text filled in", "text edited"} & set(changes or []):
                _record_links(session, case, entry, source, follow)
    result.empty = not stored and not unheard and not has_entries(session, case.id)
    result.case_changes = _case_changes(session, case, snapshot, result.baseline or backfill, has_facts)
    for change in result.case_changes:
        _event(session, case, None, EventKind.CASE, source, change)
    session.add(case)
    session.flush()
    return result


# How long before the watch began a filing a source shows for the first time is still
# news: CourtListener often gets a new case's first documents days after they were filed,
# and someone who starts watching a case they just read about wants to see its complaint.
RECENT = timedelta(days=7)


def _watch_began(baseline_at: datetime) -> date:
    """The first day whose filings are news to a source's first read: RECENT before the
    day the case's baseline ended. What was filed earlier is the docket's history."""
    return as_utc(baseline_at).date() - RECENT


def _filed_before(parsed: ParsedEntry, began: date | None) -> bool:
    """True when the entry is dated before the day the watch began, by the later of its
    dates (filed weeks before, entered today: news); undated: news."""
    if began is None:  # not a source's first read: every new entry is news
        return False
    day = max((d for d in (parsed.date_filed, parsed.date_entered) if d is not None), default=None)
    return day is not None and day < began


def says_nothing_new(case: StoredCase, snapshot: Snapshot, normalize: Callable[[str], str], spoke_before: bool) -> bool:
    """True when `apply` would store nothing: a delta of the right docket without entries,
    gap or case facts, from a source whose case facts are on record (`spoke_before`). The
    poll then skips `apply` (a court feed answering 304 costs no query per case); the
    snapshot's source state is the poll's to store."""
    docket = snapshot.docket
    if docket.entries or not snapshot.delta or snapshot.gap or not spoke_before:
        return False
    if any(getattr(docket, name) is not None for name in _CASE_CHANGES):
        return False
    if docket.pacer_case_id not in (None, case.pacer_case_id):
        return False
    if docket.source_id and case.source_ids.get(snapshot.source) is None:
        return False  # the source's id for the docket is yet to be kept
    if docket.docket_number == case.docket_number:
        return True  # the stored number is normalized already (a court feed copies it)
    try:
        return normalize(docket.docket_number) == case.docket_number
    except ValueError:
        return False


def is_first_sight(case: Case | StoredCase, *, notify_baseline: bool, backfill: bool, has_stored: bool,
                   has_facts: bool) -> bool:
    """Whether `apply` would only store rows, all of them new, and report nothing: a quiet
    baseline (`case.baseline_at` unset, not `notify_baseline`) of a case with no entry
    stored (`has_stored=False`), by a source with no case facts on record (`has_facts=False`).
    Such a snapshot is a `first_sight`, and a poll stores a feed's first sights in bulk."""
    return case.baseline_at is None and not notify_baseline and not backfill and not has_stored and not has_facts


@dataclass
class FirstSight:
    """The rows a first sight of a case stores (`store_first_sights`), and its result."""

    case_id: int
    entries: list[dict[str, Any]]
    fact: dict[str, Any]
    case_values: dict[str, Any]  # the case's columns as the facts shown fill them
    result: DiffResult


def first_sight(case: Case | StoredCase, snapshot: Snapshot, normalize: Callable[[str], str]) -> FirstSight:
    """What `apply` stores of a first sight (`is_first_sight`), read from the snapshot
    alone: no query. SnapshotError when the snapshot is of another docket."""
    assert case.id is not None  # a stored case
    _check_number(case, snapshot, normalize)
    unheard: dict[str, _Unheard] = {}
    for parsed in snapshot.docket.entries:
        key = entry_key(snapshot.source, parsed)
        _merge(unheard.setdefault(key, _Unheard(key=key)), parsed, snapshot.source)
    fact, filled = _first_facts(case, snapshot)
    values = {name: getattr(case, name) for name in _CASE_COLUMNS} | filled
    result = DiffResult(baseline=True, added=len(unheard), empty=not unheard)
    return FirstSight(case.id, _entry_rows(case.id, unheard.values()), fact, values, result)


def store_first_sights(session: Session, sights: list[FirstSight]) -> None:
    """Store first sights: three statements for any number of cases (Core executemany).
    A case's ORM object in the session, if any, is given the values written, as
    unchanged (no second write)."""
    entries = [row for sight in sights for row in sight.entries]
    if entries:
        session.execute(insert(core_table(Entry)), entries)
    session.execute(insert(core_table(CaseFact)), [sight.fact for sight in sights])
    table = core_table(Case)
    columns: dict[str, Any] = {name: bindparam(f"new_{name}") for name in _CASE_COLUMNS}
    session.execute(update(table).where(table.c.id == bindparam("case_id")).values(columns),
                    [{"case_id": s.case_id, **{f"new_{k}": v for k, v in s.case_values.items()}} for s in sights])
    for sight in sights:
        if (row := session.identity_map.get(identity_key(Case, sight.case_id))) is not None:
            for name, value in sight.case_values.items():
                set_committed_value(row, name, value)


def _entry_rows(case_id: int, entries: Iterable[_Unheard]) -> list[dict[str, Any]]:
    """New entries as rows for a Core executemany."""
    now = utcnow()
    return [{**vars(e), "case_id": case_id, "content_hash": content_hash(e), "first_seen": now, "updated_at": now}
            for e in entries]


def origin(snapshot: Snapshot) -> str:
    """Whose case facts a snapshot holds: the source, or the source and its rendering."""
    return f"{snapshot.source}:{snapshot.rendering}" if snapshot.rendering else snapshot.source


def has_entries(session: Session, case_id: int) -> bool:
    return session.exec(select(Entry.id).where(Entry.case_id == case_id).limit(1)).first() is not None


def _stored(session: Session, case_id: int, keys: list[str]) -> dict[str, Entry]:
    """The stored entries of `keys`, by key: their own, or an alias (minute entries only:
    a numbered entry's key is the same from every source)."""
    unique = sorted(set(keys))
    stored: dict[str, Entry] = {}
    for chunk in store.chunks(unique):
        query = select(Entry).where(Entry.case_id == case_id, col(Entry.key).in_(chunk))
        stored.update((e.key, e) for e in session.exec(query))
    for chunk in store.chunks([key for key in unique if not key.startswith("#") and key not in stored]):
        aliased = (select(EntryAlias.key, Entry).join(Entry, col(Entry.id) == EntryAlias.entry_id)
                   .where(EntryAlias.case_id == case_id, col(EntryAlias.key).in_(chunk)))
        stored.update((key, e) for key, e in session.exec(aliased))
    return stored


def _claim_dated(session: Session, case_id: int, source: str, keyed: list[tuple[str, ParsedEntry]],
                 stored: dict[str, Entry]) -> None:
    """Minute entries a court feed stored under their day and words (`_dated_key`, before
    their moment was part of the key) are known again under their new key: of the items
    that share a day and words, the earliest is the stored one (it came first), and it
    is added to `stored` and recorded as an alias; the later ones (which the old key
    folded into the first, and never reported) are new. Only the earliest of all the
    snapshot's items with that day and words may claim, so an item seen later never takes
    an entry another item already holds."""
    timed = [(key, p) for key, p in keyed if p.filed_at is not None and not p.entry_number and not p.source_id]
    earliest: dict[str, tuple[datetime, str]] = {}
    for key, p in timed:
        assert p.filed_at is not None
        dated = f"{p.filed_at.date()}:{_text_digest(p)}"  # dated as they did: in the zone the feed stated
        earliest[dated] = min(earliest.get(dated, (p.filed_at, key)), (p.filed_at, key))
    wanted = {dated: key for dated, (_, key) in earliest.items() if key not in stored}
    if not wanted:
        return
    for dated, entry in _stored(session, case_id, list(wanted)).items():
        if entry.key == dated and source in entry.sources:
            assert entry.id is not None  # read from the store
            session.add(EntryAlias(case_id=case_id, key=wanted[dated], entry_id=entry.id))
            stored[wanted[dated]] = entry


def _days(entry: ParsedEntry | Entry) -> set[date]:
    """The days of a minute entry, shown or stored: its date filed and its date entered."""
    return {day for day in (entry.date_filed, entry.date_entered) if day is not None}


def _minutes_of_days(session: Session, case_id: int, unknown: list[ParsedEntry]) -> dict[date, list[Entry]]:
    """The stored minute entries that `_pair_minutes` may pair with the `unknown` minute
    entries, under each of their days (`_days`): those filed or entered on the days of
    the unknown ones. A history report's entry filed on the 18th and entered on the 22nd
    is the court feed's item of the 22nd. Read through the case's indexes by day
    (ix_entry_case_day) and by date entered (ix_entry_case_entered), not its whole docket."""
    days = sorted(set().union(*map(_days, unknown)))
    found: dict[int | None, Entry] = {}
    for chunk in store.chunks(days):
        for on_day in (Entry.day().in_(chunk), col(Entry.date_entered).in_(chunk)):
            found.update((e.id, e) for e in session.exec(select(Entry).where(Entry.case_id == case_id, on_day)))
    by_day: dict[date, list[Entry]] = {}
    for e in found.values():
        if not e.entry_number:
            for day in _days(e):
                by_day.setdefault(day, []).append(e)
    return by_day


def _pair_minutes(others: dict[date, list[Entry]], unknown: list[tuple[str, ParsedEntry]],
                  source: str) -> dict[str, Entry]:
    """The stored minute entries that the `unknown` ones (minute entries `source` shows
    under keys not stored) are, by key. An entry pairs with a stored minute entry of its
    own day (`_same_day`) that `source` has not shown (a source keys each of its entries
    apart) and whose words agree (`_same_words`), and only where the choice cannot be
    wrong: the entries that agree with a set of stored ones agree with all of it and with
    nothing else, and are as many (one and one; or two "Scheduling Order" entries of one
    day, from each source, paired in the order they came, which no reader can tell apart).

    A wrong pairing can hide a filing (a subscription to "new" events sees the second
    filing only as the first one's text filled in), a missed one repeats an alert: so
    nothing pairs but the same words of the same day, and never when the choice is
    ambiguous (one "Order" of a feed against two of CourtListener's), unless one of the
    stored entries has the very docket text the entry has and none other does
    (`_by_docket_text`): a feed's short text and a docket report's full text, stored
    apart, then meet in CourtListener's entry, which has both.
    """
    shown = dict(unknown)
    agree = {key: {e.id: e for day in days for e in others.get(day, []) if source not in e.sources and _pairs(e, p)}
             for key, p in unknown if (days := _days(p))}
    paired = _by_docket_text(agree, shown)
    taken = {e.id for e in paired.values()}
    agree = {key: {i: e for i, e in matches.items() if i not in taken}
             for key, matches in agree.items() if key not in paired}
    for key, matches in agree.items():
        if not matches or key in paired:
            continue
        group = [k for k, m in agree.items() if m.keys() & matches.keys()]
        if len(group) == len(matches) and all(agree[k].keys() == matches.keys() for k in group):
            in_order = sorted(group, key=lambda k: (shown[k].filed_at or datetime.min.replace(tzinfo=UTC), k))
            paired.update(zip(in_order, sorted(matches.values(), key=lambda e: e.id or 0), strict=True))
    return paired


def _by_docket_text(agree: dict[str, dict[int | None, Entry]], shown: dict[str, ParsedEntry]) -> dict[str, Entry]:
    """Of the entries that agree with several stored ones, those whose docket text is the
    docket text of exactly one of them, which no other shown entry has: that one."""
    out: dict[str, Entry] = {}
    for key, matches in agree.items():
        text = words(shown[key].description or "")
        if len(matches) < 2 or not text:
            continue
        same = [e for e in matches.values() if words(e.description or "") == text]
        rivals = [k for k, m in agree.items() if k != key and words(shown[k].description or "") == text]
        if len(same) == 1 and not rivals:
            out[key] = same[0]
    return out


def _pairs(entry: Entry, parsed: ParsedEntry) -> bool:
    """Whether a stored minute entry and a shown one are of one day and say the same, or
    the shown one's docket text is what the stored one's short text announced (`_fills_in`)."""
    texts = (entry.description, entry.short_description)
    return (_same_day(entry.date_filed, entry.date_entered, parsed.date_filed, parsed.date_entered)
            and (_same_words(texts, (parsed.description, parsed.short_description)) or _fills_in(entry, parsed)))


def _fills_in(entry: Entry, parsed: ParsedEntry) -> bool:
    """Whether the shown docket text, with no short text of its own, begins with the words
    of the stored entry's short text, and it has only that: CourtListener's free feed
    gives "Hearing Held. Confirmation hearing held on 4/20/2018" for the court feed's
    [Hearing Held]. Only this way round: a court feed's short text reaching an entry
    stored with its docket text stays apart, since pairing it wrongly would hide a filing,
    while pairing the other way wrongly shows one as "text filled in"."""
    short = words(entry.short_description)
    if not short or parsed.short_description or (entry.description and words(entry.description) != short):
        return False
    text = words(parsed.description)
    return len(text) > len(short) and re.match(rf"{re.escape(short)}\b", text) is not None


def _same_day(filed: date | None, entered: date | None, other_filed: date | None, other_entered: date | None) -> bool:
    """Whether two renderings of a minute entry are of one day: the dates filed when both
    have one, else the dates entered when both have one (a court feed knows only that; a
    docket report or history report has both), else one's date filed and the other's date
    entered: each the court's own day (a court feed's, in the court's zone)."""
    if filed and other_filed:
        return filed == other_filed
    if entered and other_entered:
        return entered == other_entered
    if filed:
        return filed == other_entered
    if other_filed:
        return other_filed == entered
    return False


_CUT = re.compile(r"\s*(?:\.\.\.|\u2026)\s*$")
_CUT_WORDS = 5  # the fewest words a text cut short must keep to be taken for a longer one


def _same_words(texts: tuple[str | None, ...], other_texts: tuple[str | None, ...]) -> bool:
    """Whether some text of one rendering (its docket text, its short text) says what some
    text of the other says: the same `words`; or one is marked as cut short ("..." or "…"
    at its end) and what it keeps, at least _CUT_WORDS words, begins the other. A text
    merely shorter is another text ("Order" begins many)."""
    ours = [_kept(t) for t in texts if t and words(t)]
    theirs = [_kept(t) for t in other_texts if t and words(t)]
    for a, a_cut in ours:
        for b, b_cut in theirs:
            if a == b or (a_cut and len(a.split()) >= _CUT_WORDS and b.startswith(a)) \
                    or (b_cut and len(b.split()) >= _CUT_WORDS and a.startswith(b)):
                return True
    return False


def _kept(text: str) -> tuple[str, bool]:
    """A text's words without a mark of being cut short, and whether it had one."""
    cut = _CUT.search(text)
    return words(text[:cut.start()] if cut else text), cut is not None


def _window_gap(session: Session, case_id: int, snapshot: Snapshot, keyed: list[tuple[str, ParsedEntry]],
                stored: dict[str, Entry]) -> str | None:
    """A full window that shares no entry with the store (`stored`: those of its keys
    already stored) may have skipped some."""
    if not snapshot.window or len(keyed) < snapshot.window or stored or not has_entries(session, case_id):
        return None
    return (
        f"{snapshot.source} shows only the latest {snapshot.window} entries and none of them was "
        "stored before: entries filed since the last successful check may have been missed"
    )


def _check_not_emptied(session: Session, case: Case, snapshot: Snapshot) -> None:
    """SnapshotError when a full snapshot shows no entries of a case the source showed entries of."""
    if not snapshot.delta and not snapshot.docket.entries:
        # No entries yet is normal for a new docket; not from a source that showed some.
        held = sum(snapshot.source in sources
                   for sources in session.exec(select(Entry.sources).where(Entry.case_id == case.id)))
        if held:
            raise SnapshotError(
                f"{snapshot.source}: the fetch for {case.name!r} returned no entries, but {held} entries "
                f"from {snapshot.source} are stored; treated as a failed fetch, nothing was changed"
            )


def _check_number(case: Case | StoredCase, snapshot: Snapshot, normalize: Callable[[str], str]) -> None:
    """SnapshotError when the snapshot is of another docket than the case's."""
    try:
        seen: str | None = normalize(snapshot.docket.docket_number)
    except ValueError:
        seen = None
    if seen != case.docket_number:
        known = case.source_ids.get(snapshot.source)
        pinned = f" ({snapshot.source} docket id {known})" if known else ""
        raise SnapshotError(
            f"{snapshot.source}: the docket fetched for {case.name!r}{pinned} has docket number "
            f"{snapshot.docket.docket_number!r}, but the configuration says {case.docket_number!r}; "
            f"nothing was stored. Correct the case's docket_number, or the {snapshot.source} docket id "
            "pinned in its table, in the configuration."
        )


def _merge(entry: Entry | _Unheard, parsed: ParsedEntry, source: str, *, fill_only: bool = False) -> list[str]:
    """Fold what a source shows into the stored entry; return what changed that matters.

    Texts are compared by their words. A short text alone (PACER RSS, or CourtListener
    without docket text) only ever fills an entry that shows nothing yet; a fuller text
    replacing a short one is "text filled in"; other new words are "text edited".
    `fill_only` (a saved report, perhaps older than what is stored): fill in a text, a
    document's availability, a seal only where the entry has none.
    """
    what: list[str] = []
    is_new = entry.id is None
    fill_only = fill_only and not is_new
    incoming = _clean(parsed.description)
    short = _clean(parsed.short_description) or None
    said, short_said = words(incoming), words(short) if short else None  # each read once: a poll merges thousands
    incoming_is_short = said == short_said
    shown = entry.description or entry.short_description
    if incoming and said != (words(shown) if shown else "") and not (incoming_is_short and shown):
        stored_is_short = not entry.description or words(entry.description) == words(entry.short_description)
        if stored_is_short or not fill_only:
            if not is_new:
                what.append("text filled in" if stored_is_short else "text edited")
            entry.description = incoming
    if short and not (entry.short_description and (fill_only or short_said == words(entry.short_description))):
        entry.short_description = short
    if parsed.document_available is not None and parsed.document_available != entry.document_available \
            and not (fill_only and entry.document_available is not None):
        if parsed.document_available and not is_new:
            what.append("document now available")
        entry.document_available = parsed.document_available
    if parsed.sealed is not None and parsed.sealed != entry.sealed and not (fill_only and entry.sealed is not None):
        if not is_new and (parsed.sealed or entry.sealed):
            what.append("document sealed" if parsed.sealed else "document unsealed")
        entry.sealed = parsed.sealed
    entry.entry_number = entry.entry_number or parsed.entry_number
    # A court feed gives only the date entered, so it never fills or replaces a filing date.
    entry.date_filed = entry.date_filed or parsed.date_filed
    entry.date_entered = entry.date_entered or parsed.date_entered
    entry.pacer_doc_id = entry.pacer_doc_id or parsed.pacer_doc_id
    entry.url = (entry.url or parsed.url) if fill_only else (parsed.url or entry.url)
    if source not in entry.sources:
        entry.sources = sorted([*entry.sources, source])
    return what


_CASE_CHANGES: dict[str, Callable[[Any, Any], str]] = {
    "case_name": lambda old, new: f"renamed: {old} -> {new}",
    "assigned_to": lambda old, new: f"reassigned: {old} -> {new}",
    "date_terminated": lambda old, new: f"terminated on {new.isoformat()}",
}
# The case's columns a source's case facts fill (`_first_facts`).
_CASE_COLUMNS = (*_CASE_CHANGES, "pacer_case_id", "source_ids")


def _case_changes(session: Session, case: Case, snapshot: Snapshot, baseline: bool, has_facts: bool) -> list[str]:
    """Record the case facts this source shows; describe those it changed itself.

    Each source (each rendering of one: the CourtListener API and its feed) is compared
    with its own earlier values only, so two sources spelling a name two ways report
    nothing. Quiet on the case's first poll and the first time a source speaks of it
    (after an upgrade, too: the stored case facts may come from another source). A name
    or judge a source starts to give where it gave none is no change; a termination is.
    """
    docket = snapshot.docket
    assert case.id is not None  # a stored case
    fact = session.get(CaseFact, (case.id, origin(snapshot))) if has_facts else None
    changes: list[str] = []
    if fact is None:  # the source speaks of the case for the first time: quiet (Core: no ORM object)
        row, filled = _first_facts(case, snapshot)
        session.execute(insert(core_table(CaseFact)), [row])
        for name, value in filled.items():
            setattr(case, name, value)
        return changes
    changes = _fact_changes(fact, case, docket, quiet=baseline)
    session.add(fact)
    case.pacer_case_id = case.pacer_case_id or docket.pacer_case_id
    if docket.source_id and snapshot.source not in case.source_ids:
        case.source_ids = {**case.source_ids, snapshot.source: docket.source_id}
    return changes


def _first_facts(case: Case | StoredCase, snapshot: Snapshot) -> tuple[dict[str, Any], dict[str, Any]]:
    """A source's first case facts of a case: its CaseFact row, and the case's columns they
    fill (those the case has no value for yet; the source's id for the docket)."""
    docket = snapshot.docket
    shown = {name: getattr(docket, name) for name in _CASE_CHANGES}
    filled = {name: new for name, new in shown.items() if new is not None and getattr(case, name) is None}
    if docket.pacer_case_id and not case.pacer_case_id:
        filled["pacer_case_id"] = docket.pacer_case_id
    if docket.source_id and snapshot.source not in case.source_ids:
        filled["source_ids"] = {**case.source_ids, snapshot.source: docket.source_id}
    return {"case_id": case.id, "source": origin(snapshot), **shown, "updated_at": utcnow()}, filled


def _fact_changes(fact: CaseFact, case: Case, docket: ParsedDocket, *, quiet: bool) -> list[str]:
    """Fold the facts `docket` shows into the source's `fact`; describe those it changed."""
    changes: list[str] = []
    for name, describe in _CASE_CHANGES.items():
        old, new = getattr(fact, name), getattr(docket, name)
        if new is None or (old is not None and _same_fact(old, new)):
            continue  # None: this source does not say
        setattr(fact, name, new)
        fact.updated_at = utcnow()
        reported = not quiet and (old is not None or name == "date_terminated")
        if reported:
            changes.append(describe(old, new))
        if reported or getattr(case, name) is None:
            setattr(case, name, new)
    return changes


def _same_fact(old: object, new: object) -> bool:
    """Names and judges compare by their words (case, spacing, a final period aside)."""
    return words(old) == words(new) if isinstance(old, str) and isinstance(new, str) else old == new


def _event(session: Session, case: Case, entry: Entry | None, kind: EventKind, source: str, summary: str,
           changes: list[str] | None = None) -> None:
    assert case.id is not None  # a stored case
    session.add(Event(case_id=case.id, entry_id=entry.id if entry else None, kind=kind, source=source,
                      summary=summary, changes=changes))


# A linked docket's name in the watchlist: its case's name and how it got there.
_AS = {"appeal": "appeal", "transfer": "transferred", "remand": "remanded", "mdl": "MDL"}
_HINTS = {
    "suggested": " (to watch it: docketwatch add --suggestion {id})",
    "auto": " (follow = auto: added to the watchlist)",
    "watched": " (already watched)",
    "announced": "",
}


def _record_links(session: Session, case: Case, entry: Entry, source: str, follow: str) -> None:
    """Announce each docket the entry's text links to, once: a suggestion and a "linked" event."""
    text = html.unescape(_TAG.sub("", entry.description or entry.short_description or ""))
    for link in links.links(text, case.court, case.docket_number):
        if link.watchable:
            key = f"{link.court}:{link.docket_number}"
        else:  # nothing to watch yet: announced once per entry and link
            key = f"{case.id}:{entry.key}:{link.kind}:{link.court_text or ''}"
        if session.exec(select(Suggestion).where(Suggestion.key == key)).first():
            continue
        watched = link.watchable and session.exec(
            select(Case).where(Case.court == link.court, Case.docket_number == link.docket_number)).first()
        status = ("watched" if watched else "auto" if follow == "auto" else "suggested") if link.watchable \
            else "announced"
        suggestion = Suggestion(key=key, court=link.court, docket_number=link.docket_number, reason=link.kind,
                                case_name=f"{case.name} ({_AS[link.kind]})", from_case_id=case.id, status=status)
        session.add(suggestion)
        session.flush()
        _event(session, case, entry, EventKind.LINKED, source,
               f"entry {_label(entry)}: {link.describe()}{_HINTS[status].format(id=suggestion.id)}")


def _label(entry: Entry) -> str:
    if entry.entry_number:
        return f"#{entry.entry_number}"
    return f"of {entry.date_filed or entry.date_entered or 'unknown date'}"


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())
