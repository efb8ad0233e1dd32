"""Case identity for US federal courts, shared by the built-in sources: CourtListener
court ids (the list shipped with the package) and federal docket numbers."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from docketwatch.domain import docket_numbers


@cache
def court_ids() -> dict[str, str]:
    """CourtListener court ids and names, from the list shipped with the package."""
    text = resources.files("docketwatch.data").joinpath("courts.json").read_text(encoding="utf-8")
    return {c["value"]: c["display_name"] for c in json.loads(text)}


class FederalIdentity:
    """Mixed into a source: courts are CourtListener court ids, numbers federal ones."""

    def check_court(self, court: str) -> None:
        if court not in court_ids():
            raise ValueError("is not a CourtListener court id (examples: cand, nysd, ca9; "
                             "see docketwatch/data/courts.json)")

    def normalize_docket_number(self, number: str) -> str:
        try:
            return docket_numbers.normalize(number)
        except docket_numbers.DocketNumberError:
            # The library's message quotes the value; the configuration error shows it as written.
            raise ValueError("is not a docket number docketwatch understands; write it like 3:23-cv-03417 "
                             "(district), 25-2153 (appellate) or MDL No. 3143") from None

    def court_name(self, court: str) -> str | None:
        return court_ids().get(court)
