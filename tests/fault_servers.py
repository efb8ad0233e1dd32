"""Loopback servers that fail the way real ones do, serving a court that keeps filing.

`Court` simulates dockets that grow and get edited (text edited, text filled in,
document now available) and remembers every state each entry went through: the
oracle the fault soak (tests/test_faults.py, bench/soak.py) judges docketwatch by.
Two sites serve it, each on its own real HTTP server on 127.0.0.1:

- `CourtListenerSite`: the per-docket Atom feed (30 latest entries, ETag) and REST API
  v4 `dockets/` and `docket-entries/` (token auth, date_modified cursor pagination,
  400 for undocumented parameters: tests/fake_courtlistener.py does that part).
- `CourtRssSite`: a court's rss_outside.pl, in the format of the real S.D.N.Y.
  Bankruptcy fixture: about the last day of filings of the whole court, short texts only.

Like the live services, the sources render one entry differently: the API keeps the
docket text's HTML links, entities and line breaks; the feed's summary is that HTML
(the reader strips it), whitespace collapsed, without the trailing period; the RSS
item has only the short text, and spells the case name its own way.

`FaultyServer` is a small threading HTTP server with control of the socket: per
request, `FaultInjector` (seeded) picks a fault or none, and every response is logged
as a `Served` record (which entries it carried, whether it was intact, how long the
client kept reading a trickle).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import cache
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from werkzeug import Request
from werkzeug.test import EnvironBuilder

from tests.fake_courtlistener import FakeCourtListener
from tests.servers import STOP_POLL

FEED_WINDOW = 30
ATOM_NS = "http://www.w3.org/2005/Atom"

# Faults, and how many of each a deck of 40 holds. Drawing from a shuffled deck (not
# independent draws) gives every kind its share even in a short run.
DECK = {
    "http_500": 4,       # retried by the client
    "http_503": 4,
    "truncated": 5,      # the body cut short (Content-Length kept, or shortened with it)
    "reset": 5,          # TCP RST, before the response or in the middle of it
    "html_page": 4,      # an HTML error page where XML or JSON belongs (200, or 502)
    "empty_body": 3,     # HTTP 200 with nothing in it
    "empty_feed": 3,     # a well-formed feed or page with no entries
    "reordered": 5,      # the same entries in another order: intact, must be stored
    "throttle_wait": 1,  # 429, Retry-After: 1 (within max_throttle_wait: waited out)
    "throttle_long": 2,  # 429, Retry-After beyond max_throttle_wait: the client gives up
    "trickle": 1,        # one byte every TRICKLE_INTERVAL seconds
    "oversized": 3,      # a valid body padded far beyond max_response_bytes
}
FAULTS = tuple(DECK)
# Faults a response can have and still be the truth: it must be stored.
INTACT = (None, "reordered")
# Faults that only make sense where a list of entries is served.
LIST_ONLY = ("empty_feed", "reordered")
TRICKLE_INTERVAL = 0.1


# -- the court ------------------------------------------------------------------------

@cache
def words(text: str | None) -> tuple[str, ...]:
    """The words of a docket text, whatever its rendering: tags, entities, case,
    whitespace and punctuation do not count. The oracle's notion of "the same text"."""
    plain = html.unescape(re.sub(r"<[^>]*>", "", text or ""))
    return tuple(re.findall(r"\w+", plain.lower()))


State = tuple[tuple[str, ...], bool]  # (the words a reader sees, document available)


@dataclass
class Docket:
    """A watched case as the court, CourtListener and the court's RSS feed know it."""

    id: int
    court: str
    docket_number: str        # as CourtListener writes it
    judge: str                # initials the court appends in its RSS titles
    name: str                 # CourtListener's case name
    rss_name: str             # the RSS feed's spelling of the same name
    pacer_case_id: str
    rss: bool = False         # watched through the court's RSS feed
    courtlistener: bool = True  # watched through CourtListener (False: the RSS feed alone)
    minute_entries: bool = False
    initial: int = 40         # entries before monitoring starts
    opens_at: int = 0         # the first cycle with filings (an empty docket until then)


@dataclass
class Edit:
    cycle: int
    entry_id: int
    kind: str  # "text edited", "text filled in", "document now available"


JUDGES = ["Vince Chhabria", "Araceli Martinez-Olguin", "William Alsup", "Eumi K. Lee", "Jon S. Tigar"]
LAWYERS = ["Joseph R. Saveri", "Angela L. Dunning", "Kathleen R. Hartnett", "Bobby A. Ghajar",
           "Rachel Geman", "Daniel M. Petrocelli"]
PARTIES = ["Meta Platforms, Inc.", "OpenAI, Inc.", "Anthropic PBC", "Plaintiffs", "Authors Guild"]
# (full text with {ref}/{date}/{judge}/{lawyer}/{party} holes, the short text CM/ECF gives it)
TEMPLATES = [
    ("ORDER GRANTING {ref} Motion to Dismiss & Strike. Signed by Judge {judge} on {date}.",
     "Order on Motion to Dismiss"),
    ("NOTICE of Appearance by {lawyer} on behalf of {party}. ({lawyer}) (Filed on {date}).",
     "Notice of Appearance"),
    ("STIPULATION AND [PROPOSED] ORDER re {ref} Order, Set Deadlines/Hearings by {party}. "
     "(Attachments: # 1 Proposed Order)({lawyer}) (Filed on {date}).", "Stipulation"),
    ("Transcript of Proceedings held on {date}, before Judge {judge}. Court Reporter: Ana Dub, "
     "telephone number (415) 290-2015. Release of Transcript Restriction set for 90 days.", "Transcript"),
    ("DECLARATION of {lawyer} in Support of {ref} Motion for Summary Judgment filed by {party}. "
     "(Related document(s) {ref}) ({lawyer}) (Filed on {date}).", "Declaration in Support"),
    ("DISCOVERY ORDER re {ref} Discovery Letter Brief. The parties' joint letter is resolved as "
     "stated. Signed by Magistrate Judge Thomas S. Hixson on {date}.", "Discovery Order"),
    ("ADMINISTRATIVE MOTION to File Under Seal {ref} Opposition/Response to Motion & exhibits "
     "filed by {party}. ({lawyer}) (Filed on {date}).", "Administrative Motion to File Under Seal"),
]
MINUTE_TEMPLATES = [
    "Minute Entry for proceedings held before Judge {judge}: Case Management Conference held on {date}. "
    "Further Case Management Conference set for {date}.",
    "CLERK'S NOTICE: the hearing set for {date} is continued. (This is a text-only entry; no document issued.)",
]


class Court:
    """The truth: dockets on a simulated CourtListener, growing and edited by seeded chance.

    Entries are the fake's dicts (their `description` is the API rendering, HTML and
    all); `history` holds every state of every entry by cycle, `edits` every edit.
    """

    def __init__(self, dockets: list[Docket], seed: int, base_url: str):
        self.rng = random.Random(seed)
        self.cl = FakeCourtListener(base_url=base_url)
        self.dockets = {d.id: d for d in dockets}
        self.cycle = 0
        # The court's clock starts a day before the real one (whole hours): docketwatch dates
        # the watch by the real clock, and what is filed after it began is news.
        self.now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
        self.by_id: dict[int, dict] = {}
        self.docket_of: dict[int, int] = {}
        self.filed: dict[int, int] = {}          # entry id -> cycle it was filed in
        self.filed_at: dict[int, datetime] = {}  # entry id -> time (the RSS pubDate)
        self.history: dict[int, list[tuple[int, State]]] = {}
        self.edits: list[Edit] = []
        self.noise: list[tuple[datetime, str, str, str, int]] = []  # other cases in the RSS feed
        self.to_fill: dict[int, tuple[str, str]] = {}
        self.numbered: dict[tuple[int, int], int] = {}  # (docket, entry number) -> entry id
        for d in dockets:
            self.cl.add_docket(d.id, d.court, d.docket_number, d.name, pacer_case_id=d.pacer_case_id,
                               assigned_to_str=self.rng.choice(JUDGES))
            if d.name.startswith("Kadrey"):
                self.cl.load_kadrey(d.id)  # the real entries, plain text, as a start
                for e in self.cl.entries[d.id]:
                    self._register(d.id, e, filed_at=self.now - timedelta(days=30))
            while d.opens_at == 0 and len(self.cl.entries[d.id]) < d.initial:
                self._file(d, back=True)

    # -- what the oracle asks --------------------------------------------------------
    def state(self, entry_id: int) -> State:
        e = self.by_id[entry_id]
        doc = e["recap_documents"][0]
        return words(e["description"] or doc["description"]), bool(doc["is_available"])

    def state_at(self, entry_id: int, cycle: int) -> State | None:
        """The entry's state as it was during `cycle` (None: not filed yet)."""
        found = None
        for when, state in self.history[entry_id]:
            if when > cycle:
                break
            found = state
        return found

    def short_words(self, entry_id: int) -> tuple[str, ...]:
        return words(self.by_id[entry_id]["recap_documents"][0]["description"])

    def find(self, docket_id: int, number: str | None, key: str, visible: tuple[str, ...]) -> int | None:
        """The entry a stored row stands for: by number, else by CourtListener's id (in
        the row's key), else an unnumbered entry whose words the row shows."""
        if number is not None:
            return self.numbered.get((docket_id, int(number))) if number.strip().isdigit() else None
        if key.startswith("courtlistener:") and key.partition(":")[2].isdigit():
            entry_id = int(key.partition(":")[2])
            return entry_id if self.docket_of.get(entry_id) == docket_id else None
        return next((e["id"] for e in self.cl.entries[docket_id] if e["entry_number"] is None
                     and any(state[0] == visible for _, state in self.history[e["id"]])), None)

    # -- the court at work -----------------------------------------------------------
    def advance(self, cycle: int, *, file: float = 0.45, edit: float = 0.18) -> None:
        """One cycle of court activity: new filings, edits of older entries."""
        self.cycle = cycle
        self.now += timedelta(hours=3)
        for d in self.dockets.values():
            if cycle < d.opens_at:
                continue
            for _ in range(self._poisson(file)):
                self._file(d)
            if self.rng.random() < edit:
                self._edit(d)
        courts = sorted({d.court for d in self.dockets.values() if d.rss})
        if courts and self.rng.random() < 0.5:  # unwatched cases file too
            court = self.rng.choice(courts)
            serial = self.rng.randrange(1000, 9999)
            self.noise.append((self.now, court, f"3:25-cv-0{serial}-JST", f"Doe {serial} v. Roe Corp.",
                               self.rng.randrange(1, 60)))

    def _poisson(self, mean: float) -> int:
        n, limit, p = 0, math.exp(-mean), self.rng.random()
        while p > limit:
            n += 1
            p *= self.rng.random()
        return n

    def _file(self, d: Docket, back: bool = False) -> None:
        existing = self.cl.entries[d.id]
        numbers = [e["entry_number"] for e in existing if e["entry_number"]]
        minute = d.minute_entries and self.rng.random() < 0.15
        when = self.now - timedelta(days=2 * (d.initial - len(existing))) if back else self.now
        date = when.date().isoformat()
        if minute:
            text = self._text(self.rng.choice(MINUTE_TEMPLATES), numbers, date)
            e = self.cl.add_entry(d.id, None, date, self._api_html(text), short="", available=False)
        else:
            number = max(numbers, default=0) + self.rng.randint(1, 3)
            template, short = self.rng.choice(TEMPLATES)
            stub = not back and self.rng.random() < 0.25  # the full text comes later
            text = "" if stub else self._api_html(self._text(template, numbers, date))
            e = self.cl.add_entry(d.id, str(number), date, text, short=short,
                                  available=self.rng.random() < 0.5)
            if stub:
                self.to_fill[e["id"]] = (template, date)  # the text the court fills in later
        self._register(d.id, e, filed_at=when)

    def _register(self, docket_id: int, e: dict, filed_at: datetime) -> None:
        self.by_id[e["id"]] = e
        if e["entry_number"] is not None:
            self.numbered[(docket_id, e["entry_number"])] = e["id"]
        self.docket_of[e["id"]] = docket_id
        self.filed[e["id"]] = self.cycle
        self.filed_at[e["id"]] = filed_at
        self.history[e["id"]] = [(self.cycle, self.state(e["id"]))]

    def _edit(self, d: Docket) -> None:
        rows = [e for e in self.cl.entries[d.id] if self.filed[e["id"]] < self.cycle]
        if not rows:
            return
        rows.sort(key=lambda e: (e["recap_sequence_number"], e["entry_number"] or 0), reverse=True)
        # Mostly within the feed's window, where the free feed can see it; sometimes older.
        pool = rows[:FEED_WINDOW] if self.rng.random() < 0.65 else rows
        e = self.rng.choice(pool)
        doc = e["recap_documents"][0]
        numbers = [r["entry_number"] for r in rows if r["entry_number"]]
        choices = ["text edited"]
        if not e["description"] and e["id"] in self.to_fill:
            choices = ["text filled in"] * 3
        elif not doc["is_available"] and e["entry_number"]:
            choices.append("document now available")
        kind = self.rng.choice(choices)
        if kind == "text filled in":
            template, date = self.to_fill.pop(e["id"])
            e["description"] = self._api_html(self._text(template, numbers, date))
        elif kind == "document now available":
            doc["is_available"] = True
            doc["filepath_local"] = f"recap/gov.uscourts.{d.court}.{d.pacer_case_id}/{e['entry_number']}.pdf"
        elif e["description"]:
            note = f"(Modified on {self.now:%-m/%-d/%Y} to correct the {self.rng.choice(['date', 'title', 'party', 'event'])} ({self.rng.choice(['ads', 'kc', 'jlm'])}))"
            e["description"] = e["description"].rstrip() + " " + note
        else:
            return  # a stub whose text is still to come: nothing to edit yet
        e["date_modified"] = doc["date_modified"] = self.cl._tick()
        state = self.state(e["id"])
        if state != self.history[e["id"]][-1][1]:
            self.history[e["id"]].append((self.cycle, state))
            self.edits.append(Edit(self.cycle, e["id"], kind))

    def _text(self, template: str, numbers: list[int], date: str) -> str:
        ref = self.rng.choice(numbers) if numbers else 1
        day = datetime.fromisoformat(date)
        return template.format(ref=f"{{ref:{ref}}}", date=f"{day:%-m/%-d/%Y}", judge=self.rng.choice(JUDGES),
                               lawyer=self.rng.choice(LAWYERS), party=self.rng.choice(PARTIES))

    def _api_html(self, text: str) -> str:
        """The docket text as the API gives it: links kept as HTML, & and ' as entities,
        a line break or doubled space here and there."""
        out = html.escape(text, quote=True).replace("&#x27;", "&#39;")
        out = re.sub(r"\{ref:(\d+)\}", lambda m: (
            f'<a href="https://ecf.cand.uscourts.gov/doc1/035{int(m[1]):09d}">{m[1]}</a>'), out)
        return re.sub(r"\. ", lambda m: self.rng.choice([". ", ".  ", ".\n"]), out)

    def rss_items(self, court: str, window: timedelta) -> list[tuple[datetime, str, int | None]]:
        """(pubDate, item XML, entry id or None for an unwatched case) of the court's
        filings within `window` of now, newest first."""
        items = []
        for d in self.dockets.values():
            if d.court != court or not d.rss:
                continue
            for e in self.cl.entries[d.id]:
                when = self.filed_at[e["id"]]
                if e["entry_number"] is None or self.now - when > window:
                    continue
                doc = e["recap_documents"][0]
                items.append((when, _rss_item(d.docket_number + "-" + d.judge, d.rss_name, d.pacer_case_id,
                                              doc["description"], e["entry_number"], doc["pacer_doc_id"],
                                              court, when), e["id"]))
        for when, noise_court, number, name, doc_number in self.noise:
            if noise_court == court and self.now - when <= window:
                items.append((when, _rss_item(number, name, "999" + number[-4:], "Order", doc_number,
                                              f"0351{doc_number:07d}", court, when), None))
        items.sort(key=lambda i: i[0], reverse=True)
        return items


def _rss_item(number: str, name: str, case_id: str, short: str, entry_number: int, doc_id: str,
              court: str, when: datetime) -> str:
    link = (f"https://ecf.{court}.uscourts.gov/doc1/{doc_id}?caseid={case_id}"
            f"&de_seq_num={entry_number * 3}&pdf_header=2")
    description = f"[{short}] (<a href='{link}'>{entry_number}</a>)"
    return (
        f"<item>\n<title>{html.escape(number)} {html.escape(name)}                       </title>\n"
        f"<link>https://ecf.{court}.uscourts.gov/cgi-bin/DktRpt.pl?{case_id}</link>\n"
        f"<description>{html.escape(description)}</description>\n"
        f'<guid isPermaLink="true">https://ecf.{court}.uscourts.gov/cgi-bin/DktRpt.pl?{case_id}-{entry_number * 3}</guid>\n'
        f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>\n</item>\n"
    )


# -- what a site answers ----------------------------------------------------------------

@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    carried: list[int] = field(default_factory=list)  # ids of the court entries it shows


def _padding(size: int) -> str:
    return "<!-- " + "docket padding " * (size // 15) + " -->"


class CourtListenerSite:
    """CourtListener over `Court`: the Atom feed rendered here, the API by the fake."""

    name = "courtlistener"

    def __init__(self, court: Court, oversize: int):
        self.court = court
        self.oversize = oversize

    def classify(self, path: str, query: dict[str, str]) -> tuple[str, int | None]:
        """(endpoint kind, docket id) of a request."""
        parts = [p for p in path.split("/") if p]
        if len(parts) == 3 and parts[0] == "docket" and parts[2] == "feed":
            return "feed", int(parts[1])
        if parts[:4] == ["api", "rest", "v4", "dockets"] and len(parts) == 5:
            return "api_docket", int(parts[4])
        if parts[:4] == ["api", "rest", "v4", "docket-entries"]:
            return "api_entries", int(query.get("docket", "0"))
        return "other", None

    def answer(self, request: Request, endpoint: str, target: int | None, fault: str | None,
               rng: random.Random) -> Answer:
        if endpoint == "feed":
            return self.feed(target, request, fault, rng)
        response = self.court.cl.handle(request)
        body = response.get_data()
        carried: list[int] = []
        if endpoint == "api_entries" and response.status_code == 200:
            page = json.loads(body)
            if fault == "reordered":
                rng.shuffle(page["results"])
            elif fault == "empty_feed":
                page["results"], page["next"] = [], None
            elif fault == "oversized":  # as if `omit` were ignored: the OCR text of every document
                for e in page["results"]:
                    e["recap_documents"][0]["plain_text"] = "OCR TEXT " * (self.oversize // 9 // max(len(page["results"]), 1))
            carried = [e["id"] for e in page["results"]]
            body = json.dumps(page).encode()
        elif endpoint == "api_docket" and fault == "oversized" and response.status_code == 200:
            docket = json.loads(body)
            docket["audio_files"] = [f"{self.court.cl.base_url}/api/rest/v4/audio/{i}/" for i in range(self.oversize // 40)]
            body = json.dumps(docket).encode()
        if fault == "oversized":
            body += b" " * max(self.oversize - len(body), 0)  # JSON allows it; the size is the point
        return Answer(response.status_code, [("Content-Type", response.content_type)], body, carried)

    def feed(self, docket_id: int | None, request: Request, fault: str | None, rng: random.Random) -> Answer:
        cl = self.court.cl
        if docket_id not in cl.dockets:
            return Answer(404, [("Content-Type", "text/plain")], b"not found")
        d = cl.dockets[docket_id]
        rows = [e for e in cl.entries[docket_id] if e["date_filed"]]
        rows.sort(key=lambda e: (e["recap_sequence_number"], e["entry_number"] or 0), reverse=True)
        rows = rows[:FEED_WINDOW]
        if fault == "reordered":
            rng.shuffle(rows)
        elif fault == "empty_feed":
            rows = []
        base = cl.base_url
        items = []
        for e in rows:
            anchor = f"entry-{e['entry_number']}" if e["entry_number"] else f"minute-entry-{e['id']}"
            title = f"Entry #{e['entry_number']}" if e["entry_number"] else f"Minute entry from {e['date_filed']}"
            doc = e["recap_documents"][0]
            enclosure = (f'<link href="https://storage.courtlistener.com/{doc["filepath_local"]}" '
                         'rel="enclosure" type="application/pdf"/>') if doc["filepath_local"] else ""
            summary = " ".join((e["description"] or doc["description"]).split()).removesuffix(".")
            items.append(
                f"<entry><title>{html.escape(title)} in {html.escape(d['case_name'])}, {d['docket_number']}</title>"
                f'<link href="{base}/docket/{docket_id}/x/?order_by=desc#{anchor}" rel="alternate"/>'
                f"<published>{e['date_filed']}T00:00:00-07:00</published>"
                f"<id>{base}/docket/{docket_id}/x/#{anchor}</id>"
                f'<summary type="html">{html.escape(summary)}</summary>{enclosure}</entry>'
            )
        body = (
            f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="{ATOM_NS}" xml:lang="en-us">'
            f"<title>CourtListener.com: Docket for {html.escape(d['case_name'])}, {d['docket_number']}</title>"
            f'<link href="{base}/docket/{docket_id}/feed/" rel="self"/>'
            f"<id>{base}/docket/{docket_id}/x/</id><updated>{self.court.now.isoformat()}</updated>"
            + "".join(items) + (_padding(self.oversize) if fault == "oversized" else "") + "</feed>"
        ).encode()
        return _conditional(request, body, "application/atom+xml; charset=utf-8", [e["id"] for e in rows])


class CourtRssSite:
    """A court's rss_outside.pl over `Court`: the last `window` of the court's filings."""

    name = "pacer_rss"

    def __init__(self, court: Court, oversize: int, window: timedelta = timedelta(hours=12)):
        self.court = court
        self.oversize = oversize
        self.window = window

    def classify(self, path: str, query: dict[str, str]) -> tuple[str, str | None]:
        parts = [p for p in path.split("/") if p]
        if parts[1:] == ["cgi-bin", "rss_outside.pl"]:
            return "rss", parts[0]
        return "other", None

    def answer(self, request: Request, endpoint: str, target: str | None, fault: str | None,
               rng: random.Random) -> Answer:
        if endpoint != "rss":
            return Answer(404, [("Content-Type", "text/plain")], b"not found")
        items = self.court.rss_items(target, self.window)
        build = max((when for when, _, _ in items), default=self.court.now - self.window)
        if fault == "reordered":
            rng.shuffle(items)
        elif fault == "empty_feed":
            items = []
        body = (
            '<?xml version="1.0" encoding="ISO-8859-1"?>\n\n<rss version="2.0"\n'
            ' xmlns:blogChannel="http://backend.userland.com/blogChannelModule"\n>\n\n<channel>\n'
            f"<title>{target.upper()} - Recent Entries</title>\n<link>https://ecf.{target}.uscourts.gov</link>\n"
            "<description>Docket entries of type: all</description>\n"
            f"<lastBuildDate>{format_datetime(build, usegmt=True)}</lastBuildDate>\n\n"
            + "".join(xml for _, xml, _ in items)
            + (_padding(self.oversize) if fault == "oversized" else "") + "</channel>\n</rss>"
        ).encode("latin-1")
        return _conditional(request, body, "text/xml", [i for _, _, i in items if i is not None])


def _conditional(request: Request, body: bytes, content_type: str, carried: list[int]) -> Answer:
    """200 with an ETag, or 304 when the client has this very body (it still stands for
    the entries in it: a client that skips them on a 304 must have stored them)."""
    etag = '"' + hashlib.sha1(body).hexdigest() + '"'
    if request.headers.get("If-None-Match") == etag:
        return Answer(304, [("ETag", etag)], b"", carried)
    return Answer(200, [("Content-Type", content_type), ("ETag", etag)], body, carried)


# -- faults -------------------------------------------------------------------------

@dataclass
class Served:
    """One response, as the server gave it."""

    server: str
    cycle: int
    endpoint: str
    target: int | str | None
    url: str                   # path and query: a retry asks for the same
    fault: str | None
    variant: str = ""
    status: int = 0
    carried: list[int] = field(default_factory=list)
    intact: bool = False       # the whole truth, promptly: the client must be able to use it
    started: float = 0.0
    held: float | None = None  # trickle: how long the client kept reading


class FaultInjector:
    """Seeded: decides per request whether it fails, and how. Off until `enabled`."""

    def __init__(self, seed: int, rate: float):
        self.rng = random.Random(seed)
        self.rate = rate
        self.enabled = False
        self.cycle = 0
        self.deck: list[str] = []
        self.counts: Counter[str] = Counter()
        self.log: list[Served] = []
        self.lock = threading.Lock()
        self.request_starts: list[float] = []

    def decide(self, endpoint: str) -> str | None:
        if not self.enabled or endpoint == "other" or self.rng.random() >= self.rate:
            return None
        for i, kind in enumerate(self.deck):
            if kind not in LIST_ONLY or endpoint in ("feed", "api_entries", "rss"):
                self.counts[kind] += 1
                return self.deck.pop(i)
        self.deck = [k for k, n in DECK.items() for _ in range(n)]
        self.rng.shuffle(self.deck)
        return self.decide(endpoint) if self.rate > 0 else None


ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>"
              b"<h1>Bad Gateway</h1><p>The web server reported a bad gateway error.</p>"
              b"<p>Ray ID: 8f1c2d3e4a5b6c7d &bull; Performance &amp; security by Cloudflare</p></body></html>")


class FaultyServer:
    """A threading HTTP/1.1 server on 127.0.0.1 with its hands on the socket."""

    def __init__(self, injector: FaultInjector, timeout: float):
        self.site: CourtListenerSite | CourtRssSite | None = None
        self.injector = injector
        self.timeout = timeout
        self.trickle_cap = timeout + 3.0
        self.active = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (the http.server name)
                owner.handle(self)

            def log_message(self, *args) -> None:
                pass

            def finish(self) -> None:
                try:
                    super().finish()
                except OSError:
                    pass  # the fault closed the socket already

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": STOP_POLL}, daemon=True)

    def start(self, site: CourtListenerSite | CourtRssSite) -> FaultyServer:
        """Serve `site` (made after the server, since its links name the server's URL)."""
        self.site = site
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def wait_idle(self, deadline: float) -> bool:
        """Wait until no response is still being written (trickles end on their own)."""
        end = time.monotonic() + deadline
        while self.active and time.monotonic() < end:
            time.sleep(0.05)
        return not self.active

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        split = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        endpoint, target = self.site.classify(split.path, query)
        inj = self.injector
        with inj.lock:
            self.active += 1
            inj.request_starts.append(started)
            fault = inj.decide(endpoint)
            record = Served(self.site.name, inj.cycle, endpoint, target, h.path, fault, started=started)
            inj.log.append(record)
            request = EnvironBuilder(path=split.path, query_string=split.query, headers=dict(h.headers.items()),
                                     method="GET").get_request()
            rng = inj.rng
            answer = self.site.answer(request, endpoint, target,
                                      fault if fault in (*LIST_ONLY, "oversized") else None, rng)
            answer = self._bend(answer, fault, record, rng)
            record.status, record.carried = answer.status, answer.carried
            latency = time.monotonic() - started
            # A response the server itself was slow to give is not one the client must use.
            record.intact = fault in INTACT and latency < self.timeout / 2
            cut = rng.random()
        try:
            self._send(h, answer, fault, record, cut)
        finally:
            with inj.lock:
                self.active -= 1
            h.close_connection = True

    def _bend(self, answer: Answer, fault: str | None, record: Served, rng: random.Random) -> Answer:
        """Status and body faults replace the answer; transport faults are applied in _send."""
        json_like = record.endpoint.startswith("api")
        content_type = "application/json" if json_like else "application/xml"
        if fault in ("http_500", "http_503"):
            status = 500 if fault == "http_500" else 503
            text = b"Internal Server Error" if status == 500 else b"Service Temporarily Unavailable"
            return Answer(status, [("Content-Type", "text/html")], b"<html><body><h1>" + text + b"</h1></body></html>")
        if fault == "html_page":
            record.variant = rng.choice(["200", "200", "502"])
            return Answer(int(record.variant), [("Content-Type", "text/html; charset=utf-8")], ERROR_PAGE)
        if fault == "empty_body":
            return Answer(200, [("Content-Type", content_type)], b"")
        if fault in ("throttle_wait", "throttle_long"):
            wait = 1 if fault == "throttle_wait" else rng.choice([2, 3])
            record.variant = f"Retry-After {wait}"
            body = json.dumps({"detail": f"Request was throttled. Expected available in {wait} seconds."})
            return Answer(429, [("Content-Type", "application/json"), ("Retry-After", str(wait))], body.encode())
        return answer

    def _send(self, h: BaseHTTPRequestHandler, answer: Answer, fault: str | None, record: Served, cut: float) -> None:
        sock = h.connection
        chunked = fault == "oversized" and cut < 0.5  # no Content-Length to check up front
        head, body = _head(answer, chunked=chunked)
        raw = head + body
        if fault == "truncated":
            if body:
                keep = max(1, int(len(body) * cut * 0.95))
                if cut < 0.5:
                    record.variant = "body cut, Content-Length kept"
                    raw = head + body[:keep]
                else:
                    record.variant = "body cut, Content-Length cut too"
                    short = Answer(answer.status, answer.headers, body[:keep])
                    raw = b"".join(_head(short)) + body[:keep]
            else:
                record.variant = "headers cut"
                raw = head[: max(1, int(len(head) * cut))]
            _sendall(sock, raw)
            return
        if fault == "reset":
            if cut < 0.5:
                record.variant = "before the response"
            else:
                record.variant = "in the middle of the response"
                _sendall(sock, raw[: max(1, int(len(raw) * cut * 0.9))])
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            return
        if fault == "trickle":
            start = time.monotonic()
            for i in range(len(raw)):
                if not _sendall(sock, raw[i:i + 1]) or time.monotonic() - start > self.trickle_cap:
                    break
                time.sleep(TRICKLE_INTERVAL)
            record.held = time.monotonic() - start
            return
        if chunked:
            record.variant = "chunked"
        _sendall(sock, raw)


def _head(answer: Answer, chunked: bool = False) -> tuple[bytes, bytes]:
    """The status line and headers, and the body as it goes on the wire."""
    reason = HTTPStatus(answer.status).phrase
    lines = [f"HTTP/1.1 {answer.status} {reason}"] + [f"{k}: {v}" for k, v in answer.headers]
    body = answer.body
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        step = 65536
        body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + step]), body[i:i + step])
                        for i in range(0, len(body), step)) + b"0\r\n\r\n"
    elif answer.status != 304:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), body


def _sendall(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False
