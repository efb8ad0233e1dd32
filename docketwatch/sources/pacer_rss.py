"""PACER court RSS feeds: one request per court serves every watched case there.

A feed covers about the last 24 hours of a whole court and holds only short texts;
CourtListener later fills in the full text of the same entry (same number), which the
diff engine records as a change, not a second entry. When a case was last read from
its court's feed longer ago than the feed reaches back, items may have scrolled out
unseen: the case gets a gap. That is each case's own last read, not the court's: the
feed read for other cases says nothing of one paused, removed or failing meanwhile.
Requests are conditional (ETag / Last-Modified), and a feed whose bytes have not
changed is not parsed again.

A case written without `sources` is read from its court's feed when CourtListener's
court list says that feed carries every entry type, or carries some that a case
already open gets (orders, opinions; not complaints alone). `status` and `plan` say
which feeds are partial; a case that lists its `sources` decides for itself. Feeds are
read every 10 minutes by default: one request serves every case in the court.
"""

from __future__ import annotations

import hashlib
import string
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property, partial
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, Field, field_validator
from sqlmodel import Session

from docketwatch import store
from docketwatch.domain import docket_numbers
from docketwatch.domain.courts import court_ids
from docketwatch.domain.snapshot import ParsedDocket, Snapshot, TargetState
from docketwatch.http import HttpClient, HttpError, describe_status
from docketwatch.ops.plan import DAY, PlanRow
from docketwatch.settings import MIN_POLL_INTERVAL, CaseConfig, Config, Duration, HttpUrl, Section, check_http_url
from docketwatch.sources.base import CourtInfo, CourtList, Source, SourceContext, concurrently
from docketwatch.sources.federal import (
    CourtFeed,
    Coverage,
    FederalIdentity,
    carries_every_type,
    load_coverage,
    refresh_coverage,
)
from docketwatch.store.models import StoredCase, as_utc, iso, utcnow

# CourtListener's court list is read again by `run` when the copy in the cache is older.
COVERAGE_MAX_AGE = timedelta(days=7)
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
    # How often each court's feed is read (a case's shorter poll_interval wins): one
    # request serves every case there, and CourtListener itself reads feeds every 5 minutes.
    interval: Duration = timedelta(minutes=10)
    # How long a court's feed may list no filing at all before its reads count as failed: a
    # feed that is served empty (an outage upstream, a blocked client) looks like a quiet
    # court, and a monitor that sees nothing must say so. A court's feed is rarely empty
    # for a long weekend; raise this for a court that is quieter still.
    max_empty: Duration = timedelta(days=4)
    # CourtListener's court list: which feeds carry every entry type (`docketwatch courts --refresh`).
    coverage_url: HttpUrl = "https://www.courtlistener.com/api/rest/v4/courts/"

    @field_validator("interval")
    @classmethod
    def _polite(cls, v: timedelta) -> timedelta:
        if v < MIN_POLL_INTERVAL:
            raise ValueError(f"must be at least {MIN_POLL_INTERVAL.total_seconds():g}s (a court's server is read "
                             "at most once a minute); write it like 90s, 10m or 1h")
        return v

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


class FeedState(TargetState):
    """What a court's feed needs next time: its validators, the hash of the last body read
    (a server without validators re-sends the same feed), and the entry types it carries."""

    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str | None = None
    entry_types: str | None = None
    # Since when every read of the feed has listed no item at all (None: it lists some).
    empty_since: datetime | None = None
    # When the body these validators stand for was asked for: a case whose latest
    # successful read ended before that has not seen it (None: stored by an older version).
    read_at: datetime | None = None


class PacerRssError(HttpError):
    """The court's feed could not be used."""


@dataclass
class _Feed:
    """A court's feed as read: its new state and items (None and none: unchanged since the last read)."""

    state: FeedState | None
    dockets: list[ParsedDocket]


class PacerRssSource(FederalIdentity, Source):
    name = "pacer_rss"
    Settings = PacerRssSettings
    settings: PacerRssSettings
    watches_changes = False  # a feed lists new filings only

    def servers(self, case: CaseConfig) -> list[str]:
        return [self.settings.feed_url(case.court)]

    @cached_property
    def coverage(self) -> Coverage:
        """Which courts' feeds carry what: CourtListener's list as last read, else the shipped snapshot."""
        return load_coverage()

    def check_court(self, court: str) -> None:
        """A CourtListener court id of a federal court with PACER (one CourtListener's court
        list describes), or one given its own feed URL in `courts`."""
        super().check_court(court)
        if self.coverage.feed(court) is None and court not in self.settings.courts:
            raise ValueError(f"is not a federal court with PACER, so it has no court RSS feed ({court_ids()[court]}); "
                             "read the case from another source, such as courtlistener")

    def serves_by_default(self, case: CaseConfig) -> bool:
        """On where the court's feed carries every entry type, or some that an open case gets."""
        return _serves(self.coverage.feed(case.court))

    def refresh_reference(self, http: HttpClient) -> bool:
        """CourtListener's court list read again when only the snapshot is known or the cache
        is older than COVERAGE_MAX_AGE (about a dozen anonymous requests); True when a court's
        feed now counts differently for `serves_by_default`."""
        known = self.coverage
        read_at = known.read_at()
        if known.origin == "cache" and read_at and utcnow() - read_at < COVERAGE_MAX_AGE:
            return False
        self.coverage = refresh_coverage(http, self.settings.coverage_url)
        return _by_default(known) != _by_default(self.coverage)

    def courts(self, http: HttpClient, refresh: bool) -> CourtList:
        if refresh:
            self.coverage = refresh_coverage(http, self.settings.coverage_url)
        return CourtList(source=self.name, origin=self.coverage.describe(), courts=[
            CourtInfo(court=f.court, name=f.name, coverage=f.describe(), details=f.as_json())
            for f in sorted(self.coverage.courts.values(), key=lambda f: f.court)])

    def jobs(self, config: Config, cases: list[CaseConfig], active: set[str]) -> list[PlanRow]:
        """One job per court: its feed serves every watched case there."""
        rows = []
        for court, court_cases in sorted(_by_court(cases).items()):
            interval = min([self.settings.interval] + [config.poll_interval(c) for c in court_cases])
            rows.append(PlanRow(
                job_id=f"{self.name}:{court}", source=self.name, court=court, case=None, cases=court_cases,
                interval=interval, api_interval=None, requests_per_day=DAY / interval, budgeted_per_day=0.0,
                active=None, new_filing_delay=interval, change_delay=None,
            ))
        return rows

    def unwatched(self, case: CaseConfig, case_sources: list[Source]) -> list[str]:
        out = []
        feed = self.coverage.feed(case.court)
        others = [s.name for s in case_sources if s is not self]
        if feed is not None and feed.has_feed is False:
            out.append(f"CourtListener lists no RSS feed for {case.court}: the feed may show nothing")
        elif feed is not None and feed.complete is False:
            out.append(f"the {case.court} court's RSS feed carries {feed.describe()}: other filings are seen "
                       + (f"through {', '.join(others)} only" if others else "by no source of the case"))
        if not any(s.watches_changes for s in case_sources):
            out.append("the court's RSS feed lists new filings only: changes to entries already seen are not "
                       'watched (add "courtlistener" to the case\'s sources)')
        return out

    def plan_summary(self, rows: list[PlanRow]) -> tuple[dict[str, Any], list[str]]:
        """Each court feed read, what it carries (CourtListener's court list), and from where that is known.
        While only the shipped snapshot is known, say so even when no feed is read: it is why none is."""
        known = sum(f.complete is not None for f in self.coverage.courts.values())
        unread = (f"court RSS feeds: {self.coverage.describe()} knows what {known} court feeds carry, so "
                  "cases elsewhere are not read from their court's feed by default; `docketwatch courts "
                  "--refresh` reads CourtListener's court list (no token needed)") \
            if self.coverage.origin == "snapshot" else None
        if not rows:
            return ({"source": self.name, "coverage": self.coverage.describe(), "courts_known": known, "feeds": []},
                    [unread]) if unread else ({}, [])
        feeds = []
        lines = [f"court RSS feeds ({self.coverage.describe()}; `docketwatch courts --refresh` reads it again):"]
        for row in rows:
            feed = self.coverage.feed(row.court)
            carries = feed.describe() if feed else "not known"
            feeds.append({"court": row.court, "complete": feed.complete if feed else None, "carries": carries,
                          "cases": [c.name for c in row.cases]})
            partial = " (partial: other filings are seen through the cases' other sources)" if (
                feed and feed.complete is False) else ""
            lines.append(f"  {row.court:<8} {carries}{partial}")
        # A feed read less often than it holds filings for loses what scrolls off between reads.
        window = timedelta(hours=self.settings.window_hours)
        short = [r.court for r in rows if r.interval > window]
        lines += [f"{self.name} {court}: polled less often than its feed holds filings (about "
                  f"{self.settings.window_hours:g} h): filings between polls can be missed; poll it more often"
                  for court in short]
        return {"source": self.name, "coverage": self.coverage.describe(), "courts_known": known, "feeds": feeds,
                "feeds_polled_too_rarely": short}, lines + ([unread] if unread else [])

    def status(self, session: Session, cases: list[CaseConfig], jobs: list[PlanRow]) -> list[dict[str, Any]]:
        """Court feeds in use: last success, whether they carry every entry type, and the
        cases of which they have listed nothing since they were first read for them."""
        out = []
        successes = store.last_court_successes(session, self.name)
        states = store.load_states(session, self.name, FeedState)
        unseen = store.never_seen(session, cases)
        for court, court_cases in sorted(_by_court(cases).items()):
            last = successes.get(court)
            state = states.get(court) or FeedState()
            entry_types = state.entry_types
            feed = self.coverage.feed(court)
            out.append({
                "source": self.name, "court": court, "url": self.settings.feed_url(court),
                "last_success": iso(last), "entry_types": entry_types, "empty_since": iso(state.empty_since),
                "complete": None if entry_types is None else carries_every_type(entry_types),
                # What CourtListener's court list says (the feed's own description above wins once read).
                "coverage": feed.describe() if feed else "not known",
                "coverage_complete": feed.complete if feed else None,
                "coverage_from": self.coverage.describe(),
                "never_seen": [{"case": c.name, "docket_number": c.docket_number, "since": iso(unseen[c.label])}
                               for c in court_cases if c.label in unseen],
            })
        return out

    def status_lines(self, record: dict[str, Any]) -> list[str]:
        lines = [f"{self.name} {record['court']}: {record['url']}, last success {record['last_success'] or 'never'}"]
        if record["complete"] is False:
            lines.append(f"  this feed carries only some entry types ({record['entry_types']}): "
                         "it cannot see every filing")
        elif record["complete"]:
            lines.append("  this feed carries every entry type")
        elif record["coverage_complete"] is False:
            lines.append(f"  this feed carries {record['coverage']} ({record['coverage_from']}): "
                         "it cannot see every filing")
        else:
            lines.append(f"  this feed carries {record['coverage']} ({record['coverage_from']})")
        if record["empty_since"]:
            lines.append(f"  the feed has listed no filing at all, of any case, since {record['empty_since']}: "
                         f"a quiet court, or a feed not being served (its reads fail after "
                         f"{_hours(self.settings.max_empty)} of this)")
        # A feed lists new filings only: a number that matches none of its items is silent, not an error.
        lines += [f"  no filing of {c['case']} ({c['docket_number']}) seen since {c['since']}: a quiet case "
                  "and a mistyped docket number look alike here; check the number on PACER or CourtListener"
                  for c in record["never_seen"]]
        return lines

    def digest_warnings(self, session: Session, cases: list[CaseConfig]) -> list[str]:
        out = []
        for feed in self.status(session, cases, []):
            if feed["complete"] is False:  # as the feed itself says
                carries = f"only these entry types: {feed['entry_types']}"
            elif feed["complete"] is None and feed["coverage_complete"] is False:  # as CourtListener says
                carries = feed["coverage"]
            else:
                continue
            out.append(f"The {feed['court']} court's RSS feed carries {carries}; "
                       "other filings are not seen until another source polls.")
        return out

    def fetch(self, cases: list[StoredCase], ctx: SourceContext) -> Iterator[tuple[StoredCase, Snapshot | Exception]]:
        """Each court's feed is one request; the feeds are read concurrently (each court
        is a server of its own), and each feed's items go to its cases as it comes in."""
        by_court = _by_court(cases)
        successes = store.last_runs(ctx.session, ok=True, source=self.name, case_ids=[c.id for c in cases])
        states = store.load_states(ctx.session, self.name, FeedState)
        saved = {court: states.get(court) or FeedState() for court in by_court}
        reads = [(court, partial(self._read, court, saved[court], ctx.http,
                                 whole=not all(_has_seen(saved[court], successes.get(c.id)) for c in court_cases)))
                 for court, court_cases in by_court.items()]
        for court, feed in concurrently(reads, ctx.http):
            if isinstance(feed, Exception):
                for case in by_court[court]:
                    yield case, feed
            else:
                yield from self._snapshots(court, by_court[court], feed, successes, saved[court].empty_since)

    def _read(self, court: str, saved: FeedState, http: HttpClient, *, whole: bool) -> _Feed:
        """The court's feed, asked with the validators of the last read, or, when `whole`
        (a case has not seen the body they stand for), asked and parsed whatever it
        holds (no database: a fetch thread runs this)."""
        url = self.settings.feed_url(court)
        headers = {}
        if not whole:
            if saved.etag:
                headers["If-None-Match"] = saved.etag
            if saved.last_modified:
                headers["If-Modified-Since"] = saved.last_modified
        read_at = utcnow()
        response = http.get(url, headers=headers)
        if response.status_code not in (200, 304):
            raise PacerRssError(f"{url}: {describe_status(response)}", response.status_code)
        # The body's hash, not its lastBuildDate: a damaged or empty answer can carry the
        # current date, and skipping the next intact feed by date would lose its items.
        fingerprint = hashlib.sha256(response.content).hexdigest() if response.status_code == 200 else None
        if response.status_code == 304 or (saved.fingerprint == fingerprint and not whole):
            return _Feed(state=None, dockets=[])
        from docketwatch import parsers  # lxml, only when a feed has changed
        from docketwatch.parsers.common import ParseError

        try:
            parsed = parsers.parse(response.content, court)
        except ParseError as e:  # named with the feed: a case read from two sources must say which failed
            raise PacerRssError(f"{url}: {e}") from None
        if parsed.kind != "pacer_rss":
            raise PacerRssError(f"{url}: expected the court's RSS feed, got a {parsed.kind}")
        state = FeedState(etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified"),
                          fingerprint=fingerprint, entry_types=parsed.entry_types,
                          empty_since=None if parsed.dockets else saved.empty_since or utcnow(), read_at=read_at)
        return _Feed(state=state, dockets=parsed.dockets)

    def _snapshots(self, court: str, cases: list[StoredCase], feed: _Feed, successes: dict[int, store.LastRun],
                   was_empty_since: datetime | None) -> Sequence[tuple[StoredCase, Snapshot | Exception]]:
        """A snapshot per case of what the feed says of it (nothing, for a feed unchanged),
        or an error for each when the feed has listed nothing at all for longer than
        `max_empty`; `successes`: each case's latest successful read of the feed, by case id;
        `was_empty_since`: as the reads before this one left it (FeedState.empty_since)."""
        now = utcnow()
        empty_since = as_utc(was_empty_since) if was_empty_since else now
        long_empty = now - empty_since > self.settings.max_empty
        if long_empty and not feed.dockets:
            error = PacerRssError(
                f"{self.settings.feed_url(court)}: the feed has listed no filing at all, of any case, since "
                f"{empty_since:%Y-%m-%d %H:%M} UTC ({_hours(now - empty_since)}): a court's feed is rarely "
                "empty this long, so it is probably not being served (open the URL in a browser); for a court "
                "this quiet, raise [sources.pacer_rss] max_empty")
            return [(case, error) for case in cases]
        # Items by normalized docket number: each case finds its own without scanning the feed.
        index: dict[str | None, list[ParsedDocket]] = defaultdict(list)
        for candidate in feed.dockets:
            index[docket_numbers.try_normalize(candidate.docket_number)].append(candidate)
        results: list[tuple[StoredCase, Snapshot]] = []
        matched: set[int] = set()
        for case in cases:
            docket = ParsedDocket(court=court, docket_number=case.docket_number)
            candidates = index.get(case.docket_number, [])
            chosen, warnings = _one_docket(court, case, candidates)
            for candidate in candidates:
                # An item's title names the parties of that filing, not the case (bankruptcy
                # feeds add adversaries), so the feed says nothing of the case's name.
                if candidate.pacer_case_id in (None, chosen):
                    matched.add(id(candidate))
                    docket.pacer_case_id = docket.pacer_case_id or candidate.pacer_case_id
                    docket.entries += candidate.entries
            last = as_utc(successes[case.id].started_at) if case.id in successes else None
            if last and long_empty:  # its reads failed; those before showed nothing either
                last = min(last, empty_since)
            results.append((case, Snapshot(
                source=self.name, docket=docket, delta=True,
                gap=_outage_gap(last, now, court, self.settings.window_hours),
                # The court's state is stored with each case: whichever case commits first
                # records it, and a failed case never skips the feed for the others.
                state={court: feed.state} if feed.state else {},
                warnings=warnings,
            )))
        if results:  # the items of no watched case, for [[discover]] rules (once per feed)
            results[0][1].others = [d for d in feed.dockets if id(d) not in matched]
        return results


CaseT = TypeVar("CaseT", CaseConfig, StoredCase)


def _by_court(cases: Iterable[CaseT]) -> dict[str, list[CaseT]]:
    """`cases` by court, in their order: one feed serves each court's."""
    out: dict[str, list[CaseT]] = defaultdict(list)
    for case in cases:
        out[case.court].append(case)
    return out


def _has_seen(state: FeedState, success: store.LastRun | None) -> bool:
    """Whether a case's latest successful read of its court's feed saw the body the
    feed's validators stand for. A case added since, or resumed, or whose own store
    step failed while the others stored that body, has not: an answer of 304 (or the
    same bytes) would give it nothing, and the items it never saw would come as new
    with the next change of the feed, or scroll out unseen."""
    if success is None:
        return False
    if state.read_at is None or success.finished_at is None:
        return True  # a state or run of an older version: as before, the validators are trusted
    return as_utc(success.finished_at) >= as_utc(state.read_at)


def _one_docket(court: str, case: StoredCase, candidates: list[ParsedDocket]) -> tuple[str | None, list[str]]:
    """The PACER case id of the docket that is `case` among the feed's items with its
    number (an adversary proceeding, a co-defendant's docket, may share it): the case's
    own when known, else the first opened (the lowest id), said in a warning when there
    is a choice, and kept with the case from then on (items without an id go with it)."""
    if case.pacer_case_id:
        return case.pacer_case_id, []
    ids = sorted({c.pacer_case_id for c in candidates if c.pacer_case_id}, key=lambda i: (len(i), i))
    if len(ids) < 2:
        return (ids[0] if ids else None), []
    return ids[0], [f"the {court} feed shows filings of {len(ids)} dockets numbered {case.docket_number} (PACER "
                    f"case ids {', '.join(ids)}): this case is read as {ids[0]}, the first opened, from now on; "
                    "the others' filings are left out"]


def _outage_gap(last: datetime | None, now: datetime, court: str, window_hours: float) -> str | None:
    """A gap when the case was last read from the court's feed (`last`) longer ago than
    the feed reaches back; none for a case the feed never served (its first read)."""
    if last is None:
        return None
    away = now - as_utc(last)
    if away <= timedelta(hours=window_hours):
        return None
    return (
        f"this case was last read from the {court} RSS feed {_hours(away)} ago, and the feed covers "
        f"about {window_hours:g} hours: filings in between may have been missed (import a docket report, "
        "or let CourtListener fill in)"
    )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 72 else f"{hours / 24:.0f} days"


def _serves(feed: CourtFeed | None) -> bool:
    """A court feed worth reading for a case by default: it carries every entry type, or
    types an open case gets (orders, opinions)."""
    return feed is not None and (bool(feed.complete) or (feed.complete is False and feed.adds_to_a_case))


def _by_default(coverage: Coverage) -> set[str]:
    return {court for court, feed in coverage.courts.items() if _serves(feed)}
