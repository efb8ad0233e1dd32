"""Calendars from stored docket entries: items per case, .ics files, and the dates coming up.

Every stored entry counts, whichever source brought it (an `import` backfill too): its
text is read by the grammar in domain/calendar.py, oldest entry first, so later resets
and vacaturs apply to earlier settings. Nothing is stored: the items, their UIDs and
SEQUENCE numbers follow from the entries alone, so each run writes the same files for
the same docket, and a calendar app sees a reset as the same event, moved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from docketwatch import store
from docketwatch.domain.calendar import Action, Item, Mention, fold, mentions
from docketwatch.domain.courts import court_timezone
from docketwatch.domain.text import without_controls
from docketwatch.files import replace_atomically
from docketwatch.settings import CaseConfig, Config
from docketwatch.store.models import Entry, StoredCase, as_utc

if TYPE_CHECKING:
    from icalendar import Event

PRODID = "-//docketwatch//calendar//EN"
# A timed item lasts an hour in calendars (dockets give a start, never an end).
TIMED_LENGTH = timedelta(hours=1)


@dataclass
class CaseCalendar:
    """A case's calendar items, with the entries they came from (for descriptions and stamps)."""

    case: CaseConfig
    items: list[Item]
    entries: dict[str, Entry]


def case_calendar(session: Session, case: CaseConfig) -> CaseCalendar:
    """The calendar of `case` from all its stored entries (empty when it was never polled)."""
    row = store.find_case(session, case)
    if row is None:
        return CaseCalendar(case, [], {})
    found = [(day, key, said) for key, day, text in _texts(session, row) if (said := _mentions(text))]
    # Of one day's entries, those that set a date first: a minute entry has no number to
    # place it among the day's numbered ones, and a reset or vacatur follows what it moves.
    found.sort(key=lambda f: (f[0], min(_ORDER[m.action] for m in f[2])))  # stable: else oldest first
    items = fold(f"{case.court}:{case.docket_number}", [(key, said) for _, key, said in found])
    return CaseCalendar(case, items, _entries(session, row, [key for _, key, _ in found]))


_ORDER = {Action.SET: 0, Action.RESET: 1, Action.VACATED: 2}


def _texts(session: Session, row: StoredCase) -> list[tuple[str, date, str]]:
    """Each entry's key, day and text, oldest first (Entry.recency): plain rows, not an
    Entry object per entry of a long docket."""
    query = (select(Entry.key, Entry.day(), Entry.description, Entry.short_description)
             .where(col(Entry.case_id) == row.id).order_by(*Entry.newest_first()))
    return [(key, day or date.min, description or short or "")
            for key, day, description, short in session.exec(query)][::-1]


@lru_cache(maxsize=1 << 15)
def _mentions(text: str) -> tuple[Mention, ...]:
    """`mentions`, remembered: each digest reads a case's whole docket again (a reset
    applies to a setting made years before), and the grammar is the costly part."""
    return tuple(mentions(text))


def _entries(session: Session, row: StoredCase, keys: list[str]) -> dict[str, Entry]:
    """The entries that gave dates, for the descriptions and stamps of calendar events."""
    return {e.key: e for chunk in store.chunks(keys)
            for e in session.exec(select(Entry).where(col(Entry.case_id) == row.id, col(Entry.key).in_(chunk)))}


def upcoming(session: Session, case: CaseConfig, today: date, days: int = 14) -> list[Item]:
    """The case's items from `today` to `days` later, soonest first; cancelled ones included
    (a reader should know a date is off)."""
    end = today + timedelta(days=days)
    items = [i for i in case_calendar(session, case).items if today <= i.on <= end]
    return sorted(items, key=lambda i: (i.on, i.at is not None, i.at or datetime.min.time()))


# -- .ics -----------------------------------------------------------------------------


@dataclass
class Written:
    """One calendar file written: which, for what, with how many events (how many cancelled)."""

    path: Path
    what: str
    events: int
    cancelled: int


@dataclass
class CalendarFile:
    """One .ics file: its name, what it covers, and the case calendars in it."""

    name: str
    what: str
    calendars: list[CaseCalendar]


def calendar_files(session: Session, config: Config) -> list[CalendarFile]:
    """One .ics per configured case and one per subscription (its cases together): what
    `calendar --out` writes and `serve` serves, under the same names."""
    calendars = {c.label: case_calendar(session, c) for c in config.cases}
    files = [CalendarFile(f"{_slug(case.court + '-' + case.docket_number)}.ics", case.label, [calendars[case.label]])
             for case in config.cases]
    files += [CalendarFile(f"subscription-{_slug(sub.name)}.ics", f"subscription {sub.name}",
                           [calendars[c.label] for c in config.subscribed_cases(sub)]) for sub in config.digests]
    return files


def write_calendars(session: Session, config: Config, out: Path) -> list[Written]:
    """Every calendar file (see `calendar_files`) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    return [_write(out / f.name, f.what, f.calendars, config) for f in calendar_files(session, config)]


def _write(path: Path, what: str, calendars: list[CaseCalendar], config: Config) -> Written:
    replace_atomically(path, to_ics(what, calendars, config))  # a calendar app never sees half a file
    items = [i for c in calendars for i in c.items]
    return Written(path, what, len(items), sum(i.cancelled for i in items))


def to_ics(name: str, calendars: list[CaseCalendar], config: Config) -> bytes:
    """An iCalendar file of the cases' items: timed events in the court's zone (TZID) where
    the text gives a time, all-day events otherwise; a vacated item stays, CANCELLED.
    icalendar escapes and folds text values; the control characters RFC 5545 forbids in
    them (some docket texts carry \x1b, \x01 ...) are left out here."""
    from icalendar import Calendar  # only `calendar` writes files: digests and `run` need not load it

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", without_controls(f"docketwatch: {name}"))
    for c in calendars:
        for item in c.items:
            cal.add_component(_event(c, item))
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data


def _event(c: CaseCalendar, item: Item) -> Event:
    from icalendar import Event

    event = Event()
    event.add("uid", item.uid)
    event.add("sequence", item.sequence)
    event.add("summary", without_controls(f"{item.label}: {c.case.name} ({c.case.docket_number})"))
    zone = court_timezone(c.case.court)
    if item.at is None:
        event.add("dtstart", item.on)
        event.add("dtend", item.on + timedelta(days=1))
    else:
        # A court this package has no zone for gets floating local time, not a wrong zone.
        start = datetime.combine(item.on, item.at, tzinfo=zone)
        event.add("dtstart", start)
        event.add("dtend", start + TIMED_LENGTH)
    event.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
    event.add("categories", [item.kind.value])
    latest = c.entries[item.sources[-1]]
    # The stamp of the entry that last changed the item: the same docket writes the same file.
    event.add("dtstamp", as_utc(latest.first_seen))
    number = f"#{latest.entry_number} " if latest.entry_number else ""
    said = latest.description or latest.short_description or ""
    event.add("description", without_controls(f"{number}{said}").strip())
    if latest.url and latest.url.startswith(("http://", "https://")):
        event.add("url", without_controls(latest.url))
    return event


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "calendar"
