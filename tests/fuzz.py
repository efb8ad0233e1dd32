"""A seeded byte mutator for the parsers, shared by tests/test_fuzz.py and bench/fuzz.py.

Seeds are real files (tests/fixtures/pacer, and small cuts of real files in
tests/fixtures/fuzz). Each mutation applies one to four edits that damaged downloads and
hostile servers produce: a flipped byte, inserted or deleted bytes, a duplicated slice,
a truncation, a tag or bracket moved or repeated (deep nesting), a number or date made
absurd, a value of another type. The same seed always gives the same inputs, so a failure can be replayed.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from docketwatch import parsers
from docketwatch.sources.courtlistener import parse_feed

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS: dict[str, list[str]] = {
    "pacer_rss": ["pacer/rss__mdb__mdb_1.xml", "pacer/rss__wvsd__wvsd.xml", "pacer/rss__ca2__ca2_1.xml"],
    "docket_report": ["pacer/district_docket__cand__cand.html", "pacer/district_docket__cand__cand_4.html",
                      "pacer/district_docket__txnb__txnb_1.html", "pacer/district_docket__insb__insb_1.html"],
    "docket_history": ["fuzz/docket_history__cand.html"],
    "appellate_docket": ["fuzz/appellate_docket__ca1.html", "pacer/appellate_docket__bap9__bap9_15-1074.html",
                         "pacer/appellate_docket__cavc__cavc_18-3815.html"],
    "acms_json": ["fuzz/acms__ca9.acms_json"],
    "courtlistener_feed": ["fuzz/courtlistener_feed__kadrey.xml"],
}
KINDS = tuple(SEEDS)

_TAG = re.compile(rb"<[^<>]{0,200}>|\{|\}|\[|\]")
_DIGITS = re.compile(rb"\d+")
_QUOTED = re.compile(rb'"[^"\\]{0,200}"')
TOKENS = [
    b"<", b">", b"</", b"/>", b"&", b"&amp;", b"&#0;", b"&#x110000;", b"&bogus;", b"<![CDATA[", b"]]>",
    b"<!--", b"-->", b'"', b"'", b"\\", b"\x00", b"\xff\xfe", b"\xc3", b"\xe2\x80", b"{", b"}", b"[", b"]",
    b":", b",", b"null", b"true", b"1e999", b"-1", b"0", b"99999999999999999999", b"13/45/2020", b"00/00/0000",
    b"02/30/2021", b"9999-99-99", b"2021-02-30T25:61:00", b"Tue, 31 Feb 2018 99:99:99 XYZ", b"#:", b"Docket Text",
    b"Court of Appeals Docket #", b"<td>", b"</td>", b"<tr>", b"</tr>", b"<table>", b"</table>", b"<b>", b"</b>",
    b"</body>", b"</html>", b"<item>", b"</item>", b"<entry>", b"</entry>", b"\r\n", b"\t", b"\xc2\xa0",
]


def _flip(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data))
    return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]


def _insert(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data) + 1)
    chunk = rng.choice(TOKENS) if rng.random() < 0.7 else rng.randbytes(rng.randint(1, 16))
    return data[:i] + chunk + data[i:]


def _delete(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.randint(1, 64):]


def _duplicate(rng: random.Random, data: bytes) -> bytes:
    i = rng.randrange(len(data))
    chunk = data[i:i + rng.randint(1, 512)]
    j = rng.randrange(len(data) + 1)
    return data[:j] + chunk * rng.randint(1, 4) + data[j:]


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[:rng.randrange(len(data))]


def _splice_tag(rng: random.Random, data: bytes) -> bytes:
    """Move, repeat or drop a tag (or a JSON bracket): the first one after a random point."""
    m = _TAG.search(data, rng.randrange(len(data))) or _TAG.search(data)
    if m is None:
        return _insert(rng, data)
    action = rng.randrange(3)
    if action == 0:  # drop it
        return data[:m.start()] + data[m.end():]
    j = rng.randrange(len(data) + 1)
    if action == 1:  # copy it elsewhere
        return data[:j] + m[0] + data[j:]
    return data[:j] + m[0] * rng.randint(2, 50) + data[j:]  # repeat it


def _nest(rng: random.Random, data: bytes) -> bytes:
    """Deep nesting, which recursive readers do not survive (Python's limit is 1,000 frames)."""
    i = rng.randrange(len(data) + 1)
    opener = rng.choice([b"[", b'{"a":', b"<div>", b"<table><tr><td>", b"<b>"])
    return data[:i] + opener * rng.choice([300, 3000, 30_000]) + data[i:]


def _number(rng: random.Random, data: bytes) -> bytes:
    """A run of digits (the first after a random point) replaced by an absurd number."""
    m = _DIGITS.search(data, rng.randrange(len(data))) or _DIGITS.search(data)
    if m is None:
        return _insert(rng, data)
    return data[:m.start()] + rng.choice([b"0", b"00", b"99", b"9" * 30, b"-1", b"1e999"]) + data[m.end():]


def _retype(rng: random.Random, data: bytes) -> bytes:
    """A quoted value (a JSON string, an attribute) replaced by another type or an odd string."""
    m = _QUOTED.search(data, rng.randrange(len(data))) or _QUOTED.search(data)
    if m is None:
        return _insert(rng, data)
    value = rng.choice([b"5", b"-1.5e308", b"[]", b"[1, 2]", b"{}", b'{"a": 1}', b"null", b"true",
                        b'"\\u0000"', b'"\\ud800"', b'""', b'"  "'])
    return data[:m.start()] + value + data[m.end():]


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    _flip, _flip, _insert, _insert, _delete, _duplicate, _truncate, _splice_tag, _splice_tag, _nest, _number,
    _retype,
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        if not data:
            break
        data = rng.choice(MUTATIONS)(rng, data)
    return data


def seeds(kind: str) -> list[bytes]:
    return [(FIXTURES / name).read_bytes() for name in SEEDS[kind]]


def reader(kind: str) -> Callable[[bytes], object]:
    if kind == "courtlistener_feed":
        return lambda content: parse_feed(content, "cand", 67569326)
    return parsers.parse


def expected_error(kind: str) -> type[Exception]:
    """What a reader may raise for bad input: ParseError, which `docketwatch parse` and
    the import report; ValueError from the feed parser, which the source reports."""
    return ValueError if kind == "courtlistener_feed" else parsers.ParseError


@dataclass
class Result:
    kind: str
    count: int = 0
    parsed: int = 0
    refused: int = 0
    slowest: float = 0.0
    slowest_input: bytes = b""
    failures: list[tuple[bytes, Exception]] = field(default_factory=list)


def inputs(kind: str, count: int, seed: int) -> Iterator[bytes]:
    rng = random.Random(f"{kind}:{seed}")
    originals = seeds(kind)
    for i in range(count):
        yield mutate(rng, originals[i % len(originals)])


def run(kind: str, count: int, seed: int = 0) -> Result:
    """Parse `count` mutations; record outcomes, the slowest time, and unexpected exceptions."""
    read, allowed = reader(kind), expected_error(kind)
    result = Result(kind)
    for data in inputs(kind, count, seed):
        began = time.perf_counter()
        try:
            read(data)
            result.parsed += 1
        except allowed:
            result.refused += 1
        except Exception as e:  # any other exception is the bug being hunted
            result.failures.append((data, e))
        elapsed = time.perf_counter() - began
        if elapsed > result.slowest:
            result.slowest, result.slowest_input = elapsed, data
        result.count += 1
    return result
