"""A court feed's minute entries meeting a big docket CourtListener stored first: pairing
each with its stored entry costs the days concerned, not the docket.

    python bench/minutes.py [--sizes 1000 10000 50000] [--shown 10] [--runs 5]

For each size, a fresh SQLite file holds one case with that many entries from
CourtListener, one in four a minute entry (written with one executemany, not timed).
Then the diff engine stores a court feed snapshot of `--shown` minute entries, each the
same words and day as a stored one (so each is paired and its key recorded as an alias),
and commits; and then the same snapshot again (each key now an alias: nothing to do).
Printed: the median time of each store step, by docket size. Flat figures mean the
pairing reads only the days the snapshot shows.
"""

from __future__ import annotations

import argparse
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

START = date(2020, 1, 1)
PER_DAY = 20


def stored_row(case_id: int, n: int) -> dict[str, object]:
    """Entry n from CourtListener: every fourth a minute entry ("Minute Entry n")."""
    minute = n % 4 == 0
    entry = Entry(case_id=case_id, key=f"courtlistener:{n}" if minute else f"#{n}",
                  entry_number=None if minute else str(n), content_hash="",
                  date_filed=START + timedelta(days=n // PER_DAY),
                  sources=["courtlistener"], description=f"ORDER number {n} of the court, in part",
                  short_description=f"Minute Entry {n}" if minute else None)
    entry.content_hash = diff.content_hash(entry)
    return entry.model_dump(exclude={"id"})


def feed_item(n: int) -> ParsedEntry:
    """The court feed's rendering of stored minute entry n: its short text and date entered."""
    return ParsedEntry(entry_number=None, date_filed=None, date_entered=START + timedelta(days=n // PER_DAY),
                       description=f"Minute Entry {n}", short_description=f"Minute Entry {n}")


def one_size(folder: Path, size: int, shown: int, runs: int) -> tuple[float, float]:
    engine = store.open_engine(f"sqlite:///{folder / f'minutes{size}.db'}")
    pairing, again = [], []
    for run in range(runs + 1):  # the first run warms up
        with Session(engine, expire_on_commit=False) as session:
            case = Case(court="cand", docket_number=f"3:23-cv-{run:05d}", name=f"Case {run}", baseline_at=utcnow())
            session.add(case)
            session.flush()
            assert case.id is not None
            session.execute(insert(Entry), [stored_row(case.id, n) for n in range(1, size + 1)])
            session.commit()
            latest = [n for n in range(size, 0, -1) if n % 4 == 0][:shown]
            snapshot = Snapshot(source="pacer_rss", delta=True, docket=ParsedDocket(
                court="cand", docket_number=case.docket_number, entries=[feed_item(n) for n in latest]))
            for times in (pairing, again):
                began = time.perf_counter()
                result = diff.apply(session, case, snapshot)
                session.commit()
                elapsed = time.perf_counter() - began
                assert result.new == [] and result.changed == [], "every feed item pairs with a stored entry"
                if run:
                    times.append(elapsed)
    engine.dispose()
    return statistics.median(pairing), statistics.median(again)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 50_000])
    parser.add_argument("--shown", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"store step of a court feed snapshot of {args.shown} minute entries stored by CourtListener "
          f"(median of {args.runs})")
    print(f"{'stored':>8} {'paired':>10} {'again':>10}")
    with tempfile.TemporaryDirectory() as name:
        for size in args.sizes:
            pairing, again = one_size(Path(name), size, args.shown, args.runs)
            print(f"{size:>8} {pairing * 1000:7.1f} ms {again * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
