"""Answers no honest server gives, each a failed poll in one line that stores nothing:
the token never leaves for another server, a page that leads back is not read again
until the budget is gone, an item that cannot be read poisons no later poll, and a 304
to a request without validators is not taken for "unchanged" (which would make the
next full answer's history all new)."""

from __future__ import annotations

import json

import pytest
from werkzeug import Request, Response

from tests.conftest import KADREY_ID, check_json, dump_db, run_cli, write_config
from tests.servers import LoopbackHTTPServer
from tests.test_pacer_rss import check_all, rss_config


def test_a_next_link_to_another_server_is_not_followed_and_gets_no_token(tmp_path, fake_cl):
    fake_cl.load_kadrey()
    for n in range(700, 730):  # more than one page
        fake_cl.add_entry(KADREY_ID, str(n), "2025-07-10", f"ORDER number {n}")
    other = LoopbackHTTPServer(host="127.0.0.1", port=0)
    other.start()
    seen: list[str | None] = []

    def capture(request: Request) -> Response:
        seen.append(request.headers.get("Authorization"))
        return Response(json.dumps({"next": None, "results": []}), content_type="application/json")

    other.expect_request("/elsewhere").respond_with_handler(capture)
    entry_page = fake_cl.entry_page

    def elsewhere(params):
        body = json.loads(entry_page(params).get_data())
        body["next"] = body["next"] and other.url_for("/elsewhere")
        return Response(json.dumps(body), content_type="application/json")

    fake_cl.entry_page = elsewhere
    try:
        code, case = check_json(write_config(tmp_path, fake_cl.base_url))
    finally:
        other.stop()
    assert seen == []  # the token is sent to [sources.courtlistener] base_url only
    assert code == 3 and "leads to another server than [sources.courtlistener] base_url" in case["error"]
    assert dump_db(tmp_path)["entry"] == []


def test_a_next_link_that_leads_back_stops_the_poll_not_the_budget(tmp_path, fake_cl):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, budget=125)
    assert check_json(config)[0] == 0  # the baseline
    fake_cl.add_entry(KADREY_ID, "600", "2025-07-02", "ORDER re 598: case management conference set for 7/11/2025.")
    stored = dump_db(tmp_path)
    entry_page = fake_cl.entry_page

    def loop(params):  # every page says the next one is the same page again
        body = json.loads(entry_page(params).get_data())
        body["next"] = (f"{fake_cl.base_url}/api/rest/v4/docket-entries/?docket={KADREY_ID}"
                        "&order_by=date_modified&cursor=MA==")
        return Response(json.dumps(body), content_type="application/json")

    fake_cl.entry_page = loop
    before = len(fake_cl.requests)
    code, case = check_json(config)
    assert len(fake_cl.requests) - before <= 4  # not the day's 125
    assert code == 3 and "leads back to a page already read" in case["error"]
    assert dump_db(tmp_path) == stored


def test_an_entry_that_cannot_be_read_is_one_line(tmp_path, fake_cl):
    fake_cl.load_kadrey()
    fake_cl.entry_page = lambda params: Response(json.dumps({"next": None, "results": [{"entry_number": 1}]}),
                                                 content_type="application/json")
    ran = run_cli(write_config(tmp_path, fake_cl.base_url), "check")
    assert ran.returncode == 3 and "Traceback" not in ran.stderr, ran.stderr
    assert "an item of CourtListener's entry list cannot be read (no 'id')" in ran.stdout
    assert dump_db(tmp_path)["entry"] == []


def test_a_date_modified_that_is_no_moment_is_refused_and_poisons_no_later_poll(tmp_path, fake_cl):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url)
    entry_page = fake_cl.entry_page
    fake_cl.entry_page = lambda params: Response(json.dumps({"next": None, "results": [
        {"id": 5, "entry_number": 1, "description": "x", "date_modified": "yesterday"}]}),
        content_type="application/json")
    code, case = check_json(config)
    assert code == 3 and "cannot be read (Invalid isoformat string: 'yesterday')" in case["error"]
    assert dump_db(tmp_path)["sourcestate"] == []  # no watermark kept from it
    fake_cl.entry_page = entry_page  # the server is mended
    code, case = check_json(config)
    assert code == 0 and case["baseline"] and case["new"] == []
    assert [check_json(config)[0] for _ in range(2)] == [0, 0]


def test_a_304_from_courtlistener_to_a_first_request_is_an_error_not_an_empty_baseline(tmp_path, fake_cl):
    fake_cl.load_kadrey()
    config = write_config(tmp_path, fake_cl.base_url, token=False)  # the Atom feed
    fake_cl.queued = [Response(status=304)]  # no validator was sent: a cache's mistake
    code, case = check_json(config)
    assert code == 3 and "answered 304 Not Modified to a request without validators" in case["error"]
    code, case = check_json(config)
    assert code == 0 and case["baseline"] and case["new"] == []  # history is not news


def test_a_304_from_a_court_feed_to_a_first_request_is_an_error_not_an_empty_baseline(tmp_path, court_feed):
    config = rss_config(tmp_path, court_feed)
    court_feed.always_304 = True
    code, cases = check_all(config)
    assert code == 3 and all("answered 304 Not Modified to a request without validators" in c["error"]
                             for c in cases.values())
    court_feed.always_304 = False
    code, cases = check_all(config)
    assert code == 0 and all(c["baseline"] and c["new"] == [] for c in cases.values())


@pytest.mark.parametrize("body", [b"", b"<html><body><h1>502 Bad Gateway</h1></body></html>"], ids=["empty", "html"])
def test_a_court_feed_answering_what_is_no_feed_is_an_error_naming_the_feed(tmp_path, court_feed, body):
    """A case read from two sources must say which one failed: the feed's URL leads."""
    config = rss_config(tmp_path, court_feed)
    court_feed.body = body
    code, cases = check_all(config)
    url = court_feed.url_template.format(court="nysb")
    assert code == 3 and all(c["error"].startswith(f"{url}: ") for c in cases.values()), cases
