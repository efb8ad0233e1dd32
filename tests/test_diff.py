"""The diff engine against a real store: SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.exc import StatementError
from sqlmodel import select

from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry, Snapshot
from docketwatch.pipeline import diff
from docketwatch.store.models import Case, Entry, Event, utcnow


@pytest.fixture
def case(session) -> Case:
    row = Case(court="cand", docket_number="3:23-cv-03417", name="Kadrey v. Meta")
    session.add(row)
    session.commit()
    return row


def snap(*entries: ParsedEntry, source="courtlistener", number="3:23-cv-03417-VC", delta=False, window=None, **docket):
    return Snapshot(source=source, docket=ParsedDocket(court="cand", docket_number=number, entries=list(entries), **docket),
                    delta=delta, window=window)


def entry(number: str | None, text: str, day: str = "2025-03-07", **kw) -> ParsedEntry:
    return ParsedEntry(entry_number=number, date_filed=date.fromisoformat(day), description=text, **kw)


def events(session) -> list[tuple[str, str]]:
    return [(e.kind, e.summary) for e in session.exec(select(Event).order_by(Event.id))]


def baselined(session, case, *entries: ParsedEntry, **docket) -> None:
    """The first check of the case, as the checker ends it."""
    diff.apply(session, case, snap(*entries, **docket))
    case.baseline_at = utcnow()


def test_first_poll_is_a_quiet_baseline_unless_asked(session, case):
    result = diff.apply(session, case, snap(entry("471", "ORDER Granting in Part 413 Motion to Dismiss")))
    assert result.baseline and result.new == [] and events(session) == []
    case.baseline_at = utcnow()
    result = diff.apply(session, case, snap(entry("472", "NOTICE")))
    assert not result.baseline and [e.number for e in result.new] == ["472"]


def test_notify_baseline_reports_everything_as_new(session, case):
    result = diff.apply(session, case, snap(entry("1", "COMPLAINT"), entry("2", "SUMMONS")), notify_baseline=True)
    assert result.baseline and len(result.new) == 2 and [k for k, _ in events(session)] == ["new", "new"]


def test_same_filing_from_rss_then_courtlistener_is_one_entry_filled_in(session, case):
    baselined(session, case, entry("1", "COMPLAINT"))
    rss = entry("484", "Discovery Order", short_description="Discovery Order")
    assert [e.number for e in diff.apply(session, case, snap(rss, source="pacer_rss", delta=True)).new] == ["484"]
    full = entry("0484", "Discovery Order re 481 Discovery Letter Brief re Chris Bakewell Interview Notes.",
                 short_description="Discovery Order")
    result = diff.apply(session, case, snap(full))
    assert result.new == [] and [c.changes for c in result.changed] == [["text filled in"]]
    stored = session.exec(select(Entry).where(Entry.key == "#484")).one()
    assert stored.description.startswith("Discovery Order re 481") and stored.sources == ["courtlistener", "pacer_rss"]
    # The short RSS text seen again never replaces the full text, and is no change.
    result = diff.apply(session, case, snap(rss, source="pacer_rss", delta=True))
    assert result.changed == [] and stored.description.startswith("Discovery Order re 481")


def rss_entry(number: str | None, text: str, entered: str) -> ParsedEntry:
    """An entry as the PACER RSS parser gives it: the short text and the date entered, no filing date."""
    return ParsedEntry(entry_number=number, date_filed=None, date_entered=date.fromisoformat(entered),
                       description=text, short_description=text)


def test_a_feed_date_is_the_date_entered_and_never_the_filing_date(session, case):
    baselined(session, case, entry("1", "COMPLAINT"))
    # Filed on the 3rd, entered on the 5th: the feed comes first, CourtListener later.
    diff.apply(session, case, snap(rss_entry("484", "Discovery Order", "2025-03-05"), source="pacer_rss", delta=True))
    stored = session.exec(select(Entry).where(Entry.key == "#484")).one()
    assert (stored.date_filed, stored.date_entered) == (None, date(2025, 3, 5))
    diff.apply(session, case, snap(entry("484", "Discovery Order re 481", "2025-03-03")))
    assert (stored.date_filed, stored.date_entered) == (date(2025, 3, 3), date(2025, 3, 5))
    # CourtListener first, the feed later: the filing date stays.
    diff.apply(session, case, snap(entry("485", "ORDER", "2025-03-06")))
    diff.apply(session, case, snap(rss_entry("485", "Order", "2025-03-07"), source="pacer_rss", delta=True))
    later = session.exec(select(Entry).where(Entry.key == "#485")).one()
    assert (later.date_filed, later.date_entered) == (date(2025, 3, 6), date(2025, 3, 7))
    assert [k for k, _ in events(session)] == ["new", "changed", "new"]  # dates alone are no news


def test_an_unnumbered_feed_entry_is_known_by_its_date_entered(session, case):
    baselined(session, case, entry("1", "COMPLAINT"))
    minute = rss_entry(None, "Minute Entry for proceedings held", "2025-03-05")
    assert len(diff.apply(session, case, snap(minute, source="pacer_rss", delta=True)).new) == 1
    stored = session.exec(select(Entry).where(Entry.entry_number.is_(None))).one()
    assert stored.key == diff.entry_key("pacer_rss", minute) and stored.key.startswith("2025-03-05:")
    assert diff.apply(session, case, snap(minute, source="pacer_rss", delta=True)).new == []


def test_document_available_and_sealed_are_changes(session, case):
    baselined(session, case, entry("391", "EXHIBIT", document_available=False))
    result = diff.apply(session, case, snap(entry("391", "EXHIBIT", document_available=True, url="https://s/391.pdf")))
    assert [c.changes for c in result.changed] == [["document now available"]]
    result = diff.apply(session, case, snap(entry("391", "EXHIBIT", sealed=True)))
    assert [c.changes for c in result.changed] == [["document sealed"]]
    result = diff.apply(session, case, snap(entry("391", "EXHIBIT", sealed=True)))
    assert result.changed == []


def test_edited_text_is_a_change_and_unknown_fields_keep_what_was_known(session, case):
    baselined(session, case, entry("56", "ORDER GRANTING MOTION TO DISMISS", document_available=True))
    result = diff.apply(session, case, snap(entry("56", "ORDER GRANTING MOTION TO DISMISS  (amended)")))
    assert [c.changes for c in result.changed] == [["text edited"]]
    assert session.exec(select(Entry)).one().document_available is True  # None from a source = unknown


def test_whitespace_only_differences_are_not_changes(session, case):
    baselined(session, case, entry("1", "COMPLAINT  against\nMeta"))
    assert diff.apply(session, case, snap(entry("1", "COMPLAINT against Meta"))).changed == []


def test_unnumbered_entries_use_the_source_id_else_date_and_text(session, case):
    minute = ParsedEntry(entry_number=None, date_filed=date(2025, 1, 13), description="Minute Entry", source_id="9001")
    plain = entry(None, "Discovery order (Hixson, M.J.)", day="2024-10-01")
    baselined(session, case, minute, plain)
    keys = sorted(e.key for e in session.exec(select(Entry)))
    assert keys[0].startswith("2024-10-01:") and keys[1] == "courtlistener:9001"
    assert diff.apply(session, case, snap(minute, plain)).new == []


def test_case_changes_after_the_baseline(session, case):
    diff.apply(session, case, snap(entry("1", "X"), case_name="Kadrey v. Meta", assigned_to="Vince Chhabria"))
    case.baseline_at = utcnow()
    result = diff.apply(session, case, snap(entry("1", "X"), case_name="Kadrey v. Meta Platforms, Inc.",
                                            assigned_to="Araceli Martinez-Olguin", date_terminated=date(2025, 9, 1)))
    assert result.case_changes == [
        "renamed: Kadrey v. Meta -> Kadrey v. Meta Platforms, Inc.",
        "reassigned: Vince Chhabria -> Araceli Martinez-Olguin",
        "terminated on 2025-09-01",
    ]
    assert [k for k, _ in events(session)] == ["case", "case", "case"]


def test_wrong_docket_and_empty_fetch_raise_before_writing(session, case):
    baselined(session, case, entry("1", "X"))
    session.commit()
    with pytest.raises(diff.SnapshotError, match="'3:23-cv-03416'.*'3:23-cv-03417'"):
        diff.apply(session, case, snap(entry("2", "Y"), number="3:23-cv-03416"))
    with pytest.raises(diff.SnapshotError, match="returned no entries"):
        diff.apply(session, case, snap())
    assert session.exec(select(Entry)).all()[0].key == "#1" and len(session.exec(select(Entry)).all()) == 1
    assert diff.apply(session, case, snap(delta=True)).new == []  # "nothing changed since" is fine


def test_full_window_without_overlap_is_a_gap(session, case):
    baselined(session, case, entry("1", "X"))
    window = [entry(str(n), f"E{n}") for n in range(100, 130)]
    result = diff.apply(session, case, snap(*window, window=30))
    assert len(result.gaps) == 1 and ("gap", result.gaps[0]) in events(session)
    overlapping = [entry(str(n), f"E{n}") for n in range(101, 131)]
    assert diff.apply(session, case, snap(*overlapping, window=30)).gaps == []


API_TEXT = ('ORDER re <a href="/docket/67569326/590/">590</a> Motion &amp; Stipulation.  '
            "Signed by Judge Vince Chhabria on 6/27/2025.")
FEED_TEXT = "ORDER re 590 Motion & Stipulation. Signed by Judge Vince Chhabria on 6/27/2025"


def test_the_same_words_in_another_rendering_are_no_change_and_keep_the_richer_text(session, case):
    baselined(session, case, entry("599", API_TEXT, short_description="Order"))
    stored = session.exec(select(Entry)).one()
    first = stored.description
    assert first == " ".join(API_TEXT.split())  # as the source gave it; renderers escape it
    for rendering in (FEED_TEXT, FEED_TEXT.upper(), FEED_TEXT.replace(" ", "\n  ") + ".", API_TEXT):
        result = diff.apply(session, case, snap(entry("599", rendering), window=30))
        assert result.changed == [], rendering
        assert stored.description == first  # another rendering of the same words never overwrites
    assert events(session) == []


def test_a_text_rendered_by_an_older_release_is_no_change_after_the_upgrade(session, case):
    """Rows stored and hashed the old way (API markup kept, hash of the raw text) must not
    turn into "text edited" when the first poll after the upgrade renders them anew."""
    import hashlib
    old = " ".join(API_TEXT.split())
    session.add(Entry(case_id=case.id, key="#599", entry_number="599", description=old, short_description="Order",
                      content_hash=hashlib.sha256(f"{old}\x1fNone\x1fNone".encode()).hexdigest(),
                      sources=["courtlistener"]))
    case.baseline_at = utcnow()
    session.commit()
    assert diff.apply(session, case, snap(entry("599", FEED_TEXT), window=30)).changed == []
    assert diff.apply(session, case, snap(entry("599", API_TEXT, short_description="Order"), delta=True)).changed == []
    assert events(session) == []


def test_an_entrys_sources_are_stored_as_a_list_and_a_text_for_them_is_refused(session, case):
    """A text where the list belongs would be stored as one name and read back as its letters."""
    session.add(Entry(case_id=case.id, key="#1", content_hash="", sources=["courtlistener", "pacer_rss"]))
    session.commit()
    session.expire_all()
    assert session.exec(select(Entry.sources)).one() == ["courtlistener", "pacer_rss"]
    session.add(Entry(case_id=case.id, key="#2", content_hash="", sources="courtlistener"))
    with pytest.raises(StatementError, match="a list of names, not the text 'courtlistener'"):
        session.commit()


def test_a_feed_showing_the_short_text_of_an_entry_without_docket_text_is_no_change(session, case):
    baselined(session, case, entry("599", "", short_description="Order"))
    assert diff.apply(session, case, snap(entry("599", "Order."), window=30)).changed == []
    result = diff.apply(session, case, snap(entry("599", "ORDER Denying Motion to Seal.", short_description="Order")))
    assert [c.changes for c in result.changed] == [["text filled in"]]


def test_a_short_text_from_another_source_never_replaces_or_changes_a_stored_text(session, case):
    baselined(session, case, entry("484", "", short_description="Order"))
    rss = entry("484", "Discovery Order", short_description="Discovery Order")
    assert diff.apply(session, case, snap(rss, source="pacer_rss", delta=True)).changed == []
    assert events(session) == []


def test_real_edits_are_still_reported(session, case):
    baselined(session, case, entry("599", API_TEXT, document_available=False))
    result = diff.apply(session, case, snap(entry("599", FEED_TEXT.replace("590", "591"), document_available=True)))
    assert [c.changes for c in result.changed] == [["text edited", "document now available"]]
    assert "591" in session.exec(select(Entry)).one().description


def test_two_sources_spelling_a_case_name_two_ways_is_no_rename(session, case):
    api = dict(case_name="Kadrey v. Meta Platforms, Inc.", assigned_to="Vince Chhabria")
    rss = dict(case_name="Kadrey et al v. Meta Platforms, Inc.")
    baselined(session, case, entry("1", "X"), **api)
    diff.apply(session, case, snap(source="pacer_rss", delta=True, **rss))
    for _ in range(2):
        assert diff.apply(session, case, snap(entry("1", "X"), **api)).case_changes == []
        assert diff.apply(session, case, snap(source="pacer_rss", delta=True, **rss)).case_changes == []
    # One source changing its own value is a change, reported once.
    renamed = dict(api, case_name="Kadrey v. Meta Platforms, Inc. and Llama Corp.")
    assert diff.apply(session, case, snap(entry("1", "X"), **renamed)).case_changes == [
        "renamed: Kadrey v. Meta Platforms, Inc. -> Kadrey v. Meta Platforms, Inc. and Llama Corp."]
    assert diff.apply(session, case, snap(entry("1", "X"), **renamed)).case_changes == []
    assert diff.apply(session, case, snap(source="pacer_rss", delta=True, **rss)).case_changes == []
    assert [k for k, _ in events(session)] == ["case"]
