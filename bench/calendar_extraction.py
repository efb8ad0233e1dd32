"""Time the calendar grammar on the hand-labelled docket texts.

    python bench/calendar_extraction.py      (from the repository root)

Reads every text of tests/fixtures/calendar/labelled.json (325 real docket texts) with
docketwatch.domain.calendar.mentions, repeatedly, and prints the median time per text
and per pass, and the dates found.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from docketwatch.domain.calendar import mentions

TEXTS = Path(__file__).parent.parent / "tests" / "fixtures" / "calendar" / "labelled.json"


def main(repeats: int = 20) -> None:
    texts = [row["text"] for row in json.loads(TEXTS.read_text())["texts"]]
    found = sum(len(mentions(t)) for t in texts)
    passes = []
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            mentions(text)
        passes.append(time.perf_counter() - start)
    median = statistics.median(passes)
    chars = sum(len(t) for t in texts)
    print(f"{len(texts)} texts ({chars:,} characters), {found} dates found")
    print(f"median pass {median * 1000:.1f} ms: {median / len(texts) * 1e6:.0f} µs a text, "
          f"{chars / median / 1e6:.2f} M characters a second")


if __name__ == "__main__":
    main()
