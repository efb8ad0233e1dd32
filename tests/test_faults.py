"""The fault soak (issue 8): hundreds of poll cycles against loopback servers that fail
the way CourtListener and court RSS feeds do, judged against the court's own record.

Each cycle the simulated court files entries and edits some (tests/fault_servers.py),
the servers fail at seeded random (500/503, truncated bodies, connection resets, HTML
error pages, empty bodies and feeds, reordered entries, 429 with Retry-After, a
trickle, an oversized body), and docketwatch polls every case through the real
`poll.check` into a real SQLite database. After every cycle, and at the end (after a
few cycles with faults off), the oracle expects:

- lost: 0 stored entries deleted, emptied, or cut back to a poorer text;
- unstored: 0 entries served intact (a fault-free poll) and not in the store after it;
  and every fault-free poll succeeds (an empty docket is not a failure);
- false alerts: at most one "new" per filing, a "new" for every filing made after
  monitoring began, "changed" only when the court changed the entry's words or its
  document (or a fuller source first shows an entry known only from RSS), and no case
  change (the court renames nobody);
- missed edits: every edit a source served intact afterwards is reported;
- every request ends within its deadline, and an oversized response fails the poll.

Nothing of docketwatch is patched, not even its clock: the API's daily budget is set
small enough to run out within the run (its 24 hours never pass, so the free feed
takes over for good), and a 429 asking for 2-3 s pauses the API for those real seconds.
The first cycle is fault-free: a baseline must see the truth to be judged by it.

DOCKETWATCH_FAULT_CYCLES and DOCKETWATCH_FAULT_SEED (default 8) set the run. The suite
runs 60 cycles per mode, enough for every fault kind, the API budget running out and the
feed taking over (missing_coverage asserts each); `DOCKETWATCH_FULL_SOAKS=1 pytest
tests/test_faults.py -s` runs the full 200 cycles, and `python bench/soak.py` runs the
same harness longer and on more cases.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

from docketwatch import bootstrap, store
from docketwatch.domain import docket_numbers
from docketwatch.pipeline import poll
from docketwatch.settings import HttpConfig
from tests.conftest import soak_size
from tests.fault_servers import (
    FAULTS,
    Court,
    CourtListenerSite,
    CourtRssSite,
    Docket,
    FaultInjector,
    FaultyServer,
    Served,
    words,
)

CYCLES = int(os.environ.get("DOCKETWATCH_FAULT_CYCLES") or soak_size(60, 200))
SEED = int(os.environ.get("DOCKETWATCH_FAULT_SEED", "8"))
TIMEOUT = 1.0              # [http] timeout: small, so that a trickle bites
DEADLINE_SLACK = 1.0       # a request may end this much after its deadline (scheduling)
MAX_RESPONSE_BYTES = 200_000
CLEAN_TAIL = 6             # cycles at the end with faults off and a quiet court
TOKEN_VARIABLE = "DOCKETWATCH_SOAK_TOKEN"
# A build without [http] max_response_bytes refuses the key as unknown: then it is left
# out, and the oversized bodies show what that costs ("oversized accepted").
SIZE_CAP = "max_response_bytes" in HttpConfig.model_fields


@dataclass(frozen=True)
class Scenario:
    name: str
    token: bool            # API mode (token) or the free feed only
    budget_per_cycle: float = 0.0  # API mode: daily_request_budget = cycles x this, so it runs out
    fault_rate: float = 0.25


SCENARIOS = {
    "feed": Scenario("feed", token=False),
    "api": Scenario("api", token=True, budget_per_cycle=0.75),
}


def make_dockets(n: int, cycles: int) -> list[Docket]:
    """The watched cases: Kadrey (real entries to start with) and a docket with minute
    entries, both also read from the court's RSS feed; a docket with no entries until a
    fifth of the run; a case watched through the RSS feed alone; then more of each kind."""
    found = [
        Docket(67569326, "cand", "3:23-cv-03417", "VC", "Kadrey v. Meta Platforms, Inc.",
               "Kadrey et al v. Meta Platforms, Inc.", "415175", rss=True, initial=40),
        Docket(67532101, "cand", "3:23-cv-03223", "AMO", "Tremblay v. OpenAI, Inc.",
               "Tremblay et al v. OpenAI, Inc. et al", "414822", rss=True, minute_entries=True, initial=45),
        Docket(69058235, "cand", "3:24-cv-05417", "WHA", "Bartz v. Anthropic PBC",
               "Bartz et al v. Anthropic PBC", "434709", opens_at=max(cycles // 5, 1)),
        Docket(68434901, "cand", "3:24-cv-01454", "JST", "Nazemian v. NVIDIA Corporation",
               "Nazemian et al v. NVIDIA Corporation", "426384", rss=True, courtlistener=False, initial=25),
    ]
    for i in range(len(found), n):
        kind = i % 4
        found.append(Docket(70_000_000 + i, "cand", f"3:25-cv-{10000 + i:05d}", "JST", f"Author {i} v. Model Co. {i}",
                            f"Author {i} et al v. Model Co. {i} et al", str(450_000 + i), rss=kind != 2,
                            courtlistener=kind != 3, minute_entries=kind == 1, initial=20 + 7 * kind,
                            opens_at=max(cycles // 4, 1) if kind == 2 else 0))
    return found[:n]


# -- the oracle ---------------------------------------------------------------------

@dataclass
class Row:
    """A stored entry, as the oracle sees it after a cycle."""

    case_id: int
    entry_id: int | None   # the court's entry it stands for
    visible: tuple[str, ...]
    available: bool | None
    sources: frozenset[str]


@dataclass
class Violation:
    kind: str
    cycle: int
    case: str
    detail: str


@dataclass
class Report:
    scenario: str
    seed: int
    cycles: int
    cases: int
    size_cap: bool
    requests: int = 0
    faults: Counter = field(default_factory=Counter)
    court_entries: int = 0
    stored_entries: int = 0
    edits: int = 0
    edits_unseen: int = 0
    new_events: int = 0
    changed_events: int = 0
    changed_true: int = 0
    case_events: int = 0
    gap_events: int = 0
    clean_polls: int = 0
    api_polls: int = 0
    feed_polls_with_token: int = 0
    budget: int = 0
    budget_spent_at: int | None = None
    max_cycle_seconds: float = 0.0
    seconds: float = 0.0
    violations: list[Violation] = field(default_factory=list)

    KINDS = {
        "lost": "stored entries lost, emptied or cut back",
        "unstored": "entries served intact but not stored",
        "clean poll failed": "fault-free polls recorded as failed",
        "false new": "false new (twice, or one filing stored twice)",
        "missed new": "filings stored without a new event",
        "false changed": "false changed",
        "false case": "false case changes",
        "missed edit": "edits served but never reported",
        "stale": "entries left stale after being served",
        "slow": "requests held beyond the deadline",
        "oversized accepted": "oversized responses stored as success without a word",
    }

    def count(self, kind: str) -> int:
        return sum(v.kind == kind for v in self.violations)

    def failures(self) -> dict[str, int]:
        return {k: self.count(k) for k in self.KINDS if self.count(k)}

    def table(self) -> str:
        faults = ", ".join(f"{k} {self.faults[k]}" for k in FAULTS)
        rows = [
            ("scenario", f"{self.scenario} (seed {self.seed}, {self.cases} cases, "
                         f"max_response_bytes {'set' if self.size_cap else 'NOT SUPPORTED: left out'})"),
            ("cycles", self.cycles),
            ("requests", self.requests),
            ("faults injected", f"{sum(self.faults.values())}: {faults}"),
            ("fault-free polls", self.clean_polls),
            ("entries (court / stored)", f"{self.court_entries} / {self.stored_entries}"),
            ("edits (not servable)", f"{self.edits} ({self.edits_unseen})"),
            ("new events", self.new_events),
            ("changed events (true)", f"{self.changed_events} ({self.changed_true})"),
            ("case / gap events", f"{self.case_events} / {self.gap_events}"),
        ]
        if self.budget:
            spent = f"spent at cycle {self.budget_spent_at}" if self.budget_spent_at is not None else "never spent"
            rows.append(("API budget", f"{self.budget} requests, {spent}; {self.api_polls} API polls, "
                                       f"{self.feed_polls_with_token} feed polls"))
        rows.append(("false alerts", sum(self.count(k) for k in ("false new", "false changed", "false case"))))
        rows += [(label, self.count(kind)) for kind, label in self.KINDS.items()]
        rows += [("slowest cycle", f"{self.max_cycle_seconds:.2f} s"), ("wall time", f"{self.seconds:.1f} s")]
        width = max(len(str(k)) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)

    def explain(self, per_kind: int = 4) -> str:
        lines = [self.table(), ""]
        for kind in self.KINDS:
            found = [v for v in self.violations if v.kind == kind]
            for v in found[:per_kind]:
                lines.append(f"{kind} (cycle {v.cycle}, {v.case}): {v.detail}")
            if len(found) > per_kind:
                lines.append(f"{kind}: ... and {len(found) - per_kind} more")
        return "\n".join(lines)


class Oracle:
    """Holds docketwatch to the court's record, cycle by cycle."""

    def __init__(self, court: Court, engine, report: Report):
        self.court = court
        self.engine = engine
        self.report = report
        self.cases: dict[int, Docket] = {}
        self.rows: dict[int, Row] = {}
        self.entry_of: dict[int, int | None] = {}  # row id -> court entry id
        self.row_of: dict[int, Row] = {}  # court entry id -> its row, as of the last cycle
        self.first_stored: dict[int, int] = {}
        self.last_event: dict[int, int] = {}
        self.new_events: Counter[int] = Counter()
        self.events: dict[int, list[int]] = defaultdict(list)  # entry -> cycles of its new/changed events
        self.offers: dict[int, list[int]] = defaultdict(list)  # entry -> cycles CourtListener served it intact
        self.served_intact: dict[int, tuple[str, int]] = {}  # entry -> (server, cycle) first served intact
        self.unstored: set[int] = set()
        self.last_event_id = 0
        self.last_run_id = 0

    def flag(self, kind: str, cycle: int, docket: Docket | None, detail: str) -> None:
        self.report.violations.append(Violation(kind, cycle, docket.name if docket else "?", detail))

    def mark(self) -> None:
        with self.engine.connect() as db:
            self.last_run_id = db.execute(text("SELECT coalesce(max(id), 0) FROM checkrun")).scalar()

    def after(self, cycle: int, served: list[Served]) -> None:
        with self.engine.connect() as db:
            self._load_cases(db)
            rows = self._rows(db)
            events = db.execute(text(
                "SELECT id, case_id, entry_id, kind, source, summary FROM event WHERE id > :i ORDER BY id"),
                {"i": self.last_event_id}).all()
            runs = db.execute(text(
                "SELECT case_id, source, ok, error, warning, quota_requests FROM checkrun WHERE id > :i"),
                {"i": self.last_run_id}).all()
        self._check_rows(cycle, rows)
        self._check_events(cycle, events, rows)
        self._check_polls(cycle, served, {(r.case_id, r.source): r for r in runs}, rows)
        if self.report.budget:
            self.report.api_polls += sum(r.quota_requests > 0 for r in runs)
            self.report.feed_polls_with_token += sum(
                r.source == "courtlistener" and r.quota_requests == 0 and r.ok for r in runs)
        for row_id, row in rows.items():
            if row_id not in self.rows and row.entry_id is not None:
                self.last_event.setdefault(row.entry_id, cycle)
        self.rows = rows
        self.row_of = {r.entry_id: r for r in rows.values() if r.entry_id is not None}
        if events:
            self.last_event_id = events[-1].id

    def _load_cases(self, db) -> None:
        if len(self.cases) == len(self.court.dockets):
            return
        by_number = {docket_numbers.normalize(d.docket_number): d for d in self.court.dockets.values()}
        for case_id, number in db.execute(text('SELECT id, docket_number FROM "case"')):
            self.cases[case_id] = by_number[number]

    def _rows(self, db) -> dict[int, Row]:
        rows = {}
        for r in db.execute(text(
                "SELECT id, case_id, key, entry_number, description, short_description, document_available, sources "
                "FROM entry")):
            visible = words(r.description or r.short_description)
            if r.id not in self.entry_of:  # which filing a row stands for does not change
                docket = self.cases[r.case_id]
                self.entry_of[r.id] = self.court.find(docket.id, r.entry_number, r.key, visible)
            rows[r.id] = Row(r.case_id, self.entry_of[r.id], visible, r.document_available,
                             frozenset(json.loads(r.sources)))
        return rows

    def _check_rows(self, cycle: int, rows: dict[int, Row]) -> None:
        for row_id, before in self.rows.items():
            docket = self.cases[before.case_id]
            now = rows.get(row_id)
            if now is None:
                self.flag("lost", cycle, docket, f"entry row {row_id} (court entry {before.entry_id}) was deleted")
            elif before.visible and not now.visible:
                self.flag("lost", cycle, docket, f"entry {before.entry_id}: its text was emptied")
            elif before.entry_id is not None and before.visible != now.visible and \
                    now.visible == self.court.short_words(before.entry_id) != before.visible:
                self.flag("lost", cycle, docket, f"entry {before.entry_id}: the docket text {' '.join(before.visible)!r} "
                                                 f"was replaced by the short text {' '.join(now.visible)!r}")
            elif before.available and not now.available:
                self.flag("lost", cycle, docket, f"entry {before.entry_id}: document no longer available")
        seen: dict[int, int] = {}
        for row_id, row in rows.items():
            docket = self.cases[row.case_id]
            if row.entry_id is None:
                if row_id not in self.rows:
                    self.flag("false new", cycle, docket, f"row {row_id} ({' '.join(row.visible)[:60]!r}) "
                                                          "matches no filing of the court")
                continue
            if row.entry_id in seen and row_id not in self.rows:
                self.flag("false new", cycle, docket, f"court entry {row.entry_id} stored twice "
                                                      f"(rows {seen[row.entry_id]} and {row_id})")
            seen.setdefault(row.entry_id, row_id)
            self.first_stored.setdefault(row.entry_id, cycle)

    def _check_events(self, cycle: int, events, rows: dict[int, Row]) -> None:
        changed_here: Counter[int] = Counter()
        for ev in events:
            docket = self.cases[ev.case_id]
            self.report.gap_events += ev.kind == "gap"
            if ev.kind == "case":
                self.report.case_events += 1
                self.flag("false case", cycle, docket, f"{ev.source}: {ev.summary}")
            if ev.kind not in ("new", "changed"):
                continue
            row = rows.get(ev.entry_id)
            entry_id = row.entry_id if row else None
            if entry_id is None:
                continue  # flagged with the row
            if ev.kind == "new":
                self.report.new_events += 1
                self.new_events[entry_id] += 1
                if self.new_events[entry_id] > 1:
                    self.flag("false new", cycle, docket, f"a second new event for entry {entry_id} ({ev.source}: {ev.summary})")
            else:
                self.report.changed_events += 1
                why = self._false_change(cycle, entry_id, ev, changed_here)
                if why:
                    self.flag("false changed", cycle, docket, f"{ev.source}: {ev.summary}: {why}")
                else:
                    self.report.changed_true += 1
            self.events[entry_id].append(cycle)
        for entry_id, cycles in self.events.items():
            if cycles and cycles[-1] == cycle:
                self.last_event[entry_id] = cycle
        # A filing made after monitoring began must be announced when it is first stored.
        for row in rows.values():
            e = row.entry_id
            if e is not None and self.first_stored.get(e) == cycle and self.court.filed[e] >= 1 \
                    and not self.new_events[e]:
                self.flag("missed new", cycle, self.cases[row.case_id],
                          f"entry {e} (filed in cycle {self.court.filed[e]}) was stored without a new event")

    def _false_change(self, cycle: int, entry_id: int, ev, changed_here: Counter) -> str | None:
        """Why a changed event is false, or None when the court gave cause."""
        if ev.source == "pacer_rss":
            return "RSS shows only the short text, which the court never edits"
        changed_here[entry_id] += 1
        if changed_here[entry_id] > 1:
            return "a second change of the same entry in one poll"
        before = self.row_of.get(entry_id)
        if before is not None and before.sources == frozenset({"pacer_rss"}):
            return None  # a fuller source first shows an entry known only from its RSS short text
        prev = self.last_event.get(entry_id, self.first_stored.get(entry_id, cycle))
        was, now = self.court.state_at(entry_id, prev), self.court.state_at(entry_id, cycle)
        if was == now:
            return f"the court did not change it since cycle {prev} (words: {' '.join(now[0])[:80]!r})"
        return None

    def _check_polls(self, cycle: int, served: list[Served], runs: dict, rows: dict[int, Row]) -> None:
        groups: dict[tuple[str, object], list[Served]] = defaultdict(list)
        for s in served:
            groups[(s.server, s.target)].append(s)
        stored = {r.entry_id for r in rows.values()}
        case_of = {d.id: case_id for case_id, d in self.cases.items()}
        # A long 429 stops the client's other requests to that server in the same poll
        # (they run concurrently): a case refused for it did not have a fault-free poll.
        throttled = {s.server for s in served if s.fault == "throttle_long"}
        for (server, target), records in groups.items():
            if server == "courtlistener":
                dockets = [self.court.dockets[target]] if target in self.court.dockets else []
            else:
                dockets = [d for d in self.court.dockets.values() if d.rss and d.court == target]
            last = {s.url: s for s in records}  # a retry asks for the same URL: its answer counts
            clean = all(s.intact for s in last.values())
            carried = {e for s in records if s.intact for e in s.carried}
            for e in carried:
                self.served_intact.setdefault(e, (server, cycle))
            for docket in dockets:
                run = runs.get((case_of.get(docket.id), server))
                if run is None:
                    continue
                # A poll may go on without the refused answer (the docket's fields, when its entry
                # list is in hand), if it says so; a success that does not is an accepted body.
                if any(s.fault == "oversized" for s in records) and run.ok and \
                        "max_response_bytes" not in (run.warning or ""):
                    self.flag("oversized accepted", cycle, docket,
                              f"{server}: a poll served {len(records)} responses, one far beyond "
                              f"{MAX_RESPONSE_BYTES} bytes, and was stored as a success without a word")
                if not clean:
                    continue
                self.report.clean_polls += 1
                if not run.ok and not (server in throttled and "not requested: the server throttled" in run.error):
                    self.flag("clean poll failed", cycle, docket, f"{server}: {run.error}")
                mine = {e for e in carried if self.court.docket_of[e] == docket.id}
                for e in sorted(mine - stored):
                    self.unstored.add(e)
                    self.flag("unstored", cycle, docket, f"{server} served entry {e} intact "
                                                         f"({' '.join(self.court.state(e)[0])[:60]!r}); not stored")
                if server == "courtlistener":
                    for e in mine:
                        self.offers[e].append(cycle)

    def finish(self, cycle: int, served: list[Served], cycle_ends: dict[int, float],
               request_starts: list[float]) -> None:
        report = self.report
        report.court_entries = len(self.court.by_id)
        report.stored_entries = len(self.rows)
        report.edits = len(self.court.edits)
        # Served intact in a poll that failed for another reason (a later page): stored by now.
        stored = {r.entry_id for r in self.rows.values()}
        for e, (server, when) in sorted(self.served_intact.items()):
            if e not in stored and e not in self.unstored:
                docket = self.court.dockets[self.court.docket_of[e]]
                self.flag("unstored", cycle, docket, f"{server} served entry {e} intact in cycle {when}; "
                                                     "never stored")
        for edit in self.court.edits:
            docket = self.court.dockets[self.court.docket_of[edit.entry_id]]
            served_after = [c for c in self.offers[edit.entry_id] if c >= edit.cycle]
            if not served_after:
                report.edits_unseen += 1
                continue
            reported = any(c >= edit.cycle for c in self.events[edit.entry_id]) or \
                self.first_stored.get(edit.entry_id, -1) >= edit.cycle
            if not reported:
                self.flag("missed edit", edit.cycle, docket,
                          f"{edit.kind} of entry {edit.entry_id}, served intact by CourtListener in cycles "
                          f"{served_after[:5]}, never reported")
        for row in self.rows.values():
            e = row.entry_id
            if e is None or not self.offers[e]:
                continue
            changed_at = self.court.history[e][-1][0]
            if self.offers[e][-1] < changed_at:
                continue
            state = self.court.state(e)
            if row.visible != state[0] or (state[1] and not row.available):
                self.flag("stale", cycle, self.cases[row.case_id],
                          f"entry {e}: stored {' '.join(row.visible)[:60]!r} (document {row.available}), court has "
                          f"{' '.join(state[0])[:60]!r} (document {state[1]}), served in cycle {self.offers[e][-1]}")
        starts = sorted(request_starts)
        for s in served:
            if s.fault != "trickle":
                continue
            later = next((t for t in starts if t > s.started), float("inf"))
            held = min(s.held if s.held is not None else float("inf"), later - s.started,
                       cycle_ends.get(s.cycle, float("inf")) - s.started)
            if held > TIMEOUT + DEADLINE_SLACK:
                docket = self.court.dockets.get(s.target) if s.server == "courtlistener" else None
                self.flag("slow", s.cycle, docket, f"{s.server} {s.url}: a trickling response held the poll "
                                                   f"{held:.1f} s; [http] timeout is {TIMEOUT:g} s")


# -- the harness --------------------------------------------------------------------

def write_config(path: Path, scenario: Scenario, dockets: list[Docket], cl_url: str, rss_url: str,
                 budget: int) -> Path:
    cases = "".join(
        f'''
[[cases]]
name = "{d.name}"
court = "{d.court}"
docket_number = "{d.docket_number}-{d.judge}"
courtlistener_id = {d.id}
sources = {json.dumps([s for s, on in (("courtlistener", d.courtlistener), ("pacer_rss", d.rss)) if on])}
''' for d in dockets)
    path.write_text(f'''
[database]
url = "sqlite:///{path.parent / 'dw.db'}"

[http]
timeout = {TIMEOUT}
retries = 1
backoff = 0.01
max_throttle_wait = 1
{f"max_response_bytes = {MAX_RESPONSE_BYTES}" if SIZE_CAP else ""}

[sources.courtlistener]
base_url = "{cl_url}"
{f'token = "${{{TOKEN_VARIABLE}}}"' if scenario.token else ""}
daily_request_budget = {budget or 125}

[sources.pacer_rss]
url_template = "{rss_url}/{{court}}/cgi-bin/rss_outside.pl"
{cases}''')
    return path


@contextlib.contextmanager
def _token(value: str):
    old = os.environ.get(TOKEN_VARIABLE)
    os.environ[TOKEN_VARIABLE] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(TOKEN_VARIABLE, None)
        else:
            os.environ[TOKEN_VARIABLE] = old


def run_soak(scenario: Scenario, cycles: int, seed: int, workdir: Path, cases: int = 4) -> Report:
    """Run `cycles` poll cycles of `scenario` in `workdir`; return what the oracle found."""
    started = time.monotonic()
    cycles = max(cycles, CLEAN_TAIL + 2)
    dockets = make_dockets(cases, cycles)
    budget = int(cycles * scenario.budget_per_cycle * cases / 4) if scenario.token else 0
    report = Report(scenario.name, seed, cycles, cases, SIZE_CAP, budget=budget)
    injector = FaultInjector(seed, scenario.fault_rate)
    oversize = MAX_RESPONSE_BYTES * 5
    cl_server, rss_server = FaultyServer(injector, TIMEOUT), FaultyServer(injector, TIMEOUT)
    court = Court(dockets, seed, cl_server.url)
    cl_server.start(CourtListenerSite(court, oversize))
    rss_server.start(CourtRssSite(court, oversize))
    cycle_ends: dict[int, float] = {}
    try:
        with _token(court.cl.token):
            path = write_config(workdir / "docketwatch.toml", scenario, dockets, cl_server.url, rss_server.url, budget)
            cfg = bootstrap.load(path)
            engine = store.open_engine(cfg.database.url)
            oracle = Oracle(court, engine, report)
            for cycle in range(cycles):
                quiet = cycle >= cycles - CLEAN_TAIL
                if cycle:
                    court.advance(cycle, file=0.0 if quiet else 0.45, edit=0.0 if quiet else 0.18)
                injector.cycle = cycle
                # The first poll is the baseline: it must see the truth. The last few are clean.
                injector.enabled = 0 < cycle and not quiet
                oracle.mark()
                first = len(injector.log)
                t0 = time.monotonic()
                poll.check(cfg, engine, list(cfg.cases))
                cycle_ends[cycle] = time.monotonic()
                report.max_cycle_seconds = max(report.max_cycle_seconds, cycle_ends[cycle] - t0)
                oracle.after(cycle, injector.log[first:])
                if budget and report.budget_spent_at is None:
                    with engine.connect() as db:
                        used = db.execute(text("SELECT coalesce(sum(quota_requests), 0) FROM checkrun")).scalar()
                    if used >= budget - 1:
                        report.budget_spent_at = cycle
            cl_server.wait_idle(10), rss_server.wait_idle(10)
            oracle.finish(cycles - 1, injector.log, cycle_ends, injector.request_starts)
            engine.dispose()
    finally:
        cl_server.stop(), rss_server.stop()
    report.requests = len(injector.log)
    report.faults = injector.counts
    report.seconds = time.monotonic() - started
    return report


def missing_coverage(report: Report) -> list[str]:
    """What the soak was meant to exercise and did not: a soak that misses these proves little."""
    missing = [f"no {kind} fault injected" for kind in FAULTS if not report.faults[kind]]
    if report.edits < 10:
        missing.append(f"only {report.edits} edits")
    if report.clean_polls < report.cycles:
        missing.append(f"only {report.clean_polls} fault-free polls")
    if report.budget and report.budget_spent_at is None:
        missing.append("the API budget never ran out")
    if report.budget and not report.api_polls:
        missing.append("the API was never used")
    if report.budget and not report.feed_polls_with_token:
        missing.append("the feed never took over from the API")
    return missing


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_fault_soak(name: str, tmp_path: Path) -> None:
    report = run_soak(SCENARIOS[name], CYCLES, SEED, tmp_path)
    print(f"\nfault soak, DOCKETWATCH_FAULT_SEED={SEED} DOCKETWATCH_FAULT_CYCLES={CYCLES}\n{report.table()}")
    assert missing_coverage(report) == []
    assert report.failures() == {}, report.explain()
