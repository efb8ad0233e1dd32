"""Diff fidelity through the real sources: one entry seen through the CourtListener API,
its Atom feed and a court RSS feed is one entry, changed only when its words change."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from docketwatch import checks, config as config_mod, store
from docketwatch.models import Entry, Event
from tests.conftest import KADREY_ID, write_config


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
