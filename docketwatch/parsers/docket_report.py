"""CM/ECF docket reports (DktRpt.pl) from district and bankruptcy courts.

The entry table has a Date Filed column, a "#" column (two cells wide in bankruptcy
courts) and a Docket Text column, optionally with a checkbox column between them
("view multiple documents"). Long dockets continue in further header-less tables.
Columns are located from the header row rather than assumed, so all these layouts
are read by the same code. A report sorted by entry date shows "Date Entered" in the
first column; that date then stands for the filing date, as on CourtListener.
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
    judge_name,
    load_html,
    parse_mdy,
    row_cells,
    table_rows,
    text_of,
)

_CAPTION = re.compile(r"#:\s*(\S.*)")
_DATE_ONLY = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_ASSIGNED = re.compile(r"Assigned to:\s*([^\n]+)", re.IGNORECASE)
_TERMINATED = re.compile(r"Date terminated:\s*(\d{1,2}/\d{1,2}/\d{4})", re.IGNORECASE)


def _caption_docket_number(tree: HtmlElement) -> tuple[str, HtmlElement]:
    """The docket number after `DOCKET FOR CASE #:` / `Petition #:`, and its element."""
    # The caption is an <h3> (district) or <center> (bankruptcy); looking there first
    # spares a scan of every text node of the page.
    for path in ("(//h3|//center)//text()[contains(., '#:')]", "//body//text()[contains(., '#:')]"):
        for node in tree.xpath(path):
            if m := _CAPTION.search(node):
                return clean_text(m[1]), node.getparent()
    raise ParseError("no docket number (no 'DOCKET FOR CASE #:' caption) found in the docket report")


def _header_tables(caption: HtmlElement) -> list[HtmlElement]:
    """The case header table after the caption, and the table after it (in criminal
    cases the defendant table, which names the judge); tables nested inside the
    header (related cases, magistrate case numbers) are skipped.
    """
    tables = caption.xpath("following::table[position() <= 10]")
    if not tables:
        return []
    header = tables[0]
    after = next((t for t in tables[1:] if header not in t.iterancestors("table")), None)
    return [header] if after is None else [header, after]


def _case_name(header: HtmlElement | None, tree: HtmlElement) -> str | None:
    """District reports start the header with the title; bankruptcy ones name the debtor."""
    first_cell = header.find(".//td") if header is not None else None
    if first_cell is not None:
        for text in first_cell.itertext():
            line = clean_text(text)
            if not line:
                continue
            if line.lower().startswith("case title:"):
                return line[len("case title:") :].strip() or None
            if not line.endswith(":"):
                return line
            break
    debtor = tree.xpath("//b[normalize-space()='Debtor']/ancestor::i[1]/following-sibling::b[1]")
    return (clean_text(text_of(debtor[0])) or None) if debtor else None


def _entry_rows(tree: HtmlElement) -> tuple[list[HtmlElement], slice]:
    """All entry rows, and which cells of a row hold the document number."""
    headers = tree.xpath("//th[normalize-space()='#']/parent::tr[*[contains(., 'Docket Text')]]") or tree.xpath(
        "//text()[normalize-space()='Docket Text']/ancestor::tr[1]"
    )
    if not headers:
        if tree.xpath("//text()[contains(., 'Docket Text')]"):
            raise ParseError("the docket report's entry table has a layout docketwatch does not know")
        return [], slice(1, 2)  # a header-only report: no entries matched the query
    header = headers[0]
    position, number_cells = 0, slice(1, 2)
    for cell in row_cells(header):
        colspan = cell.get("colspan") or "1"
        span = int(colspan) if colspan.isdigit() else 1
        if text_of(cell).strip() == "#":
            number_cells = slice(position, position + span)
        position += span

    entry_rows = list(header.itersiblings("tr"))
    table = header.getparent()
    if table.tag == "tbody":
        table = table.getparent()
    # Long dockets continue in sibling tables without a header row.
    for sibling in table.itersiblings("table"):
        more = table_rows(sibling)
        first = row_cells(more[0]) if more else []
        if not first or not _DATE_ONLY.match(text_of(first[0]).strip()):
            break
        entry_rows.extend(more)
    return entry_rows, number_cells


def _entry(row: HtmlElement, number_cells: slice, court: str | None, anchors: list[HtmlElement]) -> ParsedEntry | None:
    """One entry from a table row, or None for attachment and spacer rows.

    Document links found are appended to `anchors` (they name PACER's case id).
    """
    cells = row_cells(row)
    if len(cells) < 2:
        return None
    date_text = text_of(cells[0]).strip()
    if not date_text:
        return None  # the attachment list of the entry above ("view multiple documents")
    date_filed = parse_mdy(date_text)
    if date_filed is None:
        raise ParseError(f"docket entry row with an unreadable date {date_text!r}")

    number_parts = cells[number_cells.start : min(number_cells.stop, len(cells) - 1)]
    # The first word: some courts print "13 (5 pgs)".
    words = " ".join(text_of(c) for c in number_parts).split()
    number = words[0] if words and words[0].isdigit() else None
    url = None
    if number:
        link = next((a for c in number_parts for a in c.iter("a") if text_of(a).strip() == number), None)
        if link is not None and link.get("href"):
            url = absolute_url(link.get("href"), court)
            anchors.append(link)
    return ParsedEntry(
        entry_number=number,
        date_filed=date_filed,
        description=clean_text(text_of(cells[-1])),
        pacer_doc_id=doc_id_from_url(url),
        url=url,
    )


def parse_docket_report(content: bytes, court: str | None) -> tuple[str | None, list[ParsedDocket]]:
    """Return (court, [docket]) for a district or bankruptcy DktRpt.pl page."""
    tree = load_html(content)
    court = court or court_from_content(content)
    docket_number, caption = _caption_docket_number(tree)
    header_tables = _header_tables(caption)
    # One line per text node: <br>-separated header fields would otherwise run together.
    header_text = "\n".join(text for table in header_tables for text in table.itertext())
    assigned = _ASSIGNED.search(header_text)
    terminated = _TERMINATED.search(header_text)

    entry_rows, number_cells = _entry_rows(tree)
    anchors: list[HtmlElement] = []
    entries = [e for row in entry_rows if (e := _entry(row, number_cells, court, anchors)) is not None]
    if entry_rows and not entries:
        raise ParseError("the docket report's entry table has rows but none could be read as an entry")
    return court, [
        ParsedDocket(
            court=court or "",
            docket_number=docket_number,
            case_name=_case_name(header_tables[0] if header_tables else None, tree),
            pacer_case_id=case_id_from_links(tree, anchors),
            assigned_to=judge_name(assigned[1]) if assigned else None,
            date_terminated=parse_mdy(terminated[1]) if terminated else None,
            entries=entries,
        )
    ]
