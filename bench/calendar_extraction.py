"""Time the calendar grammar on the hand-labelled docket texts, against its floor.

    python bench/calendar_extraction.py      (from the repository root)

Reads every text of tests/fixtures/calendar/labelled.json (325 real docket texts) with
docketwatch.domain.calendar.mentions, repeatedly, and prints the median time per text
and per pass, and the dates found. The floor: one pass of a single compiled regular
expression finding the date-shaped strings (month-name and numeric dates) in the same
texts, with no reading of what each date is for. Target: under 1 ms a text (the
grammar reads every new entry of a poll).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from docketwatch.domain.calendar import mentions

TEXTS = Path(__file__).parent.parent / "tests" / "fixtures" / "calendar" / "labelled.json"
TARGET_SECONDS_A_TEXT = 0.001
DATE_SHAPED = re.compile(
    r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.? \d{1,2}, \d{4}\b"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b")


def floor(text: str) -> list[str]:
    return DATE_SHAPED.findall(text)


def median_pass(read: Callable[[str], object], texts: list[str], repeats: int) -> float:
    passes = []
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            read(text)
        passes.append(time.perf_counter() - start)
    return statistics.median(passes)


def main(repeats: int = 20) -> None:
    texts = [row["text"] for row in json.loads(TEXTS.read_text())["texts"]]
    found = sum(len(mentions(t)) for t in texts)
    shaped = sum(len(floor(t)) for t in texts)
    median = median_pass(mentions, texts, repeats)
    base = median_pass(floor, texts, repeats)
    chars = sum(len(t) for t in texts)
    print(f"{len(texts)} texts ({chars:,} characters), {found} dates found ({shaped} date-shaped strings)")
    print(f"median pass {median * 1000:.1f} ms: {median / len(texts) * 1e6:.0f} µs a text, "
          f"{chars / median / 1e6:.2f} M characters a second; floor {base / len(texts) * 1e6:.1f} µs a text; "
          f"ratio {median / base:.0f}x; target < {TARGET_SECONDS_A_TEXT * 1e6:.0f} µs a text")


if __name__ == "__main__":
    main()
