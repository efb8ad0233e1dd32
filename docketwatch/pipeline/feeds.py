"""Atom and JSON feeds of the stored events, one per case and one per subscription.

A feed is a read of the event history (what digests are made of), not a delivery: it
takes no part in the outbox, and every reader sees the latest `FEED_ITEMS` events. The
bytes depend only on what is stored and where the feeds are published, so `docketwatch
feeds --out DIR --base-url URL/feeds` and `serve` at URL give the same file for the same
database. Item ids are stable: a new filing is named by its
case and entry key (the same from any source), every other event by its case and its
event id (events are never rewritten).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]  # feedgen ships no types
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from docketwatch import store
from docketwatch.domain.events import EventKind
from docketwatch.domain.text import without_controls
from docketwatch.files import replace_atomically
from docketwatch.pipeline import digests
from docketwatch.settings import CaseConfig, Config, DigestConfig
from docketwatch.store.models import Entry, Event, StoredCase, as_utc

FEED_ITEMS = 100  # the latest events a feed shows
CASE_KINDS = (EventKind.NEW, EventKind.CHANGED, EventKind.CASE, EventKind.GAP)
MEDIA_TYPES = {"atom": "application/atom+xml", "json": "application/feed+json"}
FORMATS = {fmt: f"{media}; charset=utf-8" for fmt, media in MEDIA_TYPES.items()}  # as served
# An empty feed's `updated`: fixed, so an unchanged database gives unchanged bytes.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TITLE_TEXT = 120
_HEADS: dict[str, str] = {EventKind.CASE: "Case change", EventKind.GAP: "Possible gap", EventKind.ERROR: "Source error"}


@dataclass(frozen=True)
class FeedRef:
    """One feed: of a case or of a subscription, and where it lives (`cases/<slug>`,
    `subscriptions/<slug>`, plus `.atom` or `.json`)."""

    kind: str  # "case" | "subscription"
    slug: str
    title: str
    case: CaseConfig | None = None
    subscription: DigestConfig | None = None

    def path(self, fmt: str) -> str:
        return f"{self.kind}s/{self.slug}.{fmt}"


@dataclass
class Item:
    """One event as a feed shows it."""

    id: str
    kind: str
    title: str
    text: str
    url: str | None
    at: datetime


def slug(text: str) -> str:
    """A file and URL name: lower case letters, digits and dashes (`cand-3-23-cv-03417`)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "-"


def case_slug(case: CaseConfig | StoredCase) -> str:
    return slug(f"{case.court}-{case.docket_number}")


def catalog(config: Config) -> list[FeedRef]:
    """Every feed: each configured case's, then each subscription's (in configuration
    order; a subscription whose name slugs like an earlier one's gets -2, -3, ...)."""
    refs = [FeedRef("case", case_slug(c), f"{c.name} ({c.court} {c.docket_number})", case=c) for c in config.cases]
    taken: set[str] = set()
    for d in config.digests:
        name, n = slug(d.name), 2
        while name in taken:  # "Team news" and "team-news" both slug to team-news
            name, n = f"{slug(d.name)}-{n}", n + 1
        taken.add(name)
        refs.append(FeedRef("subscription", name, f"docketwatch: {d.name}", subscription=d))
    return refs


def find(config: Config, path: str) -> tuple[FeedRef, str] | None:
    """The feed and format at `path` (as `FeedRef.path` makes it), or None."""
    for ref in catalog(config):
        for fmt in FORMATS:
            if ref.path(fmt) == path:
                return ref, fmt
    return None


def render(session: Session, config: Config, ref: FeedRef, fmt: str, base_url: str | None = None) -> bytes:
    """The feed in `fmt` ("atom" or "json"). With `base_url`, the URL the feeds are
    published under, it names its own address (Atom's rel="self", JSON Feed's
    feed_url), which feed readers use to find it again."""
    items = list(_items(session, config, ref))
    row = store.find_case(session, ref.case) if ref.case else None
    home = _case_url(config, ref.case, row) if ref.case and row else None
    url = f"{base_url.rstrip('/')}/{ref.path(fmt)}" if base_url else None
    if fmt == "json":
        return _json_feed(ref.title, home, url, items)
    return _atom(_urn(ref.kind, ref.slug), ref.title, home, url, max((i.at for i in items), default=EPOCH), items)


def write(config: Config, engine: Engine, out: Path, base_url: str | None = None) -> list[Path]:
    """Every feed in every format under `out` (each file replaced whole: temporary file,
    then rename, so a web server reading `out` never sees half a feed)."""
    written = []
    with Session(engine) as session:
        for ref in catalog(config):
            for fmt in FORMATS:
                target = out / ref.path(fmt)
                replace_atomically(target, render(session, config, ref, fmt, base_url))
                written.append(target)
    return written


# -- what a feed shows -------------------------------------------------------


def _cases(config: Config, ref: FeedRef) -> list[CaseConfig]:
    if ref.case is not None:
        return [ref.case]
    assert ref.subscription is not None
    return config.subscribed_cases(ref.subscription)


def _items(session: Session, config: Config, ref: FeedRef) -> Iterator[Item]:
    """The latest `FEED_ITEMS` events of the feed's cases it shows, newest first. A
    subscription's feed shows its kinds of events, through its keyword filters."""
    rows = {row.id: row for row in store.find_cases(session, _cases(config, ref))}
    kinds = list(ref.subscription.events) if ref.subscription else [str(k) for k in CASE_KINDS]
    query = (select(Event, Entry).join(Entry, col(Event.entry_id) == Entry.id, isouter=True)
             .where(col(Event.case_id).in_(list(rows)), col(Event.kind).in_(kinds))
             .order_by(col(Event.id).desc()))
    shown, offset, page = 0, 0, FEED_ITEMS * 2
    while shown < FEED_ITEMS:  # read in pages: keyword filters may pass few of them
        batch = list(session.exec(query.offset(offset).limit(page)))
        for event, entry in batch:
            if ref.subscription and not digests.passes_filters(ref.subscription, entry):
                continue
            yield _item(rows[event.case_id], event, entry, with_case=ref.subscription is not None)
            shown += 1
            if shown == FEED_ITEMS:
                return
        if len(batch) < page:
            return
        offset += page


def _item(case: StoredCase, event: Event, entry: Entry | None, *, with_case: bool) -> Item:
    case_key = case_slug(case)
    at = as_utc(event.created_at).replace(microsecond=0)  # to the second, as everywhere docketwatch shows times
    if entry is not None and event.kind in (EventKind.NEW, EventKind.CHANGED):
        label = f"#{entry.entry_number}" if entry.entry_number else "minute entry"
        filed = entry.date_filed.isoformat() if entry.date_filed else "undated"
        text = without_controls(entry.description or entry.short_description or "")
        if event.kind == EventKind.NEW:
            item_id, head = _urn("case", case_key, "entry", entry.key), f"New {label} ({filed})"
        else:
            what = ", ".join(event.changes or []) or "changed"
            item_id, head = _urn("case", case_key, "event", str(event.id)), f"Changed {label} ({filed}; {what})"
        title = f"{head}: {_short(text)}"
        if event.kind == EventKind.CHANGED:
            text = f"{text}\n\nWhat changed: {what}"
        url = digests.web_link(entry.url)
    else:
        text = without_controls(event.summary)
        item_id, url = _urn("case", case_key, "event", str(event.id)), None
        title = f"{_HEADS.get(event.kind, event.kind.capitalize())}: {_short(text)}"
    if with_case:
        title = without_controls(f"{case.name}: {title}")
    return Item(id=item_id, kind=event.kind, title=title, text=text, url=url, at=at)


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _TITLE_TEXT else line[:_TITLE_TEXT - 3].rstrip() + "..."


def _urn(*parts: str) -> str:
    """A stable id, `urn:docketwatch:case:cand-3-23-cv-03417:entry:<key>`."""
    return "urn:docketwatch:" + ":".join(quote(p, safe="-._~") for p in parts)


def _case_url(config: Config, case: CaseConfig, row: StoredCase) -> str | None:
    sources = [config.source_plugins[n] for n in case.sources]
    return digests.web_link(next((url for s in sources if (url := s.case_url(row))), None))


# -- formats -----------------------------------------------------------------


def _atom(feed_id: str, title: str, home: str | None, url: str | None, updated: datetime,
          items: list[Item]) -> bytes:
    """Atom through feedgen: it builds the XML with lxml (escaping, RFC 3339 dates, the
    required elements), which a template would have to get right by hand."""
    fg = FeedGenerator()
    fg.id(feed_id)
    fg.title(without_controls(title))
    fg.author({"name": "docketwatch"})
    fg.updated(updated)
    if home:
        fg.link(href=home, rel="alternate")
    if url:
        fg.link(href=url, rel="self", type=MEDIA_TYPES["atom"])
    for item in items:
        fe = fg.add_entry(order="append")
        fe.id(item.id)
        fe.title(item.title)
        fe.updated(item.at)
        fe.published(item.at)
        fe.content(item.text, type="text")
        fe.category(term=item.kind)
        if item.url:
            fe.link(href=item.url, rel="alternate")
    data: bytes = fg.atom_str(pretty=True)
    return data


def _json_feed(title: str, home: str | None, url: str | None, items: list[Item]) -> bytes:
    """JSON Feed 1.1 (jsonfeed.org): a plain JSON document, so no library is needed."""
    feed: dict[str, Any] = {"version": "https://jsonfeed.org/version/1.1", "title": title}
    if home:
        feed["home_page_url"] = home
    if url:
        feed["feed_url"] = url
    feed["items"] = [
        {"id": i.id, "title": i.title, "content_text": i.text, "date_published": i.at.isoformat(),
         "tags": [i.kind], **({"url": i.url} if i.url else {})}
        for i in items]
    return (json.dumps(feed, indent=2, ensure_ascii=False) + "\n").encode()
