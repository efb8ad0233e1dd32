"""A digest of many events rendered as HTML, text and Markdown.

    python bench/digests.py [--events 1000] [--cases 50] [--runs 5]

Builds `--events` new-filing events across `--cases` cases (unsaved rows, as digests
read them from the database), then times `digests.build_model` plus `render.render`
in each format with the bundled configuration (median of `--runs`). The floor: the
same lines (number, date, text, link) written with f-strings, HTML-escaped for HTML.
"""

from __future__ import annotations

import argparse
import html
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from docketwatch import bootstrap  # noqa: E402
from docketwatch.domain.events import EventKind  # noqa: E402
from docketwatch.pipeline import digests, render  # noqa: E402
from docketwatch.store.models import Entry, Event, StoredCase, utcnow  # noqa: E402


def rows(events: int, cases: int) -> tuple[list[StoredCase], list[tuple[Event, Entry | None]]]:
    case_rows = [StoredCase(id=i + 1, court="cand", docket_number=f"3:23-cv-{i:05d}",
                            name=f"Plaintiff {i} v. Defendant {i}", source_ids={}) for i in range(cases)]
    items: list[tuple[Event, Entry | None]] = []
    for n in range(events):
        case_id = n % cases + 1
        entry = Entry(id=n + 1, case_id=case_id, key=f"#{n}", content_hash="", entry_number=str(n),
                      date_filed=date(2026, 1, 1) + timedelta(days=n % 300),
                      description=f"MOTION to Dismiss <b>{n}</b> & for sanctions filed by Defendant {case_id}",
                      url=f"https://ecf.cand.uscourts.gov/doc1/{n:012d}")
        items.append((Event(id=n + 1, case_id=case_id, entry_id=entry.id, kind=EventKind.NEW, source="courtlistener",
                            summary=f"new entry #{n}"), entry))
    return case_rows, items


def floor(items: list[tuple[Event, Entry | None]]) -> None:
    lines = [(e.entry_number, e.date_filed, e.description, e.url) for _, e in items if e is not None]
    "\n".join(f"#{n} {d} {t} {u}" for n, d, t, u in lines)
    "\n".join(f"- #{n} ({d}) {t} <{u}>" for n, d, t, u in lines)
    "\n".join(f'<li>#{n} {d} <a href="{html.escape(u or "")}">{html.escape(t)}</a></li>' for n, d, t, u in lines)


def median(fn: object, runs: int) -> float:
    assert callable(fn)
    fn()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    config = bootstrap.load(bootstrap.resolve_path(None))
    cases, items = rows(args.events, args.cases)
    now = utcnow()

    def ours() -> None:
        model = digests.build_model(config, "Bench", cases, items, now - timedelta(days=1), now, [])
        assert model.new_count == args.events
        for fmt in ("html", "txt", "md"):
            render.render(config, model, fmt)

    figure, base = median(ours, args.runs), median(lambda: floor(items), args.runs)
    print(f"{args.events} events in {args.cases} cases -> HTML, text and Markdown (median of {args.runs}): "
          f"{figure * 1000:.0f} ms; floor {base * 1000:.1f} ms; ratio {figure / base:.0f}x; target < 1000 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
