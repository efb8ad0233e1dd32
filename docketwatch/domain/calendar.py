"""Hearings, conferences, trials and deadlines read out of docket text, as calendar items.

A small regex grammar, not a general date parser: docket clerks write a handful of
phrasings ("Motion Hearing set for 3/5/2010 at 11:00 AM", "Response due by 2/26/2010",
"Status Conference continued to 8/31/2009", "... set for 6/18/09 are vacated"), and the
words before the verb name the event, which a date parser cannot tell us. `mentions`
reads one text; `fold` turns the mentions of a whole docket, oldest entry first, into
items: a reset moves the earlier item with the same name (same UID, SEQUENCE raised),
a vacatur cancels it (the item stays, cancelled).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, time
from enum import StrEnum


class Kind(StrEnum):
    HEARING = "hearing"
    CONFERENCE = "conference"
    TRIAL = "trial"
    DEADLINE = "deadline"


class Action(StrEnum):
    SET = "set"
    RESET = "reset"
    VACATED = "vacated"


@dataclass(frozen=True)
class Mention:
    """One date a docket text gives for an event."""

    kind: Kind
    label: str  # the event as the text names it, e.g. "Motion Hearing"
    on: date
    at: time | None
    action: Action


@dataclass
class Item:
    """One calendar event: where it stands after every mention of it so far."""

    uid: str
    kind: Kind
    label: str
    on: date
    at: time | None
    sequence: int = 0
    cancelled: bool = False
    # The keys of the entries that set, moved or cancelled it, oldest first.
    sources: list[str] = field(default_factory=list)


# -- the grammar ------------------------------------------------------------------

_MONTHS = {m[:3]: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], start=1)}
_WEEKDAY = r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
_NUMERIC = r"(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4}|\d{2})(?!\d|/)"
_LONG = (r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
         r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})")
_ISO = r"(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})(?!\d)"
DATE = rf"{_WEEKDAY}(?:{_ISO}|{_NUMERIC}|{_LONG})"
_CLOCK = r"(?P<h>\d{1,2})(?::(?P<min>\d{2}))?\s*(?P<ampm>[ap]\.?\s?m\b\.?)"
TIME = rf"(?:{_CLOCK}|(?P<noon>noon))"
# What may stand between a date and its time: "at", ",", "-", nothing.
_DATE_TIME = rf"{DATE}(?:,?\s*(?:at\s+|-\s*)?{TIME})?"

# Words naming an event, and the kind they make it (the first that matches wins).
_KINDS = [
    (re.compile(r"deadline", re.I), Kind.DEADLINE),
    (re.compile(r"conference|mediation|status call|scheduling call|teleconference", re.I), Kind.CONFERENCE),
    (re.compile(r"\btrial\b", re.I), Kind.TRIAL),
    (re.compile(r"hearing|argument|arraignment|sentencing|motion|appearance|\bhrg\b", re.I), Kind.HEARING),
]
# A label: up to six words right before the verb, within its clause.
_WORD = r"(?:\d+-)?[A-Za-z][\w'’/-]*"  # "Motion", "Pre-Settlement", "10-day"
_LABEL = rf"(?<![\w'’/-])(?P<label>(?:{_WORD}\s+){{0,5}}?{_WORD})"
_LEADING = re.compile(r"^(?:(?:the|a|an|and|its|his|her|their|any|all|now|is|are|shall|be|has|been|previously|"
                      r"of|to|on|re|as|in)\s+)+", re.I)
_SET = re.compile(
    rf"{_LABEL}\s+(?:(?:is|are|was|has been|have been)\s+)?(?:previously\s+)?"
    rf"(?P<verb>re-?set|set|scheduled|rescheduled)(?:\s+for)?:?\s+{_DATE_TIME}", re.I)
# Old bankruptcy dockets: "scheduled For 10:30 10/10/95 at Rm 328" (time first, no AM/PM).
_SET_TIME_FIRST = re.compile(rf"{_LABEL}\s+scheduled\s+for\s+(?P<bh>\d{{1,2}}):(?P<bmin>\d{{2}})\s+{DATE}", re.I)
_DUE = re.compile(
    rf"{_LABEL}\s+(?:(?:is|are|shall be)\s+)?(?P<now>now\s+)?due(?:\s+(?:by|on|on or before|no later than))*"
    rf"(?:\s+(?P<noon_first>noon))?:?\s+{_DATE_TIME}", re.I)
_OLD_DATE = re.sub(r"\?P<\w+>", "", DATE)
_MOVED = re.compile(
    rf"{_LABEL}\s+(?:(?:previously\s+)?(?:set|scheduled)\s+for\s+{_OLD_DATE},?\s+)?"
    rf"(?:(?:is|are|was|has been|have been)\s+)?(?:hereby\s+)?(?P<verb>continued|adjourned|rescheduled|"
    rf"reset|moved|extended)\s+(?:to|until)\s+{_DATE_TIME}", re.I)
_SET_MATTER = re.compile(rf"set (?:the|this) (?:matter|case) for an?\s+{_LABEL}\s+on\s+{_DATE_TIME}", re.I)
_NOTICE_OF = re.compile(rf"notice of (?P<label>oral argument|hearing)\s+(?:on|for)\s+{_DATE_TIME}", re.I)
# "Plaintiffs shall file their opening brief by February 27, 2024": a deadline named by its object.
_FILE_BY = re.compile(
    rf"\b(?:shall|must|will|to)\s+(?:be\s+)?(?:file|filed|submit|submitted|serve|served|provide)\s+"
    rf"(?P<label>(?:[\w'’/-]+\s+){{0,6}}?[\w'’/-]+)(?:\s+[^.;]{{0,60}}?)?\s+(?:by|no later than)\s+{_DATE_TIME}", re.I)
_WILL_HOLD = re.compile(rf"court will hold an?\s+{_LABEL}\s+(?:on\s+)?{_DATE_TIME}", re.I)
_WILL_BEGIN = re.compile(rf"{_LABEL}\s+(?:in this matter\s+)?will begin on\s+{_DATE_TIME}", re.I)
# A clause saying the dates in it are off: "... set for 12/22/08 are vacated", "was not held".
_OFF = re.compile(r"\b(?:vacated?|vacating|cancell?ed|stricken|terminated|not held|sine die)\b", re.I)
_RESET_WORD = re.compile(r"\bre-?set(?:ting)?\b", re.I)
# A sentence ends after a word in lower case, a digit, a bracket or a time's AM or A.M.
# (not after other capitals: "Judge William H. Alsup" is one clause).
_CLAUSE_END = re.compile(r"(?:(?<=[a-z0-9)\]])|(?<=[\d\s][AP]M)|(?<=[AP]\.M))[.;](?=\s+[A-Z(\[]|\s*$)|:\s+(?=[A-Z])")


def mentions(text: str) -> list[Mention]:
    """Every calendar date `text` gives, in the order written."""
    found: list[tuple[int, Mention]] = []
    start = 0
    clean = " ".join(text.split())
    for clause_end in [m.end() for m in _CLAUSE_END.finditer(clean)] + [len(clean)]:
        clause = clean[start:clause_end]
        found += ((start + pos, m) for pos, m in _clause(clause))
        start = clause_end
    return [m for _, m in sorted(found, key=lambda pair: pair[0])]


# Words one of the patterns needs; a clause without them (most) is not searched further.
_GATE = re.compile(r"\b(?:set|scheduled|due|continued|adjourned|rescheduled|reset|moved|extended|file|filed|submit|"
                   r"submitted|serve|served|provide|hold|begin|notice)\b", re.I)
_HAS_DATE = re.compile(r"\d")
# The verb each label-first pattern turns on: such a pattern is tried only just before one
# (a label is at most six words), not from every position of the clause.
_ANCHORS = {
    "set": re.compile(r"\b(?:re-?set|set|scheduled|rescheduled)\b", re.I),
    "time first": re.compile(r"\bscheduled\s+for\s+\d", re.I),
    "due": re.compile(r"\bdue\b", re.I),
    "moved": re.compile(r"\b(?:continued|adjourned|rescheduled|reset|moved|extended)\s+(?:to|until)\b", re.I),
    "begin": re.compile(r"\bwill begin on\b", re.I),
}
_REACH = 160  # characters before the verb where its label may start


def _clause(clause: str) -> list[tuple[int, Mention]]:
    if not (_GATE.search(clause) and _HAS_DATE.search(clause)):
        return []
    off = bool(_OFF.search(clause))
    out: list[tuple[int, Mention]] = []
    taken: list[range] = []

    def add(match: re.Match[str], kind: Kind | None, action: Action, at: time | None = None) -> None:
        span = range(match.start("label"), match.end())
        if any(span.start in t or t.start in span for t in taken):
            return
        label = _label(match["label"])
        kind = kind or _kind(label)
        on = _date(match)
        if kind is None or on is None or not label:
            return
        taken.append(span)
        out.append((match.start(), Mention(kind, label, on, at if at else _time(match),
                                            Action.VACATED if off else action)))

    for m in _near(_MOVED, "moved", clause):
        add(m, Kind.DEADLINE if m["verb"].lower() == "extended" else None, Action.RESET)
    for m in _near(_SET, "set", clause):
        reset = m["verb"].lower().startswith("re") or bool(_RESET_WORD.search(clause[:m.start("verb")]))
        add(m, None, Action.RESET if reset and "set/reset" not in clause.lower() else Action.SET)
    for m in _near(_SET_TIME_FIRST, "time first", clause):
        hour = int(m["bh"])
        # A notice of a motion and its hearing: the hearing, whatever the words before.
        add(m, Kind.HEARING, Action.SET, _clock(hour + 12 if 1 <= hour <= 6 else hour, int(m["bmin"])))
    for m in _near(_DUE, "due", clause):
        reset = bool(m["now"]) or (bool(_RESET_WORD.search(clause[:m.start()])) and "set/reset" not in clause.lower())
        add(m, Kind.DEADLINE, Action.RESET if reset else Action.SET, time(12, 0) if m["noon_first"] else None)
    for m in _FILE_BY.finditer(clause):
        add(m, Kind.DEADLINE, Action.SET)
    for m in _WILL_HOLD.finditer(clause):
        add(m, None, Action.SET)
    for m in _near(_WILL_BEGIN, "begin", clause):
        add(m, None, Action.SET)
    for m in _SET_MATTER.finditer(clause):
        add(m, None, Action.SET)
    for m in _NOTICE_OF.finditer(clause):
        add(m, Kind.HEARING, Action.SET)
    return out


def _near(pattern: re.Pattern[str], anchor: str, clause: str) -> Iterator[re.Match[str]]:
    """The matches of `pattern` that contain one of its verbs, as finditer would find them."""
    found: set[tuple[int, int]] = set()
    for verb in _ANCHORS[anchor].finditer(clause):
        pos = max(0, verb.start() - _REACH)
        while (m := pattern.search(clause, pos)) and m.start() <= verb.start():
            if m.end() > verb.start():
                if m.span() not in found:
                    found.add(m.span())
                    yield m
                break
            pos = m.end()


_BOUNDARY = {"the", "a", "an", "that", "to", "at", "and", "adjourn", "held", "continue", "of", "reset", "resetting"}
_TRAILING = re.compile(r"\s+(?:in this (?:matter|case)|currently|already|previously)$", re.I)


def _label(words: str) -> str:
    """The event's name: the words after the last article or preposition before the verb
    ("the initial pretrial conference in this matter" -> "initial pretrial conference")."""
    parts = _TRAILING.sub("", words.strip()).split()
    cut = max((i + 1 for i, w in enumerate(parts) if w.lower() in _BOUNDARY), default=0)
    return _LEADING.sub("", " ".join(parts[cut:])).strip(" -:,")


def _kind(label: str) -> Kind | None:
    return next((kind for pattern, kind in _KINDS if pattern.search(label)), None)


def _date(m: re.Match[str]) -> date | None:
    try:
        if m["iy"]:
            return date(int(m["iy"]), int(m["im"]), int(m["id"]))
        if m["y"]:
            year = int(m["y"])
            year += 0 if year >= 100 else (2000 if year < 70 else 1900)
            return date(year, int(m["m"]), int(m["d"]))
        return date(int(m["year"]), _MONTHS[m["month"][:3].lower()], int(m["day"]))
    except ValueError:  # 2/30/2010
        return None


def _time(m: re.Match[str]) -> time | None:
    if m["noon"]:
        return time(12, 0)
    if not m["h"]:
        return None
    hour, pm = int(m["h"]), m["ampm"].lower().startswith("p")
    if not 1 <= hour <= 12:
        return None
    return _clock(hour % 12 + (12 if pm else 0), int(m["min"] or 0))


def _clock(hour: int, minute: int) -> time | None:
    return time(hour, minute) if hour < 24 and minute < 60 else None


# -- folding a docket's mentions into items ---------------------------------------------


def name_key(label: str) -> str:
    """Labels compared for resets: "the Status Conference" and "status conference" are one."""
    words = re.findall(r"[a-z]+", label.lower())
    return " ".join(w for w in words if w not in {"initial", "further", "telephonic", "telephone", "now"})


def fold(case_key: str, entries: Iterable[tuple[str, Sequence[Mention]]]) -> list[Item]:
    """The calendar of a case from its entries' mentions, the entries oldest first.

    SET makes an item (the same event set again by a later entry is one item);
    RESET moves the latest item of the same name and kind (a new one when there is
    none); VACATED cancels the item of that name on that date (or the latest of that
    name), keeping it. The UID comes from the case and the first entry that named the
    event, so it never changes while the docket grows.
    """
    items: list[Item] = []
    # The items by kind and name, in order: a long docket is folded in one pass, not by
    # comparing each mention with every item so far. An item's kind and label never change.
    named: dict[tuple[Kind, str], list[Item]] = defaultdict(list)

    def add(item: Item) -> None:
        items.append(item)
        named[item.kind, name_key(item.label)].append(item)

    for key, found in entries:
        for m in found:
            same = named.get((m.kind, name_key(m.label)), [])
            if m.action == Action.SET:
                if not any(i.on == m.on and not i.cancelled for i in same):
                    add(_new(case_key, key, m))
                else:
                    match = next(i for i in same if i.on == m.on and not i.cancelled)
                    if m.at and match.at != m.at:
                        match.at, match.sequence = m.at, match.sequence + 1
                    match.sources.append(key)
            elif m.action == Action.RESET:
                live = [i for i in same if not i.cancelled]
                if not live:
                    add(_new(case_key, key, m))
                    continue
                target = live[-1]
                at = m.at or (target.at if target.on == m.on else None)
                if (target.on, target.at) != (m.on, at):
                    target.on, target.at = m.on, at
                    target.sequence += 1
                target.sources.append(key)
            else:
                # The item of that kind on that date, however it was named ("Fourteen day
                # Jury Trial" set, "the Jury trial set for 12/22/08" vacated), else by name.
                dated = [i for i in items if i.kind == m.kind and i.on == m.on] or same
                if not dated:
                    add(replace(_new(case_key, key, m), cancelled=True))
                    continue
                target = dated[-1]
                if not target.cancelled:
                    target.cancelled, target.sequence = True, target.sequence + 1
                target.sources.append(key)
    return items


def _new(case_key: str, entry_key: str, m: Mention) -> Item:
    digest = hashlib.sha256(f"{case_key}|{entry_key}|{name_key(m.label)}|{m.on}".encode()).hexdigest()[:24]
    return Item(uid=f"{digest}@docketwatch", kind=m.kind, label=m.label, on=m.on, at=m.at, sources=[entry_key])
