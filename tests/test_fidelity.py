"""Diff fidelity through the real sources (a fake CourtListener and a court feed over
loopback): one entry seen through the CourtListener API, its Atom feed and a court RSS
feed is one entry, changed only when its words change; case facts change only when one
source changes its own; a docket with no entries yet is no failure; what a source cannot
see is said; an unpinned docket has one lookup path."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import MetaData, Table, create_engine
from sqlmodel import Session, SQLModel, select
from werkzeug import Response

from docketwatch import bootstrap as config_mod
from docketwatch import store
from docketwatch.ops import status as status_mod
from docketwatch.store import migrations
from docketwatch.store.models import Case, Entry
from tests.conftest import KADREY_ID, age_docket_read, poll_cases, run_cli, today, write_config
from tests.servers import NYSB_FEED, with_new_item


def stored(path) -> dict[str, Entry]:
    engine = store.open_engine(config_mod.load(path).database.url)
    with Session(engine) as session:
        rows = {e.entry_number: e for e in session.exec(select(Entry))}
    engine.dispose()
    return rows


def feed_rendering(text: str) -> str:
    """The feed's rendering of the API text: markup stripped, entities decoded, no final period."""
    return re.sub(r"<[^>]+>", "", text).replace("&amp;", "&").rstrip(".")


def test_an_edit_the_entry_list_shows_is_kept_when_the_budget_ends_before_the_docket_read(
        fake_cl, tmp_path, cl_token):
    """An API poll asks the entry list first; when the budget runs out before the docket's
    own fields are read, the entries in hand are stored: dropping them for the feed would
    lose an edit to an entry older than the feed's latest 30, for as long as the budget is spent."""
    fake_cl.load_kadrey()
    for n in range(700, 735):  # 35 newer filings push #598 out of the feed's window
        fake_cl.add_entry(KADREY_ID, str(n), "2025-09-01", f"ORDER number {n}")
    config = write_config(tmp_path, fake_cl.base_url, budget=5)  # baseline: docket and 3 pages; then 1 more
    first = poll_cases(config)[0]
    assert first.ok and first.baseline

    fake_cl.update_entry(KADREY_ID, "598", description="ORDER re 590 Motion for Summary Judgment GRANTED.")
    second = poll_cases(config)[0]
    assert second.ok and [(c.number, c.changes) for c in second.changed] == [("598", ["text edited"])]
    assert any("the docket's own fields (name, judge, termination) were not read" in w for w in second.warnings)
    assert stored(config)["598"].description == "ORDER re 590 Motion for Summary Judgment GRANTED."
    assert poll_cases(config)[0].changed == []  # reported once


def test_switching_from_the_api_to_the_feed_when_the_budget_runs_out_reports_no_change(fake_cl, tmp_path, cl_token):
    fake_cl.load_kadrey()
    fake_cl.update_entry(KADREY_ID, "598", description=(
        'ORDER re <a href="/docket/67569326/590/">590</a> Motion for Summary Judgment &amp; Stipulation.  '
        "Signed by Judge Vince Chhabria on 6/25/2025."))
    config = write_config(tmp_path, fake_cl.base_url, budget=2)  # the docket and one page, then spent
    first = poll_cases(config)[0]
    assert first.ok and first.baseline and not any("feed" in w for w in first.warnings)
    api_text = stored(config)["598"].description

    fake_cl.feed_rendering = feed_rendering
    second = poll_cases(config)[0]
    assert any("budget is spent" in w and "used the feed" in w for w in second.warnings)
    assert second.ok and second.changed == [] and second.new == []
    assert stored(config)["598"].description == api_text  # the same words never overwrite it

    # A real edit, seen through the feed, is still reported, once.
    fake_cl.update_entry(KADREY_ID, "598", description="ORDER re 590 Motion for Summary Judgment GRANTED.")
    third = poll_cases(config)[0]
    assert [(c.number, c.changes) for c in third.changed] == [("598", ["text edited"])]
    assert poll_cases(config)[0].changed == []


def test_an_upgraded_database_keeps_its_rows_and_reports_no_case_change_on_the_first_poll_cases(
        fake_cl, tmp_path, cl_token, database_url):
    """A database at 0002 whose case name came from another source (the court feed's
    "et al" spelling) is upgraded; the API's own spelling then is no rename."""
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, database_url=database_url)
    assert poll_cases(config)[0].baseline
    engine = create_engine(database_url)
    with engine.begin() as connection:  # its case and entries, as a 0002 release stored them
        cases = [dict(r) for r in connection.execute(select(Case.__table__)).mappings()]
        # Without the columns later revisions added (0006: date_entered), sources comma-joined (before 0014).
        entries = [{**{k: v for k, v in r.items() if k != "date_entered"}, "sources": ",".join(r["sources"])}
                   for r in connection.execute(select(Entry.__table__)).mappings()]
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:  # back to what a 0002 release left behind
        connection.exec_driver_sql(f"DROP TABLE {migrations.VERSION_TABLE}")
        command.upgrade(migrations.alembic_config(connection), "0002_scheduler")
        old_case = Table("case", MetaData(), autoload_with=connection)  # that release's columns
        connection.execute(old_case.insert(), [
            {**{k: v for k, v in c.items() if k != "source_ids"},
             "courtlistener_id": int(c["source_ids"]["courtlistener"])} for c in cases])
        connection.execute(Table("entry", MetaData(), autoload_with=connection).insert(), entries)
        connection.exec_driver_sql(
            """UPDATE "case" SET case_name = 'Kadrey et al v. Meta Platforms, Inc.', assigned_to = 'Chhabria'""")
        before = connection.exec_driver_sql("SELECT id, key, description, content_hash FROM entry ORDER BY id").all()
    engine.dispose()

    first = poll_cases(config)[0]
    assert first.ok and first.case_changes == [] and first.changed == [] and first.new == []
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert migrations.current_revision(connection) == migrations.HEAD
        after = connection.exec_driver_sql("SELECT id, key, description, content_hash FROM entry ORDER BY id").all()
    engine.dispose()
    assert [row[:3] for row in after] == [row[:3] for row in before]

    # The API's docket fields are read again when the entries change, or a day after the last read.
    fake_cl.dockets[KADREY_ID]["assigned_to_str"] = "Araceli Martinez-Olguin"
    age_docket_read(database_url, KADREY_ID)
    assert poll_cases(config)[0].case_changes == ["reassigned: Vince Chhabria -> Araceli Martinez-Olguin"]
    assert poll_cases(config)[0].case_changes == []


SUNEDISON_FROM_BOTH = '''
[[cases]]
name = "In re SunEdison, Inc."
court = "nysb"
docket_number = "16-10992-smb"
courtlistener_id = 5001
sources = ["courtlistener", "pacer_rss"]
'''


def sunedison_from_both(fake_cl, court_feed, tmp_path):
    """A configuration of SunEdison (docket 5001 at the fake CourtListener) polled by both sources."""
    config = write_config(tmp_path, fake_cl.base_url, cases=SUNEDISON_FROM_BOTH)
    config.write_text(config.read_text() + f'\n[sources.pacer_rss]\nurl_template = "{court_feed.url_template}"\n')
    return config


def test_the_api_and_a_court_feed_spelling_the_name_two_ways_report_no_rename(fake_cl, court_feed, tmp_path, cl_token):
    fake_cl.add_docket(5001, "nysb", "16-10992", "In re SunEdison, Inc.")
    fake_cl.add_entry(5001, "5235", "2018-04-19", "Complaint against Wells Fargo Bank (fee)")
    config = sunedison_from_both(fake_cl, court_feed, tmp_path)
    assert poll_cases(config)[0].baseline
    for n in range(3):  # the court feed says "SunEdison, Inc., et al., and ...", the API "In re SunEdison, Inc."
        court_feed.body = with_new_item(NYSB_FEED, build_date=f"Fri, 20 Apr 2018 15:0{n}:00 GMT".encode())
        result = poll_cases(config)[0]
        assert result.ok and result.case_changes == [], result.case_changes


def test_a_second_source_in_the_first_check_keeps_what_the_first_stored_of_the_case(
        fake_cl, court_feed, tmp_path, cl_token):
    """The first check of a case by CourtListener (its docket, no entries yet: name, judge,
    pacer case id) and then a court feed (its entries, its own spelling of the name): the
    feed's first sight fills only what the case has no value for yet, so the name and
    judge stay CourtListener's, not the feed's spelling and no judge."""
    fake_cl.add_docket(5001, "nysb", "16-10992", "In re SunEdison, Inc.", assigned_to_str="Stuart M. Bernstein",
                       pacer_case_id="265812")
    config = sunedison_from_both(fake_cl, court_feed, tmp_path)
    result = poll_cases(config)[0]
    assert result.ok and result.baseline and result.baseline_entries > 0, result.errors
    engine = store.open_engine(config_mod.load(config).database.url)
    with Session(engine) as session:
        case = session.exec(select(Case)).one()
        assert (case.case_name, case.assigned_to, case.pacer_case_id, case.source_ids) == (
            "In re SunEdison, Inc.", "Stuart M. Bernstein", "265812", {"courtlistener": "5001"})
    engine.dispose()


NEW_CASE = '''
[[cases]]
name = "Doe v. OpenAI"
court = "cand"
docket_number = "3:25-cv-09999"
{pin}
'''
NEW_ID = 70000001


def status_jobs(path) -> list[dict]:
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    try:
        return status_mod.status(cfg, engine, cfg.cases)["jobs"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("api", [False, True], ids=["feed", "api"])
def test_a_docket_with_no_entries_yet_is_a_quiet_success_not_a_failed_fetch(fake_cl, tmp_path, cl_token, api):
    fake_cl.add_docket(NEW_ID, "cand", "3:25-cv-09999", "Doe v. OpenAI")
    config = write_config(tmp_path, fake_cl.base_url, token=api, cases=NEW_CASE.format(pin=f"courtlistener_id = {NEW_ID}"))
    for _ in range(3):
        result = poll_cases(config)[0]
        assert result.ok and result.no_entries and result.errors == [], result.errors
    assert [j["consecutive_failures"] for j in status_jobs(config)] == [0]
    out = run_cli(config, "check")
    assert out.returncode == 0 and "Doe v. OpenAI (cand 3:25-cv-09999): no entries yet" in out.stdout, out.stderr
    out = run_cli(config, "check", "--json")
    assert json.loads(out.stdout)["cases"][0]["no_entries"] is True

    # The first filing, when it comes, is news: filed three days before the watch began, as
    # when CourtListener gets a new case's complaint late (diff.RECENT).
    fake_cl.add_entry(NEW_ID, "1", str(today() - timedelta(days=3)), "COMPLAINT against OpenAI")
    result = poll_cases(config)[0]
    assert [e.number for e in result.new] == ["1"] and not result.no_entries


@pytest.mark.parametrize("body", [b"", b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                                  b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Cour'])
def test_an_empty_or_cut_feed_response_is_a_failed_fetch(fake_cl, tmp_path, body):
    fake_cl.add_docket(NEW_ID, "cand", "3:25-cv-09999", "Doe v. OpenAI")
    config = write_config(tmp_path, fake_cl.base_url, token=False, cases=NEW_CASE.format(pin=f"courtlistener_id = {NEW_ID}"))
    fake_cl.queued.append(Response(body, status=200, content_type="application/atom+xml"))
    result = poll_cases(config)[0]
    assert not result.ok and not result.no_entries and "feed" in result.errors[0]


def test_an_api_answer_without_its_list_of_results_is_a_failed_fetch(fake_cl, tmp_path, cl_token):
    fake_cl.add_docket(NEW_ID, "cand", "3:25-cv-09999", "Doe v. OpenAI")
    config = write_config(tmp_path, fake_cl.base_url, cases=NEW_CASE.format(pin=f"courtlistener_id = {NEW_ID}"))
    fake_cl.queued += [Response(json.dumps(fake_cl.dockets[NEW_ID]), content_type="application/json"),
                       Response("{}", content_type="application/json")]
    result = poll_cases(config)[0]
    assert not result.ok and "no list of results" in result.errors[0]


def test_an_entry_committed_after_a_later_stamped_one_was_read_is_reported_once(fake_cl, tmp_path, cl_token):
    """CourtListener stamps `date_modified` when it saves an entry, not when the save
    commits: #4, stamped before #5 but visible only after #5 was read, is still read."""
    fake_cl.add_docket(NEW_ID, "cand", "3:25-cv-09999", "Doe v. OpenAI")
    for n in range(1, 4):
        fake_cl.add_entry(NEW_ID, str(n), "2025-07-01", f"Filing {n}")
    config = write_config(tmp_path, fake_cl.base_url, cases=NEW_CASE.format(pin=f"courtlistener_id = {NEW_ID}"))
    assert poll_cases(config)[0].baseline
    fifth = fake_cl.add_entry(NEW_ID, "5", str(today()), "ORDER")
    assert [e.number for e in poll_cases(config)[0].new] == ["5"]
    fourth = fake_cl.add_entry(NEW_ID, "4", str(today()), "MOTION")
    fourth["date_modified"] = fourth["date_created"] = (
        datetime.fromisoformat(fifth["date_modified"]) - timedelta(seconds=2)).isoformat(timespec="microseconds")
    assert [e.number for e in poll_cases(config)[0].new] == ["4"]
    result = poll_cases(config)[0]
    assert result.ok and result.new == [] and result.changed == []


def test_an_empty_feed_for_a_docket_with_stored_entries_is_a_failed_fetch(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, token=False)
    assert poll_cases(config)[0].ok
    entries = fake_cl.entries[KADREY_ID]
    fake_cl.entries[KADREY_ID] = []
    result = poll_cases(config)[0]
    assert not result.ok and "returned no entries" in result.errors[0] and "are stored" in result.errors[0]
    fake_cl.entries[KADREY_ID] = entries
    assert poll_cases(config)[0].ok


def test_with_a_token_an_unpinned_docket_is_looked_up_whatever_the_api_pacing(fake_cl, tmp_path, cl_token):
    """`run` paces the API per case; a docket whose id is not known yet is still looked up
    through it, as under `check`, instead of failing with a message about a missing token."""
    fake_cl.add_docket(NEW_ID, "cand", "3:25-cv-09999", "Doe v. OpenAI")
    fake_cl.add_entry(NEW_ID, "1", "2025-07-02", "COMPLAINT against OpenAI")
    config = write_config(tmp_path, fake_cl.base_url, cases=NEW_CASE.format(pin=""))
    paced = {("cand", "Doe v. OpenAI"): timedelta(hours=10)}
    fake_cl.fail_with = 500
    assert not poll_cases(config, api_intervals=paced)[0].ok  # the lookup spent API requests, then failed
    fake_cl.fail_with = None
    result = poll_cases(config, api_intervals=paced)[0]
    assert result.ok and result.baseline, result.errors
    assert stored(config)["1"].description == "COMPLAINT against OpenAI"


def test_an_unpinned_docket_when_the_budget_is_spent_says_so(fake_cl, tmp_path, cl_token):
    fake_cl.add_docket(NEW_ID, "cand", "3:25-cv-09999", "Doe v. OpenAI")
    config = write_config(tmp_path, fake_cl.base_url, budget=3, cases=NEW_CASE.format(pin=""))
    fake_cl.fail_with = 500
    assert not poll_cases(config)[0].ok  # three requests (two retries): the budget is spent
    fake_cl.fail_with = None
    for intervals in (None, {("cand", "Doe v. OpenAI"): timedelta(hours=10)}):  # `check`, then `run`
        result = poll_cases(config, api_intervals=intervals)[0]
        assert not result.ok and len(result.errors) == 1
        assert "API budget is spent (3/3 requests in 24 h)" in result.errors[0], result.errors
        assert "without an API token" not in result.errors[0]


UNWATCHED = "changes to entries older than the docket feed's latest 30"
UNSEEN_SEALS = "and a document sealed or unsealed at all (the feed does not say), are not watched"


def test_feed_only_mode_says_that_changes_to_older_entries_are_not_watched(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, token=False)
    for args in (["plan"], ["status"]):
        out = run_cli(config, *args)
        assert out.returncode == 0 and UNWATCHED in out.stdout and "without an API token" in out.stdout, out.stderr
        assert UNSEEN_SEALS in " ".join(out.stdout.split())  # the text may be wrapped
    plan_json = json.loads(run_cli(config, "plan", "--json").stdout)
    assert [(u["case"], u["source"]) for u in plan_json["unwatched"]] == [("Kadrey v. Meta Platforms, Inc.", "courtlistener")]
    assert UNWATCHED in plan_json["unwatched"][0]["text"]
    status_json = json.loads(run_cli(config, "status", "--json").stdout)
    assert [u["source"] for u in status_json["cases"][0]["unwatched"]] == ["courtlistener"]


def test_with_a_token_nothing_is_said_to_be_unwatched(fake_cl, tmp_path, cl_token):
    config = write_config(tmp_path, fake_cl.base_url)
    out = run_cli(config, "plan", "--json")
    assert json.loads(out.stdout)["unwatched"] == []
    status = run_cli(config, "status")
    assert status.returncode == 0, status.stderr
    assert "Kadrey v. Meta Platforms, Inc. (cand 3:23-cv-03417)" in status.stdout  # the case is shown
    assert "courtlistener: api mode" in status.stdout  # read through the API: every entry watched
    assert UNWATCHED not in status.stdout + status.stderr


def test_in_feed_only_mode_an_edit_within_the_feed_window_is_reported(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, token=False)
    assert poll_cases(config)[0].baseline
    latest = max((e for e in fake_cl.entries[KADREY_ID] if e["entry_number"]), key=lambda e: e["recap_sequence_number"])
    number = str(latest["entry_number"])
    fake_cl.update_entry(KADREY_ID, number, description=latest["description"] + " AMENDED to correct the date.")
    result = poll_cases(config)[0]
    assert [(c.number, c.changes) for c in result.changed] == [(number, ["text edited"])]


def test_a_case_read_only_from_a_court_rss_feed_says_its_changes_are_not_watched(tmp_path):
    config = write_config(tmp_path, "http://127.0.0.1:9", token=False, cases='''
[[cases]]
name = "In re SunEdison, Inc."
court = "nysb"
docket_number = "16-10992-smb"
sources = ["pacer_rss"]
''')
    out = run_cli(config, "plan", "--json")
    assert [(u["source"], "new filings only" in u["text"]) for u in json.loads(out.stdout)["unwatched"]] == [
        ("pacer_rss", True)]
