"""How often to poll what, and what that buys: the request budget spread over cases.

Free sources (the CourtListener docket feed, court RSS feeds) are polled at the
configured interval. The CourtListener API, when a token is set, is metered: its daily
budget (less a reserve for pagination and retries) is shared out among the cases,
active ones (a filing in the last `active_days`) weighing more than dormant ones.
Between two API polls of a case its free feed is read, so a new filing is seen within
one poll interval; the API interval bounds how late a change to an older entry (text
filled in, document now available) is seen. Without the API some changes are never seen
at all; `unwatched` says which, so `plan` and `status` can say it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from docketwatch.config import CaseConfig, Config
from docketwatch.models import Case, Entry
from docketwatch.sources.courtlistener import FEED_WINDOW, MIN_API_REQUESTS

DAY = timedelta(days=1)
ACTIVE_WEIGHT, DORMANT_WEIGHT = 3, 1
BUDGET_RESERVE = 0.1  # kept back for extra pages and retries


@dataclass
class PlanRow:
    """One poll job: a CourtListener case, or a court RSS feed serving several cases."""

    source: str
    court: str
    cases: list[CaseConfig]
    interval: timedelta  # how often the poll job runs
    api_interval: timedelta | None  # how often it may use the metered API
    requests_per_day: float  # requests made (of them, budgeted ones when api_interval is set)
    budgeted_per_day: float
    active: bool | None
    new_filing_delay: timedelta  # worst case before a new filing is seen
    change_delay: timedelta | None  # worst case before a change to an older entry is seen

    @property
    def job_id(self) -> str:
        if self.source == "pacer_rss":
            return f"pacer_rss:{self.court}"
        return f"{self.source}:{self.court}:{self.cases[0].docket_number}"

    @property
    def case(self) -> str | None:
        """The case's name; None for a court feed."""
        return self.cases[0].name if self.source != "pacer_rss" else None

    def as_json(self) -> dict:
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


def unwatched(config: Config, case: CaseConfig) -> list[dict]:
    """What the case's sources cannot see, per source: {"case", "source", "text"}."""
    out = []
    if "courtlistener" in case.sources and not config.sources.courtlistener.token:
        out.append({"case": case.name, "source": "courtlistener", "text": (
            f"changes to entries older than the docket feed's latest {FEED_WINDOW} (text filled in or "
            "edited, document now available) are not watched without an API token "
            "([sources.courtlistener] token)")})
    if "pacer_rss" in case.sources and "courtlistener" not in case.sources:
        out.append({"case": case.name, "source": "pacer_rss", "text": (
            "the court's RSS feed lists new filings only: changes to entries already seen are not watched "
            '(add "courtlistener" to the case\'s sources)')})
    return out


def active_cases(session: Session, config: Config, today: date) -> set[str]:
    """Labels of the cases with a filing in the last `active_days` (as stored)."""
    since = today - timedelta(days=config.schedule.active_days)
    rows = session.exec(
        select(Case.court, Case.docket_number).join(Entry, Entry.case_id == Case.id)
        .group_by(Case.court, Case.docket_number).having(func.max(Entry.date_filed) >= since)
    ).all()
    active = set(rows)
    return {c.label for c in config.cases if (c.court, c.docket_number) in active}


def make_plan(config: Config, active: set[str]) -> list[PlanRow]:
    """One row per poll job: a CourtListener case, or a court RSS feed."""
    rows = _courtlistener_rows(config, active)
    feeds: dict[str, list[CaseConfig]] = {}
    for case in config.cases:
        if "pacer_rss" in case.sources:
            feeds.setdefault(case.court, []).append(case)
    window = timedelta(hours=config.sources.pacer_rss.window_hours)
    for court, cases in sorted(feeds.items()):
        interval = min(poll_interval(config, c) for c in cases)
        rows.append(PlanRow(
            source="pacer_rss", court=court, cases=cases, interval=interval, api_interval=None,
            requests_per_day=DAY / interval, budgeted_per_day=0.0, active=None,
            new_filing_delay=interval if interval < window else window, change_delay=None,
        ))
    return rows


def poll_interval(config: Config, case: CaseConfig) -> timedelta:
    """The case's own poll_interval when set, else [schedule] interval."""
    return case.poll_interval if case.poll_interval is not None else config.schedule.interval


def api_intervals(plan: list[PlanRow]) -> dict[tuple[str, str], timedelta]:
    """(court, case name) -> how often the API may be used for it."""
    return {(r.court, r.case): r.api_interval for r in plan if r.api_interval is not None and r.case}


def _courtlistener_rows(config: Config, active: set[str]) -> list[PlanRow]:
    settings = config.sources.courtlistener
    cases = [c for c in config.cases if "courtlistener" in c.sources]
    weights = {c.label: ACTIVE_WEIGHT if c.label in active else DORMANT_WEIGHT for c in cases}
    api_polls = settings.daily_request_budget * (1 - BUDGET_RESERVE) / MIN_API_REQUESTS if settings.token else 0
    total_weight = sum(weights.values()) or 1
    rows = []
    for case in cases:
        interval = poll_interval(config, case)
        polls_a_day = DAY / interval
        api_interval = None
        budgeted = 0.0
        if api_polls:
            share = api_polls * weights[case.label] / total_weight
            api_interval = max(DAY / share, interval) if share > 0 else None
            if api_interval:
                budgeted = DAY / api_interval * MIN_API_REQUESTS
        rows.append(PlanRow(
            source="courtlistener", court=case.court, cases=[case], interval=interval,
            api_interval=api_interval, requests_per_day=polls_a_day + budgeted / MIN_API_REQUESTS,
            budgeted_per_day=budgeted, active=case.label in active,
            new_filing_delay=interval,
            # Without the API, only the feed's latest 30 entries show changes.
            change_delay=api_interval,
        ))
    return rows
