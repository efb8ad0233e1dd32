"""Growth: `status`, `plan`, a poll and a digest after 1,000 poll cycles, against the same after 50.

    python bench/growth.py [--cases 200] [--feeds 10] [--cycles 1000] [--window 10] [--interval 60]

What a long-running docketwatch accumulates must not slow it down: every read is
bounded (nothing loads a whole history to count it or to find the latest; what a
subscription is owed is read after the events settled two days ago, see
digests.settle), and retention removes old check runs (`[retention] check_run_days`, 7
by default), events and digests (`days`, 180). The cycles are `--interval` minutes
apart on the clock (time-machine moves it), 60 by default as on the default
`[schedule]`, so 1,000 cycles span 42 days, and retention prunes once a day, as a
service's `run` does; nothing is 180 days old, so events, entries and digests only
grow. Each cycle polls every case (`--cases` over `--feeds` court RSS feeds on a loopback server, one
conditional request per feed, each showing the latest `--window` filings of its cases
from the start), one feed gains a filing for each of its cases (round robin), and an
immediate Markdown digest of every case is stored and delivered. After
1,000 cycles that is a week of check runs per case (168; retention removed the 832
before) and one event, entry and digest per filing.

The events read for what is owed stop growing once two days have passed (48 cycles at
the default interval), so the first figures are taken after `--measure-at` (50)
cycles; after 10, `status` reads fewer events than any service that has run two days
(on 2026-11-23: 24.7 ms after 10, 31.7 ms after 1,000). Timed then and again after `--cycles`: a poll cycle (one
feed changed) and its digest, `status` and `plan` in process (the core functions the
CLI calls), each the median CPU time of 15 (CPU, not wall: a shared machine's other
work moves wall times of 30 ms by half), and `docketwatch status` and `docketwatch
plan` as new processes (wall, median of 3); and the process's resident memory (a
`run` polls and digests in one process for months).
Printed: both figures and their ratio; exit status 1 when a figure grew by more than
`--tolerance` (1.25x: these are medians of a shared machine's timings), or a cycle
failed.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import time_machine  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.cycle import config_text, courts, serve  # noqa: E402
from docketwatch import bootstrap, store  # noqa: E402
from docketwatch.http import HttpClient  # noqa: E402
from docketwatch.ops import plan, retention, status  # noqa: E402
from docketwatch.pipeline import outbox, poll  # noqa: E402
from docketwatch.settings import Config  # noqa: E402
from docketwatch.store.models import CheckRun, Digest, Entry, Event  # noqa: E402

RUNS = 15  # in process; each `docketwatch` command 3 times


def rss_mb() -> float:
    """The process's resident memory now (a long `run` must not grow either)."""
    return resource.getpagesize() * int(Path("/proc/self/statm").read_text().split()[1]) / 2**20


def median(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


class Watch:
    """The watchlist, its loopback feeds and its database, polled cycle after cycle."""

    def __init__(self, folder: Path, args: argparse.Namespace):
        per_feed = args.cases // args.feeds
        self.plan = {court: [i * per_feed, (i + 1) * per_feed] for i, court in enumerate(courts(args.feeds))}
        receiver, sender = multiprocessing.Pipe(duplex=False)
        self.server = multiprocessing.Process(
            target=serve, args=(sender, self.plan, args.window, args.window), daemon=True)
        self.server.start()
        self.base = f"http://127.0.0.1:{receiver.recv()}"
        self.path = folder / "dw.toml"
        self.path.write_text(
            config_text(folder, self.base, self.plan)
            + f'\n[[digests]]\nname = "all"\nchannel = "markdown"\ndir = "{folder / "digests"}"\ncases = ["*"]\n')
        self.config: Config = bootstrap.load(self.path)
        self.engine = store.open_engine(self.config.database.url)
        self.http = HttpClient(self.config.http)
        self.cycles = 0
        self.failures = 0

    def cycle(self) -> None:
        """One poll of every case after one feed gained a filing per case, then the digest."""
        self.poll()
        self.digest()

    def poll(self) -> None:
        court = list(self.plan)[self.cycles % len(self.plan)]
        urllib.request.urlopen(urllib.request.Request(f"{self.base}/_bump/{court}", method="POST")).close()
        results = poll.check(self.config, self.engine, self.config.cases, http=self.http)
        self.failures += sum(1 for r in results if r.errors)
        self.cycles += 1

    def digest(self) -> None:
        self.failures += 0 if outbox.run(self.config, self.engine, self.config.digests).ok else 1

    def counts(self) -> str:
        with Session(self.engine) as session:
            n = {model.__name__: session.exec(select(func.count()).select_from(model)).one()[0]  # type: ignore[call-overload]
                 for model in (CheckRun, Entry, Event, Digest)}
        return ", ".join(f"{v:,} {k}" for k, v in n.items())

    def cli(self, *args: str) -> float:
        env = {**os.environ, "DOCKETWATCH_CONFIG": str(self.path)}

        def once() -> None:
            subprocess.run([sys.executable, "-m", "docketwatch", *args], env=env, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return median(once, runs=3)

    def measure(self, profile: Path | None) -> dict[str, float]:
        """Each figure's median; with `profile`, a cProfile of one more run of each there."""
        def plan_report() -> None:
            with Session(self.engine) as session:
                plan.report(session, self.config)

        cycles: dict[str, list[float]] = {"poll (CPU)": [], "digest (CPU)": []}
        for _ in range(RUNS):  # each cycle's poll and its digest timed apart
            for key, step in (("poll (CPU)", self.poll), ("digest (CPU)", self.digest)):
                start = time.process_time()
                step()
                cycles[key].append(time.process_time() - start)
        figures = {key: statistics.median(times) for key, times in cycles.items()}
        timed: dict[str, Callable[[], object]] = {
            "poll (CPU)": self.poll, "digest (CPU)": self.digest,
            "status, in process": lambda: status.status(self.config, self.engine, self.config.cases),
            "plan, in process": plan_report,
        }
        figures |= {key: median(timed[key], time.process_time) for key in ("status, in process", "plan, in process")}
        if profile:
            profile.mkdir(parents=True, exist_ok=True)
            for key, fn in timed.items():
                name = key.split()[0].rstrip(",")
                cProfile.runctx("fn()", {}, {"fn": fn}, str(profile / f"{name}-{self.cycles}.prof"))
        figures["docketwatch status"] = self.cli("status")
        figures["docketwatch plan"] = self.cli("plan")
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--measure-at", type=int, default=50)
    parser.add_argument("--window", type=int, default=10, help="filings per case a feed shows (default 10)")
    parser.add_argument("--interval", type=float, default=60, help="minutes on the clock between cycles (default 60)")
    parser.add_argument("--tolerance", type=float, default=1.25)
    parser.add_argument("--profile", type=Path, help="write a cProfile of each figure at each point to this folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as name:
        watch = Watch(Path(name), args)
        print(f"{args.cases} cases over {args.feeds} court feeds; python {sys.version.split()[0]}, "
              f"{os.cpu_count()} cores")
        figures = []
        resident = []
        started = time.perf_counter()
        # Forward from now, so the `docketwatch` processes timed below, on the real clock, see no stale case.
        clock = time_machine.travel(datetime.datetime.now(datetime.UTC), tick=True)
        traveller = clock.start()
        day = datetime.datetime.now(datetime.UTC).date()
        for target in (args.measure_at, args.cycles):
            while watch.cycles < target:
                watch.cycle()
                traveller.shift(datetime.timedelta(minutes=args.interval))
                if (today := datetime.datetime.now(datetime.UTC).date()) != day:
                    retention.prune(watch.engine, watch.config)
                    day = today
                if watch.cycles % 100 == 0 and watch.cycles < target:
                    print(f"after {watch.cycles:,} cycles: {rss_mb():.0f} MB resident", flush=True)
            print(f"after {watch.cycles:,} cycles ({time.perf_counter() - started:.0f} s): {watch.counts()}; "
                  f"{rss_mb():.0f} MB resident")
            resident.append(rss_mb())
            figures.append(watch.measure(args.profile))
        clock.stop()
        watch.server.terminate()

    grew = False
    print(f"{'figure':<22} {f'after {args.measure_at:,}':>12} {f'after {args.cycles:,}':>12} {'ratio':>7}")
    for key, early in figures[0].items():
        late = figures[1][key]
        ratio = late / early if early else float("inf")
        grew |= ratio > args.tolerance
        print(f"{key:<22} {early * 1000:9.1f} ms {late * 1000:9.1f} ms {ratio:6.2f}x"
              f"{'  grew' if ratio > args.tolerance else ''}")
    ratio = resident[1] / resident[0]
    grew |= ratio > args.tolerance
    print(f"{'resident memory':<22} {resident[0]:9.0f} MB {resident[1]:9.0f} MB {ratio:6.2f}x"
          f"{'  grew' if ratio > args.tolerance else ''}")
    if watch.failures:
        print(f"{watch.failures} cases or digests failed")
    return 1 if grew or watch.failures else 0


if __name__ == "__main__":
    sys.exit(main())
