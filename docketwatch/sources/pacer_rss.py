"""PACER court RSS feeds: one request per court serves every watched case there.

A feed covers about the last 24 hours of a whole court and holds only short texts;
CourtListener later fills in the full text of the same entry (same number), which the
diff engine records as a change, not a second entry. When the last successful fetch
of a court is older than the feed's window, items may have scrolled out unseen: each
watched case there gets a gap. Requests are conditional (ETag / Last-Modified), and a
feed whose bytes have not changed is not parsed again.
"""

from __future__ import annotations

import hashlib
import string
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator
from sqlmodel import Session

from docketwatch import parsers, store
from docketwatch.domain import docket_numbers
from docketwatch.domain.snapshot import ParsedDocket, Snapshot
from docketwatch.http import HttpError, describe_status
from docketwatch.ops.plan import DAY, PlanRow
from docketwatch.settings import CaseConfig, Config, HttpUrl, Section, check_http_url
from docketwatch.sources.base import Source, SourceContext
from docketwatch.sources.federal import FederalIdentity, court_ids
from docketwatch.store.models import Case, as_utc, iso, utcnow

APPELLATE_COURTS = frozenset({f"ca{n}" for n in range(1, 12)} | {"cadc", "cafc"})


def _court_template(value: str) -> str:
    """A URL template whose only placeholder is {court}; checked by filling in a sample court."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(value)
                  if name is not None]
    except ValueError:
        fields = None
    if not fields or any(f != ("court", "", None) for f in fields):
        raise ValueError("must be a URL with {court} where the court id goes, and no other {placeholder} "
                         "(write {{ or }} for a literal brace)")
    check_http_url(value.format(court="cand"))
    return value


CourtTemplate = Annotated[str, AfterValidator(_court_template)]


class PacerRssSettings(Section):
    """`[sources.pacer_rss]`: court RSS feeds. `courts` maps a court id to its feed URL where it differs."""

    url_template: CourtTemplate = "https://ecf.{court}.uscourts.gov/cgi-bin/rss_outside.pl"
    appellate_url_template: CourtTemplate = (
        "https://ecf.{court}.uscourts.gov/n/beam/servlet/TransportRoom?servlet=RSSGenerator")
    courts: dict[str, HttpUrl] = {"nyed": "https://ecf.nyed.uscourts.gov/cgi-bin/readyDockets.pl"}
    # How far back a feed reaches; a longer outage means items may have been missed.
    window_hours: float = Field(default=24.0, gt=0, le=24 * 365)

    @field_validator("courts")
    @classmethod
    def _known_courts(cls, v: dict[str, str]) -> dict[str, str]:
        if unknown := [c for c in v if c not in court_ids()]:
            raise ValueError(f"{', '.join(map(repr, unknown))} is not a CourtListener court id (examples: cand, nysd)")
        return v

    def feed_url(self, court: str) -> str:
        if court in self.courts:
            return self.courts[court]
        template = self.appellate_url_template if court in APPELLATE_COURTS else self.url_template
        return template.format(court=court)


class PacerRssError(HttpError):
    """The court's feed could not be used."""


class PacerRssSource(FederalIdentity, Source):
    name = "pacer_rss"
    Settings = PacerRssSettings
    settings: PacerRssSettings
    watches_changes = False  # a feed lists new filings only

    def servers(self, case: CaseConfig) -> list[str]:
        return [self.settings.feed_url(case.court)]

    def jobs(self, config: Config, cases: list[CaseConfig], active: set[str]) -> list[PlanRow]:
        """One job per court: its feed serves every watched case there."""
        feeds: dict[str, list[CaseConfig]] = {}
        for case in cases:
            feeds.setdefault(case.court, []).append(case)
        window = timedelta(hours=self.settings.window_hours)
        rows = []
        for court, court_cases in sorted(feeds.items()):
            interval = min(config.poll_interval(c) for c in court_cases)
            rows.append(PlanRow(
                job_id=f"{self.name}:{court}", source=self.name, court=court, case=None, cases=court_cases,
                interval=interval, api_interval=None, requests_per_day=DAY / interval, budgeted_per_day=0.0,
                active=None, new_filing_delay=min(interval, window), change_delay=None,
            ))
        return rows

    def unwatched(self, case: CaseConfig, case_sources: list[Source]) -> list[str]:
        if any(s.watches_changes for s in case_sources):
            return []
        return ["the court's RSS feed lists new filings only: changes to entries already seen are not watched "
                '(add "courtlistener" to the case\'s sources)']

    def status(self, session: Session, cases: list[CaseConfig], jobs: list[PlanRow]) -> list[dict[str, Any]]:
        """Court feeds in use: last success, and whether they carry every entry type."""
        out = []
        for court in sorted({c.court for c in cases}):
            last = store.last_court_success(session, self.name, court)
            entry_types = store.source_state(session, f"{self.name}:{court}").entry_types
            out.append({
                "source": self.name, "court": court, "url": self.settings.feed_url(court),
                "last_success": iso(last), "entry_types": entry_types,
                "complete": None if entry_types is None else entry_types.strip().lower() == "all",
            })
        return out

    def status_lines(self, record: dict[str, Any]) -> list[str]:
        lines = [f"{self.name} {record['court']}: {record['url']}, last success {record['last_success'] or 'never'}"]
        if record["complete"] is False:
            lines.append(f"  this feed carries only some entry types ({record['entry_types']}): "
                         "it cannot see every filing")
        elif record["complete"]:
            lines.append("  this feed carries every entry type")
        return lines

    def digest_warnings(self, session: Session, cases: list[CaseConfig]) -> list[str]:
        return [f"The {feed['court']} court's RSS feed carries only these entry types: {feed['entry_types']}; "
                "other filings are not seen until another source polls."
                for feed in self.status(session, cases, []) if feed["complete"] is False]

    def fetch(self, cases: list[Case], ctx: SourceContext) -> Iterator[tuple[Case, Snapshot | Exception]]:
        by_court: dict[str, list[Case]] = defaultdict(list)
        for case in cases:
            by_court[case.court].append(case)
        for court, court_cases in by_court.items():
            try:
                snapshots = self._court(court, court_cases, ctx)
            except (HttpError, ValueError) as e:
                for case in court_cases:
                    yield case, e
                continue
            yield from snapshots

    def _court(self, court: str, cases: list[Case], ctx: SourceContext) -> list[tuple[Case, Snapshot]]:
        settings = self.settings
        key = f"pacer_rss:{court}"
        saved = store.source_state(ctx.session, key)
        url = settings.feed_url(court)
        headers = {}
        if saved.etag:
            headers["If-None-Match"] = saved.etag
        if saved.last_modified:
            headers["If-Modified-Since"] = saved.last_modified
        response = ctx.http.get(url, headers=headers)
        if response.status_code not in (200, 304):
            raise PacerRssError(f"{url}: {describe_status(response)}", response.status_code)

        gap = _outage_gap(ctx.session, court, settings.window_hours)
        state: dict[str, object] = {}
        dockets: list[ParsedDocket] = []
        # The body's hash, not its lastBuildDate: a damaged or empty answer can carry the
        # current date, and skipping the next intact feed by date would lose its items.
        fingerprint = hashlib.sha256(response.content).hexdigest() if response.status_code == 200 else None
        unchanged = response.status_code == 304 or saved.watermark == fingerprint
        if not unchanged:
            parsed = parsers.parse(response.content, court)
            if parsed.kind != "pacer_rss":
                raise PacerRssError(f"{url}: expected the court's RSS feed, got a {parsed.kind}")
            dockets = parsed.dockets
            state = {
                "etag": response.headers.get("ETag"),
                "last_modified": response.headers.get("Last-Modified"),
                "watermark": fingerprint,
                "entry_types": parsed.entry_types,
            }
        results = []
        matched: set[int] = set()
        for case in cases:
            docket = ParsedDocket(court=court, docket_number=case.docket_number)
            for i, candidate in enumerate(dockets):
                # An item's title names the parties of that filing, not the case (bankruptcy
                # feeds add adversaries), so the feed says nothing of the case's name.
                if _same_case(case, candidate):
                    matched.add(i)
                    docket.pacer_case_id = docket.pacer_case_id or candidate.pacer_case_id
                    docket.entries += candidate.entries
            results.append((case, Snapshot(
                source=self.name, docket=docket, delta=True, gap=gap,
                # The court's state is stored with each case: whichever case commits first
                # records it, and a failed case never skips the feed for the others.
                state={key: state} if state else {},
            )))
        if results:  # the items of no watched case, for [[discover]] rules (once per feed)
            results[0][1].others = [d for i, d in enumerate(dockets) if i not in matched]
        return results


def _same_case(case: Case, docket: ParsedDocket) -> bool:
    """Same normalized docket number; and the same PACER case id where both are known
    (criminal co-defendants share a number but not a case id)."""
    if docket_numbers.try_normalize(docket.docket_number) != case.docket_number:
        return False
    return not (case.pacer_case_id and docket.pacer_case_id and case.pacer_case_id != docket.pacer_case_id)


def _outage_gap(session: Session, court: str, window_hours: float) -> str | None:
    """A gap when the court's feed was last read successfully longer ago than it reaches back."""
    last = store.last_court_success(session, "pacer_rss", court)
    if last is None:
        return None
    away = utcnow() - as_utc(last)
    if away <= timedelta(hours=window_hours):
        return None
    return (
        f"the {court} RSS feed covers about {window_hours:g} hours, but it was last read "
        f"{_hours(away)} ago: filings in between may have been missed (import a docket report, "
        "or let CourtListener fill in)"
    )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 72 else f"{hours / 24:.0f} days"
