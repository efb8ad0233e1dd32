"""Docket text as docketwatch writes it out (feeds, calendars): without the control
characters some docket texts carry, which no reader shows and which XML 1.0 and
iCalendar (RFC 5545) forbid."""

from __future__ import annotations

import re

# C0 controls but tab, line feed and carriage return (the formats escape or keep those),
# DEL, and the noncharacters U+FFFE and U+FFFF.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def without_controls(text: str, replacement: str = "") -> str:
    """`text` with its control characters left out, or each put as `replacement` (no word
    of a docket is made of them)."""
    return _CONTROL.sub(replacement, text)
