"""A big docket receiving a few new entries: the store step costs what is new, not what is stored.

    python bench/docket.py [--sizes 1000 10000 50000] [--new 10] [--runs 5]

For each size, a fresh SQLite file holds one case with that many entries (written
with one executemany, not timed). Then the diff engine stores a snapshot like a
CourtListener feed shows it, the latest 30 entries: `--new` of them new, the rest
already stored; and commits. Printed: the median time of that store step (a new case
each run, so every run stores new entries), the floor (one executemany of the new
rows into SQLite and a commit) and the ratio.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session  # noqa: E402

from docketwatch import store  # noqa: E402
from docketwatch.domain.snapshot import ParsedDocket, ParsedEntry, Snapshot  # noqa: E402
from docketwatch.pipeline import diff  # noqa: E402
from docketwatch.store.models import Case, Entry, utcnow  # noqa: E402

WINDOW = 30
START = date(2020, 1, 1)


def parsed(number: int) -> ParsedEntry:
    return ParsedEntry(entry_number=str(number), date_filed=START + timedelta(days=number // 20),
                       description=f"ORDER granting motion number {number} of the parties, in part")


def stored_row(case_id: int, number: int) -> dict[str, object]:
    entry = Entry(case_id=case_id, key=f"#{number}", entry_number=str(number), content_hash="",
                  date_filed=START + timedelta(days=number // 20), sources=["courtlistener"],
                  description=f"ORDER granting motion number {number} of the parties, in part")
    entry.content_hash = diff.content_hash(entry)
    return entry.model_dump(exclude={"id"})


def one_size(folder: Path, size: int, new: int, runs: int) -> tuple[float, float]:
    engine = store.open_engine(f"sqlite:///{folder / f'docket{size}.db'}")
    times = []
    for run in range(runs + 1):  # the first run warms up
        with Session(engine, expire_on_commit=False) as session:
            case = Case(court="cand", docket_number=f"3:23-cv-{run:05d}", name=f"Case {run}", baseline_at=utcnow())
            session.add(case)
            session.flush()
            assert case.id is not None
            session.execute(insert(Entry), [stored_row(case.id, n) for n in range(1, size + 1)])
            session.commit()
            shown = [parsed(n) for n in range(size + new - WINDOW + 1, size + new + 1)]
            snapshot = Snapshot(source="courtlistener", delta=True, docket=ParsedDocket(
                court="cand", docket_number=case.docket_number, entries=shown))
            began = time.perf_counter()
            result = diff.apply(session, case, snapshot)
            session.commit()
            elapsed = time.perf_counter() - began
            assert len(result.new) == new, (len(result.new), new)
            if run:
                times.append(elapsed)
    engine.dispose()
    floor_times = []
    with sqlite3.connect(folder / f"floor{size}.db") as db:
        db.execute("CREATE TABLE entry (case_id, key, entry_number, date_filed, description)")
        for run in range(runs):
            rows = [(run, f"#{n}", str(n), str(START), parsed(n).description) for n in range(size, size + new)]
            began = time.perf_counter()
            db.executemany("INSERT INTO entry VALUES (?, ?, ?, ?, ?)", rows)
            db.commit()
            floor_times.append(time.perf_counter() - began)
    return statistics.median(times), statistics.median(floor_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 50_000])
    parser.add_argument("--new", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"store step of a {WINDOW}-entry snapshot with {args.new} new entries (median of {args.runs})")
    print(f"{'stored':>8} {'docketwatch':>12} {'floor':>9} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as name:
        for size in args.sizes:
            ours, floor = one_size(Path(name), size, args.new, args.runs)
            print(f"{size:>8} {ours * 1000:9.1f} ms {floor * 1000:6.1f} ms {ours / floor:5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
