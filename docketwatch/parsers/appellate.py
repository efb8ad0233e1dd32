"""CM/ECF appellate docket reports (the TransportRoom servlet's HTML docket).

The same servlet serves the courts of appeals ("Court of Appeals Docket #"), the Ninth
Circuit's Bankruptcy Appellate Panel ("Bankruptcy Appellate Panel Docket #", on the
Ninth Circuit's host) and the Court of Appeals for Veterans Claims ("Case Number:").
Some courts (the First Circuit, Veterans Claims) print no document numbers; as
CourtListener does, the document id then serves as the entry number. Every entry row
carries CM/ECF's own entry id (the checkbox value), kept as `source_id`.
"""

from __future__ import annotations

import re

from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry
from docketwatch.parsers.common import (
    HtmlElement,
    ParseError,
    absolute_url,
    case_id_from_links,
    clean_text,
    court_from_content,
    doc_id_from_url,
    entered_date,
    load_html,
    parse_mdy,
    refuse_cut_short,
    row_cells,
    text_of,
)

COURT_OF_APPEALS, BAP, VETERANS = "court of appeals", "bankruptcy appellate panel", "veterans claims"

_DOCKET_LABEL = re.compile(r"(?:Docket #|Case Number)\s*:\s*(\S*)")
_NUMBER_CELL = re.compile(r"^\s*(\d{1,2}-\d{1,6}\S*)")
_CIRCUIT_HOST = re.compile(r"^ca(\d{1,2})$")
_DATE_ONLY = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_TERMED = re.compile(r"Termed:\s*(\d{1,2}/\d{1,2}/\d{4})", re.IGNORECASE)
# Veterans Claims prints no receipt; its page ends, as every appellate page does, with the
# script that its document links call, printed after the entries.
_CLOSING_SCRIPT = re.compile(rb"<script[^>]*>\s*function doDocPostURL\(", re.IGNORECASE)


def _visible_number(cell: HtmlElement) -> str | None:
    """The number shown in the '#' cell, ignoring the 'NN pg, NN KB' size note."""
    parts = [cell.text or ""]
    for child in cell:
        if child.tag == "a":
            parts.append(text_of(child))
        parts.append(child.tail or "")
    words = " ".join(parts).split()
    return words[0] if words and words[0].isdigit() else None


def _entry(row: HtmlElement, court: str | None, anchors: list[HtmlElement]) -> ParsedEntry | None:
    """One entry from a row of the entries table, or None for attachment rows."""
    cells = row_cells(row)
    if len(cells) < 3 or not _DATE_ONLY.match(text_of(cells[0]).strip()):
        return None
    number_cell = cells[1]
    link = next((a for a in number_cell.iter("a") if a.get("href")), None)
    url = absolute_url(link.get("href"), court) if link is not None else None
    if link is not None:
        anchors.append(link)
    pacer_doc_id = doc_id_from_url(url)
    entry_ids = number_cell.xpath(".//input[@name='d']/@value")
    description = clean_text(text_of(cells[2]))
    return ParsedEntry(
        entry_number=_visible_number(number_cell) or pacer_doc_id,
        date_filed=parse_mdy(text_of(cells[0])),
        description=description,
        pacer_doc_id=pacer_doc_id,
        source_id=entry_ids[0] if entry_ids else None,
        url=url,
        date_entered=entered_date(description),  # "[Entered: 06/01/2020 03:50 PM]"; not in every court
    )


def parse_appellate(content: bytes, court: str | None) -> tuple[str | None, list[ParsedDocket], str]:
    """Return (court, [docket], layout) for a CM/ECF appellate docket page."""
    tree = load_html(content)
    from_file = court is None
    court = court or court_from_content(content)
    # The innermost cell whose bold label names the docket number; on pages laid out
    # without a table there, the label's own parent.
    labels = tree.xpath(
        "//td[.//b[contains(., 'Docket #') or contains(., 'Case Number')]][not(.//td)]"
    ) or [b.getparent() for b in tree.xpath("//b[contains(., 'Docket #') or contains(., 'Case Number')]")]
    if not labels:
        raise ParseError("no 'Docket #:' or 'Case Number:' label found in the appellate docket")
    label_text = clean_text(text_of(labels[0]))
    m = _DOCKET_LABEL.search(label_text)
    docket_number = m[1] if m else ""
    if m and not docket_number:  # the number in a cell of its own, after the label's
        after = labels[0].xpath("following-sibling::td[1]")
        number = _NUMBER_CELL.match(text_of(after[0])) if after else None
        docket_number = number[1] if number else ""
    if not docket_number:
        raise ParseError(f"no docket number after {label_text!r} in the appellate docket")
    layout = BAP if "Appellate Panel" in label_text else VETERANS if "Case Number" in label_text else COURT_OF_APPEALS
    if from_file and layout == BAP and court and (circuit := _CIRCUIT_HOST.match(court)):
        court = f"bap{circuit[1]}"  # the panel's pages live on its circuit's host
    tables = labels[0].xpath("ancestor::table[1]")
    stub = tables[0] if tables else labels[0]  # the case stub table
    stub_text = "\n".join(stub.itertext())
    # The case title is the stub's first cell without a bold label.
    case_name = next(
        (
            clean_text(text_of(td))
            for td in stub.xpath("tr/td|tbody/tr/td")
            if td.find("b") is None and clean_text(text_of(td))
        ),
        None,
    )

    section = tree.xpath(
        "//comment()[contains(., 'DOCKET ENTRIES')]/following-sibling::*[self::table or self::form][1]"
    )
    # Pages saved without the section comments: the rows after the case stub that start
    # with a date and end with text (the originating court's row of dates is no entry).
    rows = section[0].iter("tr") if section else stub.xpath("following::tr")
    anchors: list[HtmlElement] = []
    entry_rows = [
        row
        for row in rows
        if len(cells := row_cells(row)) >= 3 and (section or not _DATE_ONLY.match(text_of(cells[-1]).strip()))
    ]
    refuse_cut_short(tree, entry_rows, ended=bool(_CLOSING_SCRIPT.search(content)))
    entries = [e for row in entry_rows if (e := _entry(row, court, anchors))]
    if entry_rows and not entries:
        raise ParseError("the appellate docket's entry table has rows but none could be read as an entry")
    terminated = _TERMED.search(stub_text)
    return court, [
        ParsedDocket(
            court=court or "",
            docket_number=docket_number,
            case_name=case_name,
            pacer_case_id=case_id_from_links(tree, anchors),
            date_terminated=parse_mdy(terminated[1]) if terminated else None,
            entries=entries,
        )
    ], layout
