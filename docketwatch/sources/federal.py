"""Case identity for US federal courts, shared by the built-in sources: CourtListener
court ids (the list shipped with the package) and federal docket numbers; and which
courts publish a complete RSS feed (CourtListener's court list, cached)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from docketwatch.domain import docket_numbers
from docketwatch.domain.courts import court_ids
from docketwatch.files import replace_atomically
from docketwatch.http import HttpClient, HttpError, describe_status
from docketwatch.store.models import as_utc, iso, utcnow

log = logging.getLogger(__name__)


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


# -- court RSS feed coverage ---------------------------------------------------------
#
# Which courts publish a PACER RSS feed, and of which entry types, as CourtListener
# records it (`/api/rest/v4/courts/`: `pacer_has_rss_feed`, `pacer_rss_entry_types`).
# The list is read by `docketwatch courts --refresh` into the user's cache folder (one
# file for every configuration and database of the user: it describes the courts, not
# a watchlist); without that file, the snapshot shipped in docketwatch/data/ is used.

COVERAGE_FILE = "court_coverage.json"
# Federal appellate, district and bankruptcy courts: those with PACER feeds. The list
# cannot be filtered by the feed fields, so it is read by jurisdiction, page by page.
JURISDICTIONS = ("F", "FD", "FB")
COVERAGE_FIELDS = ("id", "full_name", "jurisdiction", "pacer_has_rss_feed", "pacer_rss_entry_types")
MAX_PAGES = 100  # about 220 courts at 20 a page: a longer chain of `next` links is a loop
# Entry types that only open a case: a feed of nothing else tells a watched case nothing new.
CASE_OPENING_TYPES = frozenset({
    "complaint", "complaints", "new case", "new cases", "new complaints", "petition", "petitions",
    "new petitions", "notice of removal", "notices of removal", "new filings", "case opening", "cases opened",
})
_ALL = frozenset({"all", "all entries", "all entry types", "all docket entries", "all types"})
_TYPE_PREFIX = re.compile(r"^\s*(?:public\s+)?(?:docket\s+entries\s+of\s+type:\s*)?", re.IGNORECASE)
_TYPE_SUFFIX = re.compile(r"\s+in the last 24 hours\.?\s*$", re.IGNORECASE)


def feed_types(entry_types: str | None) -> list[str]:
    """The entry types a feed carries, lower case, from CourtListener's field or the feed's
    own description: "Orders, Opinions and Judgments" -> [orders, opinions, judgments]."""
    text = _TYPE_SUFFIX.sub("", _TYPE_PREFIX.sub("", entry_types or "")).strip(" .").lower()
    return [t.strip() for t in re.split(r",|\band\b|;", text) if t.strip()]


def carries_every_type(entry_types: str) -> bool:
    return " ".join(feed_types(entry_types)) in _ALL


@dataclass(frozen=True)
class CourtFeed:
    """One court's RSS feed as CourtListener describes it; None where it does not say."""

    court: str
    name: str
    jurisdiction: str | None
    has_feed: bool | None
    entry_types: str | None

    @property
    def complete(self) -> bool | None:
        """True: the feed carries every entry type; False: some or none; None: not known."""
        if self.has_feed is False:
            return False
        if not self.has_feed or not self.entry_types:
            return None
        return carries_every_type(self.entry_types)

    @property
    def adds_to_a_case(self) -> bool:
        """Whether a feed that is not complete still shows filings in a case already open:
        orders, opinions, judgments do; a feed of complaints (new cases) alone does not."""
        return bool(self.has_feed) and any(t not in CASE_OPENING_TYPES for t in feed_types(self.entry_types))

    def describe(self) -> str:
        if self.complete:
            return "every entry type"
        if self.has_feed is False:
            return "no RSS feed"
        if self.complete is None:
            return "a feed of entry types not known" if self.has_feed else "not known"
        return f"only {', '.join(feed_types(self.entry_types))}"

    def as_json(self) -> dict[str, Any]:
        return {"court": self.court, "name": self.name, "jurisdiction": self.jurisdiction,
                "pacer_has_rss_feed": self.has_feed, "pacer_rss_entry_types": self.entry_types,
                "complete": self.complete}


@dataclass(frozen=True)
class Coverage:
    """Every court's feed, and where that knowledge comes from."""

    origin: str  # "snapshot" (shipped) or "cache" (read from CourtListener by `courts --refresh` or `run`)
    fetched_at: str | None  # when it was read (ISO 8601, UTC)
    courts: dict[str, CourtFeed]

    def feed(self, court: str) -> CourtFeed | None:
        return self.courts.get(court)

    def read_at(self) -> datetime | None:
        """When it was read from CourtListener; None for the snapshot or a date not understood."""
        try:
            return as_utc(datetime.fromisoformat(self.fetched_at)) if self.fetched_at else None
        except ValueError:
            return None

    def describe(self) -> str:
        when = f", read {self.fetched_at}" if self.fetched_at else ""
        where = "the snapshot shipped with docketwatch" if self.origin == "snapshot" else "CourtListener"
        return f"court feed coverage from {where}{when}"


def coverage_cache() -> Path:
    import platformdirs  # only when coverage is needed

    return Path(platformdirs.user_cache_dir("docketwatch")) / COVERAGE_FILE


def load_coverage() -> Coverage:
    """The coverage `courts --refresh` last read, else the shipped snapshot. A damaged
    cache file is logged and passed over: the snapshot still knows the courts."""
    path = coverage_cache()
    try:
        return _coverage("cache", json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("%s cannot be read (%s); using the court feed coverage shipped with docketwatch "
                    "(`docketwatch courts --refresh` writes it again)", path, e)
    text = resources.files("docketwatch.data").joinpath(COVERAGE_FILE).read_text(encoding="utf-8")
    return _coverage("snapshot", json.loads(text))


def _coverage(origin: str, data: dict[str, Any]) -> Coverage:
    courts = {}
    for c in data["courts"]:
        if not isinstance(c["id"], str) or not isinstance(c.get("pacer_has_rss_feed"), bool | None):
            raise ValueError(f"court {c['id']!r} is malformed")
        types = c.get("pacer_rss_entry_types")
        courts[c["id"]] = CourtFeed(court=c["id"], name=str(c.get("full_name") or court_ids().get(c["id"], c["id"])),
                                    jurisdiction=c.get("jurisdiction"), has_feed=c.get("pacer_has_rss_feed"),
                                    entry_types=types if isinstance(types, str) and types.strip() else None)
    return Coverage(origin=origin, fetched_at=data.get("fetched_at"),
                    courts=courts)


class CoverageError(HttpError):
    """CourtListener's court list could not be read; the stored coverage stays as it was."""


def refresh_coverage(http: HttpClient, url: str) -> Coverage:
    """Read every federal court's feed coverage from CourtListener's court list (no token
    needed), following `next` page by page, and store it in the user's cache folder."""
    query = urlencode([("jurisdiction", j) for j in JURISDICTIONS] + [("fields", ",".join(COVERAGE_FIELDS))])
    first = f"{url}?{query}"
    page_url: str | None = first
    courts: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        if page_url is None:
            break
        response = http.get(page_url)
        if response.status_code != 200:
            raise CoverageError(f"{page_url}: {describe_status(response)}", response.status_code)
        try:
            page = response.json()
            results = page["results"]
            if not isinstance(results, list) or not all(isinstance(c, dict) and "id" in c for c in results):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise CoverageError(f"{page_url}: CourtListener's answer is not a list of courts (cut short?)") from None
        courts += results
        following = page.get("next")
        if following is not None and not isinstance(following, str):
            raise CoverageError(f"{page_url}: CourtListener's answer has a 'next' that is no URL ({following!r})")
        if following and urlsplit(following).netloc != urlsplit(url).netloc:
            raise CoverageError(f"{page_url}: the next page is on another server ({following}); not followed")
        page_url = following or None
    else:
        raise CoverageError(f"{first}: more than {MAX_PAGES} pages of courts; stopped")
    if not courts:
        raise CoverageError(f"{first}: CourtListener listed no court; the stored coverage is kept")
    data = {"source": first, "fetched_at": iso(utcnow()),
            "courts": [{k: c.get(k) for k in COVERAGE_FIELDS} for c in courts]}
    try:
        coverage = _coverage("cache", data)  # checked before it replaces what is stored
    except ValueError as e:
        raise CoverageError(f"{first}: {e}; the stored coverage is kept") from None
    replace_atomically(coverage_cache(), json.dumps(data, indent=1) + "\n")
    return coverage
