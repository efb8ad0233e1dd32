"""PACER court RSS feeds: rss_outside.pl (district and bankruptcy courts), the appellate
RSSGenerator servlet, and E.D.N.Y.'s readyDockets.pl.

One feed covers every case of a court, so the result is one ParsedDocket per case
(criminal co-defendants have a PACER case id each, hence a docket each). CM/ECF lists
a filing with several event types as several items (same case, same time, same
document); they are merged into one entry whose short description joins the texts,
sorted, with " AND ", as juriscraper (hence CourtListener) does.

Items carry only the short description; it also fills `description`. An item's pubDate
is when the entry was *entered*, not the filing date (which the feed does not give):
it becomes `date_entered` and `date_filed` stays None, so it never stands in for a
filing date. The date is the court's own, in its zone (`court_timezone`), as a docket
and CourtListener give it: a feed stamped GMT would otherwise date an entry made in the
(US) evening a day later. A court of unknown zone keeps the date in the zone the feed states.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from docketwatch.domain.courts import court_timezone
from docketwatch.domain.docket_numbers import try_normalize
from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry
from docketwatch.parsers.common import ParseError, absolute_url, court_from_content, doc_id_from_url, load_xml

_PUB_DATE = re.compile(
    r"^\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"\s+([A-Za-z]{1,5}|[+-]\d{4})\s*$"
)
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}
_EASTERN = ZoneInfo("America/New_York")
_CENTRAL = ZoneInfo("America/Chicago")
_MOUNTAIN = ZoneInfo("America/Denver")
_PACIFIC = ZoneInfo("America/Los_Angeles")
_ALASKA = ZoneInfo("America/Anchorage")
_HAWAII = ZoneInfo("Pacific/Honolulu")
# A US abbreviation names the court's zone; the wall time is then placed in that zone
# (daylight saving decided by the date, as juriscraper does), so a
# server that prints "EST" all year round still yields the right instant.
_ZONES: dict[str, tzinfo] = {
    "GMT": UTC, "UTC": UTC, "UT": UTC, "Z": UTC,
    "EST": _EASTERN, "EDT": _EASTERN, "CST": _CENTRAL, "CDT": _CENTRAL,
    "MST": _MOUNTAIN, "MDT": _MOUNTAIN, "PST": _PACIFIC, "PDT": _PACIFIC,
    "AKST": _ALASKA, "AKDT": _ALASKA, "HST": _HAWAII, "HDT": _HAWAII,
    "AST": ZoneInfo("America/Puerto_Rico"), "CHST": ZoneInfo("Pacific/Guam"),
    "SST": ZoneInfo("Pacific/Pago_Pago"),
}
# "Docket entries of type: all", alone or after other words ("Public Filings in the Last 24 Hours. ...").
_TYPES = re.compile(r"Docket entries of type:\s*(.*?)[\s.]*$", re.IGNORECASE | re.DOTALL)
_DOC_LINK = re.compile(r"""href\s*=\s*["']([^"']+)["'][^>]*>\s*([^<]*?)\s*</a>""", re.IGNORECASE)
_CASE_ID = re.compile(r"(?:DktRpt\.pl\?(\d+)$|iquery\.pl\?\S*-(\d+)$)")


def parse_pub_date(text: str | None) -> datetime:
    """Parse an RSS pubDate such as `Tue, 22 May 2018 22:10:04 GMT` into an aware datetime."""
    m = _PUB_DATE.match(text or "")
    month = _MONTHS.get(m[2].lower()) if m else None
    if not m or not month:
        raise ParseError(f"RSS item date {text!r} is not an RFC 822 date")
    zone_text = m[7]
    if zone_text[0] in "+-":
        minutes = int(zone_text[1:3]) * 60 + int(zone_text[3:5])
        zone: tzinfo = timezone(timedelta(minutes=-minutes if zone_text[0] == "-" else minutes))
    elif zone_text.upper() in _ZONES:
        zone = _ZONES[zone_text.upper()]
    else:
        raise ParseError(f"RSS item date {text!r} uses an unknown time zone {zone_text!r}")
    try:
        return datetime(int(m[3]), month, int(m[1]), int(m[4]), int(m[5]), int(m[6] or 0), tzinfo=zone)
    except ValueError as exc:
        raise ParseError(f"RSS item date {text!r} is not a valid date: {exc}") from exc


def _bracketed(text: str) -> str:
    """The text inside the first [...] group, allowing nested brackets inside it."""
    start = text.find("[")
    if start < 0:
        return ""
    end = text.find("]", start)
    if end > 0 and text.find("[", start + 1, end) < 0:
        return text[start + 1 : end].strip()  # the usual case: no nesting
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "[":
            depth += 1
        elif text[i] == "]":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i].strip()
    return text[start + 1 :].strip()


def _case(fields: dict[str, str]) -> tuple[str, str | None, str | None] | None:
    """(docket number as written, case name, PACER case id) of an item, None without a title.

    The title is the docket number, a space, then the case name; the link is the
    docket report (`DktRpt.pl?<case id>`), or an appellate link without a case id.
    """
    title = fields.get("title", "").strip()
    if not title:
        return None
    docket_number, _, case_name = title.partition(" ")
    case_id = _CASE_ID.search(fields.get("link", "").strip())
    return docket_number, html.unescape(case_name.strip()) or None, (case_id[1] or case_id[2]) if case_id else None


def _entry(fields: dict[str, str], court: str | None) -> ParsedEntry:
    """The entry of one item: `[Short text] (<a href=".../doc1/...">12</a>)` plus the pubDate."""
    filed_at = parse_pub_date(fields.get("pubDate"))
    summary = fields.get("description", "")
    short = html.unescape(_bracketed(summary))
    url = number = None
    if link := _DOC_LINK.search(summary):
        url = absolute_url(html.unescape(link[1]), court)
        number = link[2] if link[2].isdigit() else None
    pacer_doc_id = doc_id_from_url(url)
    if number is None and url and "/docs1/" in url:
        # Some appellate courts show no document numbers; CourtListener then uses
        # the document id as the number, and so do we to keep entries comparable.
        number = pacer_doc_id
    return ParsedEntry(
        entry_number=number,
        date_filed=None,
        date_entered=_court_day(filed_at, court),
        description=short,
        short_description=short,
        pacer_doc_id=pacer_doc_id,
        url=url,
        filed_at=filed_at,
    )


def _court_day(moment: datetime, court: str | None) -> date:
    """The day of `moment` at the court, else in the zone the feed stated."""
    zone = court_timezone(court) if court else None
    return (moment.astimezone(zone) if zone else moment).date()


def _entry_types(description: str) -> str | None:
    """What the channel says the feed carries: the words after "Docket entries of type:"
    wherever they appear, else the description as the court wrote it (E.D.N.Y.)."""
    found = _TYPES.search(description)
    return (found[1] if found else description.strip()) or None


def parse_rss(content: bytes, court: str | None) -> tuple[str | None, list[ParsedDocket], str | None]:
    """Return (court, dockets, entry_types) for a PACER RSS feed."""
    root = load_xml(content, "the RSS feed")
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise ParseError("the XML is not an RSS feed (no <rss><channel>)")

    entry_types = _entry_types(channel.findtext("description") or "")
    court = court or court_from_content((channel.findtext("link") or "").encode()) or court_from_content(content)

    dockets: dict[tuple[str, str | None], ParsedDocket] = {}
    # One filing = same case, same time, same document link; its items' texts are joined.
    filings: dict[tuple[object, ...], tuple[ParsedEntry, list[str]]] = {}
    items = channel.findall("item")
    for item in items:
        fields = {str(child.tag): child.text or "" for child in item}  # RSS elements' tags are str
        case = _case(fields)
        if case is None:
            continue  # an item naming no case is of no use; PACER does not send them
        docket_number, case_name, pacer_case_id = case
        case_key = (try_normalize(docket_number) or docket_number, pacer_case_id)
        entry = _entry(fields, court)
        filing_key = (case_key, entry.filed_at, entry.url)
        if filing_key in filings:
            filings[filing_key][1].append(entry.short_description or "")
            continue
        filings[filing_key] = (entry, [entry.short_description or ""])
        if case_key not in dockets:
            dockets[case_key] = ParsedDocket(
                court=court or "",
                docket_number=docket_number,
                case_name=case_name,
                pacer_case_id=pacer_case_id,
            )
        dockets[case_key].entries.append(entry)

    for entry, shorts in filings.values():
        if len(shorts) > 1:
            # Sorted, so the text does not depend on the order PACER lists the events in.
            entry.short_description = entry.description = " AND ".join(sorted(shorts))
    if items and not dockets:
        raise ParseError("the RSS feed has items but none names a case")
    return court, list(dockets.values()), entry_types
