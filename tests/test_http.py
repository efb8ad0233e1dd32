"""The HTTP layer over real loopback HTTP (urllib3's retries are part of what is tested)."""

from __future__ import annotations

import pytest
from werkzeug import Response

from docketwatch import __version__
from docketwatch.config import HttpConfig
from docketwatch.http import Budget, BudgetExhausted, HttpClient, HttpError, Throttled

FAST = HttpConfig(retries=3, backoff=0.001, max_throttle_wait=2)


def test_identifies_itself(httpserver):
    httpserver.expect_request("/x").respond_with_data("ok")
    HttpClient(FAST).get(httpserver.url_for("/x"))
    ua = httpserver.log[0][0].headers["User-Agent"]
    assert ua.startswith(f"docketwatch/{__version__}")


def test_server_errors_are_retried_and_every_attempt_is_counted(httpserver):
    for _ in range(2):
        httpserver.expect_ordered_request("/x").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    client, budget = HttpClient(FAST), Budget(limit=10, used=0)
    assert client.get(httpserver.url_for("/x"), budget=budget).text == "ok"
    assert client.requests == 3 and budget.used == 3


def test_client_errors_are_not_retried(httpserver):
    httpserver.expect_request("/x").respond_with_data("bad", status=400)
    client = HttpClient(FAST)
    assert client.get(httpserver.url_for("/x")).status_code == 400
    assert len(httpserver.log) == 1


def test_retries_never_exceed_the_budget(httpserver):
    httpserver.expect_request("/x").respond_with_data("down", status=500)
    client, budget = HttpClient(FAST), Budget(limit=2, used=0)
    with pytest.raises(HttpError, match="HTTP 500"):
        client.get(httpserver.url_for("/x"), budget=budget)
    assert len(httpserver.log) == 2 and budget.remaining == 0
    with pytest.raises(BudgetExhausted, match=r"2/2"):
        client.get(httpserver.url_for("/x"), budget=budget)
    assert len(httpserver.log) == 2


def test_short_429_is_waited_out(httpserver):
    slept: list[float] = []
    httpserver.expect_ordered_request("/x").respond_with_response(
        Response('{"detail": "Request was throttled. Expected available in 1 seconds."}', status=429))
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    client = HttpClient(FAST, sleep=slept.append)
    assert client.get(httpserver.url_for("/x")).text == "ok"
    assert slept == [1.0]


def test_long_429_raises_with_the_time_named_by_the_server(httpserver):
    httpserver.expect_request("/x").respond_with_response(Response("slow down", status=429, headers={"Retry-After": "3600"}))
    with pytest.raises(Throttled) as caught:
        HttpClient(FAST, sleep=lambda s: None).get(httpserver.url_for("/x"))
    assert "3600 s" in str(caught.value) and caught.value.until is not None


def test_unreachable_server_is_an_error_naming_the_url():
    with pytest.raises(HttpError, match="127.0.0.1:9/nothing"):
        HttpClient(HttpConfig(retries=0)).get("http://127.0.0.1:9/nothing")


def test_an_unreachable_host_is_not_tried_again_in_the_same_run():
    client = HttpClient(HttpConfig(retries=0))
    with pytest.raises(HttpError, match="Connection"):
        client.get("http://127.0.0.1:9/a")
    with pytest.raises(HttpError, match="earlier in this run; not retried"):
        client.get("http://127.0.0.1:9/b")
