"""`docketwatch parse` and `docketwatch import` on saved PACER files."""

from __future__ import annotations

import codecs
import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_cli, today, write_config

PACER = Path(__file__).parent / "fixtures" / "pacer"
T_V_OPENAI = PACER / "district_docket__cand__cand_7.html"  # 3:23-cv-04557, 6 entries
T_V_OPENAI_CASE = '''
[[cases]]
name = "T. v. OpenAI LP"
court = "cand"
docket_number = "3:23-cv-04557"
courtlistener_id = 1
'''
CASES = T_V_OPENAI_CASE + '''[[cases]]
name = "Kadrey v. Meta Platforms, Inc."
court = "cand"
docket_number = "3:23-cv-03417"
courtlistener_id = 2
'''


def report_with(tmp_path: Path, *rows: tuple[date, str | None, str]) -> Path:
    """T. v. OpenAI's real report with rows added after its last entry (#6), each (day, its
    number or None for a minute entry, its text), saved as the browser saved the original."""
    cells = "".join(
        f"<tr><td width='94' valign=top nowrap>{day:%m/%d/%Y}</td><td valign='top' align='right'>"
        + (f'<a href="https://ecf.cand.uscourts.gov/doc1/03512359999{number}">{number}</a>&nbsp;' if number else "")
        + f"</td><td></td><td valign=top>{text} (Entered: {day:%m/%d/%Y})</td></tr>"
        for day, number, text in rows)
    page = T_V_OPENAI.read_text(encoding="latin-1")
    last = page.index("</td></tr>", page.index(">6</a>")) + len("</td></tr>")
    report = tmp_path / "report.html"
    report.write_text(page[:last] + cells + page[last:], encoding="latin-1")
    return report


def test_parse_prints_one_json_object_per_file(tmp_path):
    proc = run_cli(None, "parse", "--json", str(T_V_OPENAI), str(PACER / "rss__ca2__ca2_1.xml"))
    assert proc.returncode == 0, proc.stderr
    report, feed = [json.loads(line) for line in proc.stdout.splitlines()]
    assert report["kind"] == "docket_report" and report["court"] == "cand"
    docket = report["dockets"][0]
    assert docket["docket_number"] == "3:23-cv-04557-JCS" and len(docket["entries"]) == 6
    assert set(docket["entries"][0]) == {"document_number", "date_filed", "date_entered", "description", "short_description", "pacer_doc_id"}
    assert docket["entries"][0]["document_number"] == "1" and docket["entries"][0]["date_filed"] == "2023-09-05"
    assert feed["kind"] == "pacer_rss" and feed["court"] == "ca2"


def test_parse_reports_an_unreadable_file_and_goes_on(tmp_path):
    bad = tmp_path / "login.html"
    bad.write_text("<html><body>PACER Login</body></html>")
    proc = run_cli(None, "parse", str(bad), str(T_V_OPENAI))
    assert proc.returncode == 3
    assert f"{bad}: not a PACER file" in proc.stderr and "6 entries" in proc.stdout


def test_import_backfills_quietly_and_twice_changes_nothing(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=CASES)
    proc = run_cli(config, "import", str(T_V_OPENAI))
    assert proc.returncode == 0, proc.stderr
    assert "T. v. OpenAI LP (cand 3:23-cv-04557): 6 entries read from the docket_report, 6 new" in proc.stdout
    with sqlite3.connect(tmp_path / "dw.db") as db:
        assert db.execute("SELECT count(*) FROM entry").fetchone() == (6,)
        assert db.execute("SELECT count(*) FROM event").fetchone() == (0,)  # history is not news
    assert "0 new to docketwatch, 0 updated" in run_cli(config, "import", str(T_V_OPENAI)).stdout
    status = json.loads(run_cli(config, "status", "--json", "T. v. OpenAI").stdout)["cases"][0]
    assert status["entries"] == 6 and status["latest_entry"]["entry_number"] == "6"


def test_rows_of_a_report_that_share_a_number_or_repeat_a_minute_entry_are_each_kept(tmp_path):
    """A bankruptcy docket numbers two rows 1 (tests/fixtures/pacer casb: the petition and
    the disclosure of compensation), and a clerk may enter the same minute entry twice in a
    day. Before, each pair became one entry, the second row's words replacing the first's;
    after the watch began that was also a false "text edited" alert."""
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=CASES)
    day = date(2023, 9, 20)
    rows = [(day, "7", "MOTION to Dismiss"), (day, "7", "DECLARATION in support of 7 Motion to Dismiss"),
            (day, None, "Minute Entry: telephone conference held."),
            (day, None, "Minute Entry: telephone conference held.")]
    proc = run_cli(config, "import", str(report_with(tmp_path, *rows)))
    assert proc.returncode == 0, proc.stderr
    assert "10 entries read from the docket_report, 10 new" in proc.stdout
    again = run_cli(config, "import", str(report_with(tmp_path, *rows)))
    assert "0 new to docketwatch, 0 updated" in again.stdout  # the same rows again, told apart the same way
    with sqlite3.connect(tmp_path / "dw.db") as db:
        texts = [t for (t,) in db.execute("SELECT description FROM entry WHERE date_filed = '2023-09-20' ORDER BY id")]
    assert [t.split(" (Entered")[0] for t in texts] == [text for _, _, text in rows]

    with sqlite3.connect(tmp_path / "dw.db") as db:
        db.execute('UPDATE "case" SET baseline_at = CURRENT_TIMESTAMP')  # watched since; two more rows numbered 8
    later = [(today(), "8", "ORDER granting 7 Motion to Dismiss"), (today(), "8", "JUDGMENT")]
    proc = run_cli(config, "import", str(report_with(tmp_path, *rows, *later)))
    assert "2 filed since docketwatch began watching the case, reported as new" in proc.stdout, proc.stdout
    with sqlite3.connect(tmp_path / "dw.db") as db:
        assert db.execute("SELECT kind FROM event ORDER BY id").fetchall() == [("new",), ("new",)]  # no "changed"


def test_import_into_the_wrong_case_is_refused_naming_both_numbers(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=CASES)
    proc = run_cli(config, "import", str(T_V_OPENAI), "--case", "Kadrey")
    assert proc.returncode == 3
    assert "'3:23-cv-04557-JCS'" in proc.stderr and "'3:23-cv-03417'" in proc.stderr
    with sqlite3.connect(tmp_path / "dw.db") as db:
        assert db.execute("SELECT count(*) FROM entry").fetchone() == (0,)


def test_import_of_an_unwatched_docket_says_how_to_fix_it(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=CASES)
    proc = run_cli(config, "import", str(PACER / "district_docket__njd__njd_509180.html"))
    assert proc.returncode == 2 and "no configured case matches 2:23-cv-01194" in proc.stderr


def test_import_of_a_path_that_is_no_file_is_a_usage_error(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=CASES)
    for path, said in ((tmp_path / "missing.html", "no such file"),
                       (tmp_path, "is a folder, not a saved docket page")):
        proc = run_cli(config, "import", str(path))
        assert proc.returncode == 2 and proc.stderr.splitlines()[-1] == f"Error: Invalid value for 'PATH|URL': {path}: {said}"


def test_a_file_larger_than_any_saved_page_is_refused_without_reading_it_all(tmp_path):
    """/dev/zero never ends: read to the limit, then refused (import and parse alike)."""
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=CASES)
    proc = run_cli(config, "import", "/dev/zero")
    assert proc.returncode == 3 and proc.stderr == "/dev/zero: larger than 256 MiB: not a saved docket page\n"
    proc = run_cli(None, "parse", "/dev/zero", str(T_V_OPENAI))
    assert proc.returncode == 3 and "/dev/zero: larger than 256 MiB" in proc.stderr and "6 entries" in proc.stdout


NYSD_REPORT = PACER / "district_docket__nysd__nysd_4.html"  # 1:20-cv-10821-GHW, 87 entries
NYSD_CASE = '[[cases]]\nname = "Molina v. Hornblower"\ncourt = "nysd"\ndocket_number = "1:20-cv-10821"\n'


def test_a_report_cut_short_is_refused_naming_the_file_and_stores_nothing(tmp_path):
    """The report as a browser saved it when its download stopped in entry 66: what had
    arrived, every open element closed. Its entries up to there look like a whole docket."""
    page = NYSD_REPORT.read_bytes()
    stop = page.index(b"ORDER. The Court reminds the parties") + len(b"ORDER. The Court reminds the parties")
    cut = tmp_path / "1-20-cv-10821.html"
    cut.write_bytes(page[:stop] + b"</td></tr></tbody></table></div></body></html>")
    said = (f"{cut}: the page was cut short (no PACER Service Center receipt after its entries), so entries "
            "may be missing; download or save it again\n")
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=NYSD_CASE)
    proc = run_cli(config, "import", str(cut))
    assert (proc.returncode, proc.stderr, proc.stdout) == (3, said, "")
    assert entries_stored(tmp_path) == 0
    proc = run_cli(None, "parse", str(cut), str(NYSD_REPORT))
    assert proc.returncode == 3 and proc.stderr == said and "87 entries" in proc.stdout

    assert run_cli(config, "import", str(NYSD_REPORT)).returncode == 0
    assert run_cli(config, "import", str(cut)).stderr == said
    assert entries_stored(tmp_path) == 87  # what was stored stays


PENA = "PROPOSED JURY INSTRUCTIONS \u2014 \u201cPe\u00f1a\u201d \u00a7 5 Document filed by Lenny Molina"
NAME = "Molina v. Hornblower Group\u2019s, Inc. et al"


def nysd_report_saved_as(encoding: str) -> bytes:
    """The S.D.N.Y. report with curly quotes, a dash, an n with tilde and a section sign in
    its case name and entry 68, saved the ways editors and browsers save pages."""
    page = NYSD_REPORT.read_text("ascii").replace("PROPOSED JURY INSTRUCTIONS. Document filed by Lenny Molina", PENA)
    page = page.replace("Molina v. Hornblower Group, Inc. et al", NAME)
    if encoding == "latin-1 declared, cp1252 written":  # the meta tag of the page as served, kept by the save
        return page.replace("charset=UTF-8", "charset=iso-8859-1").encode("cp1252")
    if encoding == "mixed":  # text pasted into a cp1252 page from a UTF-8 one
        name_end = page.index(NAME) + len(NAME)
        return page[:name_end].encode("cp1252") + page[name_end:].encode("utf-8")
    if encoding == "utf-16-be, marked":  # "utf-16" writes this machine's byte order
        return codecs.BOM_UTF16_BE + page.encode("utf-16-be")
    return page.encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "latin-1 declared, cp1252 written", "mixed",
                                      "utf-16", "utf-16-be, marked"])
def test_a_report_is_read_in_the_encoding_it_was_saved_in(tmp_path, encoding):
    saved = tmp_path / "report.html"
    saved.write_bytes(nysd_report_saved_as(encoding))
    proc = run_cli(None, "parse", "--json", str(saved))
    assert proc.returncode == 0, proc.stderr
    [docket] = json.loads(proc.stdout)["dockets"]
    assert (docket["case_name"], len(docket["entries"])) == (NAME, 87)
    assert next(e for e in docket["entries"] if e["document_number"] == "68")["description"].startswith(PENA)


def test_a_report_saved_as_utf16_without_a_byte_order_mark_is_refused_saying_how_to_convert_it(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=NYSD_CASE)
    saved = tmp_path / "report.html"
    saved.write_bytes(nysd_report_saved_as("utf-16-le"))
    said = (f"{saved}: the file is UTF-16 text without a byte-order mark; convert it to UTF-8 "
            "(iconv -f UTF-16LE -t UTF-8 FILE > FILE.utf8.html) or save the page again\n")
    for command, configured in (("import", config), ("parse", None)):
        proc = run_cli(configured, command, str(saved))
        assert (proc.returncode, proc.stderr, proc.stdout) == (3, said, "")
    assert entries_stored(tmp_path) == 0


UTAH_REPORT = PACER / "district_docket__utd__utd.html"  # 2:08-cr-00125
NINTH_CIRCUIT_ACMS = PACER / "appellate_docket__ca9__ca9_22-21.acms_json"  # names no court
OTHER_COURTS = '''
[[cases]]
name = "Same number in S.D.N.Y."
court = "nysd"
docket_number = "2:08-cr-00125"
courtlistener_id = 3
[[cases]]
name = "Second Circuit appeal 22-21"
court = "ca2"
docket_number = "22-21"
courtlistener_id = 4
'''


def entries_stored(tmp_path) -> int:
    with sqlite3.connect(tmp_path / "dw.db") as db:
        return db.execute("SELECT count(*) FROM entry").fetchone()[0]


def test_a_docket_of_another_court_is_not_imported_into_a_case_with_its_number(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=OTHER_COURTS)
    proc = run_cli(config, "import", str(UTAH_REPORT), "--case", "S.D.N.Y.")
    assert proc.returncode == 3
    assert proc.stderr == (f"{UTAH_REPORT}: the docket_report is a docket of utd, but 'Same number in S.D.N.Y.' is a "
                           "case of nysd; nothing was stored\n")
    proc = run_cli(config, "import", str(UTAH_REPORT))  # matched by number: the court too
    assert proc.returncode == 2 and "no configured case matches 2:08-cr-00125-DAK-1 (court utd)" in proc.stderr

    # A file that names no court matches no case by its number alone ...
    proc = run_cli(config, "import", str(NINTH_CIRCUIT_ACMS))
    assert proc.returncode == 2 and "the acms_json does not name its court; give it with --court" in proc.stderr
    proc = run_cli(config, "import", str(NINTH_CIRCUIT_ACMS), "--court", "ca9")
    assert proc.returncode == 2 and "no configured case matches 22-21 (court ca9)" in proc.stderr
    assert entries_stored(tmp_path) == 0
    # ... but goes into the case named for it.
    proc = run_cli(config, "import", str(NINTH_CIRCUIT_ACMS), "--case", "Second Circuit")
    assert proc.returncode == 0 and "Second Circuit appeal 22-21 (ca2 22-21): 34 entries read" in proc.stdout


def test_import_of_a_court_feed_into_a_case_it_does_not_show_says_so(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False,
                          cases='[[cases]]\nname = "Quiet"\ncourt = "nysb"\ndocket_number = "16-99999"\n')
    feed = PACER / "rss__nysb__nysb_1.xml"
    proc = run_cli(config, "import", str(feed), "--case", "Quiet")
    assert proc.returncode == 3
    assert proc.stderr.startswith(f"{feed}: the pacer_rss shows no docket numbered 16-99999 (it shows ")
    assert proc.stderr.endswith(", ...); nothing was stored\n") and entries_stored(tmp_path) == 0


def test_an_import_after_the_watch_began_reports_what_the_polls_missed_and_changes_nothing_known(tmp_path):
    """The gap warning says to import a docket report: the filings it shows that the polls
    missed since the watch began are news. What it shows of entries already stored may be
    older than what a live source gave since: it changes nothing of them."""
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=CASES)
    assert run_cli(config, "import", str(T_V_OPENAI)).returncode == 0  # before the first check: history
    with sqlite3.connect(tmp_path / "dw.db") as db:
        db.execute('UPDATE "case" SET baseline_at = CURRENT_TIMESTAMP')  # the first check is done
        db.execute("UPDATE entry SET description = description || ' (Main Document 6 replaced on 9/8/2023)' "
                   "WHERE entry_number = '6'")  # as CourtListener shows it since
        db.execute("DELETE FROM entry WHERE entry_number = '5'")  # a 2023 filing no poll showed
        newer = db.execute("SELECT description FROM entry WHERE entry_number = '6'").fetchone()[0]
    report = report_with(tmp_path, (today(), "7", "ORDER granting 4 Motion for leave to appear in Pro Hac Vice."))

    proc = run_cli(config, "import", str(report))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("T. v. OpenAI LP (cand 3:23-cv-04557): 7 entries read from the docket_report, 2 new to "
                           "docketwatch, 0 updated; 1 filed since docketwatch began watching the case, reported as "
                           "new\n")
    with sqlite3.connect(tmp_path / "dw.db") as db:
        events = db.execute("SELECT kind, summary FROM event ORDER BY id").fetchall()
        assert events == [("new", "new entry #7")]
        assert db.execute("SELECT description FROM entry WHERE entry_number = '6'").fetchone()[0] == newer
    assert "0 new to docketwatch, 0 updated\n" in run_cli(config, "import", str(T_V_OPENAI)).stdout  # older: nothing
    with sqlite3.connect(tmp_path / "dw.db") as db:
        assert db.execute("SELECT count(*) FROM event").fetchone() == (1,)


def test_a_polled_entry_imported_from_a_report_gets_its_date_entered_and_no_change_is_reported(tmp_path, fake_cl):
    """The report's "(Entered: ...)" stamp fills the date entered of entries CourtListener
    gave without one; a date filled in is no change of what the entry says, either way round."""
    from docketwatch.parsers import parse

    fake_cl.add_docket(1, "cand", "3:23-cv-04557", "T. v. OpenAI LP")
    for e in parse(T_V_OPENAI.read_bytes()).dockets[0].entries:  # CourtListener keeps the court's text
        fake_cl.add_entry(1, e.entry_number, e.date_filed.isoformat(), e.description)
    config = write_config(tmp_path, fake_cl.base_url, cases=T_V_OPENAI_CASE)
    assert run_cli(config, "check").returncode == 0  # the baseline
    order = "ORDER granting 4 Motion for leave to appear in Pro Hac Vice."
    fake_cl.add_entry(1, "7", today().isoformat(), f"{order} (Entered: {today():%m/%d/%Y})")
    assert run_cli(config, "check").returncode == 0  # new entry #7

    proc = run_cli(config, "import", str(report_with(tmp_path, (today(), "7", order))))
    assert proc.returncode == 0, proc.stderr
    assert "7 entries read from the docket_report, 0 new to docketwatch, 0 updated\n" in proc.stdout
    assert run_cli(config, "check").returncode == 0  # CourtListener again, after the report
    with sqlite3.connect(tmp_path / "dw.db") as db:
        assert db.execute("SELECT kind, summary FROM event ORDER BY id").fetchall() == [("new", "new entry #7")]
        dates = db.execute("SELECT entry_number, date_entered FROM entry ORDER BY id").fetchall()
    assert dates[-1] == ("7", today().isoformat()) and all(entered for _, entered in dates)


MILLER = '''
[[cases]]
name = "USA v. Miller"
court = "cand"
docket_number = "3:16-cr-00225"
sources = ["pacer_rss"]
'''
MILLER_HISTORY = PACER / "other__cand__cand_299226.html"  # its first entry: a minute entry, "Case Referred to ECF"


def test_a_court_feeds_minute_entry_is_the_history_reports_entry_entered_days_after_its_filing(tmp_path):
    """A court feed dates an entry by the day it was entered, a history report gives both
    dates: an entry filed ten days before the watch began and entered since is one entry,
    paired by the days entered, not a second one reported as new."""
    from tests.test_parsers import feed

    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases=MILLER)
    entered, filed = today(), today() - timedelta(days=10)
    court_feed = tmp_path / "feed.xml"
    court_feed.write_bytes(feed(("3:16-cr-00225-CRB USA v. Miller et al", "299222", "[Case Referred to ECF]",
                                 f"{entered:%a, %d %b %Y} 16:00:00 GMT")))
    assert run_cli(config, "import", str(court_feed)).returncode == 0
    with sqlite3.connect(tmp_path / "dw.db") as db:
        db.execute('UPDATE "case" SET baseline_at = CURRENT_TIMESTAMP')  # the first check is done
    history = tmp_path / "history.html"  # its first entry filed and entered on those days
    page = MILLER_HISTORY.read_text(encoding="utf-8")
    for label, old, new in (("Filed", "05/27/2016", filed), ("Entered", "06/02/2016", entered)):
        cell = f'<i>{label}: </i></td><td align="right">'
        page = page.replace(cell + old, cell + f"{new:%m/%d/%Y}", 1)
    history.write_text(page, encoding="utf-8")

    proc = run_cli(config, "import", str(history))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ("USA v. Miller (cand 3:16-cr-00225): 7 entries read from the docket_history, "
                           "6 new to docketwatch, 1 updated\n")  # the feed's entry: its text filled in, quietly
    with sqlite3.connect(tmp_path / "dw.db") as db:
        assert db.execute("SELECT count(*) FROM event").fetchone() == (0,)
        minutes = db.execute("SELECT sources, date_filed, date_entered, description FROM entry "
                             "WHERE entry_number IS NULL AND short_description = 'Case Referred to ECF'").fetchall()
    assert [row[:3] for row in minutes] == [('["docket_history", "pacer_rss"]', filed.isoformat(), entered.isoformat())]
    assert minutes[0][3].startswith("CASE DESIGNATED for Electronic Filing.")
