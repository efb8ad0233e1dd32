"""CM/ECF appellate docket reports (the TransportRoom servlet's HTML docket).

Some circuits (the First, for one) print no document numbers; as CourtListener does,
the document id then serves as the entry number. Every entry row carries CM/ECF's
own entry id (the checkbox value), kept as `source_id`.
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
    load_html,
    parse_mdy,
    row_cells,
    text_of,
)

_DOCKET_LABEL = "Court of Appeals Docket #"
_DATE_ONLY = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_TERMED = re.compile(r"Termed:\s*(\d{1,2}/\d{1,2}/\d{4})", re.IGNORECASE)


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
    return ParsedEntry(
        entry_number=_visible_number(number_cell) or pacer_doc_id,
        date_filed=parse_mdy(text_of(cells[0])),
        description=clean_text(text_of(cells[2])),
        pacer_doc_id=pacer_doc_id,
        source_id=entry_ids[0] if entry_ids else None,
        url=url,
    )


def parse_appellate(content: bytes, court: str | None) -> tuple[str | None, list[ParsedDocket]]:
    """Return (court, [docket]) for a CM/ECF appellate docket page."""
    tree = load_html(content)
    court = court or court_from_content(content)
    labels = tree.xpath(f"//td[b[contains(., '{_DOCKET_LABEL}')]]")
    if not labels:
        raise ParseError(f"no '{_DOCKET_LABEL}:' found in the appellate docket")
    docket_number = clean_text(text_of(labels[0]).partition(":")[2])
    if not docket_number:
        raise ParseError(f"no docket number after '{_DOCKET_LABEL}:' in the appellate docket")
    stub = labels[0].getparent().getparent()  # the case stub table (or its tbody)
    if stub is None:
        raise ParseError(f"'{_DOCKET_LABEL}:' is not inside the case stub table of the appellate docket")
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
    anchors: list[HtmlElement] = []
    entry_rows = [row for row in section[0].iter("tr") if len(row_cells(row)) >= 3] if section else []
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
    ]
