"""Backfill from saved PACER files: a docket report holds a case's whole history.

Imported entries go through the same diff engine as polled ones (same identity, same
merging), as a backfill: stored without "new" events, since years of history are not
news. Nothing is stored unless the file names the case it is imported into.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from docketwatch import parsers, store
from docketwatch.domain import docket_numbers
from docketwatch.domain.snapshot import ParsedDocket, Snapshot
from docketwatch.files import read_page
from docketwatch.http import HttpClient, HttpError, describe_status
from docketwatch.pipeline import diff
from docketwatch.settings import CaseConfig, Config, ConfigError


@dataclass
class ImportResult:
    case: CaseConfig
    kind: str
    entries: int
    added: int
    updated: int


def read(location: str, config: Config) -> bytes:
    """A file's bytes, or a URL's (fetched politely)."""
    if location.startswith(("http://", "https://")):
        response = HttpClient(config.http).get(location)
        if response.status_code != 200:
            raise HttpError(f"{location}: {describe_status(response)}", response.status_code)
        return response.content
    return read_page(Path(location))


def import_report(config: Config, engine: Engine, content: bytes, *, case: str | None = None,
                  court: str | None = None) -> list[ImportResult]:
    """Store the entries of every docket in `content` that belongs to a configured case."""
    chosen = _one_case(config, case) if case else None
    parsed = parsers.parse(content, court or (chosen.court if chosen else None))
    pairs = _match(config, parsed, chosen)
    results = []
    with Session(engine) as session:
        for target, docket in pairs:
            row = store.case_row(session, target, config.pinned_ids(target))
            snapshot = Snapshot(source=parsed.kind, docket=docket, delta=True)
            change = diff.apply(session, row, snapshot, backfill=True)
            session.commit()
            results.append(ImportResult(target, parsed.kind, len(docket.entries), change.added, change.updated))
    return results


def _one_case(config: Config, fragment: str) -> CaseConfig:
    found = config.select([fragment])
    if len(found) > 1:
        names = ", ".join(c.name for c in found)
        raise ConfigError(f"--case {fragment!r} matches several cases ({names}); be more specific")
    return found[0]


def _match(config: Config, parsed: parsers.ParsedFile,
           chosen: CaseConfig | None) -> list[tuple[CaseConfig, ParsedDocket]]:
    if not parsed.dockets:
        raise ValueError(f"the {parsed.kind} holds no docket")
    if chosen:
        same = [d for d in parsed.dockets if docket_numbers.try_normalize(d.docket_number) == chosen.docket_number]
        # One docket in the file: the diff engine refuses it if its number is another case's.
        return [(chosen, same[0] if same else parsed.dockets[0])] if same or len(parsed.dockets) == 1 else []
    pairs = []
    for docket in parsed.dockets:
        number = docket_numbers.try_normalize(docket.docket_number)
        target = next((c for c in config.cases if c.docket_number == number
                       and (parsed.court is None or c.court == parsed.court)), None)
        if target:
            pairs.append((target, docket))
    if not pairs:
        numbers = ", ".join(sorted({d.docket_number for d in parsed.dockets})[:5])
        raise ConfigError(
            f"no configured case matches {numbers} (court {parsed.court or 'unknown'}); "
            "add the case to the configuration or name it with --case"
        )
    return pairs
