"""CourtListener polled concurrently, over real HTTP on loopback: the per-host limit, the
exact request budget, the throttle shared by every request, and an unchanged docket
costing one API request."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pytest_httpserver import HTTPServer
from sqlmodel import Session, select
from werkzeug import Request, Response

from docketwatch import bootstrap, store
from docketwatch.domain.events import EventKind
from docketwatch.domain.snapshot import THROTTLE, Throttle
from docketwatch.http import HttpClient
from docketwatch.pipeline import poll
from docketwatch.settings import HttpConfig
from docketwatch.store.models import CheckRun, Event
from tests.conftest import age_docket_read, poll_cases, write_config
from tests.fake_courtlistener import FakeCourtListener
from tests.servers import HOLD, InFlight

FIRST_ID = 5000


def dockets(fake: FakeCourtListener, count: int) -> str:
    """`count` dockets with two entries each at the fake, and their [[cases]] tables."""
    tables = []
    for i in range(count):
        fake.add_docket(FIRST_ID + i, "cand", f"3:23-cv-{i:05d}", f"Plaintiff {i} v. Defendant {i}",
                        assigned_to_str="Edward M. Chen")
        fake.add_entry(FIRST_ID + i, "1", "2026-11-02", f"COMPLAINT in case {i}")
        fake.add_entry(FIRST_ID + i, "2", "2026-11-03", f"SUMMONS issued in case {i}")
        tables.append(f'[[cases]]\nname = "Plaintiff {i} v. Defendant {i}"\ncourt = "cand"\n'
                      f'docket_number = "3:23-cv-{i:05d}"\ncourtlistener_id = {FIRST_ID + i}\n')
    return "\n".join(tables)


def configure(tmp_path: Path, fake: FakeCourtListener, count: int, *, token: bool = True, budget: int = 10_000,
              max_per_host: int = 4) -> Path:
    path = write_config(tmp_path, fake.base_url, token=token, budget=budget, cases=dockets(fake, count))
    path.write_text(path.read_text().replace("[http]\n", f"[http]\nmax_per_host = {max_per_host}\n"))
    return path


def serve(server: HTTPServer, fake: FakeCourtListener, handler: Callable[[Request], Response]) -> None:
    fake.base_url = server.url_for("").rstrip("/")
    server.expect_request(re.compile(".*")).respond_with_handler(handler)


def api_requests(fake: FakeCourtListener) -> list[str]:
    return [path for path, _ in fake.requests if path.startswith("/api/")]


def rows(path: Path, model: type) -> list:
    engine = store.open_engine(bootstrap.load(path).database.url)
    with Session(engine) as session:
        found = list(session.exec(select(model)))
    engine.dispose()
    return found


def test_requests_run_concurrently_within_max_per_host(threaded_server, tmp_path, cl_token):
    fake = FakeCourtListener(base_url="")
    in_flight = InFlight(fake.handle)
    serve(threaded_server, fake, in_flight.handle)
    path = configure(tmp_path, fake, 16, max_per_host=4)

    results = poll_cases(path)

    assert all(r.ok and r.baseline for r in results)
    assert 1 < in_flight.peak <= 4
    # Each case's check run holds its own requests: the docket and its one page of entries.
    runs = rows(path, CheckRun)
    assert sorted(r.requests for r in runs) == [2] * 16
    assert sum(r.quota_requests for r in runs) == len(fake.requests) == 32


def test_the_client_holds_each_host_to_max_per_host(threaded_server):
    """Without a pool of its own: more threads than places, one client."""
    in_flight = InFlight(lambda request: Response("ok"), together=3)
    threaded_server.expect_request("/x").respond_with_handler(in_flight.handle)
    client = HttpClient(HttpConfig(max_per_host=3))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.get(threaded_server.url_for("/x")).text, range(16)))
    assert answers == ["ok"] * 16
    assert in_flight.peak == 3  # held until 3 were in flight, never a 4th
    assert client.requests == 16


def test_the_budget_is_exact_under_concurrency(threaded_server, tmp_path, cl_token):
    fake = FakeCourtListener(base_url="")
    serve(threaded_server, fake, InFlight(fake.handle).handle)
    path = configure(tmp_path, fake, 12, budget=5)

    results = poll_cases(path)

    # Never more than the budget. One request may be left unspent: a case that needs two
    # does not start the API with one left, and whether a case started while two were
    # left depends on how the threads interleave.
    spent = len(api_requests(fake))
    assert 4 <= spent <= 5
    runs = rows(path, CheckRun)
    assert sum(r.quota_requests for r in runs) == spent
    assert sum(r.requests for r in runs) == len(fake.requests)
    # Every case is polled (the feed stands in) and says what the budget left out.
    assert [r.errors for r in results if not r.ok] == []
    short = [r for r in results if any("budget" in w for w in r.warnings)]
    assert len(short) >= 12 - 2  # at most two cases had both their requests
    assert all("exhausted" in w or "spent" in w for r in short for w in r.warnings if "budget" in w)
    assert [e for e in rows(path, Event) if e.kind == EventKind.ERROR] == []


def test_an_unchanged_docket_costs_one_api_request(fake_cl, tmp_path, cl_token, database_url):
    path = write_config(tmp_path, fake_cl.base_url, database_url=database_url, cases=dockets(fake_cl, 1))
    assert poll_cases(path)[0].baseline
    before = len(fake_cl.requests)

    second = poll_cases(path)[0]
    assert second.ok and second.new == [] and second.case_changes == []
    assert [p for p, _ in fake_cl.requests[before:]] == ["/api/rest/v4/docket-entries/"]

    # A new entry is seen by that request, and the docket's fields are read with it.
    fake_cl.add_entry(FIRST_ID, "3", "2026-11-20", "ANSWER to Complaint")
    fake_cl.dockets[FIRST_ID]["assigned_to_str"] = "Vince Chhabria"
    before = len(fake_cl.requests)
    third = poll_cases(path)[0]
    assert [e.number for e in third.new] == ["3"]
    assert third.case_changes == ["reassigned: Edward M. Chen -> Vince Chhabria"]
    assert [p for p, _ in fake_cl.requests[before:]] == [
        "/api/rest/v4/docket-entries/", f"/api/rest/v4/dockets/{FIRST_ID}/"]

    # A change to the docket's fields alone is read a day after the last read.
    fake_cl.dockets[FIRST_ID]["date_terminated"] = "2026-11-21"
    assert poll_cases(path)[0].case_changes == []
    age_docket_read(database_url, FIRST_ID)
    fourth = poll_cases(path)[0]
    assert fourth.case_changes == ["terminated on 2026-11-21"]
    assert poll_cases(path)[0].case_changes == []


def test_a_429_stops_the_other_api_requests_and_is_recorded(threaded_server, tmp_path, cl_token):
    fake = FakeCourtListener(base_url="")

    def throttling(request: Request) -> Response:
        if request.path.startswith("/api/"):
            fake.requests.append((request.path, {}))
            return Response('{"detail": "Request was throttled."}', status=429, headers={"Retry-After": "3600"})
        return fake.handle(request)

    serve(threaded_server, fake, InFlight(throttling).handle)
    path = configure(tmp_path, fake, 12, max_per_host=4)

    results = poll_cases(path)

    # Only the requests already on their way when the first 429 came: one per place.
    assert 1 <= len(api_requests(fake)) <= 4
    assert all(r.ok for r in results)  # the feed stands in
    assert all(any("throttled" in w and "used the feed" in w for w in r.warnings) for r in results)
    config = bootstrap.load(path)
    engine = store.open_engine(config.database.url)
    with Session(engine) as session:
        assert store.load_state(session, "courtlistener", THROTTLE, Throttle).until is not None
    engine.dispose()

    before = len(api_requests(fake))
    assert all(r.ok for r in poll_cases(path))
    assert len(api_requests(fake)) == before  # remembered: the API is not asked until then


def test_a_stop_ends_the_pool_promptly(threaded_server, tmp_path):
    """SIGTERM during `run` sets the client's cancel: requests in flight end, no new one is sent."""
    fake = FakeCourtListener(base_url="")
    in_flight = InFlight(fake.handle, together=1000)  # every request held, for HOLD seconds
    serve(threaded_server, fake, in_flight.handle)
    config = bootstrap.load(configure(tmp_path, fake, 40, token=False, max_per_host=4))
    cancel = threading.Event()

    def stop_when_four_are_in_flight() -> None:
        deadline = time.monotonic() + 10
        while in_flight.now < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        cancel.set()

    threading.Thread(target=stop_when_four_are_in_flight, daemon=True).start()
    engine = store.open_engine(config.database.url)
    began = time.monotonic()
    try:
        results = poll.check(config, engine, config.cases, http=HttpClient(config.http, cancel=cancel))
    finally:
        engine.dispose()
        in_flight.reached.set()  # let the server's held requests go
    assert time.monotonic() - began < HOLD  # not one held request waited out
    assert in_flight.arrived == 4
    assert all(r.errors and all("cancelled" in e for e in r.errors) for r in results)
