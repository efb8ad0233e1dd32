"""Backfill from saved PACER files: a docket report holds a case's whole history.

Imported entries go through the same diff engine as polled ones (same identity, same
merging), as a backfill: stored without "new" events, since years of history are not
news; but a filing the polls missed since the watch began (an outage) is reported as
new, and a report older than what is stored changes nothing known. Nothing is stored
unless the file names the case it is imported into.
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
    reported: int  # of those added, filed since the watch began: reported as new


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
    parsed = parsers.parse(content, court)
    if parsed.court is None and chosen:  # a file that names no court (ACMS JSON): the case's
        parsed = parsers.parse(content, chosen.court)
    pairs = _match(config, parsed, chosen)
    results = []
    with Session(engine) as session:
        for target, docket in pairs:
            row = store.case_row(session, target, config.pinned_ids(target))
            snapshot = Snapshot(source=parsed.kind, docket=docket, delta=True)
            change = diff.apply(session, row, snapshot, backfill=True)
            session.commit()
            results.append(ImportResult(target, parsed.kind, len(docket.entries), change.added, change.updated,
                                        len(change.new)))
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
        if parsed.court not in (None, chosen.court):  # the same number is another court's case
            raise ValueError(f"the {parsed.kind} is a docket of {parsed.court}, but {chosen.name!r} is a case of "
                             f"{chosen.court}; nothing was stored")
        same = [d for d in parsed.dockets if docket_numbers.try_normalize(d.docket_number) == chosen.docket_number]
        if not same and len(parsed.dockets) > 1:
            raise ValueError(f"the {parsed.kind} shows no docket numbered {chosen.docket_number} (it shows "
                             f"{_numbers(parsed)}); nothing was stored")
        # One docket in the file: the diff engine refuses it if its number is another case's.
        return [(chosen, same[0] if same else parsed.dockets[0])]
    if parsed.court is None:  # a number alone may be any court's
        raise ConfigError(f"the {parsed.kind} does not name its court; give it with --court (or the case with --case)")
    pairs = []
    for docket in parsed.dockets:
        number = docket_numbers.try_normalize(docket.docket_number)
        target = next((c for c in config.cases if c.docket_number == number and c.court == parsed.court), None)
        if target:
            pairs.append((target, docket))
    if not pairs:
        raise ConfigError(
            f"no configured case matches {_numbers(parsed)} (court {parsed.court}); "
            "add the case to the configuration or name it with --case"
        )
    return pairs


def _numbers(parsed: parsers.ParsedFile) -> str:
    """The docket numbers the file shows, for a message (the first five)."""
    numbers = sorted({d.docket_number for d in parsed.dockets})
    return ", ".join(numbers[:5]) + (", ..." if len(numbers) > 5 else "")
