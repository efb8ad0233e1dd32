"""Appellate Case Management System (ACMS) docket JSON, the successor of CM/ECF in
some circuits (the Ninth and Second first).

Entries carry a stable GUID (`docketEntryId`), kept as both `pacer_doc_id` (as
CourtListener does) and `source_id`. The file does not name its court.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import lxml.html
from lxml import etree

from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry
from docketwatch.parsers.common import ParseError, clean_text, entered_date, text_of


def _html_text(fragment: str | None) -> str:
    """Plain text of the HTML snippet ACMS uses for docket text."""
    if not fragment or not fragment.strip():
        return ""
    try:
        return clean_text(text_of(lxml.html.fragment_fromstring(fragment, create_parent="div")))
    except (etree.ParserError, ValueError) as exc:
        raise ParseError(f"an ACMS docket entry's text is not readable HTML: {exc}") from None


def _field(raw: dict[str, Any], key: str, types: tuple[type, ...] = (str,)) -> Any:
    """raw[key] when absent, null or of one of `types`; any other type means a damaged file."""
    value = raw.get(key)
    if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
        raise ParseError(f"ACMS field {key!r} holds {type(value).__name__} {str(value)[:40]!r}, not text")
    return value


def _iso_date(value: Any) -> date | None:
    """`2022-01-05` or `2022-01-05T00:00:00` -> date."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _entry(raw: dict[str, Any]) -> ParsedEntry:
    number = _field(raw, "entryNumber", (str, int))
    entry_id = _field(raw, "docketEntryId")
    description = _html_text(_field(raw, "docketEntryText"))
    return ParsedEntry(
        entry_number=str(number) if number is not None else None,
        date_filed=_iso_date(raw.get("endDate")),
        description=description,
        pacer_doc_id=entry_id,
        source_id=entry_id,
        # The court's own day, from the text's stamp: `createdOn` is UTC, a day late in the evening.
        date_entered=entered_date(description),
    )


def parse_acms(content: bytes, court: str | None) -> tuple[str | None, list[ParsedDocket]]:
    """Return (court, [docket]) for an ACMS docket JSON payload."""
    try:
        data = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"the ACMS JSON is not valid JSON (truncated download?): {exc}") from exc
    except RecursionError:
        raise ParseError("the ACMS JSON is nested too deeply to be a docket") from None
    details = data.get("caseDetails") if isinstance(data, dict) else None
    docket_info = data.get("docketInfo") if isinstance(data, dict) else None
    if not isinstance(details, dict) or not isinstance(docket_info, dict) or not details.get("caseNumber"):
        raise ParseError("the JSON is not an ACMS docket (no caseDetails.caseNumber / docketInfo)")
    raw_entries = docket_info.get("docketEntries")
    if not isinstance(raw_entries, list) or not all(isinstance(e, dict) for e in raw_entries):
        raise ParseError("ACMS docketInfo.docketEntries is not a list of entries")
    case_id = _field(details, "caseId", (str, int))
    return court, [
        ParsedDocket(
            court=court or "",
            docket_number=str(_field(details, "caseNumber", (str, int))),
            case_name=_field(details, "name") or None,
            pacer_case_id=str(case_id) if case_id else None,
            entries=[_entry(raw) for raw in raw_entries],
        )
    ]
