"""Fuzzing the parsers: seeded mutations of real files per kind, each refused with
ParseError (ValueError for the CourtListener feed) or parsed, none taking 5 s or more (a
hang guard on a busy machine; bench/fuzz.py holds each input to under a second).
Entity tricks (billion laughs, external entities by file:// and http://127.0.0.1) stay
refused: nothing is expanded, read or requested.

`pytest tests/test_fuzz.py -s` prints the figures. The suite runs 3,000 mutations per kind;
the two parser paths only more mutations reached are pinned below (an unclosed comment,
a control character in a CourtListener summary), so coverage is the same as with 20,000.
`DOCKETWATCH_FULL_SOAKS=1 pytest tests/test_fuzz.py -s` runs 20,000, and
`python bench/fuzz.py --count N` runs more.
"""

from __future__ import annotations

import json
import re
import time
import traceback
from pathlib import Path

import pytest

from docketwatch import parsers
from tests import fuzz
from tests.conftest import run_cli, soak_size

MUTATIONS_PER_KIND = soak_size(3_000, 20_000)
# A hang guard, not a speed target (bench/fuzz.py prints the figures): a parse that takes
# seconds is a runaway, even on a machine busy with other work.
MAX_SECONDS = 5.0


@pytest.mark.parametrize("kind", fuzz.KINDS)
def test_mutated_files_are_parsed_or_refused_quickly(kind):
    began = time.perf_counter()
    result = fuzz.run(kind, MUTATIONS_PER_KIND, seed=0)
    print(f"\nfuzz {kind}: {result.count} mutations, {result.parsed} parsed, {result.refused} refused, "
          f"{len(result.failures)} other exceptions, slowest {result.slowest * 1000:.1f} ms, "
          f"total {time.perf_counter() - began:.1f} s")
    assert result.count == MUTATIONS_PER_KIND
    assert result.parsed and result.refused  # the mutations reach past the first check, and break things
    failures = [f"{type(e).__name__}: {e}\n{''.join(traceback.format_tb(e.__traceback__)[-2:])}"
                for _, e in result.failures[:3]]
    assert not result.failures, f"{len(result.failures)} inputs raised something else:\n" + "\n".join(failures)
    assert result.slowest < MAX_SECONDS, f"an input took {result.slowest:.2f} s: {result.slowest_input[:300]!r}"


def test_the_mutator_is_seeded():
    assert list(fuzz.inputs("acms_json", 50, seed=1)) == list(fuzz.inputs("acms_json", 50, seed=1))
    assert list(fuzz.inputs("acms_json", 50, seed=1)) != list(fuzz.inputs("acms_json", 50, seed=2))


# ------------------------------------------------------- what the fuzzer found, pinned

def acms(change) -> bytes:
    data = json.loads(fuzz.seeds("acms_json")[0])
    change(data)
    return json.dumps(data).encode()


def set_entry(field: str, value):
    return lambda d: d["docketInfo"]["docketEntries"][0].__setitem__(field, value)


def set_case(field: str, value):
    return lambda d: d["caseDetails"].__setitem__(field, value)


SAVED_REPORT = fuzz.seeds("docket_report")[3]  # saved by a browser: it starts with a comment
APPELLATE = fuzz.seeds("appellate_docket")[0]
HISTORY = fuzz.seeds("docket_history")[0]
BAD_FILES = {
    "acms-nested-array": fuzz.seeds("acms_json")[0].replace(b"{", b'{"deep": ' + b"[" * 100_000 + b"]" * 100_000 + b",", 1),
    "acms-nested-object": b'{"caseDetails": 1, "docketInfo": ' + b'{"a": ' * 100_000 + b"}",
    "acms-text-number": acms(set_entry("docketEntryText", 5)),
    "acms-id-list": acms(set_entry("docketEntryId", [1])),
    "acms-number-object": acms(set_entry("entryNumber", {"a": 1})),
    "acms-case-number-object": acms(set_case("caseNumber", {"a": 1})),
    "acms-name-number": acms(set_case("name", 5)),
    "appellate-label-without-colon": APPELLATE.replace(b"Court of Appeals Docket #:", b"Court of Appeals Docket #"),
    "appellate-label-empty": APPELLATE.replace(b"Court of Appeals Docket #: </b>19-2244", b"Court of Appeals Docket #: </b>"),
    "history-empty-caption": re.sub(rb"<center><b>.*?</center>", b"<center><b> </b></center>", HISTORY, count=1, flags=re.S),
    # lxml reads it as one comment, an empty document
    "report-comment-never-closed": SAVED_REPORT.replace(b"-->", b"", 1),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_damaged_files_are_a_parse_error(name):
    content = BAD_FILES[name]
    assert parsers.detect_kind(content)  # still recognised: the damage is further in
    with pytest.raises(parsers.ParseError):
        parsers.parse(content)


@pytest.mark.parametrize("name", ["acms-nested-array", "appellate-label-without-colon", "history-empty-caption"])
def test_docketwatch_parse_says_one_line_and_exits_3(tmp_path, name):
    path = tmp_path / "saved.html"
    path.write_bytes(BAD_FILES[name])
    result = run_cli(None, "parse", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: ") and "Traceback" not in output


# ---------------------------------------------------------------- entity tricks

LAUGHS = "\n".join(
    [' <!ENTITY lol "lol">'] + [f' <!ENTITY lol{i} "{("&lol%s;" % (i - 1 or "")) * 10}">' for i in range(1, 10)]
)


def hostile(kind: str, doctype: str, reference: str) -> bytes:
    """A real seed of `kind` with a DOCTYPE and an entity reference in its text. Fails
    the test when the reference did not make it in (a seed whose markup the insertion
    misses would test nothing)."""
    data = fuzz.seeds(kind)[0]
    if kind == "pacer_rss":
        data = data.replace(b"<rss", f"<!DOCTYPE rss [\n{doctype}\n]>\n<rss".encode(), 1)
        data = re.sub(rb"(<item>.*?<description>[^[<]*\[)", rb"\1" + reference.encode() + b" ", data, count=1,
                      flags=re.S)
    elif kind == "courtlistener_feed":
        data = data.replace(b"<feed", f"<!DOCTYPE feed [\n{doctype}\n]>\n<feed".encode(), 1)
        data = data.replace(b'<summary type="html">', f'<summary type="html">{reference} '.encode(), 1)
    else:  # HTML reports: <body> may carry attributes (docket reports: <body bgcolor=...>)
        data = f"<!DOCTYPE html [\n{doctype}\n]>\n".encode() + data
        data = re.sub(rb"(<body[^>]*>)", rb"\1<p>" + reference.encode() + b"</p>", data, count=1)
    after_doctype = data.split(b"]>", 1)[1]
    assert reference.encode() in after_doctype, f"{kind}: the entity reference {reference} was not inserted"
    return data


XML_KINDS = ["pacer_rss", "courtlistener_feed", "docket_report", "appellate_docket"]


def parsed_text(kind: str, content: bytes) -> str | None:
    """Everything the reader returned, as text; None when it refused the input."""
    try:
        return repr(fuzz.reader(kind)(content))
    except fuzz.expected_error(kind):
        return None


@pytest.mark.parametrize("kind", XML_KINDS)
def test_billion_laughs_is_not_expanded(kind):
    began = time.perf_counter()
    text = parsed_text(kind, hostile(kind, LAUGHS, "&lol9;"))
    assert time.perf_counter() - began < MAX_SECONDS
    assert text is None or "lollollol" not in text


@pytest.mark.parametrize("entity", ["file", "http", "parameter-entity-dtd"])
@pytest.mark.parametrize("kind", XML_KINDS)
def test_external_entities_read_no_file_and_make_no_request(kind, entity, tmp_path: Path, httpserver):
    marker = "MARKER-7d1c0f"
    local = tmp_path / "local.txt"
    local.write_text(marker)
    httpserver.expect_request("/xxe").respond_with_data(marker)
    httpserver.expect_request("/dtd").respond_with_data(f'<!ENTITY remote "{marker}">')
    doctype, reference = {
        "file": (f' <!ENTITY file SYSTEM "file://{local}">', "&file;"),
        "http": (f' <!ENTITY web SYSTEM "{httpserver.url_for("/xxe")}">', "&web;"),
        "parameter-entity-dtd": (f' <!ENTITY % dtd SYSTEM "{httpserver.url_for("/dtd")}"> %dtd;', "&remote;"),
    }[entity]
    text = parsed_text(kind, hostile(kind, doctype, reference))
    assert text is None or marker not in text
    assert httpserver.log == []  # nothing was requested
