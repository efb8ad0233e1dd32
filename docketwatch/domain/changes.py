"""What happened to one case, as people are told of it: new and changed entries, case
changes, gaps and errors. The diff's result, a `check` result and a digest's case section
are all this one summary, each with a few facts of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass
class EntryView:
    """One docket entry as the command line, JSON and digests show it."""

    number: str | None
    date_filed: date | None
    text: str
    url: str | None = None
    source: str | None = None  # the source that reported it, where that matters (digests)
    changes: list[str] = field(default_factory=list)  # for a changed entry: what changed
    # The day it was entered: all an entry known only from a court's RSS feed has.
    date_entered: date | None = None

    @property
    def label(self) -> str:
        return f"#{self.number}" if self.number else "minute"

    @property
    def date_label(self) -> str:
        if self.date_filed:
            return self.date_filed.isoformat()
        return f"entered {self.date_entered.isoformat()}" if self.date_entered else "undated"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"entry_number": self.number,
                               "date_filed": self.date_filed.isoformat() if self.date_filed else None,
                               "date_entered": self.date_entered.isoformat() if self.date_entered else None,
                               "description": self.text, "url": self.url}
        if self.changes:
            out["changes"] = self.changes
        return out


@dataclass(kw_only=True)
class CaseChanges:
    """The per-case change summary."""

    new: list[EntryView] = field(default_factory=list)
    changed: list[EntryView] = field(default_factory=list)
    case_changes: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, other: CaseChanges) -> None:
        """Fold in what another source (or another poll) found."""
        self.new += other.new
        self.changed += other.changed
        self.case_changes += other.case_changes
        self.gaps += other.gaps
        self.errors += other.errors

    @property
    def anything(self) -> bool:
        return bool(self.new or self.changed or self.case_changes or self.gaps or self.errors)
