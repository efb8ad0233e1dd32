"""CourtListener: the per-docket Atom feed (free, no quota) and the REST API v4.

Without a token the feed is used: the 30 latest entries, one request per case.
With a token the API gives the full history once, then only entries modified since
the last poll, ordered by date_modified so that a poll cut short by the budget can
resume exactly where it stopped; an unchanged docket costs that one request, as the
docket's own fields (name, judge, termination) are read again only when its entries
changed or a day after their last read. When the budget is spent or the API throttles
us, the feed keeps the case fresh. Cases are polled concurrently (`[http] max_per_host`
requests at once), each with what it needs read from the store beforehand. Only
documented query parameters are sent: the API answers 400 to anything else.

Planning: the docket feed is free and read at the poll interval. The API, when a token
is set, is metered: its daily budget (less a reserve for pagination and retries) is
shared out among the cases, active ones (a filing in the last `active_days`) weighing
more than dormant ones. Between two API polls of a case its feed is read, so a new
filing is seen within one poll interval; the API interval bounds how late a change to an
older entry (text filled in, document now available) is seen. Without the API such
changes are seen only among the feed's latest entries (`unwatched` says so).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from sqlalchemy import func
from sqlmodel import Session, select

from docketwatch import store
from docketwatch.domain import docket_numbers
from docketwatch.domain.snapshot import THROTTLE, ParsedDocket, ParsedEntry, Snapshot, TargetState, Throttle
from docketwatch.domain.text import without_controls
from docketwatch.http import Budget, BudgetExhausted, Cancelled, HttpClient, HttpError, Throttled, describe_status
from docketwatch.ops.plan import DAY, PlanRow
from docketwatch.settings import CaseConfig, Config, HttpUrl, Section
from docketwatch.sources.base import FoundCase, Source, SourceContext, concurrently
from docketwatch.sources.federal import FederalIdentity
from docketwatch.store.models import CheckRun, StoredCase, as_utc, iso, utcnow

FEED_WINDOW = 30
PUBLIC_HOST = "www.courtlistener.com"
# `https://www.courtlistener.com/docket/67569326/kadrey-v-meta-platforms-inc/`, or `67569326`.
_DOCKET_REFERENCE = re.compile(r"(?:https?://(?P<host>[^/\s]+)/docket/)?(?P<id>\d{1,10})(?:/\S*)?")
API = "/api/rest/v4"
STORAGE = "https://storage.courtlistener.com/"
ATOM = "{http://www.w3.org/2005/Atom}"
DOCKET_FIELDS = "id,court_id,docket_number,case_name,pacer_case_id,assigned_to_str,date_terminated"
# A poll through the API costs at least the docket and one page of entries.
MIN_API_REQUESTS = 2
ACTIVE_WEIGHT, DORMANT_WEIGHT = 3, 1
# The docket's own fields (name, judge, termination) are read when its entries changed,
# else at most this often: an unchanged docket costs one request (its entry list).
DOCKET_REFRESH = timedelta(days=1)
BUDGET_RESERVE = 0.1  # kept back for extra pages and retries


class CourtListenerSettings(Section):
    """`[sources.courtlistener]`."""

    base_url: HttpUrl = "https://www.courtlistener.com"
    token: str | None = None
    daily_request_budget: int = Field(default=125, ge=0, le=10_000_000)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")


class Validators(TargetState):
    """A docket's Atom feed: the validators of the last answer, for a conditional request."""

    etag: str | None = None
    last_modified: str | None = None


class EntriesState(TargetState):
    """A docket's entry list in the API: the latest `date_modified` read, where the next
    poll resumes (OVERLAP before it: an entry stamped earlier but committed later is
    read, never skipped), and when the docket's own fields were last read."""

    modified_since: str | None = None
    docket_read_at: datetime | None = None
    # The first read of the whole list was cut short (budget spent): the next reads resume it.
    history_incomplete: bool = False
    # The overlap's entries read already (CourtListener id -> date_modified): each poll
    # reads them again, and only one not among them (committed late) goes to the diff.
    overlap_read: dict[str, str] = {}


class CaseOptions(Section):
    """A case's own keys for CourtListener."""

    # Pins the docket (no lookup by number; the free feed can be read without a token).
    # CourtListener's docket ids are far below 2**31.
    courtlistener_id: int | None = Field(default=None, gt=0, lt=2**31)


def docket_id(case: StoredCase) -> int | None:
    """The case's CourtListener docket id: pinned in the configuration, or found by number."""
    known = case.source_ids.get("courtlistener")
    return int(known) if known else None


class CourtListenerError(HttpError):
    """CourtListener answered, but not with what we asked for."""


class CourtListenerSource(FederalIdentity, Source):
    name = "courtlistener"
    Settings = CourtListenerSettings
    CaseOptions = CaseOptions
    settings: CourtListenerSettings

    def pinned_id(self, case: CaseConfig) -> str | None:
        options = self.case_options(case)
        assert isinstance(options, CaseOptions)
        return str(options.courtlistener_id) if options.courtlistener_id else None

    def case_url(self, case: StoredCase) -> str | None:
        known = docket_id(case)
        return f"{self.settings.base_url}/docket/{known}/" if known else None

    def find(self, reference: str, court: str | None, http: HttpClient) -> FoundCase | None:
        """A CourtListener docket URL (of this server or www.courtlistener.com) or docket id:
        through the API when there is a token (one request, court included), else from
        the free docket feed, which does not name the court. With a token, also a district
        number without its office (`23-cv-3417`) in a given court, when one docket fits."""
        m = _DOCKET_REFERENCE.fullmatch(reference.strip())
        if m is None:
            return self._find_number(reference, court, http)
        if m["host"] and m["host"] not in (urlsplit(self.settings.base_url).netloc, PUBLIC_HOST):
            return None
        docket_id = int(m["id"])
        if self.settings.token:
            url = f"{self.settings.base_url}{API}/dockets/{docket_id}/"
            found = _Api(http, self.settings).get(url, {"fields": "id,court_id,docket_number,case_name"})
            try:
                name, found_court, number = found["case_name"], found["court_id"], found["docket_number"]
            except (KeyError, TypeError):
                raise CourtListenerError(f"{url}: CourtListener's answer is not a docket") from None
            return FoundCase(name=name, court=found_court, docket_number=number, keys={"courtlistener_id": docket_id},
                             how="looked up through the CourtListener API (1 request)")
        if court is None:
            raise ValueError(f"CourtListener's free docket feed does not name the court of docket {docket_id}: "
                             "give it with --court (e.g. --court cand), or set [sources.courtlistener] token "
                             "to look it up")
        url = f"{self.settings.base_url}/docket/{docket_id}/feed/"
        response = http.get(url)
        if response.status_code == 404:
            raise CourtListenerError(f"{url}: CourtListener has no docket {docket_id} (HTTP 404)", 404)
        if response.status_code != 200:
            raise CourtListenerError(f"{url}: {describe_status(response)}", response.status_code)
        docket = parse_feed(response.content, court, docket_id)
        if not docket.docket_number:
            raise ValueError(f"{url}: the docket feed names no docket number; add the case by court and number")
        return FoundCase(name=docket.case_name or docket.docket_number, court=court,
                         docket_number=docket.docket_number, keys={"courtlistener_id": docket_id},
                         how="read from CourtListener's free docket feed (no token set); court as given")

    def _find_number(self, reference: str, court: str | None, http: HttpClient) -> FoundCase | None:
        try:
            written = docket_numbers.written(reference)
        except docket_numbers.DocketNumberError:
            return None
        if written.number is not None or court is None or not self.settings.token:
            return None
        url = f"{self.settings.base_url}{API}/dockets/"
        page = _Api(http, self.settings).results(url, {"court": court, "docket_number_core": str(written.core),
                                                       "fields": "id,court_id,docket_number,case_name"})
        try:
            fits = [d for d in page["results"]
                    if written.fits(docket_numbers.try_normalize(d.get("docket_number")) or "")]
        except AttributeError:
            raise CourtListenerError(f"{url}: CourtListener's answer is not a list of dockets") from None
        numbers = sorted({docket_numbers.normalize(d["docket_number"]) for d in fits})
        if len(numbers) != 1:
            raise ValueError(f"{reference!r} in {court}: CourtListener has "
                             f"{'no such docket' if not numbers else 'several: ' + ', '.join(numbers)}; "
                             "write the number with its office, like 3:23-cv-03417")
        docket = sorted(fits, key=lambda d: not d.get("pacer_case_id"))[0]
        return FoundCase(name=docket.get("case_name") or numbers[0], court=court, docket_number=numbers[0],
                         keys={"courtlistener_id": docket["id"]},
                         how="looked up through the CourtListener API (1 request)")

    def servers(self, case: CaseConfig) -> list[str]:
        return [self.settings.base_url]

    def jobs(self, config: Config, cases: list[CaseConfig], active: set[str]) -> list[PlanRow]:
        """One job per case; with a token, each case's share of the API budget."""
        settings = self.settings
        weights = {c.label: ACTIVE_WEIGHT if c.label in active else DORMANT_WEIGHT for c in cases}
        api_polls = settings.daily_request_budget * (1 - BUDGET_RESERVE) / MIN_API_REQUESTS if settings.token else 0
        total_weight = sum(weights.values()) or 1
        rows = []
        for case in cases:
            interval = config.poll_interval(case)
            api_interval = None
            budgeted = 0.0
            if api_polls:
                share = api_polls * weights[case.label] / total_weight
                api_interval = max(DAY / share, interval) if share > 0 else None
                if api_interval:
                    budgeted = DAY / api_interval * MIN_API_REQUESTS
            rows.append(PlanRow(
                job_id=f"{self.name}:{case.court}:{case.docket_number}", source=self.name, court=case.court,
                case=case.name, cases=[case], interval=interval, api_interval=api_interval,
                requests_per_day=DAY / interval + budgeted / MIN_API_REQUESTS, budgeted_per_day=budgeted,
                active=case.label in active, new_filing_delay=interval,
                # Without the API, only the feed's latest 30 entries show changes.
                change_delay=api_interval,
            ))
        return rows

    def plan_summary(self, rows: list[PlanRow]) -> tuple[dict[str, Any], list[str]]:
        settings = self.settings
        budgeted = sum(r.budgeted_per_day for r in rows)
        line = (f"CourtListener API: {budgeted:.0f} of {settings.daily_request_budget} requests a day planned"
                if settings.token else "CourtListener: no token, so only the free docket feeds (no quota) are read")
        return ({"source": self.name, "api": bool(settings.token),
                 "daily_request_budget": settings.daily_request_budget}, [line])

    def unwatched(self, case: CaseConfig, case_sources: list[Source]) -> list[str]:
        if self.settings.token:
            return []
        return [f"changes to entries older than the docket feed's latest {FEED_WINDOW} (text filled in or "
                "edited, document now available), and a document sealed or unsealed at all (the feed does not "
                "say), are not watched without an API token ([sources.courtlistener] token)"]

    def status(self, session: Session, cases: list[CaseConfig], jobs: list[PlanRow]) -> list[dict[str, Any]]:
        """The API budget: how much is spent, and whether it limits freshness."""
        settings = self.settings
        used = store.quota_used(session, self.name)
        limited = bool(settings.token) and settings.daily_request_budget - used < MIN_API_REQUESTS
        frees_at = None
        if limited:
            since = utcnow() - timedelta(days=1)
            oldest = session.exec(
                select(func.min(CheckRun.started_at)).where(
                    CheckRun.source == self.name, CheckRun.quota_requests > 0, CheckRun.started_at >= since)
            ).one()
            frees_at = iso(oldest + timedelta(days=1)) if oldest else None
        throttled = store.load_state(session, self.name, THROTTLE, Throttle).until
        return [{
            "source": self.name,
            "mode": "api" if settings.token else "feed",
            "requests_24h": used,
            "daily_request_budget": settings.daily_request_budget,
            "planned_requests_per_day": round(sum(j.budgeted_per_day for j in jobs)),
            "budget_limits_freshness": limited,
            "budget_frees_at": frees_at,
            "throttled_until": iso(throttled) if throttled and as_utc(throttled) > utcnow() else None,
        }]

    def status_lines(self, record: dict[str, Any]) -> list[str]:
        line = f"{record['source']}: {record['mode']} mode, {record['requests_24h']} API requests in the last 24 h"
        if record["mode"] == "api":
            line += (f" of {record['daily_request_budget']}; `docketwatch run` plans "
                     f"{record['planned_requests_per_day']} a day (`docketwatch plan`)")
        lines = [line]
        if record["budget_limits_freshness"]:
            lines.append(f"  the request budget is spent: cases are polled through the {FEED_WINDOW}-entry feed "
                         f"until {record['budget_frees_at']}")
        if record["throttled_until"]:
            lines.append(f"  throttled by the server until {record['throttled_until']}")
        return lines

    def digest_warnings(self, session: Session, cases: list[CaseConfig]) -> list[str]:
        budget = self.status(session, cases, [])[0]
        if not budget["budget_limits_freshness"]:
            return []
        return ["The CourtListener API request budget is spent: cases are polled through the "
                f"{FEED_WINDOW}-entry feed until {budget['budget_frees_at'] or 'it frees up'}."]

    def fetch(self, cases: list[StoredCase], ctx: SourceContext) -> Iterator[tuple[StoredCase, Snapshot | Exception]]:
        """The cases' requests run concurrently (`concurrently`); what they need from the
        store is read here first, on the calling thread."""
        settings = self.settings
        budget = Budget(settings.daily_request_budget, store.quota_used(ctx.session, self.name))
        throttled = store.load_state(ctx.session, self.name, THROTTLE, Throttle).until
        yield from concurrently([(case, self._prepare(case, ctx, budget, throttled).run) for case in cases], ctx.http)

    def _prepare(self, case: StoredCase, ctx: SourceContext, budget: Budget, throttled: datetime | None) -> _CasePoll:
        """A case's poll with all it needs from the store: the API when there is a token
        and its turn has come (always, to look up a docket whose id is not known yet)."""
        known = docket_id(case)
        api = bool(self.settings.token) and (known is None or not _api_polled_recently(case, ctx))
        return _CasePoll(
            case=case,
            settings=self.settings, http=ctx.http, budget=budget, api=api,
            throttled=throttled if throttled and as_utc(throttled) > utcnow() else None,
            validators=store.load_state(ctx.session, self.name, f"feed:{known}", Validators) if known else Validators(),
            # Without a known id no entry list of this case was ever read: all its history is read.
            entries=store.load_state(ctx.session, self.name, f"entries:{known}", EntriesState) if known and api
            else EntriesState(),
        )


@dataclass
class _CasePoll:
    """One case's poll, with what it read from the store before: it makes requests only,
    so it can run on a worker thread (a StoredCase is a plain, read-only row)."""

    case: StoredCase
    settings: CourtListenerSettings
    http: HttpClient
    budget: Budget
    api: bool  # the API is wanted
    throttled: datetime | None  # the API's throttle, when one holds
    validators: Validators  # of the docket's feed
    entries: EntriesState  # of the docket's entry list

    def run(self) -> Snapshot:
        """The API when wanted, else, or when the API cannot be used now, the feed."""
        case = self.case
        unused: str | None = None  # why the API was not used although it was wanted
        state: dict[str, TargetState] = {}
        # An unchanged docket whose id and watermark are known costs one request.
        known = docket_id(case)
        needed = 1 if known and self.entries.modified_since else MIN_API_REQUESTS
        if self.api:
            if self.throttled:
                unused = f"the API is throttled until {self.throttled:%H:%M} UTC"
            elif self.budget.remaining < needed:
                unused = f"the API budget is spent ({self.budget.used}/{self.budget.limit} requests in 24 h)"
            else:
                try:
                    return _Api(self.http, self.settings, self.budget).snapshot(case, self.entries)
                except Throttled as e:
                    state[THROTTLE] = Throttle(until=e.until)
                    unused = str(e)
                except BudgetExhausted:  # spent meanwhile by the other cases' requests
                    unused = f"the API budget is spent ({self.budget.limit} requests in 24 h)"
                except CourtListenerError as e:
                    if e.status != 403:
                        raise
                    unused = "the token may not read dockets or docket entries (HTTP 403)"
        if known is None:
            if unused:
                raise CourtListenerError(
                    f"{case.name!r} has no courtlistener_id, and its docket cannot be looked up now: {unused}; "
                    "it is tried again at the next poll (pin courtlistener_id in the configuration to use the feed "
                    "meanwhile)"
                )
            raise CourtListenerError(
                f"{case.name!r} has no courtlistener_id, and without an API token the docket cannot "
                "be looked up: pin courtlistener_id in the configuration or set [sources.courtlistener] token"
            )
        snapshot = _feed_snapshot(case, self.http, self.settings, self.validators)
        if unused:
            snapshot.warnings.insert(0, f"{unused}; used the feed")
        snapshot.state.update(state)
        return snapshot


def _api_polled_recently(case: StoredCase, ctx: SourceContext) -> bool:
    """Pacing: the budget plan gives each case an API interval; in between, the free feed."""
    interval = ctx.api_intervals.get((case.court, case.name))
    if interval is None:
        return False
    last = ctx.session.exec(
        select(func.max(CheckRun.started_at)).where(
            CheckRun.case_id == case.id, CheckRun.source == "courtlistener", CheckRun.quota_requests > 0)
    ).one()
    return last is not None and utcnow() - as_utc(last) < interval


def _feed_snapshot(case: StoredCase, http: HttpClient, settings: CourtListenerSettings, saved: Validators) -> Snapshot:
    """The 30 latest entries from /docket/<id>/feed/, conditionally requested."""
    known = docket_id(case)
    assert known is not None  # fetch() reads the feed only of a case with one
    target = f"feed:{known}"
    headers = {}
    if saved.etag:
        headers["If-None-Match"] = saved.etag
    if saved.last_modified:
        headers["If-Modified-Since"] = saved.last_modified
    url = f"{settings.base_url}/docket/{known}/feed/"
    response = http.get(url, headers=headers)
    if response.status_code == 304:
        docket = ParsedDocket(court=case.court, docket_number=case.docket_number)
        return Snapshot(source="courtlistener", docket=docket, rendering="feed", window=FEED_WINDOW, delta=True)
    if response.status_code == 404:
        raise CourtListenerError(f"{url}: CourtListener has no docket {known} (HTTP 404)", 404)
    if response.status_code != 200:
        raise CourtListenerError(f"{url}: {describe_status(response)}", response.status_code)
    docket = parse_feed(response.content, case.court, known)
    if not docket.entries and not docket.docket_number:
        # A well-formed feed with no entries and no readable docket number: nothing can be
        # stored from it but "no entries yet" for the pinned docket.
        docket.docket_number = case.docket_number
    validators = Validators(etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified"))
    return Snapshot(source="courtlistener", docket=docket, rendering="feed", window=FEED_WINDOW,
                    state={target: validators})


def parse_feed(content: bytes, court: str, docket_id: int) -> ParsedDocket:
    """Read a CourtListener docket Atom feed; ValueError when it is not one."""
    import lxml.html  # here, not at the top: `status` and `--help` load this plug-in but parse nothing

    from docketwatch.parsers.common import load_xml

    root = load_xml(content, f"CourtListener feed for docket {docket_id}")
    if root.tag != f"{ATOM}feed":
        raise ValueError(f"CourtListener feed for docket {docket_id} is not an Atom feed")
    # "CourtListener.com: Docket for <case name>, <docket number>": the docket's number and
    # name even when it has no entries yet.
    _, found, about = root.findtext(f"{ATOM}title", "").strip().partition("Docket for ")
    title_name, _, title_number = about.rpartition(", ") if found else ("", "", "")
    docket = ParsedDocket(court=court, docket_number=title_number, case_name=title_name or None,
                          source_id=str(docket_id))
    for item in root.iter(f"{ATOM}entry"):
        title = item.findtext(f"{ATOM}title", "").strip()
        head, _, rest = title.partition(" in ")
        case_name, _, number = rest.rpartition(", ")
        docket.case_name = docket.case_name or case_name or None
        docket.docket_number = docket.docket_number or number
        link = next((a.get("href", "") for a in item.iter(f"{ATOM}link") if a.get("rel") == "alternate"), "")
        anchor = link.rpartition("#")[2]
        entry_number = source_id = None
        if anchor.startswith("entry-"):
            entry_number = anchor.removeprefix("entry-")
        elif anchor.startswith("minute-entry-"):
            source_id = anchor.removeprefix("minute-entry-")
        elif head.startswith("Entry #"):
            entry_number = head.removeprefix("Entry #")
        summary = item.findtext(f"{ATOM}summary", "")
        # Parsed as one document, not through fragment_fromstring(create_parent=): that refuses
        # a control character (or a reference to one) and failed the case's every poll.
        text = lxml.html.fromstring(f"<div>{summary}</div>").text_content() if summary.strip() else ""
        published = item.findtext(f"{ATOM}published", "").strip()
        enclosure = next((a.get("href") for a in item.iter(f"{ATOM}link") if a.get("rel") == "enclosure"), None)
        docket.entries.append(
            ParsedEntry(
                entry_number=entry_number,
                date_filed=datetime.fromisoformat(published).date() if published else None,
                # Control characters (written, or as references such as &#1;) part words, as they always did.
                description=" ".join(without_controls(text, " ").split()),
                source_id=source_id,
                url=enclosure or link or None,
                document_available=True if enclosure else None,
            )
        )
    return docket


class _Api:
    """Requests to the REST API with the token: one case's poll, spending from the shared
    budget, or a lookup by `add` (no budget)."""

    def __init__(self, http: HttpClient, settings: CourtListenerSettings, budget: Budget | None = None):
        self.http = http
        self.settings = settings
        self.budget = budget

    def get(self, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        if urlsplit(url)[:2] != urlsplit(self.settings.base_url)[:2]:
            # A link in an answer (a page's `next`) may name any server: the token goes to ours only.
            raise CourtListenerError(f"{url}: a link in CourtListener's answer leads to another server than "
                                     "[sources.courtlistener] base_url; not followed, nothing of it was stored")
        headers = {"Authorization": f"Token {self.settings.token}"}
        response = self.http.get(url, params=params, headers=headers, budget=self.budget)
        if response.status_code == 401:
            raise CourtListenerError(
                f"{url}: CourtListener rejected the API token (HTTP 401); "
                "check [sources.courtlistener] token", 401
            )
        if response.status_code != 200:
            raise CourtListenerError(f"{url}: {describe_status(response)}", response.status_code)
        try:
            page: dict[str, Any] = response.json()
            return page
        except ValueError:
            raise CourtListenerError(f"{url}: CourtListener answered with something that is not JSON") from None

    def results(self, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        """A page of a list; one without its list of results is an error, not an empty page."""
        page = self.get(url, params)
        if not isinstance(page, dict) or not isinstance(page.get("results"), list):
            raise CourtListenerError(f"{url}: CourtListener's answer has no list of results (cut short?)")
        return page

    def snapshot(self, case: StoredCase, saved: EntriesState) -> Snapshot:
        """The entries modified since the last poll, and the docket's own fields. When the
        docket's id and watermark are known, the entry list is asked first: when it shows
        nothing later than the watermark and the docket was read within DOCKET_REFRESH,
        that one request is all the poll costs."""
        warnings: list[str] = []
        url = f"{self.settings.base_url}{API}/docket-entries/"
        known, watermark = docket_id(case), saved.modified_since
        page: dict[str, Any] | None = None  # the first page of entries, when read before the docket
        items: list[tuple[ParsedEntry, str | None]] = []  # the page's entries, read once
        if known and watermark:
            page = self.results(url, _entry_query(str(known), watermark))
            items = _items(url, page)
            changed = bool(page.get("next")) or any(_later(modified, watermark) for _, modified in items)
            if not changed and saved.docket_read_at and utcnow() - as_utc(saved.docket_read_at) < DOCKET_REFRESH:
                late = [(entry, modified) for entry, modified in items
                        if saved.overlap_read.get(entry.source_id or "") != modified]
                docket = ParsedDocket(court=case.court, docket_number=case.docket_number,
                                      entries=[entry for entry, _ in late])
                state = saved.model_copy(update={"overlap_read": _overlap(saved, late, watermark)}) if late else None
                return Snapshot(source="courtlistener", docket=docket, delta=True,
                                state={f"entries:{known}": state} if state else {})
        else:
            watermark = None  # no entry list of this case was read yet: all its history is
        try:
            docket_json = self.docket(case, warnings)
        except HttpError as e:
            if page is None or known is None or isinstance(e, Cancelled):
                raise
            # The entries are in hand: storing them matters more than the docket's own
            # fields, which are read on the next poll (dropping the page would lose the
            # edits it shows once the budget is spent, and the feed cannot show them).
            warnings.append(f"{e}: the docket's own fields (name, judge, termination) were not read; "
                            "they are read on the next poll")
            docket_json = {"id": known, "docket_number": case.docket_number}
            read_at = saved.docket_read_at
        else:
            read_at = utcnow()
        source_id = str(docket_json["id"])
        docket = ParsedDocket(
            court=case.court,
            docket_number=docket_json.get("docket_number") or "",
            case_name=docket_json.get("case_name") or None,
            pacer_case_id=docket_json.get("pacer_case_id") or None,
            source_id=source_id,
            assigned_to=docket_json.get("assigned_to_str") or None,
            date_terminated=_date(docket_json.get("date_terminated")),
        )
        if docket_numbers.try_normalize(docket.docket_number) != case.docket_number:
            # Stop before spending (more) requests on entries; the diff engine reports it.
            return Snapshot(source="courtlistener", docket=docket, delta=True)
        target = f"entries:{source_id}"
        full_history = watermark is None
        history = full_history or saved.history_incomplete
        params: dict[str, str] | None = _entry_query(source_id, watermark)  # the next pages' URLs carry their own
        next_url: str | None = url
        followed: set[str | None] = set()  # the `next` links read: one that leads back would spend the budget
        read = cut_short = False
        read_now: list[tuple[ParsedEntry, str | None]] = []
        while next_url:
            if page is None:
                try:
                    page = self.results(next_url, params)
                except BudgetExhausted as e:
                    warnings.append(f"{e}: the entry list is incomplete and resumes on the next poll")
                    cut_short = True
                    break
                items = _items(next_url, page)
            read = True
            read_now += items
            for entry, modified in items:
                docket.entries.append(entry)
                if modified is not None and (watermark is None or _later(modified, watermark)):
                    watermark = modified
            next_url, params, page = page.get("next"), None, None
            if next_url in followed:
                raise CourtListenerError(f"{next_url}: CourtListener's entry list leads back to a page already "
                                         "read; stopped, nothing of it was stored")
            followed.add(next_url)
        return Snapshot(
            source="courtlistener",
            docket=docket,
            # Without one page read, nothing is known of the entries.
            delta=not full_history or not read,
            state={target: EntriesState(modified_since=watermark, docket_read_at=read_at,
                                        history_incomplete=history and cut_short,
                                        overlap_read=_overlap(saved, read_now, watermark))},
            warnings=warnings,
            history=history,
        )

    def docket(self, case: StoredCase, warnings: list[str]) -> dict[str, Any]:
        """The case's docket: by pinned or remembered id, else looked up by number."""
        if known := docket_id(case):
            url = f"{self.settings.base_url}{API}/dockets/{known}/"
            return self.get(url, {"fields": DOCKET_FIELDS})
        found = self.results(
            f"{self.settings.base_url}{API}/dockets/",
            {"court": case.court, "docket_number_core": docket_numbers.core(case.docket_number),
             "fields": DOCKET_FIELDS + ",date_created", "order_by": "date_created"},
        )["results"]
        same: list[dict[str, Any]] = [d for d in found
                                      if docket_numbers.try_normalize(d.get("docket_number")) == case.docket_number]
        if not same:
            raise CourtListenerError(
                f"CourtListener has no docket {case.docket_number} in court {case.court!r} "
                f"({len(found)} with the same year and serial in other offices); "
                "check the docket number, or pin courtlistener_id"
            )
        same.sort(key=lambda d: not d.get("pacer_case_id"))
        if len(same) > 1:
            ids = ", ".join(str(d["id"]) for d in same)
            warnings.append(
                f"{len(same)} CourtListener dockets match {case.court} {case.docket_number} ({ids}); "
                f"using {same[0]['id']}; pin courtlistener_id to choose"
            )
        return same[0]


# How far before the latest `date_modified` read the next read starts. CourtListener
# stamps an entry when it saves it, not when its transaction commits: one saved earlier
# but committed after the last read has an earlier stamp. Re-read entries cost nothing
# (the diff finds them unchanged).
OVERLAP = timedelta(minutes=15)


def _overlap(saved: EntriesState, read: list[tuple[ParsedEntry, str | None]], watermark: str | None
             ) -> dict[str, str]:
    """The entries read so far (`saved`'s and `read`) that the next read's overlap will show again."""
    if watermark is None:
        return {}
    since = datetime.fromisoformat(watermark) - OVERLAP
    known = {**saved.overlap_read, **{entry.source_id: modified for entry, modified in read
                                      if entry.source_id and modified is not None}}
    return {id_: modified for id_, modified in known.items() if datetime.fromisoformat(modified) >= since}


def _entry_query(docket: str, watermark: str | None) -> dict[str, str]:
    """The first page of a docket's entries modified since OVERLAP before `watermark` (all without one)."""
    query = {"docket": docket, "order_by": "date_modified", "omit": "recap_documents__plain_text"}
    if watermark:
        query["date_modified__gte"] = (datetime.fromisoformat(watermark) - OVERLAP).isoformat(timespec="microseconds")
    return query


def _items(url: str, page: dict[str, Any]) -> list[tuple[ParsedEntry, str | None]]:
    """A page's entries, each with its `date_modified`; CourtListenerError for an item
    that cannot be read (a page is stored whole or not at all, and a date_modified that
    is not a moment would become the next poll's `date_modified__gte`)."""
    read = []
    for item in page["results"]:
        try:
            modified = item.get("date_modified")
            if modified is not None and datetime.fromisoformat(modified).tzinfo is None:
                raise ValueError(f"date_modified {modified!r} has no time zone")
            read.append((_entry(item), modified))
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            what = f"no {e}" if isinstance(e, KeyError) else str(e)
            raise CourtListenerError(f"{url}: an item of CourtListener's entry list cannot be read ({what}); "
                                     "nothing of this docket was stored") from None
    return read


def _entry(item: dict[str, Any]) -> ParsedEntry:
    documents = item.get("recap_documents") or []
    main: dict[str, Any] = next((d for d in documents if d.get("attachment_number") is None), {})
    number = item.get("entry_number")
    path = main.get("filepath_local")
    return ParsedEntry(
        entry_number=str(number) if number is not None else None,
        date_filed=_date(item.get("date_filed")),
        description=item.get("description") or "",
        short_description=main.get("description") or None,
        pacer_doc_id=main.get("pacer_doc_id") or None,
        source_id=str(item["id"]),
        url=STORAGE + path if path else None,
        document_available=main.get("is_available"),
        sealed=main.get("is_sealed"),
    )


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _later(a: str | None, b: str) -> bool:
    return a is not None and datetime.fromisoformat(a) > datetime.fromisoformat(b)
