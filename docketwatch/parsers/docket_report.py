"""CM/ECF docket reports (DktRpt.pl) from district and bankruptcy courts.

The entry table has a Date Filed column, a "#" column (two cells wide in bankruptcy
courts) and a Docket Text column, optionally with a checkbox column between them
("view multiple documents"). Long dockets continue in further header-less tables.
Each row is read by its own cells (date first, text last, the number in between), so
rows whose cells do not line up with the header are read too. Some bankruptcy courts
(N.D. Tex.) print no "#" column: the number then leads the docket text. A report sorted
by entry date shows "Date Entered" in the first column; that date then stands for the
filing date, as on CourtListener. The date entered is the clerk's stamp that ends the
docket text ("(Entered: 06/16/1995)"), which stays in the text. A report whose query
matched no entries is a docket with no entries, not an error.
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
    judge_name,
    load_html,
    parse_mdy,
    refuse_cut_short,
    row_cells,
    table_rows,
    text_of,
)

DISTRICT, BANKRUPTCY, NUMBER_IN_TEXT = "district", "bankruptcy", "bankruptcy, number in the text"

_CAPTION = re.compile(r"#:\s*(\S[^\n]*)")
# N.D. Tex.: "2 (23 pgs; 4 docs) Motion ..." - the number, then an optional size note.
_LEADING_NUMBER = re.compile(r"^\s*(\d+)(?:\s+\(\d+\s+pgs?(?:;\s*\d+\s+docs?)?\))?(?:\s+|$)")
_DATE_ONLY = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")
_ASSIGNED = re.compile(r"Assigned to:\s*([^\n]+)", re.IGNORECASE)
_TERMINATED = re.compile(r"Date terminated:\s*(\d{1,2}/\d{1,2}/\d{4})", re.IGNORECASE)


def _caption_docket_number(tree: HtmlElement) -> tuple[str, HtmlElement, bool]:
    """The docket number after `DOCKET FOR CASE #:` / `Petition #:`, its element, and
    whether the caption is a bankruptcy court's (a petition or adversary proceeding)."""
    # The caption is an <h3> (district) or <center> (bankruptcy); looking there first
    # spares a scan of every text node of the page. The number may sit in an element
    # of its own after the label (S.D. Ind.: "Petition #: <font>14-80555-JJG-13</font>").
    for path in ("(//h3|//center)//text()[contains(., '#:')]", "//body//text()[contains(., '#:')]"):
        for node in tree.xpath(path):
            text = str(node)
            if not text.partition("#:")[2].strip():
                block = node.getparent().xpath("ancestor-or-self::*[self::h3 or self::center or self::td][1]")
                text = "\n".join(block[0].itertext()) if block else text
            if m := _CAPTION.search(text):
                label = text[: m.start()].lower()
                return clean_text(m[1]), node.getparent(), "petition" in label or "proceeding" in label
    raise ParseError("no docket number (no 'DOCKET FOR CASE #:' or 'Petition #:' caption) found in the docket report")


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


def _entry_rows(tree: HtmlElement) -> tuple[list[HtmlElement], bool]:
    """All entry rows, and whether the table has a "#" column (else numbers lead the text)."""
    # No-break spaces count as spaces (XPath's normalize-space() keeps them).
    headers = tree.xpath("//th[normalize-space()='#']/parent::tr[*[contains(., 'Docket Text')]]") or tree.xpath(
        "//text()[normalize-space(translate(., '\u00a0', ' '))='Docket Text']/ancestor::tr[1]"
    )
    if not headers:
        if tree.xpath("//text()[contains(., 'Docket Text')]") or any(
            _DATE_ONLY.match(text_of(cells[0]).strip()) for row in tree.iter("tr") if len(cells := row_cells(row)) >= 2
        ):
            raise ParseError("the docket report's entry table has a layout docketwatch does not know")
        return [], False  # a header-only report: no entries matched the query
    header = headers[0]
    numbered = any(text_of(cell).replace("\xa0", " ").strip() == "#" for cell in row_cells(header))

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
    return entry_rows, numbered


def _number(cells: list[HtmlElement], numbered: bool) -> tuple[str | None, HtmlElement | None, str | None]:
    """(document number, its link, docket text without a leading number) of an entry row.

    The number is the first word of the first cell between date and text that has one
    (some courts print "13 (5 pgs)"); checkbox cells only hold file sizes.
    """
    text_cell = cells[-1]
    if numbered or len(cells) > 2:
        for cell in cells[1:-1]:
            words = text_of(cell).split()
            if words and words[0].isdigit() and cell.find("input") is None:
                link = next((a for a in cell.iter("a") if text_of(a).strip() == words[0]), None)
                return words[0], link, None
        return None, None, None
    text = text_of(text_cell)
    m = _LEADING_NUMBER.match(text)
    if not m:
        return None, None, None
    link = next((a for a in text_cell.iter("a") if text_of(a).strip() == m[1]), None)
    return m[1], link, text[m.end() :]


def _entry(row: HtmlElement, numbered: bool, court: str | None, anchors: list[HtmlElement]) -> ParsedEntry | None:
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

    number, link, rest = _number(cells, numbered)
    url = None
    if link is not None and link.get("href"):
        url = absolute_url(link.get("href"), court)
        anchors.append(link)
    description = clean_text(text_of(cells[-1]) if rest is None else rest)
    return ParsedEntry(
        entry_number=number,
        date_filed=date_filed,
        description=description,
        pacer_doc_id=doc_id_from_url(url),
        url=url,
        date_entered=entered_date(description),
    )


def parse_docket_report(content: bytes, court: str | None) -> tuple[str | None, list[ParsedDocket], str]:
    """Return (court, [docket], layout) for a district or bankruptcy DktRpt.pl page."""
    tree = load_html(content)
    court = court or court_from_content(content)
    docket_number, caption, bankruptcy = _caption_docket_number(tree)
    header_tables = _header_tables(caption)
    # One line per text node: <br>-separated header fields would otherwise run together.
    header_text = "\n".join(text for table in header_tables for text in table.itertext())
    assigned = _ASSIGNED.search(header_text)
    terminated = _TERMINATED.search(header_text)

    entry_rows, numbered = _entry_rows(tree)
    refuse_cut_short(tree, entry_rows)
    anchors: list[HtmlElement] = []
    entries = [e for row in entry_rows if (e := _entry(row, numbered, court, anchors)) is not None]
    if entry_rows and not entries:
        raise ParseError("the docket report's entry table has rows but none could be read as an entry")
    layout = (NUMBER_IN_TEXT if entry_rows and not numbered else BANKRUPTCY) if bankruptcy else DISTRICT
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
    ], layout
