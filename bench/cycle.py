"""A poll cycle of many cases over court RSS feeds, against the floor of the same work.

    python bench/cycle.py [--cases 10000] [--feeds 200] [--items 4] [--latency 0] [--repeat 1] [--profile DIR]

Starts a loopback server (in a child process, so its CPU is not counted) serving one
RSS feed per court, `--items` items per watched case, with ETags. Then runs three
`check` cycles of every case with `sources = ["pacer_rss"]` on a fresh SQLite file:

  baseline   every feed answers 200: all entries are stored (a quiet baseline);
  changed    1% of feeds gain one new item per case (200), the others answer 304
             (with --repeat N, each of N cycles another 1%);
  unchanged  every feed answers 304.

After each cycle it measures the floor in the same run: the same GETs (same
conditional headers, so the same answers), a bare lxml parse of each body, and one
executemany of the parsed items into SQLite. It prints wall and CPU seconds of both,
the CPU ratio, requests by status, and the process's peak memory (max RSS). Exit
status 1 when a cycle made other than one request per feed, or a case failed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import multiprocessing
import os
import resource
import sqlite3
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from lxml import etree  # noqa: E402

from docketwatch import bootstrap, store  # noqa: E402
from docketwatch.domain.courts import court_ids  # noqa: E402
from docketwatch.http import HttpClient  # noqa: E402
from docketwatch.pipeline import poll  # noqa: E402


def courts(count: int) -> list[str]:
    """District and bankruptcy court ids (as many as asked), then any other ids."""
    ids = sorted(court_ids())
    trial = [c for c in ids if len(c) in (4, 5) and c[-1] in "db" and c not in ("scotus",)]
    rest = [c for c in ids if c not in trial]
    return (trial + rest)[:count]


def docket_number(case: int) -> str:
    return f"1:26-cv-{case:05d}"


def entered(case: int, entry: int) -> datetime:
    """When entry `entry` was entered: about three a day, as on a busy docket (so a case's
    latest entry is found by its date, not by reading every entry of one day)."""
    return datetime(2025, 11, 20, 9, case % 60, tzinfo=UTC) + timedelta(days=entry // 3, hours=entry % 3)


def item(court: str, case: int, entry: int) -> str:
    case_id = 100000 + case
    doc = f"https://ecf.{court}.uscourts.gov/doc1/0{case_id}{entry:04d}?caseid={case_id}&amp;de_seq_num={entry}"
    return (
        f"<item><title>{docket_number(case)} Plaintiff {case} v. Defendant {case}</title>"
        f"<link>https://ecf.{court}.uscourts.gov/cgi-bin/DktRpt.pl?{case_id}</link>"
        f"<description>[Motion to Dismiss number {entry}] (&lt;a href='{doc}'&gt;{entry}&lt;/a&gt;)</description>"
        f"<guid isPermaLink='true'>https://ecf.{court}.uscourts.gov/cgi-bin/DktRpt.pl?{case_id}-{entry}</guid>"
        f"<pubDate>{format_datetime(entered(case, entry), usegmt=True)}</pubDate></item>"
    )


def feed(court: str, cases: range, entries: int, window: int | None = None) -> bytes:
    """Entries `entries` down to 1 of each case (the latest `window` only, when given:
    a court feed shows the last day, not the whole docket)."""
    oldest = max(0, entries - window) if window else 0
    items = "".join(item(court, case, entry) for entry in range(entries, oldest, -1) for case in cases)
    return (
        '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel>'
        f"<title>{court} - Recent Entries</title><link>https://ecf.{court}.uscourts.gov</link>"
        f"<description>Docket entries of type: all</description>{items}</channel></rss>"
    ).encode("latin-1")


# -- the loopback server (child process) ---------------------------------------------------

def serve(port_out: Any, plan: dict[str, list[int]], entries: int, window: int | None = None,
          latency: float = 0.0) -> None:
    """Serve /<court>: the court's feed with an ETag, after `latency` seconds (threaded, as
    distinct courts' servers answer at once); POST /_bump/<court> adds an item per case;
    GET /_stats returns and resets the answers given by status."""
    bodies: dict[str, bytes] = {}
    versions = {court: entries for court in plan}
    stats: dict[str, int] = {}

    def body(court: str) -> bytes:
        if court not in bodies:
            lo, hi = plan[court]
            bodies[court] = feed(court, range(lo, hi), versions[court], window)
        return bodies[court]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, content: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/_stats":
                out = json.dumps(stats).encode()
                stats.clear()
                return self._send(200, out)
            court = self.path.strip("/")
            time.sleep(latency)
            etag = f'"{court}-{versions[court]}"'
            if self.headers.get("If-None-Match") == etag:
                stats["304"] = stats.get("304", 0) + 1
                return self._send(304, headers={"ETag": etag})
            stats["200"] = stats.get("200", 0) + 1
            return self._send(200, body(court), {"ETag": etag, "Content-Type": "text/xml"})

        def do_POST(self) -> None:  # noqa: N802
            court = self.path.removeprefix("/_bump/")
            versions[court] += 1
            bodies.pop(court, None)
            self._send(204)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_out.send(server.server_address[1])
    server.serve_forever()


# -- the floor -----------------------------------------------------------------------------

class Floor:
    """The least work a cycle can be: the same GETs, a bare parse, one executemany."""

    def __init__(self, urls: list[str], folder: Path):
        self.urls = urls
        self.session = requests.Session()
        self.etags: dict[str, str] = {}
        self.db = sqlite3.connect(folder / "floor.db")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE item (court TEXT, title TEXT, link TEXT, description TEXT, guid TEXT, "
                        "pub_date TEXT)")

    def cycle(self) -> int:
        rows = []
        for url in self.urls:
            headers = {"If-None-Match": self.etags[url]} if url in self.etags else {}
            response = self.session.get(url, headers=headers)
            if response.status_code == 304:
                continue
            self.etags[url] = response.headers["ETag"]
            root = etree.fromstring(response.content)
            for element in root.iter("item"):
                rows.append((url, element.findtext("title"), element.findtext("link"),
                             element.findtext("description"), element.findtext("guid"), element.findtext("pubDate")))
        self.db.executemany("INSERT INTO item VALUES (?, ?, ?, ?, ?, ?)", rows)
        self.db.commit()
        return len(rows)


# -- the run -------------------------------------------------------------------------------

@dataclass
class Figures:
    wall: float
    cpu: float


def timed(fn: Callable[[], object]) -> tuple[Figures, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return Figures(time.perf_counter() - wall, time.process_time() - cpu), out


def config_text(folder: Path, base: str, plan: dict[str, list[int]]) -> str:
    lines = [f'[database]\nurl = "sqlite:///{folder / "dw.db"}"\n',
             f'[sources.pacer_rss]\nurl_template = "{base}/{{court}}"\nappellate_url_template = "{base}/{{court}}"\n',
             '[sources.pacer_rss.courts]\n']
    lines += [f'{court} = "{base}/{court}"' for court in plan]  # overrides the bundled nyed URL too
    for court, (lo, hi) in plan.items():
        for case in range(lo, hi):
            lines.append(f'[[cases]]\nname = "Plaintiff {case} v. Defendant {case}"\ncourt = "{court}"\n'
                         f'docket_number = "{docket_number(case)}"\nsources = ["pacer_rss"]\n')
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=4, help="items per case in each feed (default 4)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of each docketwatch cycle to this folder")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the changed and unchanged cycles this many times each and show the least CPU "
                             "of each (ours and the floor's): figures a busy machine disturbs less")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds each feed request takes at the server (default 0; the floor asks one at a time)")
    args = parser.parse_args()

    per_feed = args.cases // args.feeds
    plan = {court: [i * per_feed, (i + 1) * per_feed] for i, court in enumerate(courts(args.feeds))}
    receiver, sender = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.Process(target=serve, args=(sender, plan, args.items, None, args.latency), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{receiver.recv()}"

    def stats() -> dict[str, int]:
        with urllib.request.urlopen(f"{base}/_stats") as r:
            return dict(json.loads(r.read()))

    failed = False
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "dw.toml").write_text(config_text(folder, base, plan))
        config = bootstrap.load(folder / "dw.toml")
        engine = store.open_engine(config.database.url)
        floor = Floor([f"{base}/{court}" for court in plan], folder)
        cases = config.cases
        print(f"{len(cases)} cases, {len(plan)} court feeds, {args.items} items per case "
              f"({len(cases) * args.items} entries at baseline); python {sys.version.split()[0]}, "
              f"{os.cpu_count()} cores")
        print(f"{'cycle':<10} {'docketwatch wall/CPU':>21} {'floor wall/CPU':>15} {'CPU ratio':>9}  requests")
        per_cycle = max(1, len(plan) // 100)
        runs = [("baseline", 0)] + [(cycle, n) for cycle in ("changed", "unchanged") for n in range(args.repeat)]
        best: dict[str, tuple[Figures, Figures]] = {}
        for cycle, n in runs:
            if cycle == "changed":  # another 1% of the feeds each time
                for i in range(n * per_cycle, (n + 1) * per_cycle):
                    court = list(plan)[i % len(plan)]
                    urllib.request.urlopen(urllib.request.Request(f"{base}/_bump/{court}", method="POST")).close()
            http = HttpClient(config.http)
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            ours, results = timed(lambda http=http: poll.check(config, engine, cases, http=http))  # type: ignore[misc]
            if profiler:
                profiler.disable()
                args.profile.mkdir(parents=True, exist_ok=True)
                profiler.dump_stats(args.profile / f"{cycle}.prof")
            answers = stats()
            errors = sum(1 for r in results if r.errors)  # type: ignore[attr-defined]
            base_figures, _ = timed(floor.cycle)
            floor_answers = stats()
            if cycle in best:  # the least of the repetitions: what the machine's other work did not add
                ours = min(ours, best[cycle][0], key=lambda f: f.cpu)
                base_figures = min(base_figures, best[cycle][1], key=lambda f: f.cpu)
            best[cycle] = ours, base_figures
            if http.requests != len(plan) or answers != floor_answers:
                failed = True
                print(f"  {cycle}: not one conditional request per feed, or not the floor's answers")
            if errors:  # a failed case is not a fast one: the figures of this cycle do not count
                failed = True
                first = next(r for r in results if r.errors)  # type: ignore[attr-defined]
                print(f"  {errors} cases failed, the first with: {first.errors[0]}")  # type: ignore[attr-defined]
            if n < args.repeat - 1 and cycle != "baseline":
                continue
            ratio = ours.cpu / base_figures.cpu if base_figures.cpu else float("inf")
            print(f"{cycle:<10} {ours.wall:9.2f} s {ours.cpu:7.2f} s {base_figures.wall:6.2f} s "
                  f"{base_figures.cpu:6.2f} s {ratio:8.1f}x  {http.requests} ({answers}; floor {floor_answers})"
                  f"{f'; {errors} cases failed' if errors else ''}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory (max RSS of the process): {peak:.0f} MB")
    server.terminate()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
