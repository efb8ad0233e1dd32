"""The one interface every source implements.

A source turns watched cases into snapshots. It is handed all cases it serves at
once, because some sources answer many cases with one request (a PACER court feed);
it yields, per case, either a Snapshot or the exception that explains the failure,
so one failing case never stops the others. Sources read state from the session but
never write: what they need next time travels in `Snapshot.state` and is stored with
the entries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import Session

from docketwatch.config import Config
from docketwatch.http import HttpClient
from docketwatch.models import Case
from docketwatch.snapshot import Snapshot


@dataclass
class SourceContext:
    config: Config
    session: Session
    http: HttpClient
    # (court, case name) -> the least time between two uses of a metered API for the
    # case; empty: use it whenever the budget allows (an on-demand `check`).
    api_intervals: dict[tuple[str, str], timedelta] = field(default_factory=dict)


class Source(ABC):
    #: The name used in configuration (`sources = [...]`), check runs and events.
    name: str

    @abstractmethod
    def fetch(self, cases: list[Case], ctx: SourceContext) -> Iterator[tuple[Case, Snapshot | Exception]]:
        """Yield (case, snapshot or error) for every case given, in any order."""
