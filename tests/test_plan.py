"""The poll plan: jobs, intervals and the shared-out API budget, from configurations
loaded by the bootstrap. Expected figures are worked out by hand in each test."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from docketwatch import bootstrap, store
from docketwatch.ops import plan
from docketwatch.store.models import Case, Entry
from tests.conftest import run_cli

TODAY = date(2026, 11, 22)
S = timedelta(seconds=1)


def load(tmp_path: Path, body: str):
    path = tmp_path / "docketwatch.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n{body}')
    return bootstrap.load(path)


def cl_case(name: str, number: str, extra: str = "") -> str:
    return f'[[cases]]\nname = "{name}"\ncourt = "cand"\ndocket_number = "{number}"\n{extra}\n'


THREE_CASES = (cl_case("Active", "3:23-cv-03417") + cl_case("Dormant", "3:23-cv-03416")
               + cl_case("Slow", "3:24-cv-00001", 'poll_interval = "3h"'))


def by_case(rows: list[plan.PlanRow]) -> dict[str, plan.PlanRow]:
    return {r.case: r for r in rows}


def add_case(session: Session, court: str, number: str, *filed: date) -> None:
    case = Case(court=court, docket_number=number, name=number)
    session.add(case)
    session.flush()
    for i, day in enumerate(filed):
        session.add(Entry(case_id=case.id, key=f"n:{i}", entry_number=str(i), date_filed=day, content_hash="h"))


def test_active_cases_are_those_with_a_filing_within_active_days(tmp_path):
    config = load(tmp_path, "[schedule]\nactive_days = 30\n" + THREE_CASES
                  + cl_case("Edge", "3:22-cv-00001") + cl_case("Never polled", "3:22-cv-00002"))
    engine = store.open_engine(config.database.url)
    with Session(engine) as session:
        add_case(session, "cand", "3:23-cv-03417", TODAY - timedelta(days=200), TODAY - timedelta(days=10))
        add_case(session, "cand", "3:23-cv-03416", TODAY - timedelta(days=31))  # one day too old
        add_case(session, "cand", "3:22-cv-00001", TODAY - timedelta(days=30))  # exactly active_days: counts
        add_case(session, "cand", "3:21-cv-00009", TODAY)  # stored, but not configured
        session.commit()
        active = plan.active_cases(session, config, TODAY)
    engine.dispose()
    assert active == {"Active (cand 3:23-cv-03417)", "Edge (cand 3:22-cv-00001)"}


def test_api_budget_is_shared_out_active_cases_weighing_three_times_dormant_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("CL_TOKEN", "plan-test-token")
    config = load(tmp_path, '[sources.courtlistener]\ntoken = "${CL_TOKEN}"\ndaily_request_budget = 125\n'
                  '[schedule]\ninterval = "30m"\n' + THREE_CASES)
    engine = store.open_engine(config.database.url)
    with Session(engine) as session:
        add_case(session, "cand", "3:23-cv-03417", TODAY - timedelta(days=3))
        session.commit()
        active = plan.active_cases(session, config, TODAY)
    engine.dispose()
    rows = by_case(plan.make_plan(config, active))
    # 125 requests a day, 10% kept back, 2 requests per API poll: 125 * 0.9 / 2 = 56.25 API polls a
    # day, shared by weight: Active 3, Dormant 1, Slow 1 (total 5).
    active_row, dormant, slow = rows["Active"], rows["Dormant"], rows["Slow"]
    assert (active_row.active, dormant.active, slow.active) == (True, False, False)
    # Active: 56.25 * 3/5 = 33.75 polls a day -> every 86400 / 33.75 = 2560 s (longer than its 1800 s).
    assert active_row.interval == 1800 * S and active_row.api_interval == 2560 * S
    assert active_row.budgeted_per_day == pytest.approx(67.5)  # 33.75 polls * 2 requests
    # 48 runs a day; 33.75 of them use the API (2 requests) instead of the feed (1): 48 + 33.75.
    assert active_row.requests_per_day == pytest.approx(81.75)
    # Dormant: 56.25 / 5 = 11.25 polls a day -> every 7680 s; 22.5 budgeted requests.
    assert dormant.api_interval == 7680 * S and dormant.budgeted_per_day == pytest.approx(22.5)
    assert dormant.requests_per_day == pytest.approx(48 + 11.25)
    # Slow has the same share (7680 s), but polls only every 3 h: the API interval is never shorter
    # than the poll interval, so 10800 s: 8 API polls = 16 requests, all its 8 runs use the API.
    assert slow.interval == 10800 * S and slow.api_interval == 10800 * S
    assert slow.budgeted_per_day == pytest.approx(16.0) and slow.requests_per_day == pytest.approx(16.0)
    # New filings are seen within a poll interval; changes to older entries within the API interval.
    assert (active_row.new_filing_delay, active_row.change_delay) == (1800 * S, 2560 * S)
    # The reserve stays unplanned: 67.5 + 22.5 + 16 = 106 <= 112.5 = 125 * 0.9.
    assert sum(r.budgeted_per_day for r in rows.values()) == pytest.approx(106.0)

    # With no case active, Active weighs 1 like the others: 56.25 / 3 = 18.75 polls -> 4608 s.
    calm_rows = plan.make_plan(config, set())
    calm = by_case(calm_rows)
    assert calm["Active"].api_interval == 4608 * S and calm["Active"].active is False
    assert calm["Dormant"].api_interval == 4608 * S
    assert plan.api_intervals(calm_rows) == {("cand", "Active"): 4608 * S, ("cand", "Dormant"): 4608 * S,
                                        ("cand", "Slow"): 10800 * S}


def test_api_interval_is_never_shorter_than_the_poll_interval(tmp_path, monkeypatch):
    """A large budget would give the case an API poll more often than its job runs: it is held
    to its poll interval, and the rest of the budget is not planned."""
    monkeypatch.setenv("CL_TOKEN", "plan-test-token")
    config = load(tmp_path, '[sources.courtlistener]\ntoken = "${CL_TOKEN}"\ndaily_request_budget = 5000\n'
                  '[schedule]\ninterval = "1h"\n' + cl_case("One", "3:23-cv-03417"))
    (row,) = plan.make_plan(config, set())
    # 5000 * 0.9 / 2 = 2250 polls a day -> every 38.4 s, but the job runs hourly: 3600 s, 24 polls, 48 requests.
    assert row.api_interval == row.interval == 3600 * S
    assert row.budgeted_per_day == pytest.approx(48.0) and row.requests_per_day == pytest.approx(48.0)


@pytest.mark.parametrize("settings", ["", 'token = "${CL_TOKEN}"\ndaily_request_budget = 0\n'])
def test_no_token_or_no_budget_means_no_api(tmp_path, monkeypatch, settings):
    monkeypatch.setenv("CL_TOKEN", "plan-test-token")
    config = load(tmp_path, f"[sources.courtlistener]\n{settings}" + THREE_CASES)
    rows = plan.make_plan(config, {"Active (cand 3:23-cv-03417)"})
    assert [(r.case, r.api_interval, r.budgeted_per_day, r.change_delay) for r in rows] == [
        ("Active", None, 0.0, None), ("Dormant", None, 0.0, None), ("Slow", None, 0.0, None)]
    # Only the feed, once per run: 24 runs a day at the default 1 h, 8 at the case's own 3 h.
    assert [r.requests_per_day for r in rows] == [24.0, 24.0, 8.0]
    assert plan.api_intervals(rows) == {}


def test_case_poll_interval_overrides_the_schedule_interval(tmp_path):
    config = load(tmp_path, '[schedule]\ninterval = "45m"\n' + cl_case("Default", "3:23-cv-03417")
                  + cl_case("Own", "3:23-cv-03416", 'poll_interval = "90s"'))
    rows = by_case(plan.make_plan(config, set()))
    assert rows["Default"].interval == 2700 * S and rows["Default"].requests_per_day == pytest.approx(32.0)
    assert rows["Own"].interval == 90 * S and rows["Own"].requests_per_day == pytest.approx(960.0)
    assert rows["Own"].new_filing_delay == 90 * S


def test_the_plan_table_shows_intervals_under_an_hour_as_written(tmp_path):
    """Before, an interval under a minute (allowed against a server on this machine)
    showed as "0m", and 90 s as "2m"."""
    load(tmp_path, '[sources.courtlistener]\nbase_url = "http://127.0.0.1:9"\n[schedule]\ninterval = "45m"\n' + cl_case("Default", "3:23-cv-03417")
         + cl_case("Fast", "3:23-cv-03416", 'poll_interval = "30s"') + cl_case("Own", "3:23-cv-03415",
                                                                            'poll_interval = "90s"'))
    table = run_cli(tmp_path / "docketwatch.toml", "plan").stdout
    every = {line.split()[1]: line.split()[2] for line in table.splitlines()[1:4]}
    assert every == {"Default": "45m", "Fast": "30s", "Own": "1.5m"}, table


def test_one_court_feed_job_serves_every_case_in_the_court(tmp_path):
    def case(name: str, court: str, number: str, extra: str = "") -> str:
        return (f'[[cases]]\nname = "{name}"\ncourt = "{court}"\ndocket_number = "{number}"\n'
                f'sources = ["pacer_rss"]\n{extra}\n')

    # A feed interval longer than every case's: the cases' intervals decide (the default is below).
    config = load(tmp_path, '[sources.pacer_rss]\nwindow_hours = 1.5\ninterval = "3h"\n[schedule]\ninterval = "2h"\n'
                  + case("SunEdison", "nysb", "16-10992")
                  + case("Other", "nysb", "16-10993", 'poll_interval = "20m"')
                  + case("Texan", "txsb", "23-90001"))
    rows = plan.make_plan(config, {"SunEdison (nysb 16-10992)"})
    assert [r.job_id for r in rows] == ["pacer_rss:nysb", "pacer_rss:txsb"]
    nysb, txsb = rows
    assert [c.name for c in nysb.cases] == ["SunEdison", "Other"] and nysb.case is None
    assert [c.name for c in txsb.cases] == ["Texan"]
    # The feed is read as often as its most often polled case wants: 20 m, 72 requests a day.
    assert nysb.interval == 1200 * S and nysb.requests_per_day == pytest.approx(72.0)
    # Polled every 2 h, a feed reaching back 1.5 h: a filing it shows is seen within 2 h, and
    # one can scroll out unseen between two polls, which the plan says of that feed alone.
    assert txsb.interval == 7200 * S and txsb.new_filing_delay == 7200 * S
    assert nysb.new_filing_delay == 1200 * S
    summary, lines = config.source_plugins["pacer_rss"].plan_summary(rows)
    assert summary["feeds_polled_too_rarely"] == ["txsb"]
    assert [line for line in lines if "polled less often" in line] == [
        "pacer_rss txsb: polled less often than its feed holds filings (about 1.5 h): filings between polls can be "
        "missed; poll it more often"]
    # A court feed lists new filings only, and is free.
    assert all(r.change_delay is None and r.api_interval is None and r.budgeted_per_day == 0.0 and r.active is None
               for r in rows)


def test_job_ids_name_source_court_and_case(tmp_path):
    config = load(tmp_path, cl_case("Kadrey", "3:23-cv-03417-VC")
                  + '[[cases]]\nname = "SunEdison"\ncourt = "nysb"\ndocket_number = "16-10992"\n'
                    'sources = ["courtlistener", "pacer_rss"]\n')
    jobs = [(r.job_id, r.source, [c.name for c in r.cases]) for r in plan.make_plan(config, set())]
    # One job per (source, case) for CourtListener, under the normalized docket number; one per court for RSS.
    assert jobs == [("courtlistener:cand:3:23-cv-03417", "courtlistener", ["Kadrey"]),
                    ("courtlistener:nysb:16-10992", "courtlistener", ["SunEdison"]),
                    ("pacer_rss:nysb", "pacer_rss", ["SunEdison"])]
    assert [r.as_json()["job"] for r in plan.make_plan(config, set())] == [j for j, _, _ in jobs]


def test_unwatched_in_feed_only_mode_and_with_a_token(tmp_path, monkeypatch):
    monkeypatch.setenv("CL_TOKEN", "plan-test-token")
    cases = (cl_case("CL only", "3:23-cv-03417")
             + '[[cases]]\nname = "RSS only"\ncourt = "nysb"\ndocket_number = "16-10992"\nsources = ["pacer_rss"]\n'
             + '[[cases]]\nname = "Both"\ncourt = "nysb"\ndocket_number = "16-10993"\n'
               'sources = ["courtlistener", "pacer_rss"]\n')
    feed_only = load(tmp_path, cases)
    said = {c.name: [(u["source"], u["text"]) for u in plan.unwatched(feed_only, c)] for c in feed_only.cases}
    # Without a token CourtListener sees changes only among the feed's latest 30 entries; the RSS feed
    # sees none, but says so only when no other source of the case watches changes.
    assert [s for s, _ in said["CL only"]] == ["courtlistener"] and "latest 30" in said["CL only"][0][1]
    assert "token" in said["CL only"][0][1]
    assert [s for s, _ in said["RSS only"]] == ["pacer_rss"] and "new filings only" in said["RSS only"][0][1]
    assert said["Both"] == said["CL only"]
    assert plan.unwatched(feed_only, feed_only.cases[0])[0]["case"] == "CL only"

    with_token = load(tmp_path, '[sources.courtlistener]\ntoken = "${CL_TOKEN}"\n' + cases)
    said = {c.name: plan.unwatched(with_token, c) for c in with_token.cases}
    assert said["CL only"] == [] and said["Both"] == []
    assert [u["source"] for u in said["RSS only"]] == ["pacer_rss"]
