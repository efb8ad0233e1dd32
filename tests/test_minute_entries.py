"""One minute (unnumbered) entry is one stored entry, reported once, whichever sources show it.

A minute entry has no number that every source shares: a court's RSS feed knows it by its
date entered and short text, CourtListener by its own id. End to end, the real S.D.N.Y.
Bankruptcy feed and the CourtListener stand-in are read over loopback (its Atom feed, or
its API); at the diff engine, real items of the E.D.N.Y. feed meet CourtListener entries
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import event as sa_event
from sqlmodel import Session, select

from docketwatch.domain import docket_numbers
from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry, Snapshot
from docketwatch.parsers.pacer_rss import parse_rss
from docketwatch.pipeline import diff
from docketwatch.store.models import Case, Entry, Event, utcnow
from tests.conftest import run_cli, write_config
from tests.servers import NYSB_FEED
from tests.test_pacer_rss import SUNEDISON_ID, check_all

SUNEDISON = f'''
[[cases]]
name = "In re SunEdison, Inc."
court = "nysb"
docket_number = "16-10992-smb"
sources = ["pacer_rss", "courtlistener"]
courtlistener_id = {SUNEDISON_ID}
'''
DIGEST = '\n[[digests]]\nname = "all"\nchannel = "markdown"\ndir = "out"\nevents = ["new", "changed"]\n'


def minute_item(short: str, pub_date: str = "Fri, 20 Apr 2018 15:02:11 GMT") -> bytes:
    """A SunEdison item without a document link (a minute entry), as the court's feed lists one."""
    return f'''<item>
<title>16-10992-smb SunEdison, Inc., et al., and North Kern State Prison</title>
<link>https://ecf.nysb.uscourts.gov/cgi-bin/DktRpt.pl?265812</link>
<description>Type: bk Office: 1 Chapter: 11  [{short}]</description>
<guid isPermaLink="true">https://ecf.nysb.uscourts.gov/cgi-bin/DktRpt.pl?265812</guid>
<pubDate>{pub_date}</pubDate>
</item>
'''.encode()


def with_items(*items: bytes) -> bytes:
    return NYSB_FEED.replace(b"<item>", b"".join(items) + b"<item>", 1)


def both_sources(tmp_path: Path, court_feed, fake_cl, *, api: bool) -> Path:
    """SunEdison read from the court's feed and CourtListener (its API with a token, else
    its Atom feed), with a Markdown digest of new and changed entries; a quiet baseline taken."""
    fake_cl.add_docket(SUNEDISON_ID, "nysb", "16-10992", "In re SunEdison, Inc.")
    fake_cl.add_entry(SUNEDISON_ID, "5235", "2018-04-19", "Complaint against Wells Fargo Bank (fee)")
    path = write_config(tmp_path, fake_cl.base_url, token=api, cases=SUNEDISON)
    path.write_text(path.read_text() + f'\n[sources.pacer_rss]\nurl_template = "{court_feed.url_template}"\n'
                    + DIGEST)
    code, first = check_all(path)
    assert code == 0 and first["In re SunEdison, Inc."]["baseline"]
    return path


def minutes(tmp_path: Path) -> list[tuple[list[str], str, str | None, str]]:
    """The stored unnumbered entries: (sources, description, short text, date entered)."""
    with sqlite3.connect(tmp_path / "dw.db") as db:
        rows = db.execute("SELECT sources, description, short_description, date_entered FROM entry "
                          "WHERE entry_number IS NULL ORDER BY id").fetchall()
    return [(json.loads(sources), *rest) for sources, *rest in rows]


def new_events(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "dw.db") as db:
        return db.execute("SELECT count(*) FROM event WHERE kind = 'new'").fetchone()[0]


def sunedison(path: Path) -> dict:
    code, cases = check_all(path)
    assert code == 0
    return cases["In re SunEdison, Inc."]


@pytest.mark.parametrize("api", [False, True], ids=["cl-feed", "cl-api"])
def test_a_minute_entry_from_the_court_feed_then_courtlistener_is_one_entry_reported_once(
        tmp_path, court_feed, fake_cl, api):
    path = both_sources(tmp_path, court_feed, fake_cl, api=api)
    court_feed.body = with_items(minute_item("Set/Reset Hearings"))
    assert [(e["entry_number"], e["description"]) for e in sunedison(path)["new"]] == [(None, "Set/Reset Hearings")]

    # CourtListener got the same item from the court: no docket text yet, the short text on its document.
    stub = fake_cl.add_entry(SUNEDISON_ID, None, "2018-04-20", "", short="Set/Reset Hearings")
    case = sunedison(path)
    assert case["new"] == [] and case["changed"] == []
    assert minutes(tmp_path) == [(["courtlistener", "pacer_rss"], "Set/Reset Hearings", "Set/Reset Hearings",
                                  "2018-04-20")]
    for _ in range(2):  # each source again: nothing
        case = sunedison(path)
        assert case["new"] == [] and case["changed"] == []

    # The docket text arrives: the same entry, filled in.
    stub["description"] = "Hearing Scheduled (RE: related document(s)5238) Hearing scheduled for 5/10/2018 at 10:00 AM"
    stub["date_modified"] = fake_cl._tick()
    case = sunedison(path)
    assert case["new"] == [] and [(e["entry_number"], e["changes"]) for e in case["changed"]] == [
        (None, ["text filled in"])]
    assert len(minutes(tmp_path)) == 1 and new_events(tmp_path) == 1

    # The digest lists it once, with its current text.
    digest = run_cli(path, "digest", "--dry-run")
    assert digest.returncode == 0, digest.stderr
    assert digest.stdout.count("Hearing scheduled for 5/10/2018") == 1
    assert "Set/Reset Hearings" not in digest.stdout


@pytest.mark.parametrize("api", [False, True], ids=["cl-feed", "cl-api"])
def test_a_minute_entry_from_courtlistener_then_the_court_feed_is_one_entry_reported_once(
        tmp_path, court_feed, fake_cl, api):
    path = both_sources(tmp_path, court_feed, fake_cl, api=api)
    # With a token, the full docket text and the short text; the Atom feed shows the short text of a stub.
    full = "Hearing Scheduled. Hearing scheduled for 5/10/2018 at 10:00 AM" if api else ""
    fake_cl.add_entry(SUNEDISON_ID, None, "2018-04-20", full, short="Set/Reset Hearings")
    assert [e["entry_number"] for e in sunedison(path)["new"]] == [None]

    court_feed.body = with_items(minute_item("Set/Reset Hearings"))
    for _ in range(3):
        case = sunedison(path)
        assert case["new"] == [] and case["changed"] == []
    (row,) = minutes(tmp_path)
    assert row[0] == ["courtlistener", "pacer_rss"] and row[3] == "2018-04-20" and new_events(tmp_path) == 1


@pytest.mark.parametrize("api", [False, True], ids=["cl-feed", "cl-api"])
def test_an_evening_minute_entry_in_the_court_feed_then_its_docket_text_is_one_entry_reported_once(
        tmp_path, court_feed, fake_cl, api):
    """The court (New York) enters "Hearing Held" at 9:30 pm on Friday 20 April; its feed,
    stamped GMT, says Saturday 01:30. CourtListener dates it the 20th, by the court's day,
    and its free feed gives only the docket text, which begins with the feed's short text."""
    path = both_sources(tmp_path, court_feed, fake_cl, api=api)
    court_feed.body = with_items(minute_item("Hearing Held", "Sat, 21 Apr 2018 01:30:00 GMT"))
    assert [(e["description"], e["date_entered"]) for e in sunedison(path)["new"]] == [("Hearing Held", "2018-04-20")]

    full = "Hearing Held. Confirmation hearing held on 4/20/2018 (related document(s) 5100)."
    fake_cl.add_entry(SUNEDISON_ID, None, "2018-04-20", full, short="Hearing Held")
    case = sunedison(path)
    assert case["new"] == [] and [(e["description"], e["changes"]) for e in case["changed"]] == [
        (full, ["text filled in"])]
    assert minutes(tmp_path) == [(["courtlistener", "pacer_rss"], full, "Hearing Held", "2018-04-20")]
    case = sunedison(path)
    assert case["new"] == [] and case["changed"] == [] and new_events(tmp_path) == 1


def test_both_sources_in_the_first_check_store_one_entry(tmp_path, court_feed, fake_cl):
    """The quiet baseline stores entries without ORM objects; the second source still finds the first's."""
    fake_cl.add_docket(SUNEDISON_ID, "nysb", "16-10992", "In re SunEdison, Inc.")
    fake_cl.add_entry(SUNEDISON_ID, None, "2018-04-20", "", short="Set/Reset Hearings")
    court_feed.body = with_items(minute_item("Set/Reset Hearings"))
    path = write_config(tmp_path, fake_cl.base_url, token=False, cases=SUNEDISON)
    path.write_text(path.read_text() + f'\n[sources.pacer_rss]\nurl_template = "{court_feed.url_template}"\n')
    assert sunedison(path)["baseline"]
    assert [r[0] for r in minutes(tmp_path)] == [["courtlistener", "pacer_rss"]]
    case = sunedison(path)
    assert case["new"] == [] and case["changed"] == []


# -- the diff engine, SQLite and PostgreSQL ------------------------------------------

NYED = (Path(__file__).parent / "fixtures" / "pacer" / "rss__nyed__nyed_1.xml").read_bytes()


def nyed_docket(number: str) -> ParsedDocket:
    """The real E.D.N.Y. feed's docket of `number` (May 2018; the feed is stamped GMT)."""
    _, dockets, _ = parse_rss(NYED, "nyed")
    return next(d for d in dockets if d.docket_number.startswith(number))


def watched(session: Session, docket: ParsedDocket) -> Case:
    """The docket's case, with a baseline of one numbered entry from CourtListener."""
    row = Case(court="nyed", docket_number=docket_numbers.normalize(docket.docket_number), name=docket.case_name or "")
    session.add(row)
    session.commit()
    diff.apply(session, row, cl(docket, ParsedEntry(entry_number="1", date_filed=date(2018, 1, 2), description="COMPLAINT")))
    row.baseline_at = utcnow()
    return row


def rss(docket: ParsedDocket, *entries: ParsedEntry) -> Snapshot:
    return Snapshot(source="pacer_rss", docket=ParsedDocket(court="nyed", docket_number=docket.docket_number,
                                                           entries=list(entries)), delta=True)


def cl(docket: ParsedDocket, *entries: ParsedEntry) -> Snapshot:
    return Snapshot(source="courtlistener", docket=ParsedDocket(court="nyed", docket_number=docket.docket_number,
                                                               entries=list(entries)), delta=True)


def cl_minute(source_id: str, filed: str, text: str, short: str | None = None) -> ParsedEntry:
    """A minute entry as the CourtListener API gives it: its id, filing date, text and its document's short text."""
    return ParsedEntry(entry_number=None, date_filed=date.fromisoformat(filed), description=text,
                       short_description=short, source_id=source_id)


def kinds(session: Session) -> list[str]:
    return [e.kind for e in session.exec(select(Event).order_by(Event.id))]


def stored_minutes(session: Session, case: Case) -> list[Entry]:
    return list(session.exec(select(Entry).where(Entry.case_id == case.id, Entry.entry_number.is_(None))
                             .order_by(Entry.id)))


@pytest.mark.parametrize("order", ["feed first", "courtlistener first"])
def test_the_same_minute_entry_from_both_sources_is_one_entry_either_way(session, order):
    docket = nyed_docket("1:12-cv-04402")  # Joseph v. Brooklyn DDSO: [~Util - Set Hearings], 22 May 2018
    (item,) = docket.entries
    case = watched(session, docket)
    snapshots = [rss(docket, item), cl(docket, cl_minute("401", "2018-05-22", "", "~Util - Set Hearings"))]
    if order == "courtlistener first":
        snapshots.reverse()
    assert len(diff.apply(session, case, snapshots[0]).new) == 1
    second = diff.apply(session, case, snapshots[1])
    assert second.new == [] and second.changed == []
    for snapshot in snapshots * 2:
        result = diff.apply(session, case, snapshot)
        assert result.new == [] and result.changed == []
    (entry,) = stored_minutes(session, case)
    assert entry.sources == ["courtlistener", "pacer_rss"] and kinds(session) == ["new"]
    assert (entry.date_filed, entry.date_entered) == (date(2018, 5, 22), date(2018, 5, 22))


def test_a_minute_entry_filled_in_later_is_one_change_of_the_same_entry(session):
    docket = nyed_docket("1:12-cv-04402")
    case = watched(session, docket)
    diff.apply(session, case, rss(docket, *docket.entries))
    diff.apply(session, case, cl(docket, cl_minute("401", "2018-05-22", "", "~Util - Set Hearings")))
    filled = cl_minute("401", "2018-05-22", "Status Conference set for 6/5/2018 at 11:00 AM before Judge Pamela K. Chen.",
                       "~Util - Set Hearings")
    result = diff.apply(session, case, cl(docket, filled))
    assert result.new == [] and [c.changes for c in result.changed] == [["text filled in"]]
    edited = cl_minute("401", "2018-05-22", "Status Conference set for 6/6/2018 at 11:00 AM before Judge Pamela K. Chen.",
                       "~Util - Set Hearings")
    assert [c.changes for c in diff.apply(session, case, cl(docket, edited)).changed] == [["text edited"]]
    assert diff.apply(session, case, rss(docket, *docket.entries)).changed == []  # the short text again: nothing
    (entry,) = stored_minutes(session, case)
    assert entry.description.startswith("Status Conference set for 6/6") and kinds(session) == ["new", "changed",
                                                                                                 "changed"]


def test_two_identical_minute_entries_of_a_day_pair_one_to_one_from_either_source(session):
    docket = nyed_docket("1:17-cv-03475")  # Erramuspe: two [Scheduling Order] items, 22 May 2018, 19:44 and 19:47
    case = watched(session, docket)
    pair = [cl_minute("501", "2018-05-22", "", "Scheduling Order"), cl_minute("502", "2018-05-22", "", "Scheduling Order")]
    assert len(diff.apply(session, case, cl(docket, *pair)).new) == 2
    # The feed tells its two apart by the moment each was entered; two and two that no
    # reader can tell apart pair in the order they came.
    assert diff.apply(session, case, rss(docket, *docket.entries)).new == []
    assert [e.sources for e in stored_minutes(session, case)] == [["courtlistener", "pacer_rss"]] * 2
    assert diff.apply(session, case, cl(docket, *pair)).new == []
    assert diff.apply(session, case, rss(docket, *docket.entries)).new == []


def test_the_feed_first_then_two_identical_courtlistener_entries_pair_one_to_one(session):
    docket = nyed_docket("1:17-cv-03475")
    case = watched(session, docket)
    assert len(diff.apply(session, case, rss(docket, *docket.entries)).new) == 2  # two filings, not one
    pair = [cl_minute("501", "2018-05-22", "", "Scheduling Order"), cl_minute("502", "2018-05-22", "", "Scheduling Order")]
    assert diff.apply(session, case, cl(docket, *pair)).new == []
    assert [e.sources for e in stored_minutes(session, case)] == [["courtlistener", "pacer_rss"]] * 2


def test_one_feed_entry_against_two_that_agree_with_it_pairs_with_neither(session):
    docket = nyed_docket("1:17-cv-03475")
    case = watched(session, docket)
    assert len(diff.apply(session, case, rss(docket, docket.entries[0])).new) == 1
    pair = [cl_minute("501", "2018-05-22", "", "Scheduling Order"), cl_minute("502", "2018-05-22", "", "Scheduling Order")]
    # Either could be the one the feed showed, and the other one then is news: neither pairs.
    assert len(diff.apply(session, case, cl(docket, *pair)).new) == 2
    assert [e.sources for e in stored_minutes(session, case)] == [["pacer_rss"], ["courtlistener"], ["courtlistener"]]


def test_a_feed_short_text_and_a_report_full_text_stored_apart_meet_in_courtlistener_without_an_alert(session):
    """An imported docket report has no short text to pair its minute entries by, so the
    feed's entry and the report's are stored apart; CourtListener's entry has both texts,
    agrees with both, and is the one with its very docket text: no second "new"."""
    docket = nyed_docket("1:12-cv-04402")  # [~Util - Set Hearings], 22 May 2018
    case = watched(session, docket)
    assert len(diff.apply(session, case, rss(docket, *docket.entries)).new) == 1
    full = "Status Conference set for 6/5/2018 at 11:00 AM before Judge Pamela K. Chen."
    report = Snapshot(source="docket_report", docket=ParsedDocket(
        court="nyed", docket_number=docket.docket_number,
        entries=[ParsedEntry(entry_number=None, date_filed=date(2018, 5, 22), description=full)]), delta=True)
    assert diff.apply(session, case, report, backfill=True).new == []
    result = diff.apply(session, case, cl(docket, cl_minute("401", "2018-05-22", full, "~Util - Set Hearings")))
    assert result.new == [] and result.changed == [] and kinds(session) == ["new"]
    assert [e.sources for e in stored_minutes(session, case)] == [["pacer_rss"], ["courtlistener", "docket_report"]]


def test_a_feed_entry_stored_by_its_day_and_words_is_known_again_and_the_one_it_hid_is_new(session):
    """Before the moment of entry was part of a court feed's key, the two Scheduling
    Orders of 22 May were one entry (the second never reported). After the upgrade the
    first keeps the stored entry, the second is new, once."""
    docket = nyed_docket("1:17-cv-03475")
    case = watched(session, docket)
    first, second = sorted(docket.entries, key=lambda e: e.filed_at)
    old_release = replace(first, filed_at=None)  # as the previous release keyed it: by day and words
    assert len(diff.apply(session, case, rss(docket, old_release)).new) == 1
    result = diff.apply(session, case, rss(docket, second, first))  # the feed lists the newest first
    assert [e.date_entered for e in result.new] == [date(2018, 5, 22)] and result.changed == []
    assert len(stored_minutes(session, case)) == 2
    assert diff.apply(session, case, rss(docket, second, first)).new == []
    # A third of that day, seen later, is new too: only the earliest may take the old entry.
    third = replace(first, filed_at=first.filed_at.replace(hour=21))
    assert len(diff.apply(session, case, rss(docket, third, second, first)).new) == 1


def test_an_evening_feed_entry_stored_by_its_gmt_day_is_known_again(session):
    """Releases that keyed a court feed's minute entry by day and words took the day in the
    zone the feed stated (GMT): the entry made at 9:30 pm in New York is still found under it."""
    docket = nyed_docket("1:17-cv-03475")
    case = watched(session, docket)
    evening = ParsedEntry(entry_number=None, date_filed=None, date_entered=date(2018, 5, 22), description="Order",
                          short_description="Order", filed_at=datetime(2018, 5, 23, 1, 30, tzinfo=UTC))
    old_release = replace(evening, filed_at=None, date_entered=date(2018, 5, 23))
    assert len(diff.apply(session, case, rss(docket, old_release)).new) == 1
    assert diff.apply(session, case, rss(docket, evening)).new == []
    assert len(stored_minutes(session, case)) == 1


def test_each_of_three_orders_on_three_days_is_new_once_whatever_the_sources_order(session):
    """An audit's chain: CourtListener shows A (19 April); the feed, watched later, shows
    X (20th) and Z (21st) as bare "Order"; then CourtListener shows X and Z. Each day's
    entry pairs only with its own day's, so no filing becomes another's "text filled in"."""
    docket = nyed_docket("1:12-cv-04402")
    case = watched(session, docket)
    a = cl_minute("801", "2018-04-19", "ORDER granting Motion to Extend Time (A).", "Order")
    x = cl_minute("802", "2018-04-20", "ORDER granting Motion to Compel Discovery (X).", "Order")
    z = cl_minute("803", "2018-04-21", "ORDER scheduling a status conference (Z).", "Order")

    def feed_order(day: str) -> ParsedEntry:
        return ParsedEntry(entry_number=None, date_filed=None, date_entered=date.fromisoformat(day), description="Order",
                           short_description="Order")

    assert len(diff.apply(session, case, cl(docket, a)).new) == 1
    assert len(diff.apply(session, case, rss(docket, feed_order("2018-04-20"))).new) == 1
    assert len(diff.apply(session, case, rss(docket, feed_order("2018-04-21"))).new) == 1
    both = diff.apply(session, case, cl(docket, a, x, z))
    assert both.new == [] and [c.changes for c in both.changed] == [["text filled in"]] * 2
    days = {(e.date_filed, tuple(e.sources)) for e in stored_minutes(session, case)}
    assert days == {(date(2018, 4, 19), ("courtlistener",)), (date(2018, 4, 20), ("courtlistener", "pacer_rss")),
                    (date(2018, 4, 21), ("courtlistener", "pacer_rss"))}
    assert kinds(session) == ["new", "new", "new", "changed", "changed"]


@pytest.mark.parametrize("order", ["report first", "feed first"])
def test_a_history_report_entry_entered_days_after_its_filing_is_the_feed_item_of_its_entry_day(session, order):
    """A history report dates a minute entry by its filing and its entry; a court feed
    only by its entry. The report's entry (filed 18 May, entered 22 May) is the feed's
    item entered 22 May with the same short text, whichever came first: one entry, one
    "new" at most (an imported report's entries are history)."""
    docket = nyed_docket("1:12-cv-04402")  # [~Util - Set Hearings], entered 22 May 2018
    case = watched(session, docket)
    full = "Status Conference set for 6/5/2018 at 11:00 AM before Judge Pamela K. Chen."
    history = Snapshot(source="docket_history", docket=ParsedDocket(
        court="nyed", docket_number=docket.docket_number,
        entries=[ParsedEntry(entry_number=None, date_filed=date(2018, 5, 18), date_entered=date(2018, 5, 22),
                             description=full, short_description="~Util - Set Hearings")]), delta=True)
    if order == "feed first":
        assert len(diff.apply(session, case, rss(docket, *docket.entries)).new) == 1
    assert diff.apply(session, case, history, backfill=True).new == []
    result = diff.apply(session, case, rss(docket, *docket.entries))
    assert result.new == [] and result.changed == []
    assert kinds(session) == (["new"] if order == "feed first" else [])
    (entry,) = stored_minutes(session, case)
    assert entry.sources == ["docket_history", "pacer_rss"] and entry.description == full
    assert (entry.date_filed, entry.date_entered) == (date(2018, 5, 18), date(2018, 5, 22))
    # Another day's item with those words is another entry.
    other = replace(docket.entries[0], date_entered=date(2018, 5, 18), filed_at=None)
    assert len(diff.apply(session, case, rss(docket, other)).new) == 1


def test_different_words_or_days_stay_apart(session):
    docket = nyed_docket("1:18-cv-01126")  # Espinosa: [~Util - Terminate Civil Case] and [Order on Motion to Withdraw]
    case = watched(session, docket)
    diff.apply(session, case, rss(docket, *docket.entries))
    result = diff.apply(session, case, cl(docket,
                                          cl_minute("601", "2018-05-22", "", "Order on Motion to Withdraw as Attorney"),
                                          cl_minute("602", "2018-05-20", "", "~Util - Terminate Civil Case"),
                                          cl_minute("603", "2018-05-23", "", "~Util - Terminate Civil Case")))
    assert len(result.new) == 3  # other words; two days before; a day after the date entered
    assert len(stored_minutes(session, case)) == 5


def test_a_feed_date_a_day_after_the_filing_date_stays_apart(session):
    """Both sources date a minute entry by the court's day; a minute order of the next day
    says the same as often ("Order"): the two stay apart, an alert repeated rather than one
    hidden."""
    docket = nyed_docket("1:14-cv-06377")  # Jennings: [Order(Other)] on 21 and 22 May (GMT)
    case = watched(session, docket)
    diff.apply(session, case, cl(docket, cl_minute("701", "2018-05-21", "ORDER re discovery.", "Order(Other)")))
    late = ParsedEntry(entry_number=None, date_filed=None, date_entered=date(2018, 5, 22), description="Order(Other)",
                       short_description="Order(Other)")
    assert len(diff.apply(session, case, rss(docket, late)).new) == 1
    assert [e.sources for e in stored_minutes(session, case)] == [["courtlistener"], ["pacer_rss"]]


def test_consecutive_days_with_the_same_words_pair_by_day(session):
    docket = nyed_docket("1:14-cv-06377")  # Jennings: [Order(Other)] entered 21 May (23:25 GMT) and 22 May
    case = watched(session, docket)
    diff.apply(session, case, rss(docket, *docket.entries))
    # CourtListener lists the later one first; each pairs with the feed's item of its own day.
    both = [cl_minute("702", "2018-05-22", "", "Order(Other)"), cl_minute("701", "2018-05-21", "", "Order(Other)")]
    assert diff.apply(session, case, cl(docket, *both)).new == []
    rows = {(e.date_filed, e.date_entered) for e in stored_minutes(session, case) if e.short_description == "Order(Other)"}
    assert rows == {(date(2018, 5, 21), date(2018, 5, 21)), (date(2018, 5, 22), date(2018, 5, 22))}


def test_a_feed_short_text_pairs_with_the_docket_text_it_begins_only_when_the_feed_came_first(session):
    """CourtListener's free feed gives a minute entry's docket text and no short text. It
    fills in the court feed's entry whose short text it begins with, at a word's end; a
    feed's short text reaching an entry stored with its docket text stays apart (paired
    wrongly, it would hide a filing)."""
    docket = nyed_docket("1:12-cv-04402")  # [~Util - Set Hearings], 22 May 2018
    case = watched(session, docket)
    held = ParsedEntry(entry_number=None, date_filed=None, date_entered=date(2018, 5, 22), description="Hearing Held",
                       short_description="Hearing Held")
    assert len(diff.apply(session, case, rss(docket, held)).new) == 1
    other = cl_minute("901", "2018-05-22", "Hearing Heldover to 6/1/2018.", None)  # not at a word's end
    assert len(diff.apply(session, case, cl(docket, other)).new) == 1
    text = cl_minute("902", "2018-05-22", "Hearing Held. Status conference held on 5/22/2018.", None)
    result = diff.apply(session, case, cl(docket, other, text))
    assert result.new == [] and [c.changes for c in result.changed] == [["text filled in"]]

    later = ParsedEntry(entry_number=None, date_filed=None, date_entered=date(2018, 5, 23), description="Minute Order",
                        short_description="Minute Order")
    diff.apply(session, case, cl(docket, cl_minute("903", "2018-05-23", "Minute Order. Trial set for 7/1/2018.", None)))
    assert len(diff.apply(session, case, rss(docket, later)).new) == 1


def test_a_feed_short_text_that_two_docket_texts_begin_with_pairs_with_neither(session):
    docket = nyed_docket("1:12-cv-04402")
    case = watched(session, docket)
    held = ParsedEntry(entry_number=None, date_filed=None, date_entered=date(2018, 5, 22), description="Hearing Held",
                       short_description="Hearing Held")
    diff.apply(session, case, rss(docket, held))
    two = [cl_minute("911", "2018-05-22", "Hearing Held. Status conference held.", None),
           cl_minute("912", "2018-05-22", "Hearing Held. Motion hearing held.", None)]
    assert len(diff.apply(session, case, cl(docket, *two)).new) == 2  # either could be the feed's


def test_a_text_cut_short_with_an_ellipsis_is_the_same_entry(session):
    docket = nyed_docket("1:12-cv-04402")
    case = watched(session, docket)
    diff.apply(session, case, cl(docket, cl_minute("401", "2018-05-22",
                                                   "Minute Entry for proceedings held before Judge Pamela K. Chen: "
                                                   "Status Conference held on 5/22/2018.")))
    cut = ParsedEntry(entry_number=None, date_filed=None, date_entered=date(2018, 5, 22),
                      description="Minute Entry for proceedings held before Judge Pamela K. Ch...")
    assert diff.apply(session, case, rss(docket, cut)).new == []
    # Without the mark a shorter text is another entry: "Minute Entry" begins many.
    bare = ParsedEntry(entry_number=None, date_filed=None, date_entered=date(2018, 5, 22),
                       description="Minute Entry for proceedings held before Judge Pamela K. Chen")
    assert len(diff.apply(session, case, rss(docket, bare)).new) == 1


def test_the_lookup_of_a_new_minute_entry_reads_the_case_by_day_through_its_indexes(database_url, session):
    """Reconciling reads the entries filed or entered on the days concerned
    (ix_entry_case_day, ix_entry_case_entered), not the case's docket."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the query plan is read on SQLite")
    docket = nyed_docket("1:12-cv-04402")
    case = watched(session, docket)
    session.commit()
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    engine = session.get_bind()
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        diff.apply(session, case, rss(docket, *docket.entries))
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    for where, index in [("coalesce(entry.date_filed, entry.date_entered) IN", "ix_entry_case_day"),
                         ("entry.date_entered IN", "ix_entry_case_entered")]:
        (statement, parameters), = [(s, p) for s, p in seen if where in s]
        plan = " ".join(str(row) for row in session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                                                  parameters))
        assert index in plan and "SCAN" not in plan
