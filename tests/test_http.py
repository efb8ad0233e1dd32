"""The HTTP layer over real loopback HTTP (urllib3's retries are part of what is tested)."""

from __future__ import annotations

import gzip
import threading
import time

import pytest
from werkzeug import Response

from docketwatch import __version__
from docketwatch.http import Budget, BudgetExhausted, Cancelled, HttpClient, HttpError, Throttled
from docketwatch.settings import HttpConfig
from tests.servers import free_port

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


def test_a_request_that_never_reached_the_server_gives_its_budget_back(httpserver):
    client, budget = HttpClient(FAST), Budget(limit=1, used=0)
    with pytest.raises(HttpError, match="ConnectionError"):  # nothing listens there: refused, every retry
        client.get(f"http://127.0.0.1:{free_port()}/x", budget=budget)
    assert budget.used == 0 and client.requests == client.quota_requests == 0
    httpserver.expect_request("/x").respond_with_data("ok")
    assert client.get(httpserver.url_for("/x"), budget=budget).text == "ok"
    assert budget.used == 1 and client.quota_requests == 1


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


def test_after_a_short_429_the_clients_next_request_waits_out_the_rest_before_asking(httpserver):
    slept: list[float] = []
    httpserver.expect_ordered_request("/x").respond_with_response(
        Response("slow down", status=429, headers={"Retry-After": "1"}))
    httpserver.expect_ordered_request("/x").respond_with_data("ok")
    httpserver.expect_ordered_request("/y").respond_with_data("ok too")
    client = HttpClient(FAST, sleep=slept.append)  # the pauses are recorded, not slept
    assert client.get(httpserver.url_for("/x")).text == "ok"
    assert client.get(httpserver.url_for("/y")).text == "ok too"
    first, rest = slept
    assert first == 1.0 and 0 < rest <= 1.0  # what was left of the server's second
    assert len(httpserver.log) == 3  # the second request was not sent into the 429


def test_a_304_answers_only_a_conditional_request(httpserver):
    """A 304 to a request without validators says nothing of the page (a cache in
    between got it wrong): an error, whoever asked; to a conditional request, an answer."""
    httpserver.expect_request("/x").respond_with_data("", status=304)
    client = HttpClient(FAST)
    with pytest.raises(HttpError, match="answered 304 Not Modified to a request without validators"):
        client.get(httpserver.url_for("/x"), headers={"Authorization": "Token t"})
    assert client.get(httpserver.url_for("/x"), headers={"If-None-Match": '"v1"'}).status_code == 304
    assert client.get(httpserver.url_for("/x"), headers={"if-modified-since": "Mon, 23 Nov 2026 09:00:00 GMT"}
                      ).status_code == 304


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


def _timed(call) -> tuple[BaseException | None, float]:
    began = time.monotonic()
    try:
        call()
    except Exception as e:  # returned, so the test can check what and when
        return e, time.monotonic() - began
    return None, time.monotonic() - began


@pytest.mark.parametrize("mode", ["trickle_headers", "trickle_body"])
def test_a_trickling_server_is_cut_off_at_the_total_deadline(slow_server, mode):
    server = slow_server(mode, pace=0.1, give_up=8)  # each byte well within any per-read timeout
    client = HttpClient(HttpConfig(timeout=1, retries=1, backoff=0))
    error, elapsed = _timed(lambda: client.get(server.url + "/feed"))
    assert isinstance(error, HttpError) and "no complete response within 1 s" in str(error)
    assert str(error).startswith(server.url + "/feed")
    assert elapsed < 4 and server.connections == 2  # two attempts of 1 s each
    assert client.requests == 2  # both reached the server


def test_one_watchdog_thread_holds_each_attempt_to_its_own_deadline(slow_server, httpserver):
    """Attempts in flight together (a poll's concurrent requests) share one watchdog
    thread: a stalled one is cut off at its deadline, the others are left alone."""
    httpserver.expect_request("/x").respond_with_data("ok")
    server = slow_server("trickle_body", pace=0.1, give_up=8)
    stalled = HttpClient(HttpConfig(timeout=1, retries=0))
    outcome: list[tuple[BaseException | None, float]] = []
    thread = threading.Thread(target=lambda: outcome.append(_timed(lambda: stalled.get(server.url + "/feed"))))
    thread.start()
    quick = HttpClient(FAST)
    answers = [quick.get(httpserver.url_for("/x")).text for _ in range(20)]
    thread.join(timeout=10)
    assert answers == ["ok"] * 20
    error, elapsed = outcome[0]
    assert isinstance(error, HttpError) and "no complete response within 1 s" in str(error) and elapsed < 4
    assert [t.name for t in threading.enumerate()].count("http-watchdog") == 1


def test_cancel_abandons_a_request_in_flight_at_once(slow_server):
    server = slow_server("hang", give_up=30)
    cancel = threading.Event()
    client = HttpClient(HttpConfig(timeout=60, retries=3), cancel=cancel)
    threading.Timer(0.5, cancel.set).start()
    error, elapsed = _timed(lambda: client.get(server.url + "/docket"))
    assert isinstance(error, Cancelled) and isinstance(error, HttpError)
    assert elapsed < 2 and server.connections == 1  # not retried


def test_cancel_ends_a_throttle_wait(httpserver):
    httpserver.expect_request("/x").respond_with_response(Response("slow down", status=429, headers={"Retry-After": "20"}))
    cancel = threading.Event()
    client = HttpClient(HttpConfig(max_throttle_wait=30), cancel=cancel)
    threading.Timer(0.3, cancel.set).start()
    error, elapsed = _timed(lambda: client.get(httpserver.url_for("/x")))
    assert isinstance(error, Cancelled) and elapsed < 2


def test_a_response_over_the_size_limit_is_an_error_naming_the_url_and_the_limit(httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * 5000)
    client = HttpClient(HttpConfig(max_response_bytes=4096))
    with pytest.raises(HttpError) as caught:
        client.get(httpserver.url_for("/big"))
    assert str(caught.value) == (f"{httpserver.url_for('/big')}: the response is larger than 4096 bytes "
                                 "([http] max_response_bytes); not read")
    httpserver.expect_request("/fits").respond_with_data(b"x" * 4096)
    assert len(client.get(httpserver.url_for("/fits")).content) == 4096


def test_the_size_limit_holds_without_content_length(httpserver):
    sent: list[int] = []

    def endless():  # chunked: no Content-Length to check first
        for _ in range(10_000):
            sent.append(1)
            yield b"x" * 65536

    httpserver.expect_request("/stream").respond_with_response(Response(endless(), content_type="text/plain"))
    client = HttpClient(HttpConfig(max_response_bytes=1_000_000))
    with pytest.raises(HttpError, match=r"larger than 1000000 bytes \(\[http\] max_response_bytes\)"):
        client.get(httpserver.url_for("/stream"))
    # Stopped reading long before the 655 MB the server offered. What the server wrote into the
    # kernel's socket buffers before the close counts too: up to about 7 MB (110 chunks) on loopback.
    assert len(sent) < 1000


def test_the_size_limit_applies_to_the_decoded_body(httpserver):
    bomb = gzip.compress(b"\0" * 5_000_000)  # 5 MB of zeros in about 5 KB
    httpserver.expect_request("/gz").respond_with_response(
        Response(bomb, headers={"Content-Encoding": "gzip"}, content_type="text/plain"))
    with pytest.raises(HttpError, match="larger than 1000000 bytes"):
        HttpClient(HttpConfig(max_response_bytes=1_000_000)).get(httpserver.url_for("/gz"))
