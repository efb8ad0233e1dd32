"""Docket numbers as people write them, reduced to one comparable form.

`3:23-cv-03417-VC`, `3:23-CV-3417` and `3:23-cv-03417` are the same case: judge
initials and defendant suffixes are dropped, the type is lower-cased and the serial
padded to five digits. Appellate and bankruptcy numbers (`25-2153`) keep `yy-serial`.
A bankruptcy case is its year and serial: the office prefix, judge's initials and chapter
people write around it (`8-09-78585-ast`, `09-12515-1-rel`, `09-31416-hdh11`,
`8:09-bk-78585`) are kept apart (`bankruptcy_number`) and dropped when comparing.
A number pasted from a document is read in plain ASCII (`_plain`): full-width digits and
dashes other than the hyphen become the ASCII ones; no other digit is one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_DISTRICT = re.compile(
    r"^\s*(?P<office>\d{1,2})\s*:\s*(?P<yy>\d{2})\s*-\s*(?P<type>[a-z]{1,4})\s*-\s*(?P<serial>\d{1,6})"
    r"(?P<suffix>(-[a-z0-9]+)*)\s*$",
    re.IGNORECASE | re.ASCII,
)
_SHORT = re.compile(r"^\s*(?P<yy>\d{2})\s*-\s*(?P<serial>\d{1,6})(?P<suffix>(-[a-z0-9]+)*)\s*$",
                    re.IGNORECASE | re.ASCII)
_MDL = re.compile(r"^\s*MDL\s*(No\.?)?\s*(?P<serial>\d{1,5})\s*$", re.IGNORECASE | re.ASCII)


# Bankruptcy shapes: office first (E.D.N.Y.), the "bk" type (any court's CM/ECF form), or
# year and serial followed by an office digit, judge's initials and chapter in any mix.
_BANKRUPTCY = (
    re.compile(r"^\s*(?P<office>\d)-(?P<yy>\d{2})-(?P<serial>\d{3,6})"
               r"(?:-(?P<judge>[a-z]{2,4})-?(?P<chapter>\d{1,2})?)?\s*$", re.IGNORECASE | re.ASCII),
    re.compile(r"^\s*(?P<office>\d{1,2})\s*[:-]\s*(?P<yy>\d{2})\s*-\s*bk\s*-\s*(?P<serial>\d{1,6})"
               r"(?:-(?P<judge>[a-z]{2,4})-?(?P<chapter>\d{1,2})?)?\s*$", re.IGNORECASE | re.ASCII),
    re.compile(r"^\s*(?P<yy>\d{2})-(?P<serial>\d{3,6})(?:-(?P<office>\d))?"
               r"-(?P<judge>[a-z]{2,4})-?(?P<chapter>\d{1,2})?\s*$", re.IGNORECASE | re.ASCII),
)


# The dashes a word processor puts for a hyphen: hyphen, non-breaking hyphen, figure dash,
# en dash, em dash, horizontal bar, minus sign.
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))


def _plain(text: str) -> str:
    """`text` as the ASCII shapes below read it: compatibility forms folded (NFKC turns
    "３" into "3") and dashes made hyphens."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text).translate(_DASHES)


class DocketNumberError(ValueError):
    """A docket number in none of the known shapes."""


@dataclass(frozen=True)
class BankruptcyNumber:
    """A bankruptcy case number with the parts written around it kept apart."""

    year: str  # two digits, as written
    serial: int
    office: str | None = None
    judge: str | None = None  # initials, lower case
    chapter: str | None = None

    @property
    def case_number(self) -> str:
        """The case itself, `09-31416`: what matching compares."""
        return f"{self.year}-{self.serial}"


def bankruptcy_number(docket_number: str) -> BankruptcyNumber | None:
    """The parts of a bankruptcy case number in one of the shapes courts and people use,
    or None for any other shape (a district or appellate number, or text)."""
    docket_number = _plain(docket_number)
    for shape in _BANKRUPTCY:
        if m := shape.match(docket_number):
            return BankruptcyNumber(
                year=m["yy"],
                serial=int(m["serial"]),
                office=m["office"],
                judge=m["judge"].lower() if m["judge"] else None,
                chapter=m["chapter"],
            )
    return None


def normalize(docket_number: str) -> str:
    """Return the canonical form, or raise DocketNumberError."""
    docket_number = _plain(docket_number)
    if bankruptcy := bankruptcy_number(docket_number):
        return bankruptcy.case_number
    if m := _DISTRICT.match(docket_number):
        return f"{int(m['office'])}:{m['yy']}-{m['type'].lower()}-{int(m['serial']):05d}"
    if m := _SHORT.match(docket_number):
        return f"{m['yy']}-{int(m['serial'])}"
    if m := _MDL.match(docket_number):
        return f"MDL No. {int(m['serial'])}"
    raise DocketNumberError(
        f"{docket_number!r} is not a docket number docketwatch understands; "
        "write it like 3:23-cv-03417 (district), 25-2153 (appellate) or MDL No. 3143"
    )


def impossible(canonical: str, court_name: str) -> str | None:
    """Why the canonical number `canonical` cannot be a docket of the federal court named
    `court_name` (as CourtListener names it), ending with an example of one that can; None
    when it can be. For numbers typed by hand (`docketwatch add`): every shape `normalize`
    reads is some court's, but not every court's, and a serial is never 0 nor, in a district
    number, above 99999 (CourtListener's docket_number_core holds five digits)."""
    if m := _DISTRICT.match(canonical):
        if court_name.startswith("Court of Appeals"):
            return "a court of appeals numbers its cases by year and serial, like 25-2153"
        if not 0 < int(m["serial"]) <= 99999:
            return "the serial of a district number runs from 1 to 99999, like 3:23-cv-03417"
    elif m := _SHORT.match(canonical):
        if court_name.startswith("District Court"):
            return "a district court's numbers have an office and a case type, like 3:23-cv-03417"
        if not int(m["serial"]):
            return "a serial is never 0; write it like 25-2153"
    elif court_name.startswith("Court of Appeals"):  # MDL No. N
        return "an MDL number is the Judicial Panel's (jpml); a court of appeals numbers its cases like 25-2153"
    return None


def try_normalize(docket_number: str | None) -> str | None:
    """Normalize, or None for text that holds no recognisable docket number."""
    if not docket_number:
        return None
    try:
        return normalize(docket_number)
    except DocketNumberError:
        return None


def core(docket_number: str) -> str:
    """CourtListener's `docket_number_core`: two-digit year and five-digit serial."""
    canonical = normalize(docket_number)
    if m := _DISTRICT.match(canonical) or _SHORT.match(canonical):
        return f"{m['yy']}{int(m['serial']):05d}"
    raise DocketNumberError(f"{docket_number!r} has no CourtListener docket_number_core")


# How people write a district number: `Case No. 1:23-cv-11195-SHS (SHS)`, `3:23cv3417`,
# `23-cv-3417` (no office: the court's office number is left out).
_WRITTEN = re.compile(
    r"^\s*(?:case\s*)?(?:no\.?|number|#)?\s*(?:(?P<office>\d{1,2})\s*:\s*)?(?P<yy>\d{2})\s*-?\s*"
    r"(?P<type>[a-z]{1,4})\s*-?\s*(?P<serial>\d{1,6})(?:-[a-z0-9]+)*\s*(?:\(\s*[a-z]{1,5}\s*\))?\s*$",
    re.IGNORECASE | re.ASCII,
)


@dataclass(frozen=True)
class Written:
    """A docket number as a person wrote it: `number` is its canonical form when it is
    complete; a district number without its office (`23-cv-3417`) has only `core` and
    `case_type`, and `fits` the canonical numbers it may stand for."""

    text: str
    number: str | None
    core: str | None = None
    case_type: str | None = None

    def fits(self, canonical: str) -> bool:
        """Whether the canonical number `canonical` is this one (in any office, when none was written)."""
        if self.number is not None:
            return self.number == canonical
        m = _DISTRICT.match(canonical)
        return m is not None and f"{m['yy']}{int(m['serial']):05d}" == self.core and m["type"].lower() == self.case_type


def written(text: str) -> Written:
    """Read a docket number as people write it: with `No.`, judge initials in brackets,
    without hyphens or zero padding, or without the office (`23-cv-3417`, which only the
    court's docket list can complete). DocketNumberError for anything else."""
    if m := _WRITTEN.match(_plain(text)):
        if m["office"] is None:
            return Written(text, None, f"{m['yy']}{int(m['serial']):05d}", m["type"].lower())
        return Written(text, f"{int(m['office'])}:{m['yy']}-{m['type'].lower()}-{int(m['serial']):05d}")
    return Written(text, normalize(text))
