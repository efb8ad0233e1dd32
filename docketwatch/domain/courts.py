"""Courts: CourtListener's ids and names, and each court's time zone, from the tables
shipped with the package; the one place that reads them."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo


@cache
def court_ids() -> dict[str, str]:
    """Court id -> name ("cand" -> "District Court, N.D. California")."""
    text = resources.files("docketwatch.data").joinpath("courts.json").read_text(encoding="utf-8")
    return {c["value"]: c["display_name"] for c in json.loads(text)}


@cache
def court_ids_by_name() -> dict[str, str]:
    """Lower-case court name -> court id."""
    return {name.lower(): court for court, name in court_ids().items()}


@cache
def court_timezone(court: str) -> ZoneInfo | None:
    """The time zone of the court's seat ("cand" -> America/Los_Angeles); None when unknown.
    A court's own dates (CourtListener's date filed, a docket's) are days in this zone."""
    text = resources.files("docketwatch.data").joinpath("court_timezones.json").read_text(encoding="utf-8")
    name = json.loads(text)["courts"].get(court)
    return ZoneInfo(name) if name else None
