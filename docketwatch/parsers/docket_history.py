"""CM/ECF docket history reports (HistDocQry.pl, "History/Documents").

Each entry is two table rows: number, dates and short description, then a row with
the full "Docket Text:". Unlike the docket report it carries the short description,
and it separates the filing date from the entry date. A report with no entries (a new
case, or a range with none) has its caption and no History/Documents table: a docket
with no entries, not an error.
"""

from __future__ import annotations

import re
from datetime import date

from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry
from docketwatch.parsers.common import (
    HtmlElement,
    ParseError,
    absolute_url,
    case_id_from_links,
    clean_text,
    court_from_content,
    doc_id_from_url,
    judge_name,
    load_html,
    parse_mdy,
    refuse_cut_short,
    row_cells,
    table_rows,
    text_of,
)

_DOCKET_TEXT_LABEL = re.compile(r"^\s*Docket Text:\s*", re.IGNORECASE)
_PRESIDING = re.compile(r"^(.+?),\s*presiding$", re.IGNORECASE)
_TERMINATED = re.compile(r"Date terminated:\s*(\d{1,2}/\d{1,2}/\d{4})", re.IGNORECASE)


def _dates(dates_cell: HtmlElement) -> tuple[date | None, date | None]:
    """The 'Filed:' and 'Entered:' dates of the nested dates table ('Filed & Entered:' is
    both); without a 'Filed:' row, the cell's first date is the filing date."""
    filed = entered = None
    for row in dates_cell.iter("tr"):
        cells = row_cells(row)
        if len(cells) >= 2:
            label = text_of(cells[0]).strip().lower()
            if label.startswith("filed"):
                filed = parse_mdy(text_of(cells[1]))
            if "entered" in label:
                entered = parse_mdy(text_of(cells[1]))
    return filed or parse_mdy(text_of(dates_cell)), entered


def _entry(cells: list[HtmlElement], court: str | None, anchors: list[HtmlElement]) -> ParsedEntry:
    """An entry from its first row: number, dates, short description.

    The docket text, on the next row, is filled in by the caller. The document link
    is appended to `anchors` (it names PACER's case id).
    """
    number = text_of(cells[0]).strip()
    link = next(cells[0].iter("a"), None)
    url = absolute_url(link.get("href"), court) if link is not None else None
    if link is not None:
        anchors.append(link)
    date_filed, date_entered = _dates(cells[1])
    if date_filed is None:
        raise ParseError(f"history entry {number or '(unnumbered)'} has no readable filing date")
    return ParsedEntry(
        entry_number=number if number.isdigit() else None,
        date_filed=date_filed,
        description="",
        short_description=clean_text(text_of(cells[2])) or None,
        pacer_doc_id=doc_id_from_url(url),
        url=url,
        date_entered=date_entered,
    )


def parse_docket_history(content: bytes, court: str | None) -> tuple[str | None, list[ParsedDocket]]:
    """Return (court, [docket]) for a HistDocQry.pl page."""
    tree = load_html(content)
    court = court or court_from_content(content)
    captions = tree.xpath("//center[b]")
    if not captions:
        raise ParseError("no case caption found in the docket history report")
    caption = captions[0]
    lines = [line for text in caption.itertext() if (line := clean_text(text))]
    if not lines:
        raise ParseError("the docket history report's caption names no case")
    docket_number = lines[0]
    case_name = lines[1] if len(lines) > 1 and not lines[1].endswith(":") else None
    presiding = next((m[1] for line in lines if (m := _PRESIDING.match(line))), None)
    terminated = _TERMINATED.search("\n".join(lines))

    headers = tree.xpath("//tr[th[normalize-space()='Dates']]")
    if not headers and tree.xpath("//text()[contains(., 'Docket Text:')]"):
        raise ParseError("the docket history report's entries are in a layout docketwatch does not know")
    entries: list[ParsedEntry] = []
    anchors: list[HtmlElement] = []
    history_rows = table_rows(headers[0].getparent())[1:] if headers else []
    refuse_cut_short(tree, history_rows)
    for row in history_rows:
        cells = row_cells(row)
        if len(cells) >= 3 and cells[1].find(".//table") is not None:
            entries.append(_entry(cells, court, anchors))
        elif len(cells) == 1 and entries and _DOCKET_TEXT_LABEL.match(text_of(cells[0])):
            entries[-1].description = clean_text(_DOCKET_TEXT_LABEL.sub("", text_of(cells[0])))
    if history_rows and not entries:
        raise ParseError("the docket history table has rows but none could be read as an entry")

    return court, [
        ParsedDocket(
            court=court or "",
            docket_number=docket_number,
            case_name=case_name,
            pacer_case_id=case_id_from_links(tree, anchors),
            assigned_to=judge_name(presiding),
            date_terminated=parse_mdy(terminated[1]) if terminated else None,
            entries=entries,
        )
    ]
