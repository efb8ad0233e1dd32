"""The U.S. Copyright Claims Board's public eCCB docket (dockets.ccb.gov): one search serves every case.

eCCB has no feed and no API. Its document search lists the filings of all cases, newest
first, with a document number that one counter hands out across the whole board, so it
only rises. A poll reads pages of that list until it meets a number every case it serves
has seen, and gives each watched case the rows of its docket: one job serves the whole
board, as a court's RSS feed serves a court. Each case keeps its own watermark (the
board's serves a case that has none yet), so a case paused, or failing, while the others
were read gets the filings it missed once it is read again. An entry's identity is its
board-wide document number. The first poll reads one page: what a watched case filed
before that page is not fetched (import or read the case page for history).

A document that is not public answers with the eCCB login page. For each new filing of
a watched case the poll asks for its first byte (a Range request): the login page means
"restricted", which the entry and the check's warning say; it is not an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlmodel import Session

from docketwatch import store
from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry, Snapshot, TargetState
from docketwatch.http import HttpError, describe_status
from docketwatch.ops.plan import DAY, PlanRow
from docketwatch.settings import CaseConfig, Config, HttpUrl, Section
from docketwatch.sources.base import Source, SourceContext
from docketwatch.store.models import StoredCase, iso

COURT = "ccb"
NUMBER = re.compile(r"^\s*(\d{2})\s*-\s*CCB\s*-\s*(\d{1,4})\s*$", re.IGNORECASE)
STATE_TARGET = "documents"  # the board-wide document search; a case's own: "documents:24-CCB-0180"
EASTERN = ZoneInfo("America/New_York")  # eCCB's times are written "EDT"/"EST"
# The eCCB asks for politeness in nothing written, so: at most one search an hour.
LEAST_INTERVAL = timedelta(hours=1)
LOGIN_TITLE = "Login to eCCB"


class CcbSettings(Section):
    """`[sources.ccb]`: where eCCB is, and how far one poll may page back."""

    base_url: HttpUrl = "https://dockets.ccb.gov"
    # Rows a search page asks for (`max`), and the most pages one poll reads to catch up.
    page_size: int = Field(default=100, ge=1, le=100)
    max_pages: int = Field(default=10, ge=1, le=100)
    # Ask for the first byte of each new filing of a watched case, to tell restricted ones.
    check_documents: bool = True


class SearchState(TargetState):
    """The highest board-wide document number read: the next poll reads down to it."""

    latest: int | None = None


class CcbError(HttpError):
    """The document search could not be read."""


@dataclass(frozen=True)
class Row:
    """One row of the document search."""

    docket_number: str
    number: int  # the board-wide document number
    title: str
    document_type: str
    party: str
    filed_at: datetime | None
    url: str | None  # the download link, when the row has one


class CcbSource(Source):
    name = "ccb"
    Settings = CcbSettings
    settings: CcbSettings
    watches_changes = False  # the search lists filings; it never shows one changing

    # -- case identity -------------------------------------------------------------------
    def check_court(self, court: str) -> None:
        if court != COURT:
            raise ValueError("is not the Copyright Claims Board; write ccb")

    def normalize_docket_number(self, number: str) -> str:
        return normalize(number)

    def court_name(self, court: str) -> str | None:
        return "Copyright Claims Board" if court == COURT else None

    def case_url(self, case: StoredCase) -> str | None:
        return f"{self.settings.base_url.rstrip('/')}/case/detail/{case.docket_number}"

    # -- planning ------------------------------------------------------------------------
    def servers(self, case: CaseConfig) -> list[str]:
        return [self.settings.base_url]

    def jobs(self, config: Config, cases: list[CaseConfig], active: set[str]) -> list[PlanRow]:
        """One job for the whole board: its search serves every watched case."""
        if not cases:
            return []
        interval = max(min(config.poll_interval(c) for c in cases), LEAST_INTERVAL)
        return [PlanRow(job_id=f"{self.name}:board", source=self.name, court=COURT, case=None, cases=cases,
                        interval=interval, api_interval=None, requests_per_day=DAY / interval, budgeted_per_day=0.0,
                        active=None, new_filing_delay=interval, change_delay=None)]

    # -- reporting -----------------------------------------------------------------------
    def status(self, session: Session, cases: list[CaseConfig], jobs: list[PlanRow]) -> list[dict[str, Any]]:
        state = store.load_state(session, self.name, STATE_TARGET, SearchState)
        return [{"source": self.name, "url": self._search_url(), "cases": len(cases),
                 "last_success": iso(store.last_court_successes(session, self.name).get(COURT)),
                 "latest_document": state.latest}]

    def status_lines(self, record: dict[str, Any]) -> list[str]:
        latest = record["latest_document"]
        return [f"ccb: document search {record['url']} serves {record['cases']} case(s), last success "
                f"{record['last_success'] or 'never'}, latest document "
                f"{f'#{latest:,}' if latest is not None else 'none yet'}"]

    # -- fetching ------------------------------------------------------------------------
    def fetch(self, cases: list[StoredCase], ctx: SourceContext) -> Iterator[tuple[StoredCase, Snapshot | Exception]]:
        states = store.load_states(ctx.session, self.name, SearchState)  # the board's and each case's: one query
        board = states.get(STATE_TARGET, SearchState()).latest
        known: dict[str, int | None] = {}
        for case in cases:
            own = states.get(_target(case), SearchState()).latest
            known[case.docket_number] = board if own is None else own
        seen = [n for n in known.values() if n is not None]
        floor = min(seen) if seen and len(seen) == len(known) else None  # None: read one page
        try:
            rows, complete = self._new_rows(ctx, floor)
        except (HttpError, ValueError) as e:
            for case in cases:
                yield case, e
            return
        newest = max([r.number for r in rows] + seen + ([board] if board is not None else []), default=None)
        latest = SearchState(latest=newest)
        # Short of the floor, the pages read reach down to `lowest`: a case that saw it missed nothing.
        lowest = None if complete else min((r.number for r in rows), default=None)
        gap = (f"more than {self.settings.max_pages * self.settings.page_size} documents were filed across the board "
               "since this case was last read: this poll read that many, older ones may have been missed")
        by_case: dict[str, list[Row]] = {}
        for row in rows:
            try:
                by_case.setdefault(normalize(row.docket_number), []).append(row)
            except ValueError:
                continue  # not a board docket number: no watched case can be it
        for case in cases:
            docket = ParsedDocket(court=COURT, docket_number=case.docket_number)
            warnings = []
            own = known[case.docket_number]
            for row in by_case.get(case.docket_number, []):
                if own is not None and row.number <= own:
                    continue  # read for a case further behind: this one has it
                restricted = self._restricted(ctx, row)
                if restricted:
                    warnings.append(f"document #{row.number:,} ({row.title}) is restricted: eCCB answers with "
                                    "its login page")
                docket.entries.append(ParsedEntry(
                    entry_number=str(row.number), date_filed=row.filed_at.date() if row.filed_at else None,
                    description=_describe(row), short_description=row.document_type or None, url=row.url,
                    document_available=None if restricted is None else not restricted, filed_at=row.filed_at))
            state: dict[str, TargetState] = {STATE_TARGET: latest, _target(case): latest} if newest is not None else {}
            behind = not complete and (own is None or lowest is None or own < lowest)
            yield case, Snapshot(source=self.name, docket=docket, delta=True, state=state, warnings=warnings,
                                 gap=gap if behind else None)

    def _search_url(self) -> str:
        return f"{self.settings.base_url.rstrip('/')}/search/documents"

    def _new_rows(self, ctx: SourceContext, known: int | None) -> tuple[list[Row], bool]:
        """Rows newer than `known`, paging back until it comes up (one page when nothing is
        known yet); and whether the pages reached it (False: `max_pages` ran out first)."""
        rows: list[Row] = []
        size = self.settings.page_size
        for page in range(self.settings.max_pages):
            url = self._search_url()
            response = ctx.http.get(url, params={"max": str(size), "offset": str(page * size)})
            if response.status_code != 200:
                raise CcbError(f"{url}: {describe_status(response)}", response.status_code)
            found = parse_search(response.content, url)
            rows += [r for r in found if known is None or r.number > known]
            if known is None or len(found) < size or any(r.number <= known for r in found):
                return rows, True
        return rows, False

    def _restricted(self, ctx: SourceContext, row: Row) -> bool | None:
        """True when the row's document answers with the login page, False when it does not,
        None when unknown (not checked, no link, or the request failed: no reason to fail the poll)."""
        if not self.settings.check_documents or row.url is None:
            return None
        try:
            response = ctx.http.get(row.url, headers={"Range": "bytes=0-0"})
        except HttpError:
            return None
        if is_login_page(response.content):
            return True
        return False if response.status_code in (200, 206) else None


def _target(case: StoredCase) -> str:
    """The state target of a case's own watermark."""
    return f"{STATE_TARGET}:{case.docket_number}"


def normalize(number: str) -> str:
    """`24-ccb-180` -> `24-CCB-0180`; ValueError (worded for the configuration) otherwise."""
    m = NUMBER.match(number)
    if not m:
        raise ValueError("is not a Copyright Claims Board docket number; write it like 24-CCB-0180")
    return f"{m[1]}-CCB-{int(m[2]):04d}"


def _describe(row: Row) -> str:
    """The entry's text: the title, the document type where it says more, and the party."""
    text = row.title
    if row.document_type and row.document_type.lower() not in row.title.lower():
        text += f" ({row.document_type})"
    return f"{text}, filed by {row.party}" if row.party else text


def is_login_page(content: bytes) -> bool:
    """eCCB's answer to a request for something not public: its login page."""
    head = content[:4096].decode("utf-8", "replace")
    return LOGIN_TITLE.lower() in head.lower() and "<title" in head.lower()


def parse_search(content: bytes, url: str) -> list[Row]:
    """The rows of a document search page; CcbError when the page is not one."""
    if is_login_page(content):
        raise CcbError(f"{url}: eCCB answered with its login page: the document search is not public from here")
    import lxml.html  # here, not at the top: `status` and `plan` load this module and parse nothing

    try:
        tree = lxml.html.fromstring(content)
    except (ValueError, lxml.etree.ParserError) as e:
        raise CcbError(f"{url}: not an HTML page ({e})") from None
    tables = tree.xpath('//table[@id="document-search-results"]')
    if not tables:
        raise CcbError(f"{url}: not the eCCB document search (no table#document-search-results)")
    rows = []
    for tr in tables[0].xpath(".//tr[td]"):
        cells = {td.get("data-cell-heading", "").strip(): td for td in tr.xpath("./td")}
        try:
            rows.append(_row(cells, url))
        except (KeyError, ValueError) as e:
            raise CcbError(f"{url}: a row of the document search cannot be read ({e})") from None
    return rows


def _text(cell: Any) -> str:
    return " ".join(cell.text_content().split())


def _row(cells: dict[str, Any], url: str) -> Row:
    number = int(_text(cells["Unique doc. #"]).replace(",", ""))
    title_cell = cells["Title"]
    visible = title_cell.xpath('.//*[contains(@class, "document-link-title")]')
    title = _text(visible[0]) if visible else _text(title_cell)
    title = re.sub(r"^Download\s+|\s*\(Opens new window\)$", "", title).strip()
    links = title_cell.xpath(".//a/@href")
    base = url.split("/search/")[0]
    link = (links[0] if links[0].startswith("http") else base + links[0]) if links else None
    return Row(docket_number=_text(cells["Docket"]), number=number, title=title,
               document_type=_text(cells["Document type"]) if "Document type" in cells else "",
               party=_text(cells["Party"]) if "Party" in cells else "",
               filed_at=_filed(_text(cells["Filed date"])) if "Filed date" in cells else None, url=link)


def _filed(text: str) -> datetime | None:
    """`09/22/2026 05:40 PM EDT` -> an aware datetime (Eastern); None when empty."""
    if not text:
        return None
    m = re.fullmatch(r"(\d{2}/\d{2}/\d{4})(?:\s+(\d{1,2}:\d{2}\s*[AP]M))?(?:\s+E[SD]T)?", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"filed date {text!r}")
    moment = datetime.strptime(f"{m[1]} {m[2] or '12:00 AM'}", "%m/%d/%Y %I:%M %p")
    return moment.replace(tzinfo=EASTERN)
