"""Polling: every configured source for every chosen case, stored in batches.

What a source yields while no answer is awaited (a court feed's cases, or several
feeds' whose answers are in already; at least once a second) is stored in one
transaction, each case in a savepoint with its check run: a crash loses at most the
batch in progress (and the validators that would skip it next time), a failing case
never loses what the other cases stored, and a failed poll leaves nothing behind but
the record of its failure.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from docketwatch import store
from docketwatch.domain.changes import CaseChanges
from docketwatch.domain.events import EventKind
from docketwatch.domain.snapshot import THROTTLE, Snapshot, TargetState, Throttle
from docketwatch.http import Cancelled, HttpClient, HttpError, Throttled
from docketwatch.pipeline import diff, digests, follow
from docketwatch.settings import CaseConfig, Config
from docketwatch.sources.base import Source, SourceContext
from docketwatch.store import StoreError
from docketwatch.store.models import Case, CaseFact, CheckRun, Event, StoredCase, core_table, utcnow

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class CaseResult(CaseChanges):
    """What one `check` found for one case, across its sources."""

    case: CaseConfig
    warnings: list[str] = field(default_factory=list)
    baseline: bool = False
    baseline_entries: int = 0
    # Entries first shown now but filed before the watch began: stored quietly (diff.apply).
    earlier: int = 0
    # A source showed the docket with no entries yet, and none is stored: a quiet, valid state.
    no_entries: bool = False
    # `paused = true` in the configuration: not polled.
    paused: bool = False
    # The poll was cancelled (`check`'s `cancel` set: Ctrl-C) before every source was done.
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def check(
    config: Config,
    engine: Engine,
    cases: list[CaseConfig],
    *,
    notify_baseline: bool = False,
    http: HttpClient | None = None,
    source: str | None = None,
    api_intervals: dict[tuple[str, str], timedelta] | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
    cancel: threading.Event | None = None,
    subscriptions_recorded: bool = False,
) -> list[CaseResult]:
    """Poll `cases` now (through `source` only, when given; paused cases not at all);
    return a result per case, in configuration order, and hand each to `on_result` as
    soon as all its sources are done (for progress lines). `api_intervals` paces metered
    APIs (see plan.py). Setting `cancel` (without `http`) abandons the requests in flight:
    what finished stays stored, and the other cases come back `cancelled`.

    The configuration's subscriptions and their cases are recorded first, so that each
    starts before the events it should get (`digests.record_subscriptions`), unless the
    caller did when it loaded `config` (`subscriptions_recorded`): `run` does, once,
    rather than in each of its poll jobs (one per CourtListener case)."""
    http = http or HttpClient(config.http, cancel=cancel)
    if not subscriptions_recorded:
        digests.record_subscriptions(engine, config)
    with _fewer_collections():
        return _check(config, engine, cases, notify_baseline=notify_baseline, http=http, source=source,
                      api_intervals=api_intervals, on_result=on_result)


_collecting = threading.Lock()
_polls_running = 0
_threshold: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect the youngest generation every 50,000 allocations instead of every 700
    while a poll runs: a poll allocates rows and parsed entries that all live until it
    ends, so early collections walk them again and again and free nothing. Nothing is
    frozen out of the collector's reach (gc.freeze): garbage frozen with the rest is
    only found by a full collection, which then comes rarely, and a `run` grew by
    0.3 MB a poll (bench/growth.py). Polls may overlap (threads of `run`): the first in
    sets, the last out restores."""
    global _polls_running, _threshold
    with _collecting:
        if not _polls_running:
            _threshold = gc.get_threshold()
            gc.set_threshold(max(_threshold[0], 50_000), *_threshold[1:])
        _polls_running += 1
    try:
        yield
    finally:
        with _collecting:
            _polls_running -= 1
            if not _polls_running:
                gc.set_threshold(*_threshold)


def _check(
    config: Config,
    engine: Engine,
    cases: list[CaseConfig],
    *,
    notify_baseline: bool,
    http: HttpClient,
    source: str | None,
    api_intervals: dict[tuple[str, str], timedelta] | None,
    on_result: Callable[[CaseResult], None] | None,
) -> list[CaseResult]:
    paused = [CaseResult(case=c, paused=True) for c in cases if c.paused]
    polled = [c for c in cases if not c.paused]
    for result in paused:
        if on_result:
            on_result(result)
    with Session(engine, expire_on_commit=False) as session:
        pinned = {c.label: pins for c in polled if (pins := config.pinned_ids(c))}
        stored = store.case_rows(session, polled, pinned)
        session.commit()
        results = {row.id: CaseResult(case=c) for row, c in zip(stored, polled, strict=True)}  # in polled's order
        names = list(dict.fromkeys(name for c in polled for name in c.sources if source in (None, name)))
        left = Counter(row.id for c, row in zip(polled, stored, strict=True) for name in c.sources if name in names)

        def done(case_id: int) -> None:
            left[case_id] -= 1
            if on_result and not left[case_id]:
                on_result(results[case_id])

        for name in names:
            ctx = SourceContext(config, session, http, api_intervals or {})
            writer = _Writer(session, config, config.source_plugins[name], results, notify_baseline, done)
            http.before_request = writer.commit
            try:
                _poll_source(name, [row for c, row in zip(polled, stored, strict=True) if name in c.sources],
                             ctx, writer)
            finally:
                http.before_request = None
            writer.finish()
            if writer.wrote and name != names[-1]:  # the next source compares with what this one stored
                stored = store.find_cases(session, polled)
        # The baseline ends once every source has had its first say about the case.
        store.end_baselines(session, [row.id for row in stored if row.baseline_at is None and results[row.id].baseline])
        session.commit()
    follow.accept_automatic(config, engine)  # follow = "auto", a [[discover]] rule's watch
    paused_results, polled_results = iter(paused), iter(results.values())
    return [next(paused_results) if c.paused else next(polled_results) for c in cases]


def _poll_source(name: str, cases: list[StoredCase], ctx: SourceContext, writer: _Writer) -> None:
    http = ctx.http
    pending = {c.id: c for c in cases}
    mark = (http.requests, http.quota_requests, utcnow())
    try:
        for case, outcome in ctx.config.source_plugins[name].fetch(cases, ctx):
            run = _run(case, name, mark[2], http.requests - mark[0], http.quota_requests - mark[1])
            writer.store(case, outcome, run)
            pending.pop(case.id, None)
            mark = (http.requests, http.quota_requests, utcnow())
    except StoreError:
        raise  # the database failed, not the source: nothing more can be stored now
    except Exception as e:  # a bug in a source must not hide the other cases' state
        log.exception("source %s failed", name)
        for case in pending.values():
            writer.store(case, RuntimeError(f"{name}: internal error: {e!r}"), _run(case, name, mark[2]))


def _run(case: StoredCase, source: str, started_at: datetime, requests: int = 0, quota_requests: int = 0
         ) -> dict[str, Any]:
    """A check run's row, stored with its batch."""
    return {"case_id": case.id, "source": source, "started_at": started_at, "finished_at": None, "ok": False,
            "error": None, "warning": None, "requests": requests, "quota_requests": quota_requests}


class _Writer:
    """Stores a source's outcomes in batches: everything stored while no answer is
    awaited (a court feed's cases) is one transaction, committed before the poll waits on
    the network (`HttpClient.before_request`, which `sources.base.concurrently` calls too), and
    each case is stored in a savepoint of its own, so a failing case never loses the
    others' work. A kill loses at most the batch in progress, and with it the source
    state (validators) stored in it, so the next poll fetches that again.

    An outcome that says nothing new (`diff.says_nothing_new`: a feed answering 304) costs
    no query: only its check run is kept, written with the next commit (a kill loses
    these records of polls that found nothing, never a filing). First sights
    (`diff.is_first_sight`: a feed's cases on the first poll) are kept likewise and
    stored together, in one savepoint, before anything else is written; should that
    fail, each is stored again on its own, as any other outcome. `done(case id)` is
    called once a case's outcome is stored (or kept, for a check run).
    """

    def __init__(self, session: Session, config: Config, source: Source, results: dict[int, CaseResult],
                 notify_baseline: bool, done: Callable[[int], None]):
        self.session, self.config, self.source = session, config, source
        self.results, self.notify_baseline, self.done = results, notify_baseline, done
        self.runs: list[dict[str, Any]] = []
        self.sights: list[tuple[StoredCase, Snapshot, dict[str, Any], diff.FirstSight]] = []
        self.writing = False  # a transaction holds this batch's writes
        self.wrote = False  # any batch did
        self._spoke: set[tuple[int, str]] | None = None
        self._with_entries: set[int] | None = None
        self._saved: dict[str, TargetState] = {}  # source states stored by this poll, by target

    def commit(self) -> None:
        """Commit the batch, with the check runs kept so far (before a request: only a
        batch that wrote something, so answers of 304 cost no commit each)."""
        if self.writing:
            self._store_sights()
            if self.runs:
                self.session.execute(insert(core_table(CheckRun)), self.runs)  # Core: no ORM work per row
                self.runs = []
            self.session.commit()
            self.writing = False

    def finish(self) -> None:
        if self.runs:
            self._begin()
        self.commit()

    def store(self, case: StoredCase, outcome: Snapshot | Exception, run: dict[str, Any]) -> None:
        """Store one case's outcome with its check run (a first sight: keep it for the next commit)."""
        result = self.results[case.id]
        if isinstance(outcome, Snapshot) and self._says_nothing_new(case, outcome):
            result.baseline |= case.baseline_at is None
            result.no_entries = case.id not in self._cases_with_entries()
            if outcome.state:
                self._begin()
                self._save_state(outcome.state)
                self._saved.update(outcome.state)
            self._succeeded(run, outcome, result)
            self.done(case.id)
            return
        self._begin()
        if isinstance(outcome, Snapshot) and (sight := self._first_sight(case, outcome)):
            self.sights.append((case, outcome, run, sight))
            return
        self._store_sights()  # stored in the order they came
        self._store_one(case, outcome, run)
        self.done(case.id)

    def _store_one(self, case: StoredCase, outcome: Snapshot | Exception, run: dict[str, Any]) -> None:
        result = self.results[case.id]
        if isinstance(outcome, Snapshot):
            try:
                try:
                    change = self._apply(case, outcome, hints=True)
                except IntegrityError:
                    # Another process (a `check` beside `run`) stored rows of this case since
                    # this poll read what it has: read again, without the poll's hints.
                    log.info("%s: %s: stored meanwhile by another process; reading it again", case.name, run["source"])
                    change = self._apply(case, outcome, hints=False)
            except StoreError:
                raise
            except Exception as e:
                outcome = e
            else:
                self._stored(case, outcome, run, change)
                return
        if isinstance(outcome, Cancelled):
            # docketwatch is stopping: not the source's failure, so no failed run, no error event.
            result.errors.append(str(outcome))
            result.cancelled = True
            return
        expected = isinstance(outcome, (HttpError, ValueError))
        # Expected failures reach the user through the result (and `run`'s log); a bug gets a traceback.
        log.log(logging.INFO if expected else logging.ERROR, "%s: %s: %s", case.name, run["source"], outcome,
                exc_info=None if expected else outcome)
        if isinstance(outcome, Throttled):
            store.save_state(self.session, run["source"], THROTTLE, Throttle(until=outcome.until))
        run["error"] = str(outcome) or type(outcome).__name__
        result.errors.append(run["error"])
        if _was_ok(self.session, case, run["source"]):
            # One event when a source starts failing for a case, not one per failed poll.
            self.session.add(Event(case_id=case.id, kind=EventKind.ERROR, source=run["source"], summary=run["error"]))
        run["finished_at"] = utcnow()
        self.runs.append(run)

    def _apply(self, case: StoredCase, snapshot: Snapshot, *, hints: bool) -> diff.DiffResult:
        """`diff.apply` in a savepoint; `hints`: trust what this poll read once of which
        cases have entries and facts (a concurrent writer may have added some since)."""
        with self.session.begin_nested():
            row = self.session.get(Case, case.id)  # the ORM object, to write to
            assert row is not None  # a stored case
            change = diff.apply(self.session, row, snapshot, notify_baseline=self.notify_baseline,
                                normalize=self.source.normalize_docket_number, follow=self.config.follow,
                                has_stored=not hints or case.id in self._cases_with_entries(),
                                has_facts=not hints or (case.id, diff.origin(snapshot)) in self._sources_spoken())
            if self.config.discover:
                follow.discover(self.session, self.config, snapshot)
            self._save_state(snapshot.state)
        return change

    def _first_sight(self, case: StoredCase, snapshot: Snapshot) -> diff.FirstSight | None:
        """The rows of a first sight (`diff.is_first_sight`), when it is one and can be read
        (else `apply` says why: a snapshot of another docket, say)."""
        if self.config.discover or not diff.is_first_sight(
                case, notify_baseline=self.notify_baseline, backfill=False,
                has_stored=case.id in self._cases_with_entries(),
                has_facts=(case.id, diff.origin(snapshot)) in self._sources_spoken()):
            return None
        try:
            return diff.first_sight(case, snapshot, self.source.normalize_docket_number)
        except diff.SnapshotError:
            return None

    def _store_sights(self) -> None:
        """Store the first sights kept, in one savepoint; should that fail (another process
        stored one of those cases meanwhile), each on its own."""
        sights, self.sights = self.sights, []
        if not sights:
            return
        try:
            with self.session.begin_nested():
                diff.store_first_sights(self.session, [sight for _, _, _, sight in sights])
                for _, snapshot, _, _ in sights:
                    self._save_state(snapshot.state)
                    self._saved.update(snapshot.state)
        except StoreError:
            raise
        except Exception as e:
            log.info("%s: storing first sights together failed (%s); storing each on its own", self.source.name, e)
            self._saved = {}
            for case, snapshot, run, _ in sights:
                self._store_one(case, snapshot, run)
                self.done(case.id)
            return
        for case, snapshot, run, sight in sights:
            self._stored(case, snapshot, run, sight.result)
            self.done(case.id)

    def _stored(self, case: StoredCase, snapshot: Snapshot, run: dict[str, Any], change: diff.DiffResult) -> None:
        """Record a snapshot stored: its check run, its case's result, the poll's hints."""
        result = self.results[case.id]
        self._saved.update(snapshot.state)
        self._succeeded(run, snapshot, result)
        if change.baseline:
            result.baseline = True
            result.baseline_entries += change.added
        result.earlier += change.earlier
        result.add(change)
        result.no_entries = change.empty
        if self._with_entries is not None and not change.empty:
            self._with_entries.add(case.id)
        self._sources_spoken().add((case.id, diff.origin(snapshot)))

    def _succeeded(self, run: dict[str, Any], snapshot: Snapshot, result: CaseResult) -> None:
        run.update(ok=True, warning="; ".join(snapshot.warnings) or None, finished_at=utcnow())
        result.warnings += snapshot.warnings
        self.runs.append(run)

    def _save_state(self, state: dict[str, TargetState]) -> None:
        """Store the source's state, unless this poll stored the same already: a court
        feed's state comes with each of its cases, and is stored once."""
        for target, values in state.items():
            if self._saved.get(target) is not values:
                store.save_state(self.session, self.source.name, target, values)

    def _begin(self) -> None:
        if not self.writing:
            store.begin_write(self.session)
            self.writing = self.wrote = True

    def _says_nothing_new(self, case: StoredCase, snapshot: Snapshot) -> bool:
        if snapshot.docket.entries or not snapshot.delta or (snapshot.others and self.config.discover):
            return False  # the common case of a snapshot with news: no need to read what spoke before
        return diff.says_nothing_new(case, snapshot, self.source.normalize_docket_number,
                                     (case.id, diff.origin(snapshot)) in self._sources_spoken())

    def _sources_spoken(self) -> set[tuple[int, str]]:
        """(case, origin) of every case fact on record: read once per poll of the source."""
        if self._spoke is None:
            self._spoke = {(row[0], row[1]) for row in self.session.exec(select(CaseFact.case_id, CaseFact.source))}
        return self._spoke

    def _cases_with_entries(self) -> set[int]:
        """The stored cases that have an entry: read once per poll of the source."""
        if self._with_entries is None:
            self._with_entries = {i for i in self.session.exec(select(Case.id).where(store.HAS_ENTRY)) if i is not None}
        return self._with_entries


def _was_ok(session: Session, case: StoredCase, source: str) -> bool:
    """True when the previous poll of this case by this source succeeded (or there was none)."""
    previous = store.last_run(session, case.id, source=source)
    return previous is None or previous.ok
