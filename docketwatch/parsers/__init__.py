"""Read PACER files - court RSS feeds, docket reports, docket history reports, appellate
dockets (CM/ECF HTML and ACMS JSON) - into ParsedDocket objects.

The kind of file is recognised from its content, never its name, since users save
pages under any name. Anything unreadable or cut short raises ParseError rather than
returning an empty result that would look like "nothing new".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from docketwatch.domain.snapshot import ParsedDocket
from docketwatch.parsers.acms import parse_acms
from docketwatch.parsers.appellate import parse_appellate
from docketwatch.parsers.common import ParseError
from docketwatch.parsers.docket_history import parse_docket_history
from docketwatch.parsers.docket_report import parse_docket_report
from docketwatch.parsers.pacer_rss import parse_rss

__all__ = ["KINDS", "ParseError", "ParsedFile", "detect_kind", "parse"]

KINDS = ("pacer_rss", "docket_report", "docket_history", "appellate_docket", "acms_json")

_RSS_ROOT = re.compile(rb"<rss[\s>]")
_APPELLATE = re.compile(rb"Court of Appeals Docket #")
_HISTORY = re.compile(rb"History/Documents|HistDocQry\.pl")
_DOCKET_REPORT = re.compile(rb"DOCKET FOR CASE #|Petition #:|Proceeding #:", re.IGNORECASE)


@dataclass
class ParsedFile:
    """Everything read from one file.

    `entry_types` is set for RSS feeds only: what the channel says the feed carries
    ("all", "orders, opinions", ...), so the app can warn when a feed cannot see
    every filing of a case.
    """

    kind: str
    court: str | None
    dockets: list[ParsedDocket]
    entry_types: str | None = None


def detect_kind(content: bytes) -> str:
    """Return which kind of PACER file `content` is (one of KINDS), or raise ParseError."""
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise ParseError("the file is empty")
    if head.startswith(b"{"):
        if b'"caseDetails"' in content and b'"docketInfo"' in content:
            return "acms_json"
        raise ParseError("this JSON is not an ACMS docket (no caseDetails / docketInfo)")
    if _RSS_ROOT.search(head):
        return "pacer_rss"
    if _APPELLATE.search(content):
        return "appellate_docket"
    if _HISTORY.search(content):
        return "docket_history"
    if _DOCKET_REPORT.search(content):
        return "docket_report"
    raise ParseError(
        "not a PACER file docketwatch can read: expected a court RSS feed, a docket report, "
        "a docket history report, an appellate docket (HTML) or an ACMS docket (JSON); "
        "a saved login, error or search page will not do"
    )


def parse(content: bytes, court: str | None = None) -> ParsedFile:
    """Parse a PACER file. `court` (e.g. "cand") overrides the court read from the file."""
    kind = detect_kind(content)
    if kind == "pacer_rss":
        court, dockets, entry_types = parse_rss(content, court)
        return ParsedFile(kind, court, dockets, entry_types)
    readers = {
        "docket_report": parse_docket_report,
        "docket_history": parse_docket_history,
        "appellate_docket": parse_appellate,
        "acms_json": parse_acms,
    }
    court, dockets = readers[kind](content, court)
    return ParsedFile(kind, court, dockets)
