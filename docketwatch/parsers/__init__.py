"""Read PACER files - court RSS feeds, docket reports, docket history reports, appellate
dockets (CM/ECF HTML and ACMS JSON) - into ParsedDocket objects.

The kind of file is recognised from its content, never its name or court, since users
save pages under any name and courts share layouts. Anything unreadable or cut short
raises ParseError, in one line saying why, rather than returning an empty result that
would look like "nothing new"; a docket whose page lists no entries is a docket with no
entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from docketwatch.domain.snapshot import ParsedDocket
from docketwatch.parsers.acms import parse_acms
from docketwatch.parsers.appellate import BAP, COURT_OF_APPEALS, VETERANS, parse_appellate
from docketwatch.parsers.common import ParseError, from_utf16
from docketwatch.parsers.docket_history import parse_docket_history
from docketwatch.parsers.docket_report import BANKRUPTCY, DISTRICT, NUMBER_IN_TEXT, parse_docket_report
from docketwatch.parsers.pacer_rss import parse_rss

__all__ = ["KINDS", "LAYOUTS", "ParseError", "ParsedFile", "detect_kind", "parse"]

KINDS = ("pacer_rss", "docket_report", "docket_history", "appellate_docket", "acms_json")
# The variants of a kind that are read differently, each with what it is.
LAYOUTS: dict[str, dict[str, str]] = {
    "docket_report": {
        DISTRICT: "district court DktRpt.pl: Date Filed, #, Docket Text",
        BANKRUPTCY: "bankruptcy court DktRpt.pl ('Bankruptcy Petition #:' caption; '#' two cells wide)",
        NUMBER_IN_TEXT: "bankruptcy court DktRpt.pl without a '#' column (N.D. Tex.): the number leads the text",
    },
    "appellate_docket": {
        COURT_OF_APPEALS: "a court of appeals' CM/ECF docket ('Court of Appeals Docket #:')",
        BAP: "a Bankruptcy Appellate Panel's CM/ECF docket ('Bankruptcy Appellate Panel Docket #:')",
        VETERANS: "the Court of Appeals for Veterans Claims' CM/ECF docket ('Case Number:')",
    },
}

_RSS_ROOT = re.compile(rb"<rss[\s>]")
# Each kind of HTML page says what it is above its entries, and the first such marker in a
# page tells its kind: one that an entry quotes ("Court of Appeals Docket # 23-1234" in a
# district report) comes after the page's own. Appellate CM/ECF (courts of appeals, the
# Ninth Circuit BAP, Veterans Claims) opens with its case stub: a section comment, or the
# docket label on pages saved without comments. Plain substrings: a regex alternation
# scans a large page several times slower.
_APPELLATE = (b"NEW SECTION - Case Stub", b"Court of Appeals Docket #", b"Appellate Panel Docket #")
# A history report names itself in its title, in the script that opens an entry's docket
# text, and in its receipt; not in a link to the history query (a saved menu bar has one).
_HISTORY_TITLE = b"History/Documents"
_HISTORY_SCRIPT = b"-L_ShowDktTxt_"
_HISTORY_RECEIPT = re.compile(rb"Description:(?:\s|<[^>]*>)*History/Documents")
# A docket report's caption label ends in "#:", in any case: "DOCKET FOR CASE #:",
# "Bankruptcy Petition #:", "Adversary Proceeding #:".
_CAPTION_LABELS = (b"DOCKET FOR CASE #", b"PETITION #", b"PROCEEDING #")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_HEADING = re.compile(rb"<h[1-3][^>]*>(.*?)</h[1-3]", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]*>")


@dataclass
class ParsedFile:
    """Everything read from one file.

    `layout` tells variants of one kind apart (see LAYOUTS), "" for a kind with one.
    `entry_types` is set for RSS feeds only: what the channel says the feed carries
    ("all", "orders, opinions", ...), so the app can warn when a feed cannot see
    every filing of a case.
    """

    kind: str
    court: str | None
    dockets: list[ParsedDocket]
    entry_types: str | None = None
    layout: str = ""


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
    markers = {
        "appellate_docket": min((at for m in _APPELLATE if (at := content.find(m)) != -1), default=-1),
        "docket_history": _history_marker(content),
        "docket_report": _caption_label(content),
    }
    found = {kind: at for kind, at in markers.items() if at != -1}
    if found:
        return min(found, key=found.__getitem__)
    raise ParseError(_refusal(content))


def _history_marker(content: bytes) -> int:
    """Where the page first names itself a history report, or -1."""
    title = _TITLE.search(content[:65536])
    if title and _HISTORY_TITLE in title[1]:
        return title.start()
    if (script := content.find(_HISTORY_SCRIPT)) != -1:
        return script
    receipt = _HISTORY_RECEIPT.search(content)
    return receipt.start() if receipt else -1


def _caption_label(content: bytes) -> int:
    """Where a docket report caption label precedes a "#:" of the page, or -1 (found by a
    plain substring scan: a case-blind regex over a large page costs more than its parse)."""
    at = content.find(b"#:")
    while at != -1:
        if content[max(0, at - 17) : at + 1].upper().endswith(_CAPTION_LABELS):
            return at
        at = content.find(b"#:", at + 2)
    return -1


def _refusal(content: bytes) -> str:
    """Why `content` is refused, in one line, quoting what the page itself says (PACER
    answers a bad query with a page that names the problem, e.g. "Invalid date_from")."""
    found = [m[1] for pattern in (_TITLE, _HEADING) if (m := pattern.search(content[:65536]))]
    said = [text[:100] for raw in found if (text := " ".join(_TAGS.sub(" ", raw.decode("utf-8", "replace")).split()))]
    if said:
        return (
            f"not a docket: the page says {' / '.join(repr(t) for t in said)}; expected a court RSS feed, "
            "a docket report, a docket history report, an appellate docket (HTML) or an ACMS docket (JSON)"
        )
    return (
        "not a PACER file docketwatch can read: expected a court RSS feed, a docket report, "
        "a docket history report, an appellate docket (HTML) or an ACMS docket (JSON); "
        "a saved login, error or search page will not do"
    )


def parse(content: bytes, court: str | None = None) -> ParsedFile:
    """Parse a PACER file. `court` (e.g. "cand") overrides the court read from the file."""
    content = from_utf16(content)
    kind = detect_kind(content)
    if kind == "pacer_rss":
        court, dockets, entry_types = parse_rss(content, court)
        return ParsedFile(kind, court, dockets, entry_types)
    if kind == "docket_report":
        court, dockets, layout = parse_docket_report(content, court)
        return ParsedFile(kind, court, dockets, layout=layout)
    if kind == "appellate_docket":
        court, dockets, layout = parse_appellate(content, court)
        return ParsedFile(kind, court, dockets, layout=layout)
    readers = {"docket_history": parse_docket_history, "acms_json": parse_acms}
    court, dockets = readers[kind](content, court)
    return ParsedFile(kind, court, dockets)
