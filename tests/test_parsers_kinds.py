"""The page kinds of issue 12, read by content rather than by court: each test takes a real
page and changes it the way the same kind differs between courts and years (a header that
does not line up with its rows, a label in other markup, no section comments, no
entries), so the parsers are shown to read the kind, not the one example.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from docketwatch.domain.docket_numbers import bankruptcy_number, core, normalize
from docketwatch.parsers import LAYOUTS, ParseError, detect_kind, parse
from tests.agreement import FIXTURES, read
from tests.conftest import run_cli, write_config

TXNB = "district_docket__txnb__txnb_1.html"
CASB = "district_docket__casb__casb.html"
NJD = "district_docket__njd__njd_509180.html"
INSB = "district_docket__insb__insb_1.html"
CA1 = "appellate_docket__ca1__ca1_46307.html"
CA6 = "appellate_docket__ca6__ca6_1.html"
BAP9 = "appellate_docket__bap9__bap9_15-1074.html"
CAVC = "appellate_docket__cavc__cavc_18-3815.html"
HISTORY = "other__cand__cand_317100.html"


def numbers(content: bytes) -> list[str | None]:
    return [e.entry_number for e in parse(content).dockets[0].entries]


# ---------------------------------------------------------------- bankruptcy docket reports


def test_numbers_inside_the_text_cell() -> None:
    parsed = parse(read(TXNB))
    assert parsed.layout == "bankruptcy, number in the text"
    [docket] = parsed.dockets
    assert docket.docket_number == "04-45661-rfn13"
    first = docket.entries[0]
    assert first.entry_number == "1"
    assert first.pacer_doc_id == "176012658944"
    assert first.description.startswith("Chapter 13 voluntary petition.")
    # Related-document links inside the text are not the entry's own number.
    assert docket.entries[3].entry_number == "4"
    assert "(Related Doc # 2)" in docket.entries[3].description


@pytest.mark.parametrize(
    ("lead", "number", "text"),
    [
        ("7 (23 pgs; 4 docs) Motion to dismiss", "7", "Motion to dismiss"),
        ("7 (23 pgs) Motion to dismiss", "7", "Motion to dismiss"),
        ("Motion to dismiss (sealed)", None, "Motion to dismiss (sealed)"),
    ],
)
def test_number_in_text_with_page_counts_or_none(lead: str, number: str | None, text: str) -> None:
    """Other N.D. Tex. reports print page counts after the number, or no number at all."""
    page = read(TXNB).decode()
    row = re.search(r"<TR><TD width=\"94\" nowrap valign=bottom>06/08/2004</TD><TD valign=bottom>.*?</TR>", page)
    assert row is not None
    changed = page.replace(row[0], f'<TR><TD width="94" nowrap valign=bottom>06/08/2004</TD><TD>{lead}</TD></TR>', 1)
    entry = parse(changed.encode()).dockets[0].entries[0]
    assert (entry.entry_number, entry.description) == (number, text)


def test_caption_number_in_its_own_element() -> None:
    docket = parse(read(INSB)).dockets[0]
    assert (docket.docket_number, docket.court) == ("14-80555-JJG-13", "insb")
    assert [e.entry_number for e in docket.entries] == ["1", "2"]


def test_rows_are_read_by_their_cells_not_the_header() -> None:
    """A "#" header one cell wide over rows with the two-cell bankruptcy number, and a
    header with no-break spaces, still give every number (S.D. Cal.-style variants)."""
    original = read(CASB)
    expected = numbers(original)
    one_wide = original.replace(b"<TH colspan=2 align='center'>#</TH>", b"<TH>#</TH>")
    assert numbers(one_wide) == expected
    nbsp = original.replace(b"<TH colspan=2 align='center'>#</TH><TH align=center>Docket Text</TH>",
                            b"<TD><B>&nbsp;#</B></TD><TD><B>Docket Text&nbsp;</B></TD>")
    assert numbers(nbsp) == expected
    assert sum(n is not None for n in expected) > 150


def test_a_report_with_no_entries_is_a_docket_not_an_error() -> None:
    page = read(NJD)
    header_end = page.index(b"Docket Text")
    table_end = page.index(b"</table>", header_end)
    first_row = page.index(b"<tr", header_end)
    empty = page[:first_row] + page[table_end:]
    parsed = parse(empty)
    [docket] = parsed.dockets
    assert (docket.docket_number, docket.entries) == ("2:23-cv-01194-MEF-JRA", [])
    assert docket.case_name == "CATALYST PHARMACEUTICALS, INC. et al v. ANNORA PHARMA PRIVATE LIMITED et al"


def test_entry_rows_without_a_known_header_raise() -> None:
    """Rows that look like entries under a header docketwatch does not know are not
    silently read as "no entries"."""
    page = read(NJD).replace(b"Docket Text", b"Entry")
    with pytest.raises(ParseError, match="layout docketwatch does not know"):
        parse(page)


# ---------------------------------------------------------------- appellate dockets


def test_bankruptcy_appellate_panel() -> None:
    parsed = parse(read(BAP9))
    assert (parsed.kind, parsed.layout, parsed.court) == ("appellate_docket", "bankruptcy appellate panel", "bap9")
    docket = parsed.dockets[0]
    assert (docket.docket_number, docket.case_name, docket.date_terminated) == (
        "15-1074", "Patrick Caldwell v. Victoria Nelson", date(2016, 2, 24))
    assert [e.entry_number for e in docket.entries][:3] == ["35", "36", "37"]
    assert docket.entries[1].pacer_doc_id == "0090284296"
    # A court given by the user is kept.
    assert parse(read(BAP9), court="ca9").court == "ca9"


def test_court_of_appeals_for_veterans_claims() -> None:
    parsed = parse(read(CAVC))
    assert (parsed.layout, parsed.court) == ("veterans claims", "cavc")
    docket = parsed.dockets[0]
    assert (docket.docket_number, docket.case_name) == ("18-3815", "Michael P. Long v. Robert L. Wilkie")
    # No document numbers: the document id stands in; an entry without a document has none.
    assert docket.entries[0].entry_number == docket.entries[0].pacer_doc_id == "01205136318"
    assert docket.entries[7].entry_number is None
    assert docket.entries[7].description == "Assigned case to Judge Bartley (PTD)"


def test_docket_label_in_other_markup() -> None:
    """Older pages wrap the label in <font>, and phones link the number (tel:)."""
    page = read(CA1).replace(
        b"<b>Court of Appeals Docket #: </b>19-2244",
        b'<font size="-1"><b>Docket #: </b><a href="tel:192244">19-2244</a></font>',
    )
    assert page != read(CA1)
    parsed = parse(page)
    assert parsed.kind == "appellate_docket"
    assert parsed.dockets[0].docket_number == "19-2244"
    assert len(parsed.dockets[0].entries) == 31


def test_appellate_page_without_section_comments() -> None:
    original = parse(read(CA6)).dockets[0]
    stripped = re.sub(rb"<!--.*?-->", b"", read(CA6), flags=re.S)
    assert b"DOCKET ENTRIES" not in stripped
    docket = parse(stripped).dockets[0]
    assert [(e.entry_number, e.date_filed, e.description) for e in docket.entries] == [
        (e.entry_number, e.date_filed, e.description) for e in original.entries
    ]


# ---------------------------------------------------------------- history reports, refusals


def test_history_report_with_no_entries() -> None:
    page = read(HISTORY)
    start = page.index(b"<table", page.index(b"</center>"))
    empty = page[:start] + b"</body></html>"
    [docket] = parse(empty).dockets
    assert (docket.docket_number, docket.case_name, docket.entries) == ("3:17-cv-05264-VC", "Bandeh v. Apple Inc.", [])
    # Docket text without the table it belongs in is a layout change, not "no entries".
    with pytest.raises(ParseError, match="layout"):
        parse(page.replace(b"<th", b"<td").replace(b"</th>", b"</td>"))


CAND_7 = "district_docket__cand__cand_7.html"  # 3:23-cv-04557-JCS, 6 entries


@pytest.mark.parametrize(
    "quoted",
    [b"NOTICE from USCA: appeal docketed, Court of Appeals Docket # 23-1234.",
     b"Bankruptcy Appellate Panel Docket # 23-1044 closed.", b"NEW SECTION - Case Stub",
     b"Clerk refers to the History/Documents query (HistDocQry.pl) for the record."],
    ids=["court-of-appeals-label", "bap-label", "appellate-section-name", "history-query"],
)
def test_a_docket_report_quoting_another_kinds_marker_is_a_docket_report(quoted: bytes) -> None:
    """An entry's text is no marker of the page's kind: each kind prints its marker
    above its entries."""
    page = read(CAND_7).replace(b"<!--SB-->COMPLAINT", b"<!--SB-->" + quoted + b" COMPLAINT", 1)
    assert quoted in page
    assert detect_kind(page) == "docket_report"
    [docket] = parse(page).dockets
    assert (docket.docket_number, len(docket.entries)) == ("3:23-cv-04557-JCS", 6)
    assert docket.entries[0].description.startswith(quoted.decode())


def test_a_docket_report_saved_with_its_menu_is_a_docket_report() -> None:
    """A browser saves CM/ECF's menu bar, which links the history query, above the caption."""
    menu = (b'<div id="topmenu"><ul><li><a href="/cgi-bin/DktRpt.pl">Docket Report</a></li>'
            b'<li><a href="/cgi-bin/HistDocQry.pl">History/Documents</a></li></ul></div>')
    page = read(CAND_7).replace(b"<body BGCOLOR=CCFFFF TEXT=000000 >", b"<body>" + menu, 1)
    assert menu in page
    assert detect_kind(page) == "docket_report"
    assert len(parse(page).dockets[0].entries) == 6


@pytest.mark.parametrize("removed", ["nothing", "title", "title-and-scripts"])
def test_a_history_report_is_known_by_its_title_its_script_or_its_receipt(removed: str) -> None:
    """Courts title their pages differently, and some saves drop scripts: each of the three
    places where a history report names itself is enough."""
    page = read(HISTORY)
    if removed != "nothing":
        page = page.replace(b"<title>CAND-ECF-History/Documents Query</title>", b"<title>CAND-ECF</title>", 1)
    if removed == "title-and-scripts":
        page = re.sub(rb"<script.*?</script>", b"", page, flags=re.S | re.I)
    assert page.count(b"History/Documents") == (2 if removed == "nothing" else 1)  # the receipt's
    assert detect_kind(page) == "docket_history"
    assert len(parse(page).dockets[0].entries) == len(parse(read(HISTORY)).dockets[0].entries) > 0


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (read("district_docket__dcd__dcd_2.html"), "Invalid date_from: 12/13/219"),
        (b"<html><head><title>PACER: Login</title></head><body><h1>Log in</h1></body></html>", "PACER: Login"),
    ],
)
def test_refusals_quote_the_page_in_one_line(content: bytes, said: str) -> None:
    with pytest.raises(ParseError) as error:
        detect_kind(content)
    assert said in str(error.value)
    assert "\n" not in str(error.value)


def test_every_layout_is_described() -> None:
    for kind, layouts in LAYOUTS.items():
        assert layouts and all(description for description in layouts.values()), kind


# ---------------------------------------------------------------- bankruptcy docket numbers


@pytest.mark.parametrize(
    ("written", "case_number", "office", "judge", "chapter"),
    [
        ("8-09-78585-ast", "09-78585", "8", "ast", None),
        ("09-12515-1-rel", "09-12515", "1", "rel", None),
        ("09-31416-hdh11", "09-31416", None, "hdh", "11"),
        ("14-80555-JJG-13", "14-80555", None, "jjg", "13"),
        ("8:09-bk-78585", "09-78585", "8", None, None),
        ("2-14-bk-80555", "14-80555", "2", None, None),
        ("1:09-bk-12345-ABC", "09-12345", "1", "abc", None),
    ],
)
def test_bankruptcy_numbers_keep_the_case_apart(
    written: str, case_number: str, office: str | None, judge: str | None, chapter: str | None
) -> None:
    parts = bankruptcy_number(written)
    assert parts is not None
    assert (parts.case_number, parts.office, parts.judge, parts.chapter) == (case_number, office, judge, chapter)
    assert normalize(written) == case_number


@pytest.mark.parametrize("written", ["3:23-cv-03417-VC", "25-2153", "1:17-cr-00664", "MDL No. 3143", "09-78585"])
def test_other_numbers_are_not_bankruptcy_numbers(written: str) -> None:
    assert bankruptcy_number(written) is None


def test_every_form_of_a_bankruptcy_case_is_the_same_case() -> None:
    forms = ["8-09-78585-ast", "8:09-bk-78585", "09-78585", "09-78585-ast", "8-09-78585"]
    assert {normalize(form) for form in forms} == {"09-78585"}
    assert core("8-09-78585-ast") == "0978585"


# ---------------------------------------------------------------- parse and import


MORRIS_RADIO = '''
[[cases]]
name = "Morris Radio Enterprises"
court = "txnb"
docket_number = "09-31416"
courtlistener_id = 1
[[cases]]
name = "USA v. Alfaro-Medina"
court = "cand"
docket_number = "3:09-cr-00418"
courtlistener_id = 2
'''


def test_import_matches_a_bankruptcy_case_written_another_way(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=MORRIS_RADIO)
    proc = run_cli(config, "import", str(FIXTURES / "district_docket__txnb__txnb_4.html"))  # 09-31416-hdh11
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Morris Radio Enterprises (txnb 09-31416): 173 entries read from the docket_report")


def test_a_docket_with_no_entries_is_parsed_and_imported_as_such(tmp_path: Path) -> None:
    header_only = str(FIXTURES / "district_docket__cand__cand_4.html")
    parsed = run_cli(None, "parse", header_only)
    assert parsed.returncode == 0, parsed.stderr
    assert "3:09-cr-00418-JSW-1  USA v. Alfaro-Medina  (no entries yet)" in parsed.stdout
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=MORRIS_RADIO)
    first = run_cli(config, "import", str(FIXTURES / "district_docket__cand__cand_3.html"))
    assert "1 entries read" in first.stdout, first.stderr
    assert run_cli(config, "import", header_only).returncode == 2  # the page names no court: a number alone
    proc = run_cli(config, "import", header_only, "--court", "cand")  # may be any court's
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "USA v. Alfaro-Medina (cand 3:09-cr-00418): no entries yet in the docket_report; nothing to import\n"
    with sqlite3.connect(tmp_path / "dw.db") as db:
        assert db.execute("SELECT count(*) FROM entry").fetchone() == (1,)  # what was stored stays


def test_parse_names_the_layout_read() -> None:
    proc = run_cli(None, "parse", "--json", str(FIXTURES / TXNB), str(FIXTURES / BAP9))
    assert proc.returncode == 0, proc.stderr
    txnb, bap9 = [json.loads(line) for line in proc.stdout.splitlines()]
    assert (txnb["kind"], txnb["layout"], txnb["court"]) == ("docket_report", "bankruptcy, number in the text", "txnb")
    assert (bap9["kind"], bap9["layout"], bap9["court"]) == ("appellate_docket", "bankruptcy appellate panel", "bap9")
    text = run_cli(None, "parse", str(FIXTURES / BAP9)).stdout
    assert text.startswith(f"{FIXTURES / BAP9}: appellate_docket (bankruptcy appellate panel), court bap9, 1 docket(s)")


@pytest.mark.parametrize(
    "label",
    [
        b"<b>Court of Appeals Docket #:</b></td><td>19-2244",  # the number in a cell of its own
        b"<b>Court of Appeals Docket #: </b>19-2244</td></tr></table><p><b>9th Cir. Docket #:</b> 19-2244</p><table><tr><td>",
    ],
    ids=["number-in-next-cell", "label-outside-the-stub-too"],
)
def test_docket_number_beside_its_label(label: bytes) -> None:
    page = read(CA1).replace(b"<b>Court of Appeals Docket #: </b>19-2244", label)
    assert page != read(CA1)
    docket = parse(page).dockets[0]
    assert (docket.docket_number, len(docket.entries)) == ("19-2244", 31)


def test_docket_label_without_any_table() -> None:
    """Labels outside every table: read from the label's own element."""
    page = read(CA1).replace(b"<b>Court of Appeals Docket #: </b>19-2244", b"")
    page = page.replace(b"<body>", b"<body><p><font><b>Docket #:</b> 19-2244</font></p>", 1)
    assert b"Court of Appeals Docket #" not in page
    docket = parse(page).dockets[0]
    assert (docket.docket_number, len(docket.entries)) == ("19-2244", 31)
