"""Agreement of docketwatch's PACER parsers with juriscraper's parse of the same files,
shared by tests/test_parsers.py (the fixtures here) and bench/agreement.py (any folder of
input / *.expected.json pairs with a MANIFEST.tsv, such as ../shared/fixtures/pacer).

juriscraper's output is an oracle, not ground truth: where docketwatch is right and
juriscraper is wrong, the case is listed in ORACLE_EXCEPTIONS with the reason. A page
juriscraper reads as `{}` (not a docket, e.g. PACER's "Invalid date_from" page) agrees
when docketwatch refuses it too.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

from docketwatch.domain.docket_numbers import try_normalize
from docketwatch.parsers import ParsedFile, ParseError, parse

FIXTURES = Path(__file__).parent / "fixtures" / "pacer"
FIELDS = ("docket_number", "entry_number", "date_filed", "date_entered", "description")

# Rows where docketwatch is right and juriscraper is wrong, keyed by
# (input file, docket number as written, entry number), with the reason.
ORACLE_EXCEPTIONS: dict[tuple[str, str, str | None], str] = {
    ("rss__wvsd__wvsd.xml", "5:18-~gr-00001", "2"): (
        "juriscraper drops RSS items whose title holds no docket number it recognises; "
        "the court mistyped this one ('~gr'). The item is still a real filing (document 2 "
        "in PACER case 223879), so docketwatch keeps it, docket number as written, "
        "rather than lose a filing silently."
    ),
}

# MANIFEST.tsv kinds -> docketwatch kinds (ACMS files are told apart by extension).
MANIFEST_KINDS = {
    "rss": "pacer_rss",
    "district_docket": "docket_report",
    "other": "docket_history",
    "appellate_docket": "appellate_docket",
}


def manifest_inputs(folder: Path = FIXTURES) -> list[tuple[str, str]]:
    """(input file, docketwatch kind) for every input listed in MANIFEST.tsv."""
    lines = (folder / "MANIFEST.tsv").read_text().splitlines()[1:]
    inputs = []
    for line in lines:
        name, _path, _court, kind, *_ = line.split("\t")
        if ".expected." not in name:
            inputs.append((name, "acms_json" if name.endswith(".acms_json") else MANIFEST_KINDS[kind]))
    return inputs


def read(name: str, folder: Path = FIXTURES) -> bytes:
    return (folder / name).read_bytes()


def expected_for(name: str, folder: Path = FIXTURES) -> dict | list:
    return json.loads(read(name.rsplit(".", 1)[0] + ".expected.json", folder))


def normalize_text(text: str | None) -> str:
    """Whitespace-normalized (and, as CourtListener stores it, no space before commas)."""
    return " ".join((text or "").split()).replace(" ,", ",")


@dataclass(frozen=True)
class Row:
    """One entry, reduced to the fields compared."""

    docket_written: str
    docket_number: str  # normalized where possible
    entry_number: str | None
    date_filed: str
    date_entered: str
    description: str

    @classmethod
    def make(cls, docket: str, number: object, filed: str, entered: str, description: str | None) -> Row:
        return cls(
            docket,
            try_normalize(docket) or docket.strip(),
            None if number is None else str(number),
            filed,
            entered,
            normalize_text(description),
        )


def expected_rows(expected: dict | list, kind: str) -> list[Row]:
    """juriscraper's entries. RSS output is one docket dict per (merged) item."""
    rows = []
    for docket in expected if isinstance(expected, list) else [expected] if expected else []:
        for e in docket["docket_entries"]:
            text = e.get("short_description") if kind == "pacer_rss" else e.get("description")
            # RSS dates are datetimes with the feed's offset: their date part is the date.
            # juriscraper's RSS "date_filed" is the date entered; ACMS dates entered have a time.
            filed = (e["date_filed"] or "")[:10]
            entered = filed if kind == "pacer_rss" else (e.get("date_entered") or "")[:10]
            rows.append(Row.make(docket["docket_number"], e["document_number"], filed, entered, text))
    return rows


def docketwatch_rows(parsed: ParsedFile) -> list[Row]:
    rows = []
    for docket in parsed.dockets:
        for e in docket.entries:
            text = e.short_description if parsed.kind == "pacer_rss" else e.description
            # A feed gives the date entered only (docketwatch keeps date_filed None for it);
            # juriscraper calls it "date_filed".
            day = e.date_entered if parsed.kind == "pacer_rss" else e.date_filed
            filed = day.isoformat() if day else ""
            entered = e.date_entered.isoformat() if e.date_entered else ""
            rows.append(Row.make(docket.docket_number, e.entry_number, filed, entered, text))
    return rows


def align(expected: list[Row], ours: list[Row], kind: str) -> list[tuple[Row | None, Row | None]]:
    """Pair each expected entry with docketwatch's, tolerating missing and extra ones.

    Docket pages list entries in page order on both sides. RSS output is grouped
    differently (juriscraper: one dict per filing; docketwatch: one docket per case),
    so both are sorted first.
    """
    if kind == "pacer_rss":
        order = lambda r: (r.docket_number, r.date_filed, r.entry_number or "", r.description)  # noqa: E731
        expected, ours = sorted(expected, key=order), sorted(ours, key=order)
        key = lambda r: (r.docket_number, r.date_filed, r.entry_number)  # noqa: E731
    else:
        key = lambda r: (r.date_filed, r.entry_number)  # noqa: E731
    matcher = SequenceMatcher(None, [key(r) for r in expected], [key(r) for r in ours], autojunk=False)
    pairs: list[tuple[Row | None, Row | None]] = []
    for _tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            pairs.append((expected[i1 + k] if i1 + k < i2 else None, ours[j1 + k] if j1 + k < j2 else None))
    return pairs


@dataclass
class Tally:
    """Counts for one file or kind: rows compared, and how many agree per field."""

    entries: int = 0
    documented: int = 0
    agreeing: int = 0
    fields: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))

    def add(self, other: Tally) -> None:
        self.entries += other.entries
        self.documented += other.documented
        self.agreeing += other.agreeing
        for f in FIELDS:
            self.fields[f] += other.fields[f]

    @property
    def compared(self) -> int:
        return self.entries - self.documented

    def share(self, count: int) -> float:
        return count / self.compared if self.compared else 1.0


Disagreement = tuple[str, Row | None, Row | None]


def tally_file(
    name: str,
    used_exceptions: set[tuple[str, str, str | None]],
    disagreements: list[Disagreement],
    refusals: list[tuple[str, str]],
    folder: Path = FIXTURES,
    strict: bool = True,
) -> tuple[str, Tally]:
    """Compare one file; return its label (kind, layout) and counts. Undocumented
    disagreements, documented exceptions used and refusals are recorded in the lists.

    A file docketwatch refuses agrees only when juriscraper found no docket in it; with
    `strict` any other refusal raises, else it counts as every expected entry missed.
    """
    expected = expected_for(name, folder)
    try:
        parsed = parse(read(name, folder))
    except ParseError as error:
        kind = dict(manifest_inputs(folder))[name]
        if not expected:
            return f"{kind}, refused: not a docket", Tally()
        if strict:
            raise
        refusals.append((name, str(error)))
        return f"{kind}, refused", Tally(entries=len(expected_rows(expected, kind)))
    tally = Tally()
    for exp, ours in align(expected_rows(expected, parsed.kind), docketwatch_rows(parsed), parsed.kind):
        tally.entries += 1
        same = {f: exp is not None and ours is not None and getattr(exp, f) == getattr(ours, f) for f in FIELDS}
        row = ours or exp
        exception = (name, row.docket_written, row.entry_number)
        if not all(same.values()) and exception in ORACLE_EXCEPTIONS:
            tally.documented += 1
            used_exceptions.add(exception)
            continue
        tally.agreeing += all(same.values())
        if not all(same.values()):
            disagreements.append((name, exp, ours))
        for f in FIELDS:
            tally.fields[f] += same[f]
    label = f"{parsed.kind}, {parsed.layout}" if parsed.layout else parsed.kind
    return label + (", no entries" if not any(d.entries for d in parsed.dockets) else ""), tally


def table_line(label: str, kind: str, t: Tally) -> str:
    percents = " | ".join(f"{100 * t.share(t.fields[f]):.1f}%" for f in FIELDS)
    return f"| {label} | {kind} | {t.entries} | {t.documented} | {100 * t.share(t.agreeing):.1f}% | {percents} |"


@dataclass
class Agreement:
    """The Markdown table (per file, per kind and layout, over all) and what it rests on."""

    lines: list[str]
    by_kind: dict[str, Tally]
    used_exceptions: set[tuple[str, str, str | None]]
    disagreements: list[Disagreement]
    refusals: list[tuple[str, str]]


def agreement_table(folder: Path = FIXTURES, strict: bool = True) -> Agreement:
    """Compare every input listed in `folder`'s MANIFEST.tsv."""
    used: set[tuple[str, str, str | None]] = set()
    disagreements: list[Disagreement] = []
    refusals: list[tuple[str, str]] = []
    by_kind: dict[str, Tally] = defaultdict(Tally)
    lines = [
        "| file | kind (layout) | entries | documented oracle errors | all fields agree "
        "| docket # | entry # | date filed | date entered | description |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, _kind in manifest_inputs(folder):
        kind, tally = tally_file(name, used, disagreements, refusals, folder, strict)
        by_kind[kind].add(tally)
        lines.append(table_line(name, kind, tally))
    total = Tally()
    lines.append("| | | | | | | | | | |")
    for kind in sorted(by_kind):
        lines.append(table_line("**all files**", f"**{kind}**", by_kind[kind]))
        total.add(by_kind[kind])
    lines.append(table_line("**all files**", "**all kinds**", total))
    return Agreement(lines, by_kind, used, disagreements, refusals)
