"""The watchlist edited from the command line: init, add, remove, pause and resume.

The TOML file is edited with tomlkit, so its comments and layout stay as they were: a
case's own comment lines (those right above its `[[cases]]`) go with it when it is
removed, and nothing else changes. Every edit is checked by loading the edited file
(the bootstrap) before it replaces the old one, atomically: a configuration that would
not load is never written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from tomlkit.items import AoT, Comment, Item, Null, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from docketwatch import bootstrap, casefile
from docketwatch.domain import courts, docket_numbers
from docketwatch.http import HttpClient, HttpError
from docketwatch.settings import DEFAULT_SOURCES, CaseConfig, Config, ConfigError, describe
from docketwatch.sources.base import FoundCase

STARTER = "starter.toml"


class LookupFailed(Exception):
    """The case could not be resolved (the server failed or has no such docket)."""


def init(path: Path) -> None:
    """Write the starter configuration (with comments) to `path`; never over a file."""
    starter = resources.files("docketwatch.defaults").joinpath(STARTER).read_text(encoding="utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as f:
            f.write(starter)
    except FileExistsError:
        raise ConfigError(f"{path}: already exists; docketwatch init never overwrites a file (give another PATH)") \
            from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot be written ({e.strerror}); check the path and its permissions") from None


@dataclass
class Added:
    """The case `add` wrote, its sources' keys in it, and how it was found (None: as given, no lookup)."""

    case: CaseConfig
    keys: dict[str, Any]
    how: str | None


def add(config: Config, reference: list[str], *, name: str | None = None, court: str | None = None,
        http: HttpClient | None = None) -> Added:
    """Add a case to the file: `reference` is a docket URL or id one of the configured
    sources knows (looked up), or a court and a docket number (as people write it)."""
    if len(reference) == 1 and court is not None and _gives_office(reference[0]):
        reference = [court, reference[0]]  # `--court cand 3:23-cv-03417` is `cand 3:23-cv-03417`
    elif len(reference) == 2 and court not in (None, reference[0]):
        raise ConfigError(f"the court is given twice, as {reference[0]} and as --court {court}; give it once")
    if len(reference) == 2:
        court, number = reference
        if (canonical := _number(number)) is None:  # no office: the court's docket list may complete it
            found = _find(config, number, court, http or HttpClient(config.http))
        else:
            if why := docket_numbers.impossible(canonical, courts.court_ids().get(court, "")):
                raise ConfigError(f"{number!r} cannot be a docket number of {court}: {why}")
            found = FoundCase(name=f"{court} {canonical}", court=court, docket_number=canonical, keys={}, how="")
    elif len(reference) == 1:
        found = _find(config, reference[0], court, http or HttpClient(config.http))
    else:
        raise ConfigError("give a CourtListener docket URL or id, or a court and a docket number "
                          "(docketwatch add cand 3:23-cv-03417)")
    case = _checked(config, found, name)
    for other in config.cases:
        pinned = other.model_dump()  # with the keys its sources read
        if (other.court, other.docket_number) == (case.court, case.docket_number) or any(
                pinned.get(key) == value for key, value in found.keys.items()):
            raise ConfigError(f"{config.path}: {case.court} {case.docket_number} is already watched as "
                              f"{other.name!r}")

    def append(doc: TOMLDocument) -> None:
        try:
            casefile.append_case(doc, {"name": case.name, "court": case.court, "docket_number": case.docket_number,
                                       **found.keys})
        except ValueError as e:
            raise ConfigError(f"{config.path}: {e}") from None

    _edit(config.path, append)
    return Added(case, found.keys, found.how or None)


def remove(config: Config, fragment: str) -> CaseConfig:
    """Remove the one case `fragment` names, with the comment lines right above it."""
    case, index = _one(config, fragment)

    def cut(doc: TOMLDocument) -> None:
        cases = _tables(config, doc)
        body, end, top = _before(doc, cases, index)
        freed = []
        while end > 0 and isinstance(body[end - 1][1], (Comment, Null)):
            end -= 1
            freed.append(end)
        if end > 0 and isinstance(body[end - 1][1], Whitespace):
            end -= 1
            freed.append(end)
        for i in freed:
            body[i] = (None, Null())
        table = cases.body[index]
        keep = "".join(item.as_string() for item in casefile.trailing(table))
        del cases[index]
        if not len(cases):  # else tomlkit writes `cases = []`, which `add` could not extend
            del doc["cases"]
        if not keep:
            return
        if not top:
            body.append((None, Whitespace(keep)))
        elif freed:
            body[min(freed)] = (None, Whitespace(keep))
        elif end > 0:
            body[end - 1][1].trivia.trail += keep

    _edit(config.path, cut)
    return case


def pause(config: Config, fragment: str, paused: bool = True) -> CaseConfig:
    """Set `paused = true` in the one case `fragment` names (paused=False: remove the key)."""
    case, index = _one(config, fragment)

    def mark(doc: TOMLDocument) -> None:
        cases = _tables(config, doc)
        table = cases.body[index]
        if not paused:
            table.pop("paused", None)
        elif "paused" in table:
            table["paused"] = True
        else:
            last = [key for key, _ in table.value.body if key is not None][-1]
            # Right after the case's last key, not after the comments that follow it
            # (tomlkit keeps those, which describe the next case, in this table).
            table.value._insert_after(last, "paused", True)

    _edit(config.path, mark)
    return case.model_copy(update={"paused": paused})


# -- resolving ------------------------------------------------------------------------


def _number(number: str) -> str | None:
    """The canonical form of a number as typed; None when it leaves out the office."""
    try:
        return docket_numbers.written(number).number
    except docket_numbers.DocketNumberError as e:
        raise ConfigError(str(e)) from None


def _gives_office(number: str) -> bool | None:
    """Whether a docket number as typed gives the court's office; None: it is no docket number."""
    try:
        return docket_numbers.written(number).number is not None
    except docket_numbers.DocketNumberError:
        return None


def _find(config: Config, reference: str, court: str | None, http: HttpClient) -> FoundCase:
    names = list(config.source_plugins) or list(DEFAULT_SOURCES)
    for name in names:
        source = config.source_plugins.get(name)
        if source is None:
            continue
        try:
            found: FoundCase | None = source.find(reference, court, http)
        except HttpError as e:  # the server failed or has no such docket
            raise LookupFailed(f"{reference}: {e}") from None
        except ValueError as e:  # what the user must give instead
            raise ConfigError(str(e)) from None
        if found is not None:
            return found
    if court is not None and _gives_office(reference) is False:  # that no source could complete
        raise ConfigError(f"{reference!r} leaves out the court's office number and no source could look it up "
                          "(that needs [sources.courtlistener] token); write it like 3:23-cv-03417")
    raise ConfigError(f"{reference!r} is not a docket URL or id any configured source knows "
                      f"({', '.join(names)}); or give a court and a docket number: docketwatch add cand 3:23-cv-03417")


def _checked(config: Config, found: FoundCase, name: str | None) -> CaseConfig:
    """The new case as the bootstrap would read it: court and number checked by its sources."""
    values = {"name": " ".join((name or found.name).split()), "court": found.court,
              "docket_number": found.docket_number, **found.keys}
    try:
        case = CaseConfig.model_validate(values)
    except ValidationError as e:  # as the configuration file's errors read: `name = 'x\x07y': must be ...`
        said = "; ".join(describe(values, err) for err in e.errors())
        raise ConfigError(f"the case cannot be added: {said}") from None
    case = bootstrap.serving_sources(case, config.source_plugins)
    numbers = set()
    for source_name in case.sources:
        source = config.source_plugins.get(source_name)
        if source is None:
            continue
        try:
            source.check_court(case.court)
            numbers.add(source.normalize_docket_number(case.docket_number))
        except ValueError as e:
            raise ConfigError(f"{case.court} {case.docket_number}: {e}") from None
    return case.model_copy(update={"docket_number": numbers.pop()}) if len(numbers) == 1 else case


# -- editing --------------------------------------------------------------------------


def _one(config: Config, fragment: str) -> tuple[CaseConfig, int]:
    chosen = config.select([fragment])
    if len(chosen) > 1:
        labels = "; ".join(c.label for c in chosen)
        raise ConfigError(f"{config.path}: {fragment!r} matches {len(chosen)} cases ({labels}); "
                          "give more of the name, or the docket number")
    return chosen[0], config.cases.index(chosen[0])


def _tables(config: Config, doc: TOMLDocument) -> AoT:
    """The file's [[cases]] tables; ConfigError when it writes them another way (an inline array)."""
    cases = doc.get("cases")
    if not isinstance(cases, AoT):
        raise ConfigError(f"{config.path}: cases is not a list of [[cases]] tables; edit the file by hand")
    return cases


def _edit(path: Path, change: Callable[[TOMLDocument], None]) -> None:
    """Apply `change` to the file; write it only if it loads, atomically."""

    def loads(edited: Path) -> None:
        try:
            bootstrap.load(edited)
        except ConfigError as e:
            raise ConfigError(f"{path}: not changed, the edit would not load: {e}") from None

    try:
        casefile.edit(path, change, loads)
    except casefile.EditError as e:
        raise ConfigError(str(e)) from None


def _before(doc: TOMLDocument, cases: AoT, index: int) -> tuple[list[tuple[Any, Item]], int, bool]:
    """Where the text right above `[[cases]]` number `index` lives: a body, the end of
    the region there, and whether it is the document's top level."""
    if index > 0:
        body = cases.body[index - 1].value.body
        return body, len(body), False
    position = next(i for i, (_, item) in enumerate(doc.body) if item is cases)
    previous = doc.body[position - 1][1] if position else None
    if isinstance(previous, Table):
        while True:  # the innermost last table ([sources.courtlistener] inside [sources])
            body = previous.value.body
            inner = body[-1][1] if body else None
            if not isinstance(inner, Table):
                return body, len(body), False
            previous = inner
    return doc.body, position, True
