"""Time docketwatch's PACER parsers, and juriscraper's on the same files when installed.

    python bench/parse.py            (from the repository root)

Measures the largest RSS feed (E.D.N.Y., 432 items -> 357 entries) and the largest
district docket report (D.N.J., 161 entries): median CPU time of repeated parses and
peak Python memory (tracemalloc, which does not see libxml2's own buffers). Then one
page of every kind and layout read (bankruptcy reports, N.D. Tex.'s numbers in the text,
the Ninth Circuit BAP, Veterans Claims, history reports, ACMS JSON). Then builds feeds of
up to 5,000 items, by repeating the E.D.N.Y. items under renumbered cases, to show that
time grows linearly with items.

Beside each figure, its floor measured in the same run: a bare parse of the same bytes
(lxml's XML or HTML parser, json.loads for ACMS), with no reading of entries, and the
ratio of the two.

juriscraper is a comparison only, never a dependency of docketwatch:
`pip install juriscraper` to include it. Its RSS parser is built once outside the
timed region (building it opens an HTTP client), which favours juriscraper.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import re
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lxml import etree, html  # noqa: E402

from docketwatch.parsers import parse  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "pacer"
RSS_FILE = "rss__nyed__nyed_1.xml"
DOCKET_FILE = "district_docket__njd__njd_509180.html"
LINEAR_SIZES = (432, 1000, 2500, 5000)
# One page per kind and layout: (file, juriscraper report class, court id it is given).
KIND_FILES = (
    ("district_docket__casb__casb.html", "DocketReport", "casb"),
    ("district_docket__insb__insb_1.html", "DocketReport", "insb"),
    ("district_docket__txnb__txnb_4.html", "DocketReport", "txnb"),
    ("other__cand__cand_317100.html", "DocketHistoryReport", "cand"),
    ("appellate_docket__ca6__ca6_1.html", "AppellateDocketReport", "ca6"),
    ("appellate_docket__bap9__bap9_15-1074.html", "AppellateDocketReport", "bap9"),
    ("appellate_docket__cavc__cavc_18-3815.html", "AppellateDocketReport", "cavc"),
    ("appellate_docket__ca9__ca9_22-21.acms_json", "ACMSDocketReport", "ca9"),
)

_ITEM = re.compile(rb"<item>.*?</item>", re.DOTALL)
_CASE_ID = re.compile(rb"DktRpt\.pl\?(\d+)")
_DOCKET_YEAR = re.compile(rb"(\d{1,2}):(\d\d)-([a-z]{1,4})-")


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    """Median CPU time of `runs` calls, after one warm-up call. CPU time of this process,
    not wall time: parsing is single-threaded CPU work, and on a shared machine the wall
    time mostly measures the other processes."""
    fn()
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def peak_bytes(fn: Callable[[], object]) -> int:
    """Peak memory allocated by Python during one call."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def juriscraper_parsers() -> dict[str, Callable[[bytes], Callable[[], object]]] | None:
    """Factories of juriscraper parse calls, or None when juriscraper is not installed."""
    try:
        # juriscraper prints a warning about its log directory on import.
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            from juriscraper.pacer import DocketReport, PacerRssFeed
    except ImportError:
        return None
    logging.disable(logging.CRITICAL)

    def rss(content: bytes) -> Callable[[], object]:
        feed = PacerRssFeed("nyed")
        text = content.decode("utf-8")

        def run() -> object:
            feed._clear_caches()
            feed._data = None
            feed._parse_text(text)
            return feed.data

        return run

    def docket(content: bytes) -> Callable[[], object]:
        text = content.decode("utf-8")

        def run() -> object:
            report = DocketReport("njd")
            report._parse_text(text)
            return report.data

        return run

    return {RSS_FILE: rss, DOCKET_FILE: docket}


def juriscraper_report(class_name: str, court: str, content: bytes) -> Callable[[], object] | None:
    """A juriscraper parse call of one page, or None when juriscraper is not installed."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            from juriscraper import pacer
    except ImportError:
        return None
    logging.disable(logging.CRITICAL)
    report_class = getattr(pacer, class_name)
    text = content.decode("utf-8", errors="replace")

    def run() -> object:
        report = report_class(court)
        report._parse_text(text)  # ACMS: the JSON text, as juriscraper's own tests feed it
        return report.data

    return run


def renumbered(item: bytes, copy: int) -> bytes:
    """The item moved to another case: new PACER case id, docket year shifted by `copy`."""
    item = _CASE_ID.sub(lambda m: b"DktRpt.pl?%d" % (int(m[1]) + copy * 1_000_000), item)
    return _DOCKET_YEAR.sub(lambda m: b"%s:%02d-%s-" % (m[1], (int(m[2]) + copy) % 100, m[3]), item)


def enlarged_feed(content: bytes, n_items: int) -> bytes:
    """The feed with its items repeated until there are `n_items`, each repetition under
    new case numbers, so that repeated items stay distinct filings."""
    items = _ITEM.findall(content)
    head = content[: content.index(items[0])]
    tail = content[content.rindex(items[-1]) + len(items[-1]) :]
    out = [renumbered(items[i % len(items)], i // len(items)) for i in range(n_items)]
    return head + b"\n".join(out) + tail


def bare_parse(content: bytes) -> object:
    """The floor: the bytes parsed into a tree (or JSON), nothing read from it."""
    head = content.lstrip()[:200]
    if head.startswith((b"{", b"[")):
        return json.loads(content)
    if head.startswith(b"<?xml") or b"<rss" in head:
        return etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    return html.document_fromstring(content)


def entry_count(content: bytes) -> int:
    return sum(len(d.entries) for d in parse(content).dockets)


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def fmt_mb(n_bytes: int) -> str:
    return f"{n_bytes / 1_048_576:.1f} MB"


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--runs", type=int, default=50, help="timed runs per docketwatch measurement")
    args.add_argument("--jruns", type=int, default=10, help="timed runs per juriscraper measurement")
    options = args.parse_args()
    juriscraper = juriscraper_parsers()

    print("Parsing the largest fixtures (median of repeated runs; peak memory by tracemalloc)\n")
    header = (f"| {'file':40} | entries | docketwatch | peak mem |    floor | ratio "
              "| juriscraper | peak mem | speed-up |")
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for name in (RSS_FILE, DOCKET_FILE):
        content = (FIXTURES / name).read_bytes()
        ours = median_seconds(partial(parse, content), options.runs)
        our_peak = peak_bytes(partial(parse, content))
        base = median_seconds(partial(bare_parse, content), options.runs)
        theirs = their_peak = None
        if juriscraper is not None:
            run = juriscraper[name](content)
            theirs = median_seconds(run, options.jruns)
            their_peak = peak_bytes(run)
        print(
            f"| {name:40} | {entry_count(content):7} | {fmt_ms(ours):>11} | {fmt_mb(our_peak):>8} "
            f"| {fmt_ms(base):>8} | {ours / base:4.1f}x "
            f"| {fmt_ms(theirs) if theirs else 'n/a':>11} | {fmt_mb(their_peak) if their_peak else 'n/a':>8} "
            f"| {f'{theirs / ours:.0f}x' if theirs else 'n/a':>8} |"
        )
    if juriscraper is None:
        print("\n(juriscraper is not installed: `pip install juriscraper` to compare)")

    print("\nOne page of each kind and layout (median of repeated runs)\n")
    header = (f"| {'file':45} | {'kind, layout':48} | entries | docketwatch "
              "|    floor | ratio | juriscraper | speed-up |")
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for name, class_name, court in KIND_FILES:
        content = (FIXTURES / name).read_bytes()
        parsed = parse(content)
        label = f"{parsed.kind}, {parsed.layout}" if parsed.layout else parsed.kind
        ours = median_seconds(partial(parse, content), options.runs)
        base = median_seconds(partial(bare_parse, content), options.runs)
        run = juriscraper_report(class_name, court, content)
        theirs = median_seconds(run, options.jruns) if run else None
        print(
            f"| {name:45} | {label:48} | {entry_count(content):7} | {fmt_ms(ours):>11} "
            f"| {fmt_ms(base):>8} | {ours / base:4.1f}x "
            f"| {fmt_ms(theirs) if theirs else 'n/a':>11} | {f'{theirs / ours:.0f}x' if theirs else 'n/a':>8} |"
        )

    print(f"\nLinear time: {RSS_FILE} enlarged by repeating its items under new case numbers\n")
    header = "| items | entries | docketwatch | per item |    floor | ratio |"
    print(header)
    print("|-------|---------|-------------|----------|----------|-------|")
    feed = (FIXTURES / RSS_FILE).read_bytes()
    for size in LINEAR_SIZES:
        content = enlarged_feed(feed, size)
        runs = max(5, options.runs // 5)
        seconds = median_seconds(partial(parse, content), runs)
        base = median_seconds(partial(bare_parse, content), runs)
        print(f"| {size:5} | {entry_count(content):7} | {fmt_ms(seconds):>11} | {seconds / size * 1e6:5.1f} us "
              f"| {fmt_ms(base):>8} | {seconds / base:4.1f}x |")


if __name__ == "__main__":
    main()
