"""What a source or parser reads from a docket, before anything is stored.

Every source and every parser produces these plain objects; the diff engine is the
only thing that compares them with the store. Fields a source does not know stay None
and never overwrite what another source knew.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from docketwatch.domain.changes import EntryView


@dataclass
class ParsedEntry:
    """One docket entry as a source shows it.

    `date_filed` is the filing date (docket reports, CourtListener); `date_entered` the
    day the clerk entered it, which is all a PACER RSS item tells (its pubDate).
    """

    entry_number: str | None
    date_filed: date | None
    description: str
    short_description: str | None = None
    pacer_doc_id: str | None = None
    # The source's own stable id, used as identity for unnumbered (minute) entries.
    source_id: str | None = None
    url: str | None = None
    document_available: bool | None = None
    sealed: bool | None = None
    # When the entry was entered, where the source has the time (PACER RSS); None elsewhere.
    filed_at: datetime | None = None
    date_entered: date | None = None

    def view(self) -> EntryView:
        return EntryView(self.entry_number, self.date_filed, self.description or self.short_description or "",
                         self.url, date_entered=self.date_entered)


@dataclass
class ParsedDocket:
    """A docket (case-level facts plus entries) as one source or file shows it."""

    court: str
    docket_number: str
    case_name: str | None = None
    pacer_case_id: str | None = None
    source_id: str | None = None  # the docket's id at the source that read it, where it has one
    assigned_to: str | None = None
    date_terminated: date | None = None
    entries: list[ParsedEntry] = field(default_factory=list)


@dataclass
class Snapshot:
    """A successful fetch of one case from one source, ready for the diff engine.

    `window` is the number of latest entries the source can show at most (30 for the
    CourtListener feed); a full window that no longer overlaps the store means entries
    may have been missed. `delta` is True when the source returned only what changed
    since the last poll. An empty entry list is normal for a delta and for a docket with
    no entries yet; from a full fetch of a docket whose entries from this source are
    stored, it is an error (the diff engine says so).
    """

    source: str
    docket: ParsedDocket
    # Which of the source's renderings this is ("feed" for CourtListener's Atom feed, None
    # for its main one), where they may spell case facts differently.
    rendering: str | None = None
    window: int | None = None
    delta: bool = False
    # What the source needs next time, per fetch target (a court's feed, a docket's entry
    # list), stored in the same transaction as the entries, so a failed store never skips data.
    state: dict[str, TargetState] = field(default_factory=dict)
    # Things the user should know although the fetch succeeded (ambiguity, fallbacks).
    warnings: list[str] = field(default_factory=list)
    # Set by a source that knows it may have missed entries (a feed fetched after an
    # outage longer than its window); recorded as a gap event.
    gap: str | None = None
    # Dockets the same fetch showed that no watched case is (a court feed's other items),
    # for `[[discover]]` rules: found at no extra request. Set on one snapshot per fetch.
    others: list[ParsedDocket] = field(default_factory=list)
    # The entries are (part of) the source's first read of the whole docket, resumed after
    # it was cut short (a request budget spent): what was filed before the case was
    # watched is history, not news. A source's first say of a case counts so anyway.
    history: bool = False


class TargetState(BaseModel):
    """What a source keeps between polls for one fetch target. Each source subclasses it
    with the fields it needs (validators for conditional requests, a watermark, ...);
    the store keeps it as JSON under (source, target)."""

    model_config = ConfigDict(extra="ignore")


class Throttle(TargetState):
    """Until when a server asked a source to stop (HTTP 429), under target `THROTTLE`."""

    until: datetime | None = None


THROTTLE = "throttle"
