"""The poll plan: which poll jobs `run` schedules, how often, what they cost, and how late
news can be. Each source plans its own jobs (the planner asks it; see `Source.jobs`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, select

from docketwatch.settings import CaseConfig, Config
from docketwatch.store.models import Case, Entry, utcnow

DAY = timedelta(days=1)


@dataclass
class PlanRow:
    """One poll job: a case, or a target serving several cases (a court's feed)."""

    job_id: str
    source: str
    court: str
    case: str | None  # the case's name; None for a job serving several cases
    cases: list[CaseConfig]
    interval: timedelta  # how often the poll job runs
    api_interval: timedelta | None  # how often it may use a metered API
    requests_per_day: float  # requests made (of them, budgeted ones when api_interval is set)
    budgeted_per_day: float
    active: bool | None
    new_filing_delay: timedelta  # worst case before a new filing is seen
    change_delay: timedelta | None  # worst case before a change to an older entry is seen

    def as_json(self) -> dict[str, Any]:
        def secs(d: timedelta | None) -> int | None:
            return int(d.total_seconds()) if d is not None else None

        return {
            "job": self.job_id, "source": self.source, "court": self.court, "case": self.case,
            "cases": [c.name for c in self.cases],
            "interval_seconds": secs(self.interval), "api_interval_seconds": secs(self.api_interval),
            "requests_per_day": round(self.requests_per_day, 1), "budgeted_per_day": round(self.budgeted_per_day, 1),
            "active": self.active, "new_filing_delay_seconds": secs(self.new_filing_delay),
            "change_delay_seconds": secs(self.change_delay),
        }


@dataclass
class PlanReport:
    """What `plan` shows: the jobs, each source's summary (JSON and lines), what is not watched."""

    jobs: list[PlanRow]
    summaries: list[tuple[dict[str, Any], list[str]]]
    unwatched: list[dict[str, Any]]


def current(session: Session, config: Config) -> list[PlanRow]:
    """The plan as of now: `run`, `status` and `plan` all ask here (cases active today)."""
    return make_plan(config, active_cases(session, config, utcnow().date()))


def report(session: Session, config: Config) -> PlanReport:
    jobs = current(session, config)
    summaries = [source.plan_summary([j for j in jobs if j.source == name])
                 for name, source in config.source_plugins.items()]
    return PlanReport(jobs, summaries, [u for case in config.cases for u in unwatched(config, case)])


def cases_of(config: Config, source: str) -> list[CaseConfig]:
    """The configured cases `source` polls (paused ones are not polled)."""
    return [c for c in config.cases if source in c.sources and not c.paused]


def make_plan(config: Config, active: set[str]) -> list[PlanRow]:
    """Every poll job of every source in use, source by source."""
    rows: list[PlanRow] = []
    for name, source in config.source_plugins.items():
        if cases := cases_of(config, name):
            rows += source.jobs(config, cases, active)
    return rows


def unwatched(config: Config, case: CaseConfig) -> list[dict[str, Any]]:
    """What the case's sources cannot see, per source: {"case", "source", "text"}."""
    case_sources = [config.source_plugins[n] for n in case.sources]
    return [{"case": case.name, "source": s.name, "text": text} for s in case_sources
            for text in s.unwatched(case, case_sources)]


def active_cases(session: Session, config: Config, today: date) -> set[str]:
    """Labels of the cases with a filing in the last `active_days` (as stored)."""
    since = today - timedelta(days=config.schedule.active_days)
    # Per case an index seek for one recent entry: the cost grows with the cases, not their history.
    recent = select(Entry.id).where(Entry.case_id == Case.id, Entry.day() >= since).exists()
    rows = session.exec(select(Case.court, Case.docket_number).where(recent)).all()
    active = set(rows)
    return {c.label for c in config.cases if (c.court, c.docket_number) in active}


def api_intervals(plan: list[PlanRow]) -> dict[tuple[str, str], timedelta]:
    """(court, case name) -> how often a metered API may be used for it."""
    return {(r.court, r.case): r.api_interval for r in plan if r.api_interval is not None and r.case}


def span(d: timedelta | None) -> str:
    """A duration as people read it in a plan: 30s, 1.5m, 45m, 2.5h, 1.2d; '-' for none."""
    if d is None:
        return "-"
    seconds = d.total_seconds()
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}".removesuffix(".0") + "m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
