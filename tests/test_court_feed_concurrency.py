"""Court RSS feeds read concurrently over real HTTP on loopback (each court is a server
of its own in life): within `[http] max_per_host`, one request per feed, a failing
feed failing only its own cases; and `concurrently` starts only a few polls ahead of
the outcome being stored."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from sqlmodel import Session, select
from werkzeug import Request, Response

from docketwatch import bootstrap, store
from docketwatch.http import HttpClient
from docketwatch.settings import HttpConfig
from docketwatch.sources import base
from docketwatch.sources.base import LOOK_AHEAD, concurrently
from docketwatch.store.models import CheckRun
from tests.conftest import poll_cases
from tests.servers import NYSB_FEED, InFlight, with_new_item

COURTS = ["cand", "nysd", "nyed", "dcd", "mad", "ilnd", "txnd", "cacd", "wawd", "njd", "paed", "nysb"]


def configure(tmp_path: Path, base: str, max_per_host: int = 4) -> Path:
    """A case in each court, read from its court's feed only (SunEdison's in nysb is in the feed)."""
    cases = "".join(
        f'[[cases]]\nname = "Case in {court}"\ncourt = "{court}"\nsources = ["pacer_rss"]\n'
        f'docket_number = "{"16-10992" if court == "nysb" else "1:23-cv-00001"}"\n' for court in COURTS)
    path = tmp_path / "dw.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "dw.db"}"\n[http]\nmax_per_host = {max_per_host}\nbackoff = 0\n'
                    f'[sources.pacer_rss]\nurl_template = "{base}/{{court}}"\n'
                    "[sources.pacer_rss.courts]\n" + "".join(f'{c} = "{base}/{c}"\n' for c in COURTS) + cases)
    return path


def test_court_feeds_are_read_concurrently_one_request_each(threaded_server, tmp_path):
    asked: list[str] = []
    body = with_new_item(NYSB_FEED)

    def feed(request: Request) -> Response:
        asked.append(request.path.strip("/"))
        return Response(body, content_type="text/xml", headers={"ETag": '"v1"'})

    in_flight = InFlight(feed, together=3)
    # threaded: the court feeds answer in parallel, as distinct servers do
    threaded_server.expect_request(re.compile(".*")).respond_with_handler(in_flight.handle)
    path = configure(tmp_path, threaded_server.url_for("").rstrip("/"))

    results = poll_cases(path)

    assert all(r.ok and r.baseline for r in results), [r.errors for r in results]
    assert 3 <= in_flight.peak <= 4
    assert sorted(asked) == sorted(COURTS)  # one request per feed
    sunedison = next(r for r in results if r.case.court == "nysb")
    assert sunedison.baseline_entries > 0  # its items reached its case
    engine = store.open_engine(bootstrap.load(path).database.url)
    with Session(engine) as session:
        runs = list(session.exec(select(CheckRun)))
    engine.dispose()
    assert len(runs) == len(COURTS) and sum(r.requests for r in runs) == len(COURTS)


def test_a_failing_feed_fails_only_its_own_cases(httpserver, tmp_path):
    def feed(request: Request) -> Response:
        if request.path == "/ilnd":
            return Response("down for maintenance", status=503)
        return Response(NYSB_FEED, content_type="text/xml")

    httpserver.expect_request(re.compile(".*")).respond_with_handler(feed)
    results = poll_cases(configure(tmp_path, httpserver.url_for("").rstrip("/")))

    failed = {r.case.court: r.errors for r in results if not r.ok}
    assert list(failed) == ["ilnd"] and "503" in failed["ilnd"][0]
    assert sum(r.ok for r in results) == len(COURTS) - 1


def test_concurrently_starts_only_a_few_polls_ahead_of_the_one_taken():
    """A slow store step holds a few answers in memory, not all of them."""
    started: list[int] = []
    lock = threading.Lock()

    def poll_of(n: int):
        def run() -> int:
            with lock:
                started.append(n)
            return n
        return run

    http = HttpClient(HttpConfig(max_per_host=2))
    window = LOOK_AHEAD * 2
    taken = []
    for n, outcome in concurrently([(n, poll_of(n)) for n in range(40)], http):
        assert outcome == n  # in the polls' order
        taken.append(n)
        with lock:
            assert len(started) <= len(taken) + window  # never more than the window ahead
    assert taken == list(range(40)) and sorted(started) == list(range(40))


def test_concurrently_lets_the_poll_commit_between_outcomes_that_are_all_in(monkeypatch):
    """Whether or not an answer is in already, the poll commits once COMMIT_EVERY
    seconds have passed since the last commit (here: always), and only between two
    outcomes, never while one is being stored."""
    monkeypatch.setattr(base, "COMMIT_EVERY", -1.0)
    http = HttpClient(HttpConfig(max_per_host=2))
    taken: list[int] = []
    commits: list[int] = []
    http.before_request = lambda: commits.append(len(taken))
    for n, _ in concurrently([(n, lambda n=n: n) for n in range(20)], http):
        taken.append(n)
    assert commits == list(range(20))  # before each outcome is handed over, none mid-way
