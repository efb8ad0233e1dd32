"""Court RSS feeds end to end: the real S.D.N.Y. Bankruptcy feed served over loopback."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.conftest import run_cli, write_config
from tests.servers import NEW_ITEM, NYSB_FEED, with_new_item

SUNEDISON_ID = 5001
CASES = '''
[[cases]]
name = "In re SunEdison, Inc."
court = "nysb"
docket_number = "16-10992-smb"
sources = ["pacer_rss"{extra}]
{pin}
[[cases]]
name = "In re Fremak Industries, Inc."
court = "nysb"
docket_number = "15-11740"
sources = ["pacer_rss"]
'''


def rss_config(tmp_path, court_feed, fake_cl_url="http://127.0.0.1:9", extra="", pin="", database_url=None):
    config = write_config(tmp_path, fake_cl_url, token=False, cases=CASES.format(extra=extra, pin=pin),
                          database_url=database_url)
    config.write_text(config.read_text() + f'\n[sources.pacer_rss]\nurl_template = "{court_feed.url_template}"\n')
    return config


def check_all(config) -> tuple[int, dict[str, dict]]:
    proc = run_cli(config, "check", "--json")
    return proc.returncode, {c["name"]: c for c in json.loads(proc.stdout)["cases"]}


def test_one_request_per_court_serves_every_case_and_new_items_arrive(tmp_path, court_feed):
    config = rss_config(tmp_path, court_feed)
    code, first = check_all(config)
    assert code == 0 and all(c["baseline"] and c["ok"] for c in first.values())
    assert court_feed.responses == [200]  # two cases, one request

    court_feed.body = with_new_item(NYSB_FEED)
    code, second = check_all(config)
    assert code == 0 and court_feed.responses == [200, 200]
    sunedison = second["In re SunEdison, Inc."]
    # A feed's date is the day the entry was entered; the filing date is not known yet.
    assert [(e["entry_number"], e["date_filed"], e["date_entered"], e["description"]) for e in sunedison["new"]] == [
        ("5238", None, "2018-04-20", "Order Confirming Plan")]
    assert second["In re Fremak Industries, Inc."]["new"] == []

    code, third = check_all(config)  # unchanged: a conditional request answered 304
    assert code == 0 and court_feed.responses[-1] == 304
    assert all(c["new"] == [] for c in third.values())

    status = json.loads(run_cli(config, "status", "--json").stdout)
    feed = next(s for s in status["sources"] if s["source"] == "pacer_rss")
    assert feed["court"] == "nysb" and feed["entry_types"] == "all" and feed["complete"] is True
    assert status["cases"][0]["entries"] == 13 + 1  # 13 items in the real feed, 5238 since


def test_a_feed_with_new_items_is_read_even_when_its_build_date_has_not_moved(tmp_path, court_feed):
    """Only a byte-identical feed is skipped: a court (or a damaged answer before it) may
    keep lastBuildDate while the items change, and trusting the date would lose them."""
    court_feed.etags = False
    config = rss_config(tmp_path, court_feed)
    assert check_all(config)[0] == 0
    assert check_all(config)[1]["In re SunEdison, Inc."]["new"] == []  # the same bytes: nothing new
    court_feed.body = with_new_item(NYSB_FEED, build_date=b"Thu, 19 Apr 2018 18:22:08 GMT")
    assert [e["entry_number"] for e in check_all(config)[1]["In re SunEdison, Inc."]["new"]] == ["5238"]


@pytest.mark.parametrize("etags", [True, False], ids=["answered 304", "same bytes"])
def test_a_case_added_to_a_court_already_read_has_the_feeds_items_as_its_baseline(tmp_path, court_feed, etags):
    """The feed has not changed since it was read for Fremak: for SunEdison, added since,
    it is asked for whole, so SunEdison's 13 items are its quiet baseline, and the next
    change of the feed brings only its new filing, not the 13 as news."""
    court_feed.etags = etags
    config = rss_config(tmp_path, court_feed)
    both = config.read_text()
    config.write_text(both.replace(CASES.format(extra="", pin=""), CASES[CASES.index("[[cases]]", 5):]))
    assert [c["name"] for c in check_all(config)[1].values()] == ["In re Fremak Industries, Inc."]
    config.write_text(both)
    code, added = check_all(config)
    assert code == 0 and added["In re SunEdison, Inc."]["baseline"] and added["In re SunEdison, Inc."]["new"] == []
    assert court_feed.responses == [200, 200]  # the second asked with no validators
    assert check_all(config)[1]["In re SunEdison, Inc."]["new"] == []
    assert court_feed.responses[-1] == (304 if etags else 200)  # both cases have seen it: asked as usual
    court_feed.body = with_new_item(NYSB_FEED)
    assert [e["entry_number"] for e in check_all(config)[1]["In re SunEdison, Inc."]["new"]] == ["5238"]


def test_a_resumed_case_gets_the_filing_its_court_feed_listed_while_it_was_paused(tmp_path, court_feed):
    """SunEdison's filing came while it was paused and the feed was read for Fremak: on
    resuming, the feed (unchanged since) is asked for whole, and the filing is news at once."""
    config = rss_config(tmp_path, court_feed)
    assert check_all(config)[0] == 0
    assert run_cli(config, "pause", "sunedison").returncode == 0
    court_feed.body = with_new_item(NYSB_FEED)
    assert check_all(config)[1]["In re Fremak Industries, Inc."]["new"] == []
    assert run_cli(config, "resume", "sunedison").returncode == 0
    code, resumed = check_all(config)
    assert code == 0 and court_feed.responses == [200, 200, 200]
    assert [e["entry_number"] for e in resumed["In re SunEdison, Inc."]["new"]] == ["5238"]
    assert resumed["In re Fremak Industries, Inc."]["new"] == []


def test_entries_since_a_day_counts_a_feed_entry_from_the_day_it_was_entered(tmp_path, court_feed):
    """A court feed gives no date filed: `entries --since` lists its entries by the day
    they were entered, as status and digests date them."""
    config = rss_config(tmp_path, court_feed)
    check_all(config)
    court_feed.body = with_new_item(NYSB_FEED)
    check_all(config)
    since = json.loads(run_cli(config, "entries", "sunedison", "--since", "2018-04-20", "--json").stdout)
    assert [e["entry_number"] for e in since["cases"][0]["entries"]] == ["5238"]
    assert run_cli(config, "entries", "sunedison", "--since", "2018-04-19").stdout.startswith(
        "In re SunEdison, Inc. (nysb 16-10992): 14 entries stored")  # all the feed's items, entered that day


def test_a_feed_read_after_an_outage_longer_than_its_window_records_a_gap(tmp_path, court_feed):
    config = rss_config(tmp_path, court_feed)
    assert check_all(config)[0] == 0
    with sqlite3.connect(tmp_path / "dw.db") as db:  # the monitor was down for three days
        db.execute("UPDATE checkrun SET started_at = datetime(started_at, '-3 days')")
    court_feed.body = with_new_item(NYSB_FEED)
    code, result = check_all(config)
    assert code == 0
    for case in result.values():
        assert len(case["gaps"]) == 1 and "last read from the nysb RSS feed 3 days ago" in case["gaps"][0]
    status = json.loads(run_cli(config, "status", "--json").stdout)
    assert all(c["last_gap"]["source"] == "pacer_rss" for c in status["cases"])
    assert "may have been missed" in run_cli(config, "status").stdout


def test_a_case_not_read_for_longer_than_the_window_gets_a_gap_while_its_court_was_read_for_others(
        tmp_path, court_feed):
    """A feed serves a whole court: that it was read for one case says nothing of another
    case paused (or removed, or failing) meanwhile, whose filings may have scrolled out."""
    config = rss_config(tmp_path, court_feed)
    assert check_all(config)[0] == 0
    assert run_cli(config, "pause", "fremak").returncode == 0
    court_feed.body = with_new_item(NYSB_FEED)
    code, result = check_all(config)  # the court's feed is read for SunEdison only ...
    assert code == 0 and result["In re SunEdison, Inc."]["new"] and result["In re Fremak Industries, Inc."]["paused"]
    with sqlite3.connect(tmp_path / "dw.db") as db:  # ... for three days (as Fremak's last read shows)
        db.execute("UPDATE checkrun SET started_at = datetime(started_at, '-3 days') WHERE case_id = "
                   "(SELECT id FROM \"case\" WHERE docket_number = '15-11740')")
    assert run_cli(config, "resume", "fremak").returncode == 0
    code, result = check_all(config)
    assert code == 0 and result["In re SunEdison, Inc."]["gaps"] == []
    [gap] = result["In re Fremak Industries, Inc."]["gaps"]
    assert "this case was last read from the nysb RSS feed 3 days ago" in gap and "may have been missed" in gap
    assert check_all(config)[1]["In re Fremak Industries, Inc."]["gaps"] == []  # said once


def test_rss_short_text_later_filled_in_by_courtlistener_is_one_entry(tmp_path, court_feed, fake_cl):
    fake_cl.add_docket(SUNEDISON_ID, "nysb", "16-10992", "In re SunEdison, Inc.")
    for number, text in [("5235", "Complaint against Wells Fargo Bank (fee)"), ("5236", "Statement of the Debtors"),
                         ("5237", "Objection of the Official Committee to Motion to Extend")]:
        fake_cl.add_entry(SUNEDISON_ID, number, "2018-04-19", text)
    config = rss_config(tmp_path, court_feed, fake_cl.base_url, extra=', "courtlistener"',
                        pin=f"courtlistener_id = {SUNEDISON_ID}")
    code, first = check_all(config)
    sunedison = first["In re SunEdison, Inc."]
    assert code == 0 and sunedison["baseline"] and sunedison["changed"] == []  # both sources, one quiet baseline

    court_feed.body = with_new_item(NYSB_FEED)
    sunedison = check_all(config)[1]["In re SunEdison, Inc."]
    assert [e["description"] for e in sunedison["new"]] == ["Order Confirming Plan"]

    fake_cl.add_entry(SUNEDISON_ID, "5238", "2018-04-20",
                      "ORDER CONFIRMING THE DEBTORS' SECOND AMENDED JOINT PLAN OF REORGANIZATION. Signed on 4/20/2018.")
    sunedison = check_all(config)[1]["In re SunEdison, Inc."]
    assert sunedison["new"] == []
    assert [(e["entry_number"], e["changes"]) for e in sunedison["changed"]] == [("5238", ["text filled in"])]
    with sqlite3.connect(tmp_path / "dw.db") as db:
        rows = db.execute("SELECT description, sources FROM entry WHERE key = '#5238'").fetchall()
    assert rows == [("ORDER CONFIRMING THE DEBTORS' SECOND AMENDED JOINT PLAN OF REORGANIZATION. Signed on 4/20/2018.",
                     '["courtlistener", "pacer_rss"]')]  # stored as a JSON list (models.NameList)


def test_entry_types_are_read_wherever_the_phrase_appears_in_the_channel_description():
    from docketwatch.parsers.pacer_rss import parse_rss

    def channel(description: str) -> bytes:
        return NYSB_FEED.replace(b"<description>Docket entries of type: all</description>",
                                 f"<description>{description}</description>".encode(), 1)

    assert parse_rss(channel("Public Filings in the Last 24 Hours. Docket entries of type: all"), "nysb")[2] == "all"
    assert parse_rss(channel("Docket entries of type: orders, opinions."), "nysb")[2] == "orders, opinions"
    # No phrase: the description as the court wrote it (E.D.N.Y. says it in its own words).
    described = "Public Complaints, Orders and Judgments in the last 24 Hours"
    assert parse_rss(channel(described), "nysb")[2] == described


def test_status_names_each_case_its_court_feed_has_shown_no_filing_of(tmp_path, court_feed, database_url):
    """A court feed lists new filings only: a mistyped number matches none of its items
    and no poll fails. `status` says of which cases no filing was seen, and since when."""
    config = rss_config(tmp_path, court_feed, database_url=database_url)
    config.write_text(config.read_text() + '\n[[cases]]\nname = "In re Typo"\ncourt = "nysb"\n'
                      'docket_number = "16-10993"\nsources = ["pacer_rss"]\n')
    code, checked = check_all(config)
    assert code == 0 and checked["In re Typo"]["ok"]  # nothing is wrong as far as any poll can tell

    status = json.loads(run_cli(config, "status", "--json").stdout)
    [feed] = [s for s in status["sources"] if s["source"] == "pacer_rss"]
    [unseen] = feed["never_seen"]  # the other two cases have filings in the feed
    assert (unseen["case"], unseen["docket_number"]) == ("In re Typo", "16-10993")
    text = run_cli(config, "status").stdout
    assert (f"  no filing of In re Typo (16-10993) seen since {unseen['since']}: a quiet case and a mistyped "
            "docket number look alike here; check the number on PACER or CourtListener\n") in text
    assert text.count("no filing of") == 1

    # The feed lists a filing of it: the case is seen, and no longer named.
    item = (NEW_ITEM.replace(b"16-10992-smb SunEdison, Inc., et al., and North Kern State Prison",
                             b"16-10993-smb Typo Holdings LLC").replace(b"265812", b"265999"))
    court_feed.body = with_new_item(NYSB_FEED, item=item)
    code, checked = check_all(config)
    assert code == 0 and [e["entry_number"] for e in checked["In re Typo"]["new"]] == ["5238"]
    status = json.loads(run_cli(config, "status", "--json").stdout)
    assert [s["never_seen"] for s in status["sources"] if s["source"] == "pacer_rss"] == [[]]
    assert "no filing of" not in run_cli(config, "status").stdout


def test_a_feed_that_says_all_in_a_sentence_is_complete_in_status(tmp_path, court_feed):
    """Courts write the phrase in their own words; status reads it as coverage does."""
    court_feed.body = NYSB_FEED.replace(b"<description>Docket entries of type: all</description>",
                                        b"<description>Public Docket entries of type: All in the last 24 hours."
                                        b"</description>", 1)
    config = rss_config(tmp_path, court_feed)
    assert check_all(config)[0] == 0
    status = run_cli(config, "status", "--json")
    feed = next(s for s in json.loads(status.stdout)["sources"] if s["source"] == "pacer_rss")
    assert (feed["entry_types"], feed["complete"]) == ("All in the last 24 hours", True)
    assert "this feed carries every entry type" in run_cli(config, "status").stdout


def test_item_titles_that_name_other_parties_are_no_rename(tmp_path, court_feed):
    """A bankruptcy feed titles each item with the parties of that filing ("SunEdison,
    Inc., et al., and North Kern State Prison"), so its titles are not the case's name."""
    config = rss_config(tmp_path, court_feed)
    assert check_all(config)[0] == 0
    court_feed.body = with_new_item(NYSB_FEED).replace(
        b"SunEdison, Inc., et al., and North Kern State Prison", b"SunEdison, Inc., et al., and Solar Power Co.")
    code, result = check_all(config)
    assert code == 0 and [e["entry_number"] for e in result["In re SunEdison, Inc."]["new"]] == ["5238"]
    assert result["In re SunEdison, Inc."]["case_changes"] == []


ADVERSARY_ITEM = NEW_ITEM.replace(b"265812", b"277001").replace(b"5238&#x3C;/a", b"7&#x3C;/a").replace(
    b"[Order Confirming Plan]", b"[Complaint against Wells Fargo Bank]")


def test_two_dockets_sharing_a_number_are_not_merged_and_the_choice_is_said(tmp_path, court_feed):
    """An adversary proceeding (another PACER case id) listed under the case's number, and
    first in the feed: the case is read as the docket first opened, never as both."""
    court_feed.body = with_new_item(NYSB_FEED, item=ADVERSARY_ITEM)
    config = rss_config(tmp_path, court_feed)
    code, first = check_all(config)
    case = first["In re SunEdison, Inc."]
    assert code == 0 and case["baseline"]
    assert case["warnings"] == ["the nysb feed shows filings of 2 dockets numbered 16-10992 (PACER case ids "
                                "265812, 277001): this case is read as 265812, the first opened, from now on; "
                                "the others' filings are left out"]
    with sqlite3.connect(tmp_path / "dw.db") as db:
        assert db.execute("SELECT pacer_case_id FROM 'case' WHERE docket_number = '16-10992'").fetchall() == [
            ("265812",)]
        assert db.execute("SELECT count(*) FROM entry WHERE description LIKE '%Wells Fargo%'").fetchone() == (0,)

    court_feed.body = with_new_item(with_new_item(NYSB_FEED, item=ADVERSARY_ITEM), item=NEW_ITEM)
    code, second = check_all(config)
    case = second["In re SunEdison, Inc."]
    assert code == 0 and [e["entry_number"] for e in case["new"]] == ["5238"] and case["warnings"] == []


EMPTY_FEED = NYSB_FEED[:NYSB_FEED.index(b"<item>")] + b"</channel></rss>"


def _empty_since(tmp_path, days: float) -> None:
    """The stored feed state says it has listed nothing for `days` (a feed served empty that long)."""
    with sqlite3.connect(tmp_path / "dw.db") as db:
        db.execute("UPDATE sourcestate SET data = json_set(data, '$.empty_since', "
                   "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?)) WHERE source = 'pacer_rss'", (f"-{days} days",))


def test_a_feed_listing_nothing_for_longer_than_max_empty_fails_its_reads_then_recovers_with_a_gap(
        tmp_path, court_feed):
    """A feed served empty (an upstream outage, a blocked client) looks like a quiet court:
    for a while it is one; past `max_empty` each read fails, saying why, and once the feed
    lists filings again the cases get a gap from when it went empty."""
    config = rss_config(tmp_path, court_feed)
    court_feed.body = EMPTY_FEED
    code, first = check_all(config)  # a court quiet today: nothing to say
    assert code == 0 and all(c["ok"] for c in first.values())
    assert "no filing at all" in run_cli(config, "status").stdout  # but status says so

    _empty_since(tmp_path, 3)  # within the default four days: still a quiet court
    code, quiet = check_all(config)
    assert code == 0 and court_feed.responses[-1] == 304 and all(c["ok"] for c in quiet.values())

    _empty_since(tmp_path, 5)
    with sqlite3.connect(tmp_path / "dw.db") as db:  # the reads of the last five days
        db.execute("UPDATE checkrun SET started_at = datetime(started_at, '-5 days')")
    for _ in range(2):  # answered 304, then again with the same empty feed
        code, failed = check_all(config)
        assert code == 3 and court_feed.responses[-1] == 304
        for case in failed.values():
            error = case["error"]
            assert court_feed.url_template.format(court="nysb") in error
            assert "has listed no filing at all, of any case, since" in error and "(5 days)" in error
            assert "raise [sources.pacer_rss] max_empty" in error
    status = json.loads(run_cli(config, "status", "--json").stdout)
    assert next(s for s in status["sources"] if s["source"] == "pacer_rss")["empty_since"] is not None

    court_feed.body = NYSB_FEED  # served again
    code, back = check_all(config)
    assert code == 0 and all(c["ok"] for c in back.values())
    assert [e["entry_number"] for e in back["In re SunEdison, Inc."]["new"]][:1] == ["5237"]
    for case in back.values():
        [gap] = case["gaps"]
        assert "5 days ago" in gap and "may have been missed" in gap
    status = json.loads(run_cli(config, "status", "--json").stdout)
    assert next(s for s in status["sources"] if s["source"] == "pacer_rss")["empty_since"] is None


def test_max_empty_is_the_users_to_raise_for_a_quiet_court(tmp_path, court_feed):
    config = rss_config(tmp_path, court_feed)
    config.write_text(config.read_text() + 'max_empty = "10d"\n')
    court_feed.body = EMPTY_FEED
    assert check_all(config)[0] == 0
    _empty_since(tmp_path, 5)
    code, result = check_all(config)
    assert code == 0 and all(c["ok"] for c in result.values())
