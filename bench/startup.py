"""Startup: `docketwatch --help` and `status` against `python -c pass`, new processes each.

    python bench/startup.py [--runs 7] [--entries 200]

`status` runs on the bundled watchlist (22 cases) with a SQLite file already at HEAD
holding, per case, `--entries` entries and a week of check runs (written through the
store, not timed). Also timed: `import sqlmodel` alone, the database layer status cannot
do without. Printed: the median wall seconds of each and its excess over the floor.
For where the time goes: python -X importtime -m docketwatch status 2>imports.txt
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

from sqlmodel import Session  # noqa: E402

from docketwatch import bootstrap, store  # noqa: E402
from docketwatch.store.models import Case, CheckRun, Entry, utcnow  # noqa: E402


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
                                  date_filed=date(2024, 1, 1) + timedelta(days=n), sources="courtlistener",
                                  description=f"ORDER number {n}") for n in range(1, entries + 1))
            session.add_all(CheckRun(case_id=case.id, source="courtlistener", started_at=now - timedelta(hours=h),
                                     finished_at=now - timedelta(hours=h), ok=True, requests=1)
                            for h in range(24 * 7))
        session.commit()


def median_wall(argv: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs + 1):  # the first run warms the file cache
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--entries", type=int, default=200, help="entries per case (default 200)")
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
        print(f"{'':32} {'wall':>8} {'above floor':>12}")
        for name, wall in rows:
            print(f"{name:32} {wall * 1000:6.0f} ms {(wall - floor) * 1000:9.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
