"""CourtListener court ids and names, from the list shipped with the package: the one
place that reads it, for case identity, linked dockets and court feeds."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


@cache
def court_ids() -> dict[str, str]:
    """Court id -> name ("cand" -> "District Court, N.D. California")."""
    text = resources.files("docketwatch.data").joinpath("courts.json").read_text(encoding="utf-8")
    return {c["value"]: c["display_name"] for c in json.loads(text)}


@cache
def court_ids_by_name() -> dict[str, str]:
    """Lower-case court name -> court id."""
    return {name.lower(): court for court, name in court_ids().items()}
