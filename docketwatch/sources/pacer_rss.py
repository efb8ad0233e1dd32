"""PACER court RSS feeds: one request per court serves every watched case there.

A feed covers about the last 24 hours of a whole court and holds only short texts;
CourtListener later fills in the full text of the same entry (same number), which the
diff engine records as a change, not a second entry. When the last successful fetch
of a court is older than the feed's window, items may have scrolled out unseen: each
watched case there gets a gap. Requests are conditional (ETag / Last-Modified), and a
feed whose bytes have not changed is not parsed again.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from sqlmodel import Session

from docketwatch import docket_numbers, parsers, store
from docketwatch.http import HttpError, describe_status
from docketwatch.models import Case, as_utc, utcnow
from docketwatch.snapshot import ParsedDocket, Snapshot
from docketwatch.sources.base import Source, SourceContext



class PacerRssError(HttpError):
    """The court's feed could not be used."""


class PacerRssSource(Source):
    name = "pacer_rss"

    def fetch(self, cases: list[Case], ctx: SourceContext) -> Iterator[tuple[Case, Snapshot | Exception]]:
        by_court: dict[str, list[Case]] = defaultdict(list)
        for case in cases:
            by_court[case.court].append(case)
        for court, court_cases in by_court.items():
            try:
                snapshots = self._court(court, court_cases, ctx)
            except (HttpError, ValueError) as e:
                for case in court_cases:
                    yield case, e
                continue
            yield from snapshots

    def _court(self, court: str, cases: list[Case], ctx: SourceContext) -> list[tuple[Case, Snapshot]]:
        settings = ctx.config.sources.pacer_rss
        key = f"pacer_rss:{court}"
        saved = store.source_state(ctx.session, key)
        url = settings.feed_url(court)
        headers = {}
        if saved.etag:
            headers["If-None-Match"] = saved.etag
        if saved.last_modified:
            headers["If-Modified-Since"] = saved.last_modified
        response = ctx.http.get(url, headers=headers)
        if response.status_code not in (200, 304):
            raise PacerRssError(f"{url}: {describe_status(response)}", response.status_code)

        gap = _outage_gap(ctx.session, court, settings.window_hours)
        state: dict[str, object] = {}
        dockets: list[ParsedDocket] = []
        # The body's hash, not its lastBuildDate: a damaged or empty answer can carry the
        # current date, and skipping the next intact feed by date would lose its items.
        fingerprint = hashlib.sha256(response.content).hexdigest() if response.status_code == 200 else None
        unchanged = response.status_code == 304 or saved.watermark == fingerprint
        if not unchanged:
            parsed = parsers.parse(response.content, court)
            if parsed.kind != "pacer_rss":
                raise PacerRssError(f"{url}: expected the court's RSS feed, got a {parsed.kind}")
            dockets = parsed.dockets
            state = {
                "etag": response.headers.get("ETag"),
                "last_modified": response.headers.get("Last-Modified"),
                "watermark": fingerprint,
                "entry_types": parsed.entry_types,
            }
        results = []
        for case in cases:
            docket = ParsedDocket(court=court, docket_number=case.docket_number)
            for candidate in dockets:
                # An item's title names the parties of that filing, not the case (bankruptcy
                # feeds add adversaries), so the feed says nothing of the case's name.
                if _same_case(case, candidate):
                    docket.pacer_case_id = docket.pacer_case_id or candidate.pacer_case_id
                    docket.entries += candidate.entries
            results.append((case, Snapshot(
                source=self.name, docket=docket, delta=True, gap=gap,
                # The court's state is stored with each case: whichever case commits first
                # records it, and a failed case never skips the feed for the others.
                state={key: state} if state else {},
            )))
        return results


def _same_case(case: Case, docket: ParsedDocket) -> bool:
    """Same normalized docket number; and the same PACER case id where both are known
    (criminal co-defendants share a number but not a case id)."""
    if docket_numbers.try_normalize(docket.docket_number) != case.docket_number:
        return False
    return not (case.pacer_case_id and docket.pacer_case_id and case.pacer_case_id != docket.pacer_case_id)


def _outage_gap(session: Session, court: str, window_hours: float) -> str | None:
    """A gap when the court's feed was last read successfully longer ago than it reaches back."""
    last = store.last_court_success(session, "pacer_rss", court)
    if last is None:
        return None
    away = utcnow() - as_utc(last)
    if away <= timedelta(hours=window_hours):
        return None
    return (
        f"the {court} RSS feed covers about {window_hours:g} hours, but it was last read "
        f"{_hours(away)} ago: filings in between may have been missed (import a docket report, "
        "or let CourtListener fill in)"
    )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 72 else f"{hours / 24:.0f} days"
