"""Diff fidelity through the real sources: one entry seen through the CourtListener API,
its Atom feed and a court RSS feed is one entry, changed only when its words change."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select

from docketwatch import checks, config as config_mod, migrations, store
from docketwatch.models import Entry
from tests.conftest import KADREY_ID, write_config
from tests.servers import NYSB_FEED, with_new_item


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv("CL_TEST_TOKEN", "test-token")


def poll(path, **kw) -> checks.CaseResult:
    cfg = config_mod.load(path)
    engine = store.open_engine(cfg.database.url)
    try:
        return checks.check(cfg, engine, cfg.cases, **kw)[0]
    finally:
        engine.dispose()


def stored(path) -> dict[str, Entry]:
    engine = store.open_engine(config_mod.load(path).database.url)
    with Session(engine) as session:
        rows = {e.entry_number: e for e in session.exec(select(Entry))}
    engine.dispose()
    return rows


def feed_rendering(text: str) -> str:
    """The feed's rendering of the API text: markup stripped, entities decoded, no final period."""
    return re.sub(r"<[^>]+>", "", text).replace("&amp;", "&").rstrip(".")


def test_switching_from_the_api_to_the_feed_when_the_budget_runs_out_reports_no_change(fake_cl, tmp_path, token):
    fake_cl.load_kadrey()
    fake_cl.update_entry(KADREY_ID, "598", description=(
        'ORDER re <a href="/docket/67569326/590/">590</a> Motion for Summary Judgment &amp; Stipulation.  '
        "Signed by Judge Vince Chhabria on 6/25/2025."))
    config = write_config(tmp_path, fake_cl.base_url, budget=2)  # the docket and one page, then spent
    first = poll(config)
    assert first.ok and first.baseline and not any("feed" in w for w in first.warnings)
    api_text = stored(config)["598"].description

    fake_cl.feed_rendering = feed_rendering
    second = poll(config)
    assert any("budget spent" in w and "used the feed" in w for w in second.warnings)
    assert second.ok and second.changed == [] and second.new == []
    assert stored(config)["598"].description == api_text  # the same words never overwrite it

    # A real edit, seen through the feed, is still reported, once.
    fake_cl.update_entry(KADREY_ID, "598", description="ORDER re 590 Motion for Summary Judgment GRANTED.")
    third = poll(config)
    assert [(c["entry_number"], c["changes"]) for c in third.changed] == [("598", ["text edited"])]
    assert poll(config).changed == []


def test_an_upgraded_database_keeps_its_rows_and_reports_no_case_change_on_the_first_poll(
        fake_cl, tmp_path, token, database_url):
    """A database at 0002 whose case name came from another source (the court feed's
    "et al" spelling) is upgraded; the API's own spelling then is no rename."""
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, database_url=database_url)
    assert poll(config).baseline
    engine = create_engine(database_url)
    with engine.begin() as connection:  # back to what a 0002 release left behind
        connection.exec_driver_sql("DROP TABLE casefact")
        connection.exec_driver_sql(f"UPDATE {migrations.VERSION_TABLE} SET version_num = '0002_scheduler'")
        connection.exec_driver_sql(
            """UPDATE "case" SET case_name = 'Kadrey et al v. Meta Platforms, Inc.', assigned_to = 'Chhabria'""")
        before = connection.exec_driver_sql("SELECT id, key, description, content_hash FROM entry ORDER BY id").all()
    engine.dispose()

    first = poll(config)
    assert first.ok and first.case_changes == [] and first.changed == [] and first.new == []
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert migrations.current_revision(connection) == migrations.HEAD
        after = connection.exec_driver_sql("SELECT id, key, description, content_hash FROM entry ORDER BY id").all()
    engine.dispose()
    assert [row[:3] for row in after] == [row[:3] for row in before]

    fake_cl.dockets[KADREY_ID]["assigned_to_str"] = "Araceli Martinez-Olguin"
    assert poll(config).case_changes == ["reassigned: Vince Chhabria -> Araceli Martinez-Olguin"]
    assert poll(config).case_changes == []


def test_the_api_and_a_court_feed_spelling_the_name_two_ways_report_no_rename(fake_cl, court_feed, tmp_path, token):
    fake_cl.add_docket(5001, "nysb", "16-10992", "In re SunEdison, Inc.")
    fake_cl.add_entry(5001, "5235", "2018-04-19", "Complaint against Wells Fargo Bank (fee)")
    config = write_config(tmp_path, fake_cl.base_url, cases='''
[[cases]]
name = "In re SunEdison, Inc."
court = "nysb"
docket_number = "16-10992-smb"
courtlistener_id = 5001
sources = ["courtlistener", "pacer_rss"]
''')
    config.write_text(config.read_text() + f'\n[sources.pacer_rss]\nurl_template = "{court_feed.url_template}"\n')
    assert poll(config).baseline
    for n in range(3):  # the court feed says "SunEdison, Inc., et al., and ...", the API "In re SunEdison, Inc."
        court_feed.body = with_new_item(NYSB_FEED, build_date=f"Fri, 20 Apr 2018 15:0{n}:00 GMT".encode())
        result = poll(config)
        assert result.ok and result.case_changes == [], result.case_changes
