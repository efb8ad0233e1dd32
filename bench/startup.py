"""Startup: `docketwatch --help` and `status` against `python -c pass`, new processes each.

    python bench/startup.py [--runs 7] [--entries 200] [--large-cases 10000]

`status` runs on the bundled watchlist (22 cases) with a SQLite file already at HEAD
holding, per case, `--entries` entries and a week of check runs (written through the
store, not timed). Also timed: `import sqlmodel` alone, the database layer status cannot
do without. Printed: the median wall seconds of each and its excess over the floor.
For where the time goes: python -X importtime -m docketwatch status 2>imports.txt

Then `status` at scale (`--large-cases`, 0 to skip), of all cases, of one, and `--health`
(no `run` is alive, so it answers "unhealthy"), against its own floor: importing sqlmodel
and reading the configuration's TOML (tomli, as docketwatch does), which `status` cannot do without. The
database holds that many cases over 200 court RSS feeds and one digest subscription to
every case, as a year of polls leaves it once retention has run. Retention keeps, per case and source, the latest
`health.RUNS_READ` check runs (and the latest success and failure) whatever
`[retention] check_run_days` says, so the file holds what `check_run_days = 2` keeps of hourly polls: 50
hourly runs per case, the latest failed for one case in ten and an older failure for
one in five; 10 entries and 2 undelivered new-entry events per case (a week old at
most) and a gap event for one case in a hundred; each court feed's state; the
subscription's cases (as `record_subscriptions` keeps them). Written with Core inserts
(not timed). Also timed, in process: `record_subscriptions` with nothing new to record,
as every poll and every minute's outbox job call it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402
from sqlmodel import Session  # noqa: E402

from docketwatch import bootstrap, store  # noqa: E402
from docketwatch.domain.courts import court_ids  # noqa: E402
from docketwatch.ops.health import RUNS_READ  # noqa: E402
from docketwatch.pipeline import digests  # noqa: E402
from docketwatch.store.models import (  # noqa: E402
    Case,
    CheckRun,
    Entry,
    Event,
    SourceState,
    Subscription,
    SubscriptionCase,
    core_table,
    utcnow,
)


def fill(config_path: Path, entries: int) -> None:
    """Cases, entries and a week of hourly check runs, as a polled database holds them."""
    config = bootstrap.load(config_path)
    engine = store.open_engine(config.database.url)
    now = utcnow()
    with Session(engine) as session:
        for c in config.cases:
            case = Case(court=c.court, docket_number=c.docket_number, name=c.name, baseline_at=now)
            session.add(case)
            session.flush()
            assert case.id is not None
            session.add_all(Entry(case_id=case.id, key=f"#{n}", entry_number=str(n), content_hash=f"{n}",
                                  date_filed=date(2024, 1, 1) + timedelta(days=n), sources=["courtlistener"],
                                  description=f"ORDER number {n}") for n in range(1, entries + 1))
            session.add_all(CheckRun(case_id=case.id, source="courtlistener", started_at=now - timedelta(hours=h),
                                     finished_at=now - timedelta(hours=h), ok=True, requests=1)
                            for h in range(24 * 7))
        session.commit()


def large_config(folder: Path, cases: int, feeds: int = 200) -> Path:
    """`cases` cases over `feeds` district and bankruptcy courts, read from their RSS
    feeds, and one Markdown digest of every case."""
    courts = sorted(c for c in court_ids() if len(c) in (4, 5) and c[-1] in "db")[:feeds]
    lines = [f'[database]\nurl = "sqlite:///{folder / "large.db"}"\n',
             f'[[digests]]\nname = "archive"\nchannel = "markdown"\ndir = "{folder / "digests"}"\n']
    for n in range(cases):
        lines.append(f'[[cases]]\nname = "Plaintiff {n} v. Defendant {n}"\ncourt = "{courts[n % len(courts)]}"\n'
                     f'docket_number = "1:25-cv-{n:05d}"\nsources = ["pacer_rss"]\n')
    path = folder / "large.toml"
    path.write_text("\n".join(lines))
    return path


def fill_large(config_path: Path) -> None:
    """The database a year of hourly polls leaves once retention has run (see the module's doc)."""
    config = bootstrap.load(config_path)
    engine = store.open_engine(config.database.url)
    now = utcnow()
    with engine.begin() as db:
        db.execute(insert(core_table(Subscription)), [{"name": "archive", "first_seen": now - timedelta(days=30),
                                                        "cases_recorded": True}])
        db.execute(insert(core_table(SubscriptionCase)), [
            {"subscription": "archive", "court": c.court, "docket_number": c.docket_number, "joined_at": None}
            for c in config.cases])
        db.execute(insert(core_table(Case)), [
            {"court": c.court, "docket_number": c.docket_number, "name": c.name, "source_ids": {},
             "pacer_case_id": str(100000 + n), "baseline_at": now - timedelta(days=365)}
            for n, c in enumerate(config.cases)])
        ids = list(db.execute(select(core_table(Case).c.id).order_by(core_table(Case).c.id)).scalars())
        db.execute(insert(core_table(SourceState)), [
            {"source": "pacer_rss", "target": court, "data": {"etag": f'"{court}"', "entry_types": "all"}}
            for court in sorted({c.court for c in config.cases})])
        for first in range(0, len(ids), 1000):  # in slices: a few hundred MB at most
            chunk = ids[first:first + 1000]  # ids in the order of time, as polls write them
            db.execute(insert(core_table(Entry)), [
                {"case_id": i, "key": f"#{n}", "entry_number": str(n), "content_hash": f"{n}", "sources": ["pacer_rss"],
                 "date_entered": date(2025, 1, 1) + timedelta(days=n), "description": f"ORDER number {n}",
                 "first_seen": now - timedelta(days=10 - n), "updated_at": now - timedelta(days=10 - n)}
                for i in chunk for n in range(1, 11)])
            db.execute(insert(core_table(CheckRun)), [
                {"case_id": i, "source": "pacer_rss", "started_at": now - timedelta(days=200),
                 "finished_at": now - timedelta(days=200), "ok": False, "requests": 1, "quota_requests": 0,
                 "error": "HTTP 500"} for i in chunk if i % 5 == 0])
            db.execute(insert(core_table(CheckRun)), [
                {"case_id": i, "source": "pacer_rss", "started_at": now - timedelta(hours=h),
                 "finished_at": now - timedelta(hours=h), "ok": not (h == 0 and i % 10 == 0), "requests": 1,
                 "quota_requests": 0, "error": "HTTP 503" if h == 0 and i % 10 == 0 else None}
                for i in chunk for h in reversed(range(RUNS_READ))])
        entry_ids = dict(((case_id, key), entry_id) for entry_id, case_id, key in db.execute(
            select(core_table(Entry).c.id, core_table(Entry).c.case_id, core_table(Entry).c.key)))
        db.execute(insert(core_table(Event)), [
            {"case_id": i, "entry_id": entry_ids[(i, f"#{n}")], "kind": "new", "source": "pacer_rss",
             "summary": f"new entry #{n}", "created_at": now - timedelta(days=10 - n)}
            for i in ids for n in (9, 10)])
        db.execute(insert(core_table(Event)), [
            {"case_id": i, "kind": "gap", "source": "pacer_rss", "summary": "the feed was last read 30 hours ago",
             "created_at": now - timedelta(days=3)} for i in ids if i % 100 == 0])
    engine.dispose()


def record_time(config_path: Path, runs: int) -> float:
    """Median seconds of one `record_subscriptions` call that finds nothing new, in process."""
    config = bootstrap.load(config_path)
    engine = store.open_engine(config.database.url)
    digests.record_subscriptions(engine, config)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        digests.record_subscriptions(engine, config)
        times.append(time.perf_counter() - start)
    engine.dispose()
    return statistics.median(times)


def median_wall(argv: list[str], runs: int, env: dict[str, str], check: bool = True) -> float:
    times = []
    for _ in range(runs + 1):  # the first run warms the file cache
        start = time.perf_counter()
        quiet = subprocess.DEVNULL
        subprocess.run(argv, env=env, check=check, stdout=quiet, stderr=None if check else quiet)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--entries", type=int, default=200, help="entries per case (default 200)")
    parser.add_argument("--large-cases", type=int, default=10_000, help="cases for status at scale (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bundled = (ROOT / "config" / bootstrap.BUNDLED_CONFIG).read_text()
        config = folder / "dw.toml"
        config.write_text(f'{bundled}\n[database]\nurl = "sqlite:///{folder / "dw.db"}"\n')
        fill(config, args.entries)
        env = {k: v for k, v in os.environ.items() if k != "DOCKETWATCH_CONFIG"}
        py = [sys.executable]
        floor = median_wall([*py, "-c", "pass"], args.runs, env)
        rows = [
            ("python -c pass (floor)", floor),
            ("import sqlmodel", median_wall([*py, "-c", "import sqlmodel"], args.runs, env)),
            ("docketwatch --help", median_wall([*py, "-m", "docketwatch", "--help"], args.runs, env)),
            ("docketwatch status (22 cases)",
             median_wall([*py, "-m", "docketwatch", "--config", str(config), "status"], args.runs, env)),
        ]
        if args.large_cases:
            large = large_config(folder, args.large_cases)
            fill_large(large)
            status = [*py, "-m", "docketwatch", "--config", str(large), "status"]
            read = f"import sqlmodel, tomli; tomli.loads(open({str(large)!r}).read())"
            rows += [
                ("  import sqlmodel, read its TOML", median_wall([*py, "-c", read], min(args.runs, 3), env)),
                (f"docketwatch status ({args.large_cases:,} cases)", median_wall(status, min(args.runs, 3), env)),
                ("  status of one of them", median_wall([*status, "Plaintiff 0 v. Defendant 0"], args.runs, env)),
                ("  status --health", median_wall([*status, "--health"], args.runs, env, check=False)),
            ]
            rows.append((f"record_subscriptions ({args.large_cases:,})", floor + record_time(large, args.runs)))
        print(f"{'':32} {'wall':>8} {'above floor':>12}")
        for name, wall in rows:
            print(f"{name:32} {wall * 1000:6.0f} ms {(wall - floor) * 1000:9.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
