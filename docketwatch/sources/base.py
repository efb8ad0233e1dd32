"""The one interface every source implements: what a source fetches and what it knows.

A source turns watched cases into snapshots. It is handed all cases it serves at
once, because some sources answer many cases with one request (a PACER court feed);
it yields, per case, either a Snapshot or the exception that explains the failure,
so one failing case never stops the others. Sources read state from the session but
never write: what they need next time travels in `Snapshot.state` and is stored with
the entries.

Besides fetching, a source owns its knowledge, so the core names no source: its
settings (`[sources.NAME]`, checked by its `Settings` model), which courts and docket
numbers it understands, the poll jobs it needs (the planner asks it), what it cannot
see, its status lines and the warnings it adds to digests. Every method but `fetch`
has a default that suits a simple source polled once per case.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import islice
from typing import Any, TypeVar

from sqlmodel import Session

from docketwatch.domain.snapshot import Snapshot
from docketwatch.http import HttpClient, HttpError, Tally
from docketwatch.ops.plan import DAY, PlanRow
from docketwatch.settings import CaseConfig, Config, Section
from docketwatch.store.models import StoredCase

K = TypeVar("K")
T = TypeVar("T")
LOOK_AHEAD = 2  # polls started per thread ahead of the one whose outcome is taken (`concurrently`)
# While answers keep coming in, `concurrently` still lets the poll commit this often
# (seconds), so a fast network never holds SQLite's write lock for a whole cycle.
COMMIT_EVERY = 1.0


@dataclass
class SourceContext:
    config: Config
    session: Session
    http: HttpClient
    # (court, case name) -> the least time between two uses of a metered API for the
    # case; empty: use it whenever the budget allows (an on-demand `check`).
    api_intervals: dict[tuple[str, str], timedelta] = field(default_factory=dict)


@dataclass
class CourtInfo:
    """One court as a source knows it, for `docketwatch courts`."""

    court: str
    name: str
    coverage: str  # what the source sees there, in words ("every entry type", "no RSS feed")
    details: dict[str, Any]  # the same, structured, for --json


@dataclass
class CourtList:
    """The courts a source knows, and where that knowledge comes from."""

    source: str
    origin: str  # in words: "court feed coverage from CourtListener, read 2026-11-22T08:50:00+00:00"
    courts: list[CourtInfo]


@dataclass
class FoundCase:
    """A case a source found from a reference of its own (a docket URL or id), for
    `docketwatch add`: what goes into its `[[cases]]` table, and how it was found."""

    name: str
    court: str
    docket_number: str
    keys: dict[str, Any]  # the source's own keys for the case's table, e.g. {"courtlistener_id": 67569326}
    how: str


class NoSettings(Section):
    """A source without settings: its section, if any, must be empty."""


class Source(ABC):
    #: The name used in configuration (`sources = [...]`, `[sources.NAME]`), check runs and events.
    name: str
    #: The model of `[sources.NAME]`; an absent section means its defaults.
    Settings: type[Section] = NoSettings
    #: The keys the source reads in a case's own table (beside name, court, ...), as a model.
    CaseOptions: type[Section] = NoSettings
    #: Whether it sees changes to entries it showed before (not only new filings).
    watches_changes: bool = True

    def __init__(self, settings: Section):
        self.settings = settings

    # -- case identity -----------------------------------------------------------------
    def check_court(self, court: str) -> None:  # noqa: B027 (by default a source serves any court)
        """ValueError (worded for the configuration) when the source cannot serve `court`."""

    def normalize_docket_number(self, number: str) -> str:
        """The one comparable form of a docket number, or ValueError (worded for the
        configuration) when the source does not understand it."""
        return " ".join(number.split())

    def pinned_id(self, case: CaseConfig) -> str | None:
        """The docket's id at this source, when the case's table pins one."""
        return None

    def case_options(self, case: CaseConfig) -> Section:
        """The case's keys the source reads, checked (the bootstrap already reported errors)."""
        keys = case.source_keys
        return self.CaseOptions.model_validate({k: keys[k] for k in self.CaseOptions.model_fields if k in keys})

    def court_name(self, court: str) -> str | None:
        """The court's name as people know it, when the source knows it."""
        return None

    def case_url(self, case: StoredCase) -> str | None:
        """A web page of the case, for digests."""
        return None

    def serves_by_default(self, case: CaseConfig) -> bool:
        """Whether the source polls `case` when the case does not list its `sources` (the
        source is one of the defaults, settings.DEFAULT_SOURCES). Default: yes."""
        return True

    def courts(self, http: HttpClient, refresh: bool) -> CourtList | None:
        """The courts the source knows (`docketwatch courts`), read again from where that
        knowledge comes from when `refresh` (HttpError when that fails). None: it lists none."""
        return None

    def refresh_reference(self, http: HttpClient) -> bool:
        """Read again, if it is stale, what the source knows besides dockets (which court
        feeds carry every entry type); `run` asks at start and daily. True when that may
        change which cases it serves by default: `run` then loads the configuration again.
        HttpError when the read fails (what was known stays). Default: nothing to read."""
        return False

    def find(self, reference: str, court: str | None, http: HttpClient) -> FoundCase | None:
        """The case `reference` names when it is one of the source's own references (a
        docket URL or id; `court` when the user gave it), else None. HttpError or
        ValueError (worded for the user) when it is one but cannot be resolved."""
        return None

    # -- planning ------------------------------------------------------------------------
    def servers(self, case: CaseConfig) -> list[str]:
        """The URLs polled for `case`: servers off this machine are polled at most once a minute."""
        return []

    def jobs(self, config: Config, cases: list[CaseConfig], active: set[str]) -> list[PlanRow]:
        """The poll jobs `run` schedules for `cases` (those of the source), given the labels
        of the active cases. Default: one job per case at its poll interval."""
        rows = []
        for case in cases:
            interval = config.poll_interval(case)
            rows.append(PlanRow(
                job_id=f"{self.name}:{case.court}:{case.docket_number}", source=self.name, court=case.court,
                case=case.name, cases=[case], interval=interval, api_interval=None, requests_per_day=DAY / interval,
                budgeted_per_day=0.0, active=case.label in active, new_filing_delay=interval,
                change_delay=interval if self.watches_changes else None))
        return rows

    def plan_summary(self, rows: list[PlanRow]) -> tuple[dict[str, Any], list[str]]:
        """What `plan` says about the source as a whole: JSON and lines of text."""
        return {}, []

    def unwatched(self, case: CaseConfig, case_sources: list[Source]) -> list[str]:
        """What the source cannot see of `case`, polled by `case_sources` (it among them)."""
        if self.watches_changes or any(s.watches_changes for s in case_sources):
            return []
        return ["lists new filings only: changes to entries already seen are not watched"]

    # -- reporting -----------------------------------------------------------------------
    def status(self, session: Session, cases: list[CaseConfig], jobs: list[PlanRow]) -> list[dict[str, Any]]:
        """Status records for `status --json` (each with "source": name), for the source's cases and jobs."""
        return []

    def status_lines(self, record: dict[str, Any]) -> list[str]:
        """One of its status records as lines of text."""
        return []

    def digest_warnings(self, session: Session, cases: list[CaseConfig]) -> list[str]:
        """What a digest of `cases` (those of the source) should say about how complete it is."""
        return []

    @abstractmethod
    def fetch(self, cases: list[StoredCase], ctx: SourceContext) -> Iterator[tuple[StoredCase, Snapshot | Exception]]:
        """Yield (case, snapshot or error) for every case given, in any order."""


def concurrently(polls: Sequence[tuple[K, Callable[[], T]]], http: HttpClient) -> Iterator[tuple[K, T | Exception]]:
    """`fetch` for a source whose requests are independent (a case's, or a court feed's):
    each poll runs on one of `[http] max_per_host` threads, and the outcomes are yielded
    on the calling thread in the polls' order, each with its own requests counted (so a
    check run says what it cost). A poll must only make requests: the database session
    and its rows belong to the calling thread, so whatever a poll needs from them is read
    before. At most LOOK_AHEAD polls per thread are started before their outcome is
    taken, so a slow store step holds a few answers in memory, not all of them. While
    the next outcome is not ready, and at least every COMMIT_EVERY seconds, the poll
    commits what it stored (`before_request`), always between two outcomes: a court
    feed's cases stay in one transaction with the feed's new validators.
    An HttpError or ValueError is the poll's outcome; any other exception (a bug) is
    raised when its turn comes, and the polls not started are dropped."""

    def run(poll: Callable[[], T]) -> tuple[T | Exception, Tally]:
        with http.tally() as tally:
            try:
                return poll(), tally
            except (HttpError, ValueError) as e:
                return e, tally

    waiting = iter(polls)
    started: deque[tuple[K, Future[tuple[T | Exception, Tally]]]] = deque()
    with ThreadPoolExecutor(max_workers=http.max_per_host, thread_name_prefix="fetch") as pool:

        def start() -> None:
            for key, poll in islice(waiting, LOOK_AHEAD * http.max_per_host - len(started)):
                started.append((key, pool.submit(run, poll)))

        committed = time.monotonic()
        try:
            start()
            while started:
                key, future = started.popleft()
                if http.before_request is not None and (
                        not future.done() or time.monotonic() - committed > COMMIT_EVERY):
                    http.before_request()
                    committed = time.monotonic()
                outcome, tally = future.result()
                http.settle(tally)
                start()
                yield key, outcome
        finally:
            for _, future in started:
                future.cancel()
