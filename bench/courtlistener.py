"""Poll cycles of many CourtListener cases, feed mode and API mode, against the floor of the same requests.

    python bench/courtlistener.py [--cases 1000] [--latency 0.05] [--entries 3] [--mode feed,api]

Starts the test suite's CourtListener stand-in (tests/fake_courtlistener.py) in a child
process, threaded, answering each request after `--latency` seconds, with one pinned
docket per case (`sources = ["courtlistener"]`). For each mode, on a fresh SQLite file:

  feed  (no token: the per-docket Atom feed, conditional)
        baseline   every feed answers 200;
        unchanged  every feed answers 304.
  api   (a token: REST v4, a budget that does not limit)
        baseline   the docket and its entries;
        changed    1% of dockets gain an entry;
        unchanged  nothing changed: at most one request per docket.

The floor is measured in the same run: the very requests the server logged during the
cycle (same paths, queries and headers), replayed with plain requests on 8 threads; and
the same on `[http] max_per_host` threads, the best a client held to that limit can do.
It prints wall and CPU seconds, requests, the floors' wall times and the wall ratios.
Exit status 1 when an unchanged API cycle costs more than one request per docket.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project, not this folder, first of all (bench/calendar.py would hide the standard library's).
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from typing import Any  # noqa: E402

import requests  # noqa: E402

from docketwatch import bootstrap, store  # noqa: E402
from docketwatch.http import HttpClient  # noqa: E402
from docketwatch.pipeline import poll  # noqa: E402

TOKEN = "bench-token"
FIRST_ID = 1_000_000
FLOOR_THREADS = 8


def serve(port_out: Any, cases: int, entries: int, latency: float) -> None:
    """The stand-in, threaded, each answer `latency` late; GET /_log returns and clears the
    requests served; POST /_bump adds an entry to 1% of the dockets."""
    import logging

    from werkzeug import Request, Response
    from werkzeug.serving import make_server

    from tests.fake_courtlistener import FakeCourtListener

    fake = FakeCourtListener(base_url="http://127.0.0.1", token=TOKEN)
    for case in range(cases):
        fake.add_docket(FIRST_ID + case, "cand", f"3:23-cv-{case:05d}", f"Plaintiff {case} v. Defendant {case}")
        for entry in range(1, entries + 1):
            fake.add_entry(FIRST_ID + case, str(entry), "2026-11-02", f"ORDER number {entry} in case {case}")
    log: list[dict[str, Any]] = []
    lock = threading.Lock()

    @Request.application  # type: ignore[arg-type]
    def app(request: Request) -> Response:
        if request.path == "/_log":
            with lock:
                out = json.dumps(log)
                log.clear()
            return Response(out, content_type="application/json")
        if request.path == "/_bump":
            with lock:
                for case in range(0, cases, 100):
                    fake.add_entry(FIRST_ID + case, str(entries + 100), "2026-11-20", "NOTICE of appearance")
            return Response(status=204)
        time.sleep(latency)
        headers = {k: v for k, v in request.headers.items() if k in ("Authorization", "If-None-Match")}
        with lock:
            log.append({"url": request.url, "headers": headers})
        return fake.handle(request)  # reads only, while requests are served (a bump comes between cycles)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    fake.base_url = f"http://127.0.0.1:{server.server_port}"
    port_out.send(server.server_port)
    server.serve_forever()


def config_text(folder: Path, base: str, cases: int, token: bool, max_per_host: int | None) -> str:
    lines = [f'[database]\nurl = "sqlite:///{folder / "dw.db"}"\n',
             f"[http]\nmax_per_host = {max_per_host}\n" if max_per_host else "",
             f'[sources.courtlistener]\nbase_url = "{base}"\ndaily_request_budget = 10000000\n'
             + ('token = "${CL_BENCH_TOKEN}"\n' if token else "")]
    for case in range(cases):
        lines.append(f'[[cases]]\nname = "Plaintiff {case} v. Defendant {case}"\ncourt = "cand"\n'
                     f'docket_number = "3:23-cv-{case:05d}"\ncourtlistener_id = {FIRST_ID + case}\n'
                     'sources = ["courtlistener"]\n')
    return "\n".join(lines)


def floor(served: list[dict[str, Any]], threads: int) -> float:
    """Wall seconds for the same requests with plain requests on `threads` threads (a session each)."""
    local = threading.local()

    def get(request: dict[str, Any]) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.get(request["url"], headers=request["headers"])
        return len(response.content)

    began = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(get, served))
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to each answer (default 0.05)")
    parser.add_argument("--entries", type=int, default=3, help="entries per docket (default 3)")
    parser.add_argument("--mode", default="feed,api", help="feed, api or both (default feed,api)")
    parser.add_argument("--max-per-host", type=int, help="[http] max_per_host (default: docketwatch's default)")
    args = parser.parse_args()
    os.environ["CL_BENCH_TOKEN"] = TOKEN

    receiver, sender = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=serve, args=(sender, args.cases, args.entries, args.latency), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{receiver.recv()}"

    def served() -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{base}/_log") as r:
            return list(json.loads(r.read()))

    failed = False
    print(f"{args.cases} cases, {args.latency * 1000:.0f} ms per request, {args.entries} entries per docket; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} cores; floor: the same requests on "
          f"{FLOOR_THREADS} threads")
    print(f"{'mode':<5} {'cycle':<10} {'docketwatch wall/CPU':>21} {'requests':>8} {'floor wall':>10} "
          f"{'ratio':>6} {'floor at max_per_host':>21} {'ratio':>6}")
    for mode in args.mode.split(","):
        cycles = ["baseline", "unchanged"] if mode == "feed" else ["baseline", "changed", "unchanged"]
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            (folder / "dw.toml").write_text(config_text(folder, base, args.cases, mode == "api", args.max_per_host))
            config = bootstrap.load(folder / "dw.toml")
            engine = store.open_engine(config.database.url)
            for cycle in cycles:
                if cycle == "changed":
                    urllib.request.urlopen(urllib.request.Request(f"{base}/_bump", method="POST")).close()
                http = HttpClient(config.http)
                wall, cpu = time.perf_counter(), time.process_time()
                results = poll.check(config, engine, config.cases, http=http)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                log = served()
                errors = sum(1 for r in results if r.errors)
                floor_wall = floor(log, FLOOR_THREADS)
                limited_wall = floor(log, config.http.max_per_host)
                served()  # the floors' own requests
                print(f"{mode:<5} {cycle:<10} {wall:9.2f} s {cpu:7.2f} s {http.requests:8} {floor_wall:8.2f} s "
                      f"{wall / floor_wall:5.1f}x {limited_wall:11.2f} s ({config.http.max_per_host:2}) "
                      f"{wall / limited_wall:5.1f}x{f'  ({errors} cases failed)' if errors else ''}")
                if len(log) != http.requests or errors:
                    failed = True
                    print(f"  the server saw {len(log)} requests")
                if mode == "api" and cycle == "unchanged" and http.requests > args.cases:
                    failed = True
                    print("  more than one request per unchanged docket")
            engine.dispose()
    server.terminate()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
