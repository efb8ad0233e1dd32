"""docketwatch's PACER parsers, measured against juriscraper's parse of the same files.

tests/fixtures/pacer holds real PACER files with juriscraper's output beside each
(`*.expected.json`; provenance in its README.md, MANIFEST.tsv and SHA256SUMS). That
output is an oracle, not ground truth: where docketwatch is right and juriscraper is
wrong, the case is listed in ORACLE_EXCEPTIONS with the reason, never absorbed by a
lower threshold.

    PYTHONPATH=. python -m pytest tests/test_parsers.py -q -s   # -s shows the table
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, date, datetime, timedelta

import lxml.html
import pytest

from docketwatch.domain.docket_numbers import try_normalize
from docketwatch.parsers import KINDS, LAYOUTS, ParseError, detect_kind, parse
from docketwatch.parsers.pacer_rss import parse_pub_date
from tests.agreement import ORACLE_EXCEPTIONS, agreement_table, manifest_inputs, read

REQUIRED_AGREEMENT = 1.0  # on these fixtures; documented oracle errors aside


def test_agreement_with_juriscraper() -> None:
    """Every input/expected pair: entries agree on docket number, number, dates and text;
    the table has a line per kind and layout (each at 100% on these fixtures)."""
    result = agreement_table()
    print("\n\nAgreement with juriscraper's parse (entries compared field by field)\n")
    print("\n".join(result.lines))
    for key in ORACLE_EXCEPTIONS:
        print(f"\nDocumented oracle error {key}: {ORACLE_EXCEPTIONS[key]}")
    for name, exp, ours in result.disagreements[:20]:
        print(f"\nDISAGREEMENT in {name}:\n  juriscraper: {exp}\n  docketwatch: {ours}")

    assert result.used_exceptions == set(ORACLE_EXCEPTIONS), "stale ORACLE_EXCEPTIONS"
    labels = set(result.by_kind)
    for kind in KINDS:
        assert any(label.startswith(kind) and not label.endswith("no entries") for label in labels), kind
    for kind, layouts in LAYOUTS.items():
        for layout in layouts:
            assert any(label.startswith(f"{kind}, {layout}") for label in labels), f"no {kind} of layout {layout}"
    assert any(label.endswith("no entries") for label in labels)
    assert any(label.endswith("refused: not a docket") for label in labels)
    for label, t in result.by_kind.items():
        assert t.share(t.agreeing) >= REQUIRED_AGREEMENT, f"{label}: only {t.agreeing}/{t.compared} entries agree"


# ---------------------------------------------------------------- fixtures and kinds


def test_fixture_copies_match_their_checksums() -> None:
    for line in read("SHA256SUMS").decode().splitlines():
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256(read(name.lstrip("*"))).hexdigest() == digest, name


@pytest.mark.parametrize(("name", "kind"), manifest_inputs())
def test_kind_is_detected_from_content(name: str, kind: str) -> None:
    content = read(name)
    if name == "district_docket__dcd__dcd_2.html":  # PACER's answer to a bad query: no docket
        with pytest.raises(ParseError, match="Invalid date_from: 12/13/219"):
            detect_kind(content)
        return
    assert detect_kind(content) == kind
    assert parse(content).kind == kind


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"  \n ",
        b"just some text",
        b"<html><body><h1>PACER Login</h1><form>...</form></body></html>",
        b'{"results": []}',
        b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'></feed>",
    ],
)
def test_other_content_is_refused(content: bytes) -> None:
    with pytest.raises(ParseError):
        detect_kind(content)
    with pytest.raises(ParseError):
        parse(content)


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(ParseError, ValueError)


@pytest.mark.parametrize(
    "name",
    [
        "rss__nyed__nyed_1.xml",
        "rss__wvsd__wvsd.xml",
        "district_docket__njd__njd_509180.html",
        "other__cand__cand_299226.html",
        "appellate_docket__ca6__ca6_1.html",
        "appellate_docket__ca9__ca9_22-21.acms_json",
    ],
)
@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
def test_truncated_files_raise(name: str, fraction: float) -> None:
    content = read(name)
    with pytest.raises(ParseError):
        parse(content[: int(len(content) * fraction)])


@pytest.mark.parametrize(
    "name",
    [
        "district_docket__njd__njd_509180.html",
        "district_docket__txnb__txnb_1.html",
        "other__cand__cand_299226.html",
        "appellate_docket__ca6__ca6_1.html",
        "appellate_docket__cavc__cavc_18-3815.html",
    ],
)
def test_pages_cut_in_their_entries_and_saved_closed_raise(name: str) -> None:
    """A browser saves what it has of a page whose download stopped, with every open element
    closed (</body></html> included): only the receipt that ends a docket page, missing
    after the entries, shows it was cut."""
    content = read(name)
    last_date = [m.end() for m in re.finditer(rb">\s*\d\d/\d\d/\d{4}\s*<", content)][-1]
    saved = lxml.html.tostring(lxml.html.document_fromstring(content[: last_date + 100]))
    assert saved.endswith(b"</body></html>")
    with pytest.raises(ParseError, match="cut short.*download or save it again"):
        parse(saved)


@pytest.mark.parametrize("name", ["rss__ca2__ca2_1.xml", "other__cand__cand_299226.html",
                                  "appellate_docket__ca9__ca9_22-21.acms_json"])
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_file_saved_as_utf16_with_a_byte_order_mark_reads_as_the_original(name: str, encoding: str) -> None:
    """An editor's "Unicode" save keeps the XML declaration, which then names the wrong encoding."""
    original = read(name)
    text = original.decode("utf-8" if name.endswith("json") else "cp1252")
    saved = ("\ufeff" + text).encode(encoding) if encoding == "utf-16-be" else text.encode(encoding)
    assert parse(saved) == parse(original)


def test_unknown_entry_layouts_raise_rather_than_return_nothing() -> None:
    report = read("district_docket__njd__njd_509180.html")
    iso_dates = re.sub(rb">(\d\d)/(\d\d)/(\d{4})<", rb">\3-\1-\2<", report)
    with pytest.raises(ParseError, match="unreadable date"):
        parse(iso_dates)
    history = read("other__cand__cand_299226.html")
    with pytest.raises(ParseError, match="none could be read"):
        parse(history.replace(b"<table width=\"100%\" border=\"0\" cellpadding=\"0\" cellspacing=\"0\">", b"<div>"))


# ---------------------------------------------------------------- hostile XML

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><link>https://ecf.cand.uscourts.gov</link>
<item><title>3:23-cv-03417 Kadrey v. Meta &lol9;</title>
<link>https://ecf.cand.uscourts.gov/cgi-bin/DktRpt.pl?415175</link>
<description>[Order &lol9;]</description><pubDate>Tue, 22 May 2018 22:10:04 GMT</pubDate></item>
</channel></rss>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<rss version="2.0"><channel><link>https://ecf.cand.uscourts.gov</link>
<item><title>3:23-cv-03417 Kadrey &xxe;</title>
<link>https://ecf.cand.uscourts.gov/cgi-bin/DktRpt.pl?415175</link>
<description>[Order &xxe;]</description><pubDate>Tue, 22 May 2018 22:10:04 GMT</pubDate></item>
</channel></rss>"""


@pytest.mark.parametrize("content", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_entity_tricks_are_refused_without_expansion(content: bytes) -> None:
    start = time.perf_counter()
    with pytest.raises(ParseError) as error:
        parse(content)
    assert time.perf_counter() - start < 1.0
    assert "lollollol" not in str(error.value)
    assert "root:" not in str(error.value)



def test_a_courtlistener_feed_declaring_entities_is_refused_like_a_court_feed() -> None:
    """Both feeds go through the one hardened XML loader: a DTD is refused, not half-read."""
    from docketwatch.sources.courtlistener import parse_feed

    atom = (b'<?xml version="1.0"?>\n<!DOCTYPE feed [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
            b'<feed xmlns="http://www.w3.org/2005/Atom"><title>CourtListener.com: Docket for Kadrey &xxe;, '
            b'3:23-cv-03417</title></feed>')
    with pytest.raises(ParseError, match="CourtListener feed for docket 67784763 declares a DTD") as error:
        parse_feed(atom, "cand", 67784763)
    assert "root:" not in str(error.value)
    with pytest.raises(ParseError, match="is not valid XML"):
        parse_feed(atom[: len(atom) // 2], "cand", 67784763)


@pytest.mark.parametrize("written", ["&amp;#1;", "&amp;#x8;", "&amp;#xFFFE;", "&amp;#12;"])
def test_a_control_character_in_a_courtlistener_summary_is_left_out_not_a_failed_poll(written) -> None:
    """Found by the fuzzer, then refused as a broken feed; but the case's every poll then
    failed until 30 newer entries pushed the entry out of the feed. The character is no
    word of the docket text: it is left out, and the entry read."""
    from docketwatch.sources.courtlistener import parse_feed

    atom = ('<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
            "<title>CourtListener.com: Docket for Kadrey v. Meta Platforms, Inc., 3:23-cv-03417</title>"
            '<entry><title>Entry #7 in Kadrey v. Meta Platforms, Inc., 3:23-cv-03417</title>'
            '<link href="https://www.courtlistener.com/docket/67569326/x/#entry-7" rel="alternate"/>'
            "<published>2023-07-10T00:00:00-07:00</published>"
            f'<summary type="html">&lt;p&gt;ORDER {written} granting motion&lt;/p&gt;</summary></entry></feed>')
    [entry] = parse_feed(atom.encode(), "cand", 67569326).entries
    assert (entry.entry_number, entry.description) == ("7", "ORDER granting motion")


# ---------------------------------------------------------------- RSS feeds


def feed(*items: tuple[str, str, str, str]) -> bytes:
    """A minimal rss_outside.pl feed of (title, case id, description, pubDate) items."""
    body = "".join(
        f"<item><title>{title}</title><link>https://ecf.cand.uscourts.gov/cgi-bin/DktRpt.pl?{case_id}</link>"
        f"<description>{description}</description><pubDate>{pub_date}</pubDate></item>"
        for title, case_id, description, pub_date in items
    )
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel>'
        "<title>Northern District of California - Recent Entries</title>"
        "<link>https://ecf.cand.uscourts.gov</link><description>Docket entries of type: all</description>"
        f"{body}</channel></rss>"
    ).encode("latin-1")


def doc_link(doc_id: str, number: str) -> str:
    return f"(&lt;a href='https://ecf.cand.uscourts.gov/doc1/{doc_id}?caseid=415175&amp;de_seq_num=9'&gt;{number}&lt;/a&gt;)"


WHEN = "Tue, 25 Mar 2025 20:04:00 GMT"


def test_multi_event_items_become_one_entry_with_all_short_texts() -> None:
    kadrey, document_471 = "3:23-cv-03417-VC Kadrey v. Meta", doc_link("035123456789", "471")
    parsed = parse(
        feed(
            (kadrey, "415175", f"[Scheduling Order] {document_471}", WHEN),
            (kadrey, "415175", f"[Order] {document_471}", WHEN),
            (kadrey, "415175", f"[Order(Other)] {document_471}", WHEN),
            # Same case and time, another document: a separate filing.
            (kadrey, "415175", f"[Notice] {doc_link('035123456790', '472')}", WHEN),
        )
    )
    [docket] = parsed.dockets
    assert [e.entry_number for e in docket.entries] == ["471", "472"]
    merged = docket.entries[0]
    assert merged.short_description == "Order AND Order(Other) AND Scheduling Order"
    assert merged.description == merged.short_description
    assert merged.pacer_doc_id == "035123456789"


def test_real_multi_event_items_are_merged_like_juriscraper() -> None:
    nyed = parse(read("rss__nyed__nyed_1.xml"))
    assert sum(len(d.entries) for d in nyed.dockets) == 357  # from 432 items
    [docket] = [d for d in nyed.dockets if d.pacer_case_id == "381615"]
    [entry] = [e for e in docket.entries if e.entry_number == "86"]
    assert entry.short_description == (
        "Order on Motion for Extension of Time to Complete Discovery AND Order on Motion for Sanctions"
        " AND ~Util - Set Hearings"
    )
    assert sum(len(d.entries) for d in parse(read("rss__nysb__nysb_1.xml")).dockets) == 160  # from 162


def test_docket_number_suffixes() -> None:
    """Judge initials and variants of one case give one docket, its number as written."""
    parsed = parse(
        feed(
            ("3:23-cv-03417-VC Kadrey v. Meta", "415175", f"[Order] {doc_link('035123456789', '471')}", WHEN),
            ("3:23-CV-3417 Kadrey v. Meta", "415175", f"[Notice] {doc_link('035123456790', '472')}", WHEN),
        )
    )
    [docket] = parsed.dockets
    assert docket.docket_number == "3:23-cv-03417-VC"
    assert try_normalize(docket.docket_number) == "3:23-cv-03417"
    assert len(docket.entries) == 2

    report = parse(read("district_docket__njd__njd_509180.html")).dockets[0]
    assert report.docket_number == "2:23-cv-01194-MEF-JRA"
    assert try_normalize(report.docket_number) == "2:23-cv-01194"
    bankruptcy = parse(read("district_docket__casb__casb.html")).dockets[0]
    assert (bankruptcy.docket_number, try_normalize(bankruptcy.docket_number)) == ("95-05684-PB7", "95-5684")

    # Criminal co-defendants have one PACER case id each: separate dockets, as in PACER.
    nyed = parse(read("rss__nyed__nyed_1.xml"))
    co_defendants = [d for d in nyed.dockets if try_normalize(d.docket_number) == "1:17-cr-00664"]
    assert sorted(d.pacer_case_id for d in co_defendants) == ["410112", "410113", "410114"]


def test_rss_entry_fields() -> None:
    parsed = parse(read("rss__wvsd__wvsd.xml"))
    assert (parsed.kind, parsed.court, parsed.entry_types) == ("pacer_rss", "wvsd", "all")
    docket = next(d for d in parsed.dockets if d.pacer_case_id == "100645")
    assert (docket.court, docket.docket_number, docket.case_name) == (
        "wvsd",
        "2:13-cv-01808",
        "Spoon et al v. Ethicon, Inc. et al",
    )
    [entry] = docket.entries
    assert entry.entry_number == "13"
    assert entry.pacer_doc_id == "20119112675"  # as found (juriscraper zeroes the 4th digit)
    assert entry.url == "https://ecf.wvsd.uscourts.gov/doc1/20119112675?caseid=100645&de_seq_num=47"
    assert entry.filed_at == datetime(2018, 5, 15, 19, 14, 26, tzinfo=UTC)
    assert (entry.date_entered, entry.date_filed) == (date(2018, 5, 15), None)  # a feed tells the date entered
    assert entry.short_description == entry.description == "Pretrial Order"
    assert entry.source_id is None


def test_appellate_feeds_without_numbers_use_the_document_id() -> None:
    cadc = parse(read("rss__cadc__cadc.xml"))
    entry = cadc.dockets[0].entries[0]
    assert entry.entry_number == entry.pacer_doc_id == "01208491112"
    assert cadc.dockets[0].pacer_case_id is None
    ca2 = parse(read("rss__ca2__ca2_1.xml"))
    assert ca2.dockets[0].entries[0].entry_number == "27"
    assert ca2.dockets[0].entries[0].pacer_doc_id == "00209229396"


@pytest.mark.parametrize(
    ("name", "entry_types"),
    [
        ("rss__nysb__nysb_1.xml", "all"),
        ("rss__ca2__ca2_1.xml", "orders, opinions"),
        ("rss__cadc__cadc.xml", "orders,opinions,judgments"),
        ("rss__ca10__ca10.xml", "opinions"),
        ("rss__nyed__nyed_1.xml", "Public Complaints, Orders and Judgments in the last 24 Hours"),
    ],
)
def test_entry_types_say_what_a_feed_carries(name: str, entry_types: str) -> None:
    assert parse(read(name)).entry_types == entry_types


def test_entry_types_are_for_feeds_only() -> None:
    assert parse(read("district_docket__njd__njd_509180.html")).entry_types is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue, 22 May 2018 22:10:04 GMT", datetime(2018, 5, 22, 22, 10, 4, tzinfo=UTC)),
        ("Fri, 03 Feb 2023 11:52:07 EST", datetime(2023, 2, 3, 16, 52, 7, tzinfo=UTC)),
        ("Mon, 03 Jul 2023 11:52:07 EDT", datetime(2023, 7, 3, 15, 52, 7, tzinfo=UTC)),
        ("Fri, 03 Feb 2023 09:05:16 MST", datetime(2023, 2, 3, 16, 5, 16, tzinfo=UTC)),
        ("Fri, 03 Feb 2023 09:05:16 CST", datetime(2023, 2, 3, 15, 5, 16, tzinfo=UTC)),
        ("Mon, 03 Jul 2023 08:00:00 PDT", datetime(2023, 7, 3, 15, 0, 0, tzinfo=UTC)),
        ("Mon, 03 Jul 2023 08:00:00 HST", datetime(2023, 7, 3, 18, 0, 0, tzinfo=UTC)),
        ("Mon, 03 Jul 2023 08:00:00 -0400", datetime(2023, 7, 3, 12, 0, 0, tzinfo=UTC)),
        # A zone abbreviation names the court's zone; the wall time is read in it, so
        # "EST" printed in July is New York summer time (as juriscraper reads it).
        ("Mon, 03 Jul 2023 11:52:07 EST", datetime(2023, 7, 3, 15, 52, 7, tzinfo=UTC)),
    ],
)
def test_pub_dates_with_us_zone_abbreviations(text: str, expected: datetime) -> None:
    parsed = parse_pub_date(text)
    assert parsed.utcoffset() is not None
    assert parsed == expected


@pytest.mark.parametrize("text", ["", "yesterday", "Tue, 22 May 2018 22:10:04 XYZ", "Tue, 31 Feb 2018 22:10:04 GMT"])
def test_unreadable_pub_dates_raise(text: str) -> None:
    with pytest.raises(ParseError):
        parse_pub_date(text)


def test_rss_dates_keep_the_feed_offset() -> None:
    entry = parse(read("rss__ca10__ca10.xml")).dockets[0].entries[0]
    assert entry.filed_at is not None and entry.filed_at.utcoffset() == timedelta(hours=-7)
    assert entry.date_entered == date(2023, 2, 3)


def test_an_rss_entry_is_dated_by_the_courts_day_whatever_zone_the_feed_states() -> None:
    """9:30 pm in San Francisco is 04:30 GMT the next day; the court, and CourtListener, say the 24th."""
    kadrey = "3:23-cv-03417-VC Kadrey v. Meta"
    content = feed((kadrey, "415175", "[Hearing Held]", "Tue, 25 Mar 2025 04:30:00 GMT"))
    [entry] = parse(content).dockets[0].entries
    assert (entry.date_entered, entry.filed_at) == (date(2025, 3, 24), datetime(2025, 3, 25, 4, 30, tzinfo=UTC))
    # A court whose zone is not known keeps the day in the zone the feed states.
    assert parse(content, court="xyzd").dockets[0].entries[0].date_entered == date(2025, 3, 25)


# ---------------------------------------------------------------- docket pages


def test_court_comes_from_the_file_unless_given() -> None:
    content = read("district_docket__njd__njd_509180.html")
    assert parse(content).court == "njd"
    overridden = parse(content, court="njb")
    assert overridden.court == overridden.dockets[0].court == "njb"
    # A header-only page has no links, hence no court.
    header_only = parse(read("district_docket__cand__cand_4.html"))
    assert header_only.court is None
    assert header_only.dockets[0].court == ""
    assert header_only.dockets[0].entries == []
    # ACMS JSON never names its court.
    assert parse(read("appellate_docket__ca9__ca9_22-21.acms_json")).court is None
    assert parse(read("appellate_docket__ca9__ca9_22-21.acms_json"), court="ca9").dockets[0].court == "ca9"


def test_district_docket_report_fields() -> None:
    parsed = parse(read("district_docket__njd__njd_509180.html"))
    [docket] = parsed.dockets
    assert docket.case_name == "CATALYST PHARMACEUTICALS, INC. et al v. ANNORA PHARMA PRIVATE LIMITED et al"
    assert docket.pacer_case_id == "509180"
    assert docket.assigned_to == "Michael E. Farbiarz"
    assert docket.date_terminated is None
    assert len(docket.entries) == 161
    first = docket.entries[0]
    assert (first.entry_number, first.date_filed, first.pacer_doc_id) == ("1", date(2023, 3, 1), "119019633000")
    assert first.url == "https://ecf.njd.uscourts.gov/doc1/119019633000"
    assert first.description.startswith("COMPLAINT against ANNORA PHARMA PRIVATE LIMITED")
    minute = docket.entries[4]
    assert minute.entry_number is None and minute.pacer_doc_id is None and minute.url is None
    assert minute.description.startswith("Judge Madeline Cox Arleo and Magistrate Judge")


def test_closed_criminal_and_bankruptcy_reports() -> None:
    criminal = parse(read("district_docket__cand__cand_3.html")).dockets[0]
    assert (criminal.case_name, criminal.assigned_to, criminal.date_terminated) == (
        "USA v. Alfaro-Medina",
        "Jeffrey S. White",
        date(2009, 7, 2),
    )
    bankruptcy = parse(read("district_docket__casb__casb.html")).dockets[0]
    assert len(bankruptcy.entries) == 263  # spread over three tables
    assert (bankruptcy.case_name, bankruptcy.assigned_to, bankruptcy.date_terminated) == (
        "Sandahl Exports Corporation",
        "Peter W. Bowie",
        date(2002, 4, 3),
    )
    assert bankruptcy.pacer_case_id == "17148"


def test_the_clerks_entered_stamp_gives_the_date_entered_and_stays_in_the_text() -> None:
    """The diff engine dates an entry by the later of its dates (filed in May, entered in
    June: June's news); the text stays as the court wrote it, as CourtListener keeps it."""
    casb = parse(read("district_docket__casb__casb.html")).dockets[0].entries[0]
    assert (casb.date_filed, casb.date_entered) == (date(1995, 6, 1), date(1995, 6, 16))
    assert casb.description.endswith("Receipt # 13332 (Entered: 06/16/1995)")
    unstamped = parse(read("district_docket__txnb__txnb_1.html")).dockets[0].entries[0]
    assert (unstamped.date_filed, unstamped.date_entered) == (date(2004, 6, 8), None)
    history = parse(read("other__cand__cand_299226.html")).dockets[0].entries[0]  # its dates table
    assert (history.date_filed, history.date_entered) == (date(2016, 5, 27), date(2016, 6, 2))
    ca1 = [e for e in parse(read("appellate_docket__ca1__ca1_46307.html")).dockets[0].entries
           if e.date_entered != e.date_filed]
    assert [(e.date_filed, e.date_entered) for e in ca1] == [(date(2020, 5, 28), date(2020, 6, 1))] * 2 + [
        (date(2020, 8, 3), date(2020, 8, 4))]
    # An entry edited later keeps the day it was entered.
    acms = parse(read("appellate_docket__ca9__ca9_22-21.acms_json")).dockets[0].entries
    [edited] = [e for e in acms if "COURT UPDATE" in e.description]
    assert edited.date_entered == date(2022, 4, 1) and "[Edited: 04/04/2022" in edited.description


def test_view_multiple_documents_layout() -> None:
    docket = parse(read("district_docket__dcd__dcd_3.html")).dockets[0]
    # Attachment rows between the entries are not entries.
    assert [e.entry_number for e in docket.entries] == ["1", None, "179", "324", "588", "589", "590"]
    assert docket.pacer_case_id == "223205"


def test_docket_history_report_fields() -> None:
    docket = parse(read("other__cand__cand_317100.html")).dockets[0]
    assert (docket.docket_number, docket.case_name, docket.assigned_to) == (
        "3:17-cv-05264-VC",
        "Bandeh v. Apple Inc.",
        "Vince Chhabria",
    )
    first, second = docket.entries[:2]
    assert (first.entry_number, first.short_description) == (None, "Patent/Trademark Copy")
    assert first.description.startswith("REPORT on the filing or determination of an action")
    assert (second.entry_number, second.date_filed, second.short_description) == ("1", date(2017, 9, 12), "Complaint")


def test_appellate_docket_fields() -> None:
    ca1 = parse(read("appellate_docket__ca1__ca1_46307.html")).dockets[0]
    assert (ca1.docket_number, ca1.case_name, ca1.pacer_case_id, ca1.date_terminated) == (
        "19-2244",
        "Maravelias v. Coughlin, et al",
        "46307",
        date(2021, 4, 23),
    )
    first = ca1.entries[0]
    # The First Circuit prints no numbers: the document id stands in, as on CourtListener.
    assert first.entry_number == first.pacer_doc_id == "00107523228"
    assert first.source_id == "6301730"
    ca6 = parse(read("appellate_docket__ca6__ca6_1.html")).dockets[0]
    unlinked = ca6.entries[1]
    assert (unlinked.entry_number, unlinked.pacer_doc_id, unlinked.source_id) == ("2", None, "6811396")


def test_saved_page_encoding_follows_the_bytes_not_the_meta_tag() -> None:
    # Saved by a browser as UTF-8 while still declaring iso-8859-1.
    docket = parse(read("appellate_docket__ca9__ca9_2.html")).dockets[0]
    assert any("The Government\u2019s consent motion" in e.description for e in docket.entries)


def test_acms_json_fields() -> None:
    docket = parse(read("appellate_docket__ca9__ca9_22-21.acms_json")).dockets[0]
    assert (docket.docket_number, docket.case_name, docket.pacer_case_id) == (
        "22-21",
        "Lopez Guevara v. Garland",
        "c8d83e85-5b6e-ec11-b820-00155d36fcd4",
    )
    first = docket.entries[0]
    assert (first.entry_number, first.date_filed) == ("1", date(2022, 1, 5))
    assert first.source_id == first.pacer_doc_id == "a59cc6d9-5b6e-ec11-8f8e-001dd8032305"
    assert first.description == "PETITION FOR REVIEW filed by Petitioner(s). [Entered: 01/05/2022 11:15:00 AM]"
