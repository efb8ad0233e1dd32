"""Linked dockets named in docket text: appeals, transfers, remands and MDL transfers.

A case moves: a notice of appeal opens a docket in the court of appeals ("USCA Case
Number 25-5410"), a transfer order sends it to another district, an MDL transfer puts
it into a lead docket, a remand sends it back. `links` reads these from one entry's
text, with a small grammar over the clerks' standard phrasings, and says only what the
text says: the court and the docket number where the text names them, None where not.

Motions ("MOTION to Transfer"), denials ("ORDER DENYING TRANSFER"), claim transfers in
bankruptcy, prisoners remanded to custody and Social Security remands to the agency are
not links. Precision comes first: every link becomes an alert.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from docketwatch.domain import docket_numbers
from docketwatch.domain.courts import court_ids, court_ids_by_name

APPEAL, TRANSFER, REMAND, MDL = "appeal", "transfer", "remand", "mdl"

# States (and territories) by name and their circuit, for "Southern District of New York"
# -> nysd and for the circuit an appeal from a district goes to.
_CIRCUITS = {
    "ca1": ["Maine", "Massachusetts", "New Hampshire", "Rhode Island", "Puerto Rico"],
    "ca2": ["Connecticut", "New York", "Vermont"],
    "ca3": ["Delaware", "New Jersey", "Pennsylvania", "Virgin Islands"],
    "ca4": ["Maryland", "North Carolina", "South Carolina", "Virginia", "West Virginia"],
    "ca5": ["Louisiana", "Mississippi", "Texas"],
    "ca6": ["Kentucky", "Michigan", "Ohio", "Tennessee"],
    "ca7": ["Illinois", "Indiana", "Wisconsin"],
    "ca8": ["Arkansas", "Iowa", "Minnesota", "Missouri", "Nebraska", "North Dakota", "South Dakota"],
    "ca9": ["Alaska", "Arizona", "California", "Hawaii", "Idaho", "Montana", "Nevada", "Oregon", "Washington",
            "Guam", "Northern Mariana Islands"],
    "ca10": ["Colorado", "Kansas", "New Mexico", "Oklahoma", "Utah", "Wyoming"],
    "ca11": ["Alabama", "Florida", "Georgia"],
    "cadc": ["Columbia"],
}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
             "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11}


@dataclass(frozen=True)
class Link:
    """A docket the text says the case went to (or came from).

    `court` is a CourtListener court id where the text names a federal court (or where
    it follows, as the circuit of an appeal); `court_text` the court as written (a
    state court has no id); `docket_number` normalized, where the text gives one.
    """

    kind: str  # APPEAL | TRANSFER | REMAND | MDL
    court: str | None
    docket_number: str | None
    court_text: str | None = None
    incoming: bool = False  # transferred in from the linked docket, not out to it

    @property
    def watchable(self) -> bool:
        """Known well enough to be added to the watchlist."""
        return self.court is not None and self.docket_number is not None

    def describe(self) -> str:
        """One line for people: `appeal: ca2 22-2719`, `transfer to Southern District of New York`."""
        where = " ".join(filter(None, [self.court, self.docket_number]))
        if self.court is None and self.court_text:
            where = " ".join(filter(None, [self.court_text, self.docket_number]))
        verb = {APPEAL: "appeal", TRANSFER: "transferred", REMAND: "remanded", MDL: "MDL transfer"}[self.kind]
        if not where:
            return f"{verb} (the text names no court or docket number)"
        if self.kind == APPEAL:
            return f"{verb}: {where}"
        return f"{verb} {'in from' if self.incoming else 'to'} {where}"


_NUMBER = r"(\d{1,2}:\d{2}-[a-z]{1,4}-\d{1,6}|\d{2,4}-\d{1,6})"
_DISTRICT_NAME = (r"((?:(?:Northern|Southern|Eastern|Western|Central|Middle)\s+)?District\s+of\s+"
                  r"(?:the\s+)?[A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2})")

# "USCA Case Number 22-2719", "USCA Case No. 25-5410", "Received 9TH CIRCUIT COURT OF APPEALS
# CASE NUMBER: 16-60019", "Supreme Court Case Info Case number: 16-1540".
_APPEAL = re.compile(
    r"(?:\bUSCA|\bU\.S\.C\.A\.|\b(?P<ordinal>\d{1,2}|" + "|".join(_ORDINALS) + r")(?:st|nd|rd|th)?\s+Circuit"
    r"(?:\s+Court\s+of\s+Appeals)?|Court\s+of\s+Appeals(?:\s+for\s+the\s+(?P<named>\w+)\s+Circuit)?"
    r"|(?P<scotus>Supreme\s+Court\s+Case(?:\s+Info)?))"
    r"\s+(?:Case|Docket)\s*(?:Number|No\.?|#)\s*:?\s*" + _NUMBER + r"\b",
    re.IGNORECASE,
)
# "Case transferred to District of Arizona. Case Number 2:12-cv-01234", "Case transferred in
# from District of Delaware; Case Number 1:23-cv-00135", "ORDER TRANSFERRING CASE to the
# Northern District of California", "ORDER OF TRANSFER", "Interdistrict transfer to ...".
_TRANSFER = re.compile(
    r"\b(?:(?:case|action|matter)s?\s+(?:is\s+|was\s+|has\s+been\s+|hereby\s+)?transferred"
    r"|ORDER\s+(?:OF\s+TRANSFER|TRANSFERRING(?:\s+(?:CASE|ACTION))?|GRANTING\s+(?:\S+\s+){0,4}?"
    r"MOTION\s+TO\s+TRANSFER(?:\s+VENUE)?)"
    r"|INTER-?DISTRICT\s+TRANSFER|CASE\s+TRANSFERRED\s+OUT)\b",
    re.IGNORECASE,
)
_TRANSFER_DIRECTION = re.compile(r"\b(?P<dir>to|in\s+from|from)\s+(?:the\s+)?(?:United\s+States\s+District\s+Court"
                                 r"\s+for\s+the\s+)?" + _DISTRICT_NAME)
_MDL_MARK = re.compile(r"\bMDL\b|Multi-?district\s+Litigation|28\s+U\.?S\.?C\.?\s*(?:§\s*)?1407", re.IGNORECASE)
_MDL_TRANSFER = re.compile(r"\btransfer(?:red|ring)?\b|\bCTO-?\d", re.IGNORECASE)
_MDL_NUMBER = re.compile(r"\bMDL\s*(?:No\.?|Number|#)?\s*(\d{3,5})\b", re.IGNORECASE)
_NOT_AN_ORDER = re.compile(r"^\W*(?:MOTION|(?:OPENING\s+|REPLY\s+)?BRIEF|MEMORANDUM|RESPONSE|OPPOSITION|REPLY|"
                           r"DECLARATION|NOTICE\s+OF\s+MOTION|(?:JOINT\s+)?STIPULATION|LETTER|CONSENT)\b",
                           re.IGNORECASE)
_DENIED = re.compile(r"\bDENY(?:ING)?\b|\bDENIED\b", re.IGNORECASE)
_CASE_NUMBER = re.compile(r"\b(?:Case|Docket)\s*(?:Number|No\.?|#)\s*:?\s*" + _NUMBER + r"\b", re.IGNORECASE)
# "ORDER REMANDING CASE to San Francisco County Superior Court", "Case remanded to ...":
# a court, not custody and not an agency.
_REMAND = re.compile(
    r"\b(?:ORDER\s+(?:GRANTING\s+(?:\S+\s+){0,3}?MOTION\s+TO\s+REMAND\s+AND\s+)?REMANDING(?:\s+(?:CASE|ACTION))?"
    r"|(?:case|action|matter)\s+(?:is\s+|was\s+|has\s+been\s+|hereby\s+)?remanded)"
    r"\s+to\s+(?:the\s+)?(?P<court>(?:[A-Z][\w.,']*\s+){0,6}?(?:Superior|Circuit|District|State|County|Supreme)"
    r"\s+Court(?:\s+(?:of|for)\s+(?:the\s+)?[A-Z][\w.']*(?:\s+(?:of\s+)?[A-Z][\w.']*){0,3})?"
    r"|(?:district|state|trial)\s+court)",
)
_STATE_NUMBER = re.compile(r"\b(?:Case|No\.?)\s*(?:No\.?|Number)?\s*:?\s*([A-Z]{2,4}-?\d{2}-?\d{3,8})\b")


def links(text: str, court: str, docket_number: str | None = None) -> list[Link]:
    """The linked dockets one entry's text names, for an entry of `docket_number` in
    `court` (a CourtListener id): an appeal goes to that court's circuit; the case's own
    number is never a link."""
    text = " ".join(text.split())
    found: list[Link] = []
    own = docket_numbers.try_normalize(docket_number)
    for m in _APPEAL.finditer(text):
        number = docket_numbers.try_normalize(m[_APPEAL.groups])
        if number and number != own:
            found.append(Link(APPEAL, _appeal_court(m, court), number))
    if _NOT_AN_ORDER.match(text):
        return _unique(found)
    mdl = _MDL_MARK.search(text) and _MDL_TRANSFER.search(text)
    if mdl and not _DENIED.search(text[: mdl.start() + 80]):
        if not (own and "-md-" in own):  # on the MDL's own docket, transfers bring members in
            found.append(_transfer(MDL, text, own))
    elif (t := _TRANSFER.search(text)) and not _DENIED.search(t[0]):
        found.append(_transfer(TRANSFER, text[t.start():], own))
    if r := _REMAND.search(text):
        target = r["court"]
        state = _STATE_NUMBER.search(text[r.end():])
        federal = _court_id(target) if "District" in target else None
        found.append(Link(REMAND, federal, state[1] if state and not federal else None, target.rstrip(" .,;")))
    return _unique(found)


def _unique(found: list[Link]) -> list[Link]:
    return list(dict.fromkeys(found))


def _transfer(kind: str, text: str, own: str | None) -> Link:
    direction = _TRANSFER_DIRECTION.search(text)
    court_text = direction[2] if direction else None
    court = _court_id(court_text) if court_text else None
    incoming = bool(direction and direction["dir"] != "to")
    number = None
    for m in _CASE_NUMBER.finditer(text):
        if (candidate := docket_numbers.try_normalize(m[1])) and candidate != own:
            number = candidate
            break
    if kind == MDL and number is None and (mdl := _MDL_NUMBER.search(text)):
        # The panel's own docket (court "jpml") carries the MDL number.
        return Link(MDL, "jpml", f"MDL No. {int(mdl[1])}", court_text, incoming)
    return Link(kind, court, number, court_text, incoming)


def _appeal_court(m: re.Match[str], court: str) -> str | None:
    if m["scotus"]:
        return "scotus"
    ordinal = m["ordinal"] or m["named"]
    if ordinal:
        n = int(ordinal) if ordinal.isdigit() else _ORDINALS.get(ordinal.lower())
        return f"ca{n}" if n and 1 <= n <= 11 else None
    return circuit_of(court)


def circuit_of(court: str) -> str | None:
    """The court of appeals for a district court's appeals (None for others)."""
    name = court_ids().get(court, "")
    if not name.startswith("District Court, "):
        return None
    for circuit, states in _CIRCUITS.items():
        if any(name.endswith(" " + state) for state in states):
            return circuit
    return None


def _court_id(text: str) -> str | None:
    """'Southern District of New York' -> 'nysd'; None for a court not in the list. Words
    after the state's name ("... of California Signed") are tried away one by one."""
    words = text.split()
    while words:
        if court := _district_id(" ".join(words)):
            return court
        words.pop()
    return None


def _district_id(text: str) -> str | None:
    m = re.fullmatch(r"(?:(Northern|Southern|Eastern|Western|Central|Middle)\s+)?District\s+of\s+(?:the\s+)?(.+)",
                     " ".join(text.split()).rstrip(" .,;"), re.IGNORECASE)
    if not m:
        return None
    state = m[2].title()
    wanted = f"District Court, {m[1][0].upper()}.D. {state}" if m[1] else f"District Court, D. {state}"
    if state == "Columbia":
        wanted = "District Court, District of Columbia"
    return court_ids_by_name().get(wanted.lower())
