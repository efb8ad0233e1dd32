"""Dockets worth watching next: new cases found by `[[discover]]` rules, and suggestions
(linked dockets, discovered cases) accepted into the watchlist.

Discovery reads only what a poll fetched anyway (`Snapshot.others`: a court feed's items
of cases no one watches), so it costs no request. A case a rule matches is announced
once ("new_case" event, on a case row of its own) and stored as a suggestion; a rule's
`watch = true`, like `follow = "auto"` for linked dockets, adds it to the watchlist.

Accepting a suggestion appends a `[[cases]]` table to the configuration file with
tomlkit, which keeps the file's comments and layout; a running `docketwatch run` takes
the edited file up within `[schedule] reload_check` and polls the case.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from docketwatch.domain import docket_numbers
from docketwatch.domain.events import EventKind
from docketwatch.domain.snapshot import ParsedDocket, Snapshot
from docketwatch.settings import Config, DiscoverRule
from docketwatch.store.models import Case, Event, Suggestion

if TYPE_CHECKING:
    from tomlkit.toml_document import TOMLDocument

log = logging.getLogger(__name__)


class FollowError(Exception):
    """A suggestion that cannot be accepted; the message says why and what to do."""


# -- discovery -----------------------------------------------------------------------


def matches(rule: DiscoverRule, court: str, docket: ParsedDocket) -> bool:
    """Whether a feed's docket is one `rule` asks for."""
    if rule.courts and court not in rule.courts:
        return False
    if rule.case_types:
        number = docket_numbers.try_normalize(docket.docket_number) or ""
        parts = number.split("-")
        if len(parts) < 3 or parts[1] not in rule.case_types:
            return False
    name = docket.case_name or ""
    text = " ".join(e.description or e.short_description or "" for e in docket.entries)
    return any(_has(name, party) for party in rule.parties) or any(_has(text, p) for p in rule.phrases)


def _has(text: str, phrase: str) -> bool:
    """`phrase` as whole words in `text`, letter case and spacing ignored."""
    words = r"\s+".join(map(re.escape, phrase.split()))
    return re.search(rf"(?<!\w){words}(?!\w)", text, re.IGNORECASE) is not None


def discover(session: Session, config: Config, snapshot: Snapshot) -> int:
    """Announce the cases of `snapshot.others` that a rule matches and no one was told of;
    return how many. The caller commits."""
    court = snapshot.docket.court
    found = 0
    for docket in snapshot.others:
        number = docket_numbers.try_normalize(docket.docket_number)
        rule = next((r for r in config.discover if matches(r, court, docket)), None)
        if number is None or rule is None:
            continue
        key = f"{court}:{number}"
        known = session.exec(select(Suggestion).where(Suggestion.key == key)).first()
        if known or session.exec(select(Case).where(Case.court == court, Case.docket_number == number)).first():
            continue  # announced before, or watched
        name = docket.case_name or number
        case = Case(court=court, docket_number=number, name=name, pacer_case_id=docket.pacer_case_id)
        session.add(case)
        session.flush()
        suggestion = Suggestion(key=key, court=court, docket_number=number, case_name=name, reason="discover",
                                rule=rule.name, case_id=case.id, status="auto" if rule.watch else "suggested")
        session.add(suggestion)
        session.flush()
        assert case.id is not None  # flushed
        filing = next((e.description or e.short_description for e in docket.entries), None)
        hint = "added to the watchlist" if rule.watch else f"to watch it: docketwatch add --suggestion {suggestion.id}"
        session.add(Event(case_id=case.id, kind=EventKind.NEW_CASE, source=snapshot.source,
                          summary=f"{name} ({court} {number}) matches [[discover]] {rule.name!r}"
                                  f"{f': {filing}' if filing else ''} ({hint})"))
        found += 1
    return found


# -- suggestions ---------------------------------------------------------------------


@dataclass
class SuggestionView:
    """A suggestion as `docketwatch suggestions` lists it."""

    id: int
    court: str | None
    docket_number: str | None
    name: str | None
    reason: str
    rule: str | None
    status: str
    created_at: str


def suggestions(engine: Engine, *, all_: bool = False) -> list[SuggestionView]:
    """Suggestions waiting for an answer (all of them with `all_`), oldest first."""
    with Session(engine) as session:
        query = select(Suggestion).order_by(col(Suggestion.id))
        if not all_:
            query = query.where(col(Suggestion.status).in_(["suggested", "auto"]))
        return [SuggestionView(s.id or 0, s.court, s.docket_number, s.case_name, s.reason, s.rule, s.status,
                               s.created_at.isoformat(timespec="seconds")) for s in session.exec(query)]


@dataclass
class Accepted:
    """What accepting a suggestion did: the case now in the configuration file."""

    id: int
    name: str
    court: str
    docket_number: str
    path: Path
    added: bool  # False: the file already had the case


def accept_suggestion(config: Config, engine: Engine, suggestion_id: int) -> Accepted:
    """Add the suggested docket to the watchlist (the configuration file) and mark the
    suggestion watched. Adding a case the file already has changes nothing in it."""
    with Session(engine) as session:
        suggestion = session.get(Suggestion, suggestion_id)
        if suggestion is None:
            raise FollowError(f"no suggestion {suggestion_id}; `docketwatch suggestions` lists them")
        if suggestion.court is None or suggestion.docket_number is None:
            raise FollowError(f"suggestion {suggestion_id} names no docket that can be watched "
                              f"({suggestion.case_name}); add the case by hand once its docket number is known")
        name = suggestion.case_name or f"{suggestion.court} {suggestion.docket_number}"
        added = _append_case(config, name, suggestion.court, suggestion.docket_number)
        suggestion.status = "watched"
        session.add(suggestion)
        session.commit()
        return Accepted(suggestion_id, name, suggestion.court, suggestion.docket_number, config.path, added)


def accept_automatic(config: Config, engine: Engine) -> list[Accepted]:
    """Accept every suggestion `follow = "auto"` or a rule's `watch` marked; one that
    fails is logged and tried again next time. Nothing is asked of the database (every
    poll calls this) unless the configuration adds dockets by itself; a suggestion marked
    under an earlier configuration then stays listed in `suggestions`."""
    if config.follow != "auto" and not any(rule.watch for rule in config.discover):
        return []
    with Session(engine) as session:
        pending = [s.id for s in session.exec(select(Suggestion).where(Suggestion.status == "auto"))]
    done = []
    for suggestion_id in pending:
        assert suggestion_id is not None  # stored rows
        try:
            done.append(accept_suggestion(config, engine, suggestion_id))
        except (FollowError, OSError) as e:
            log.error("could not add suggestion %s to %s: %s", suggestion_id, config.path, e)
    return done


def _append_case(config: Config, name: str, court: str, docket_number: str) -> bool:
    """Append a `[[cases]]` table, keeping the file's comments; False when it is there already."""
    from docketwatch import casefile  # tomlkit, only when a suggestion is accepted: every poll imports this module

    added = False

    def append(document: TOMLDocument) -> None:  # under the file's lock: an `add` meanwhile is seen
        nonlocal added
        if any(table.get("court") == court
               and docket_numbers.try_normalize(table.get("docket_number")) == docket_number
               for table in document.get("cases", [])):
            return
        casefile.append_case(document, {"name": name, "court": court, "docket_number": docket_number})
        added = True

    try:
        casefile.edit(config.path, append)
    except casefile.EditError as e:
        raise FollowError(str(e)) from None
    return added
