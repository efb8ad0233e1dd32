"""The real CLI against a local server that behaves like CourtListener."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from werkzeug import Response

from tests.conftest import KADREY_ID, check_json, dump_db, error_events, run_cli, write_config


def numbers(entries: list[dict]) -> list[str | None]:
    return [e["entry_number"] for e in entries]


def test_api_baseline_then_new_and_filled_in_entries_each_reported_once(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    fake_cl.add_entry(KADREY_ID, "599", "2025-06-27", "", short="Order")  # an RSS stub, text comes later
    config = write_config(tmp_path, fake_cl.base_url)

    code, first = check_json(config)
    assert code == 0 and first["ok"] and first["error"] is None
    assert first["baseline"] is True and first["new"] == [] and first["changed"] == []
    stored = dump_db(tmp_path)["entry"]
    assert len(stored) == len(fake_cl.entries[KADREY_ID])  # full history, across pages

    fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", "ORDER re Discovery Letter Brief. Signed by Judge Chhabria.")
    fake_cl.add_entry(KADREY_ID, "601", "2025-07-03", "NOTICE of Appearance by A. Lawyer")
    fake_cl.update_entry(KADREY_ID, "599", description="ORDER Denying Motion to Seal. Signed by Judge Vince Chhabria.")
    code, second = check_json(config)
    assert code == 0 and second["baseline"] is False
    assert numbers(second["new"]) == ["600", "601"]
    assert second["new"][0] == {"entry_number": "600", "date_filed": "2025-07-02", "date_entered": None,
                                "description": "ORDER re Discovery Letter Brief. Signed by Judge Chhabria.", "url": None}
    assert numbers(second["changed"]) == ["599"] and second["changed"][0]["changes"] == ["text filled in"]
    assert second["changed"][0]["description"].startswith("ORDER Denying Motion to Seal")

    code, third = check_json(config)
    assert code == 0 and third["new"] == [] and third["changed"] == []

    # Only documented parameters went out (the fake answers 400 otherwise), and never OCR text.
    entry_calls = [p for path, p in fake_cl.requests if path.endswith("/docket-entries/") and "cursor" not in p]
    assert all(p["omit"] == "recap_documents__plain_text" for p in entry_calls)
    assert "date_modified__gte" not in entry_calls[0] and "date_modified__gte" in entry_calls[-1]


def test_a_429_is_waited_out_and_the_poll_succeeds(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url)
    assert check_json(config)[0] == 0
    fake_cl.add_entry(KADREY_ID, "602", "2025-07-09", "STIPULATION and ORDER")
    fake_cl.queued.append(Response(
        json.dumps({"detail": "Request was throttled. Expected available in 1 second."}),
        status=429, content_type="application/json"))
    code, result = check_json(config)
    assert code == 0 and numbers(result["new"]) == ["602"]
    assert fake_cl.queued == []  # the 429 was served, and waited out


def test_a_server_error_changes_nothing_stored(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url)
    assert check_json(config)[0] == 0
    before = dump_db(tmp_path)
    fake_cl.add_entry(KADREY_ID, "603", "2025-07-10", "MOTION to Compel")
    fake_cl.queued.extend(Response("upstream down", status=500) for _ in range(3))  # the first try and 2 retries

    code, result = check_json(config)
    assert code == 3 and result["ok"] is False and "HTTP 500" in result["error"]
    assert dump_db(tmp_path) == before
    assert error_events(tmp_path) == [result["error"]]  # the failure itself is recorded, once

    status = json.loads(run_cli(config, "status", "--json").stdout)["cases"][0]
    assert "HTTP 500" in status["last_error"] and status["entries"] == len(before["entry"])
    code, result = check_json(config)  # the server is back: the entry arrives, once
    assert code == 0 and numbers(result["new"]) == ["603"]


def test_feed_mode_baseline_new_entries_conditional_request_and_truncation(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, token=False)
    code, first = check_json(config)
    assert code == 0 and first["baseline"]
    assert not any(path.startswith("/api/") for path, _ in fake_cl.requests)  # no token: the feed only

    fake_cl.add_entry(KADREY_ID, "604", "2025-07-11", "ORDER Setting Case Management Conference", available=True)
    code, second = check_json(config)
    assert code == 0 and numbers(second["new"]) == ["604"]
    assert second["new"][0]["url"] == "https://storage.courtlistener.com/recap/gov.uscourts.x/604.pdf"

    code, third = check_json(config)  # unchanged feed: a 304, nothing parsed, nothing new
    assert code == 0 and third["new"] == []

    before = dump_db(tmp_path)
    fake_cl.add_entry(KADREY_ID, "605", "2025-07-12", "MINUTE ORDER")
    fake_cl.truncate_feed = True
    code, result = check_json(config)
    assert code == 3 and "not valid XML" in result["error"]
    assert dump_db(tmp_path) == before
    assert check_json(config)[0] == 3 and len(error_events(tmp_path)) == 1  # still failing: no new event


def test_feed_that_no_longer_reaches_the_store_records_a_gap(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, token=False)
    assert check_json(config)[0] == 0
    for n in range(700, 731):  # 31 filings while the monitor was away: more than the feed's 30
        fake_cl.add_entry(KADREY_ID, str(n), "2025-08-01", f"Filing {n}")
    code, result = check_json(config)
    assert code == 0 and len(result["new"]) == 30
    assert result["gaps"] and "may have been missed" in result["gaps"][0]


def test_pinned_id_of_another_docket_is_an_error_naming_both_numbers(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    cases = f'''
[[cases]]
name = "Silverman v. OpenAI"
court = "cand"
docket_number = "3:23-cv-03416"
courtlistener_id = {KADREY_ID}
'''
    for token in (True, False):
        config = write_config(tmp_path, fake_cl.base_url, token=token, cases=cases)
        code, result = check_json(config)
        assert code == 3
        assert "3:23-cv-03417" in result["error"] and "3:23-cv-03416" in result["error"]
        assert dump_db(tmp_path)["entry"] == []


def test_wrong_token_is_a_clear_error_that_never_shows_the_token(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url)
    proc = run_cli(config, "check", token="s3cret-wrong-token")
    assert proc.returncode == 3
    assert "rejected the API token (HTTP 401)" in proc.stdout
    assert "s3cret-wrong-token" not in proc.stdout + proc.stderr


def test_lookup_by_docket_number_prefers_the_docket_with_a_pacer_case_id(fake_cl, tmp_path):
    fake_cl.add_docket(111, "cand", "3:23-cv-03417", "Kadrey v. Meta (duplicate)")
    fake_cl.load_kadrey()
    fake_cl.add_docket(222, "cand", "4:23-cv-03417", "Someone v. Else")  # same core, other office
    cases = '''
[[cases]]
name = "Kadrey"
court = "cand"
docket_number = "3:23-cv-03417-VC"
'''
    config = write_config(tmp_path, fake_cl.base_url, cases=cases)
    code, result = check_json(config)
    assert code == 0
    assert any("2 CourtListener dockets match" in w and f"using {KADREY_ID}" in w for w in result["warnings"])
    listed = json.loads(run_cli(config, "cases", "--json").stdout)["cases"]
    assert listed[0]["source_ids"] == {"courtlistener": str(KADREY_ID)}


def test_budget_is_never_exceeded_and_status_says_it_limits_freshness(fake_cl, tmp_path):
    fake_cl.load_kadrey()
    for n in range(800, 840):  # with the real entries: three pages of 20
        fake_cl.add_entry(KADREY_ID, str(n), "2025-09-01", f"Filing {n}")
    config = write_config(tmp_path, fake_cl.base_url, budget=3)  # docket + 2 of the 3 pages

    code, first = check_json(config)
    assert code == 0 and any("budget exhausted" in w for w in first["warnings"])
    code, second = check_json(config)  # budget spent: the free feed keeps the case fresh
    assert code == 0 and any("used the feed" in w for w in second["warnings"])
    api_calls = [path for path, _ in fake_cl.requests if path.startswith("/api/")]
    assert len(api_calls) == 3

    status = json.loads(run_cli(config, "status", "--json").stdout)
    assert status["sources"][0]["requests_24h"] == 3
    assert status["sources"][0]["budget_limits_freshness"] is True
    assert "request budget is spent" in run_cli(config, "status").stdout


@pytest.mark.parametrize("token", [False, True], ids=["feed", "api"])
def test_two_rows_under_one_number_are_no_change_poll_after_poll(fake_cl, tmp_path, token):
    """CourtListener shows two rows numbered 1 (a bankruptcy docket): they stay one entry,
    and a poll that shows them both again reports nothing of it, nor does a new pair."""
    fake_cl.add_docket(7777, "nysb", "24-10001", "In re Widget Co.")
    fake_cl.add_entry(7777, "1", "2024-01-02", "Voluntary Petition (Chapter 11). Filed by Widget Co.")
    fake_cl.add_entry(7777, "1", "2024-01-02", "Notice of Appearance and Request for Service by the U.S. Trustee.")
    config = write_config(tmp_path, fake_cl.base_url, token=token, cases=(
        '[[cases]]\nname = "In re Widget Co."\ncourt = "nysb"\ndocket_number = "24-10001"\ncourtlistener_id = 7777\n'
        'sources = ["courtlistener"]\n'))
    assert check_json(config)[1]["baseline"]
    for number in ("2", "3"):
        fake_cl.add_entry(7777, number, "2024-01-04", f"Motion number {number} filed by Widget Co.")
        fake_cl.add_entry(7777, number, "2024-01-04", f"Declaration in support of motion number {number}.")
        code, result = check_json(config)
        assert code == 0, result["error"]
        assert numbers(result["new"]) == [number] and result["changed"] == []


@pytest.mark.parametrize("token", [False, True], ids=["feed", "api"])
def test_a_docket_empty_until_now_gets_its_old_history_quietly_and_its_recent_filing_as_news(
        fake_cl, tmp_path, token):
    """CourtListener had the docket but no entries at the first checks; then its history
    arrives at once (someone bought the docket report). As for a source's first read:
    what was filed long before the watch began is history, a filing since is news."""
    fake_cl.add_docket(5555, "cand", "3:21-cv-01234", "Doe v. Acme Corp.")
    config = write_config(tmp_path, fake_cl.base_url, token=token, cases=(
        '[[cases]]\nname = "Doe v. Acme Corp."\ncourt = "cand"\ndocket_number = "3:21-cv-01234"\n'
        'courtlistener_id = 5555\nsources = ["courtlistener"]\n'))
    assert check_json(config)[1]["no_entries"]
    for number in range(1, 21):
        fake_cl.add_entry(5555, str(number), f"2021-{number % 12 + 1:02d}-15", f"FILING number {number} of 2021")
    fake_cl.add_entry(5555, "21", datetime.now(UTC).date().isoformat(), "ORDER filed today")
    code, result = check_json(config)
    assert code == 0 and numbers(result["new"]) == ["21"] and result["earlier"] == 20
