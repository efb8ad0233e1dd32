"""A local stand-in for CourtListener, served over real HTTP (pytest-httpserver).

It behaves like the parts docketwatch uses: the per-docket Atom feed (30 latest
entries, ETag / If-None-Match), and REST API v4 `dockets/` and `docket-entries/` with
token auth (401 without), cursor pagination by date_modified (20 a page), `courts/`
(readable without a token, page-number pagination, `jurisdiction` repeatable), and
400 for any query parameter, filter value or field the live API's own OPTIONS
description does not list. Tests can
queue failures (429, 500) and truncate the feed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from werkzeug import Request, Response

FIXTURES = Path(__file__).parent / "fixtures" / "courtlistener"
FRAMEWORK_PARAMS = {"page", "page_size", "cursor", "order_by", "format", "fields", "omit", "count"}
PAGE_SIZE = 20


@functools.cache
def allowed_params(endpoint: str) -> tuple[frozenset[str], frozenset[str]]:
    """(exact names, related-filter prefixes) the live API accepts for `endpoint` (read
    once: parsing the 250 KB description per request cost the stand-in 1.3 ms each)."""
    options = api_options(endpoint)
    exact, related = set(FRAMEWORK_PARAMS), set()
    for name, spec in options["filters"].items():
        exact.add(name)
        if isinstance(spec["lookup_types"], list):
            exact.update(f"{name}__{lookup}" for lookup in spec["lookup_types"])
        else:
            related.add(f"{name}__")
    return frozenset(exact), frozenset(related)


def api_options(endpoint: str) -> dict:
    return _options()[endpoint]


@functools.cache
def _options() -> dict:
    return json.loads((FIXTURES / "clapi_http_options_subset.json").read_text())


def kadrey_entries() -> list[dict]:
    return json.loads((FIXTURES / "kadrey_entries.json").read_text())["entries"]


@dataclass
class FakeCourtListener:
    base_url: str
    token: str = "test-token"
    dockets: dict[int, dict] = field(default_factory=dict)
    entries: dict[int, list[dict]] = field(default_factory=dict)
    requests: list[tuple[str, dict]] = field(default_factory=list)
    queued: list[Response] = field(default_factory=list)
    truncate_feed: bool = False
    fail_with: int | None = None  # answer every request with this status
    # How the feed renders an entry's text (the live feed and API differ: markup, a final period).
    feed_rendering: Callable[[str], str] = lambda text: text
    clock: datetime = datetime.fromisoformat("2025-07-01T09:00:00-07:00")
    next_id: int = 400_000_000
    # The court list (`courts/`): each court with the fields the live API describes.
    courts: list[dict] = field(default_factory=list)

    # -- building the docket -------------------------------------------------
    def add_docket(self, docket_id: int, court: str, docket_number: str, case_name: str, **extra) -> None:
        year, serial = re.search(r"(\d{2})-(?:[a-z]+-)?(\d+)", docket_number).groups()
        self.dockets[docket_id] = {
            "id": docket_id, "court_id": court, "docket_number": docket_number,
            "docket_number_core": year + serial[-5:].zfill(5), "case_name": case_name,
            "pacer_case_id": extra.pop("pacer_case_id", None), "assigned_to_str": extra.pop("assigned_to_str", ""),
            "date_terminated": None, "absolute_url": f"/docket/{docket_id}/x/", **extra,
        }
        self.entries[docket_id] = []

    def _tick(self) -> str:
        self.clock += timedelta(minutes=7)
        return self.clock.isoformat(timespec="microseconds")

    def add_entry(self, docket_id: int, number: str | None, date_filed: str | None, description: str,
                  *, short: str = "", available: bool = False, sealed: bool | None = None) -> dict:
        self.next_id += 1
        now = self._tick()
        entry = {
            "id": self.next_id, "docket": docket_id,
            "entry_number": int(number) if number else None,
            "date_filed": date_filed, "date_created": now, "date_modified": now,
            "description": description, "recap_sequence_number": f"{date_filed or '1970-01-01'}.001",
            "recap_documents": [{
                "id": self.next_id + 10**9, "document_number": number or "", "attachment_number": None,
                "description": short, "is_available": available, "is_sealed": sealed,
                "filepath_local": f"recap/gov.uscourts.x/{number}.pdf" if available else None,
                "pacer_doc_id": f"0351{self.next_id % 10**7:07d}", "page_count": 3,
                "plain_text": "OCR TEXT " * 50,
            }],
        }
        self.entries[docket_id].append(entry)
        return entry

    def update_entry(self, docket_id: int, number: str, **changes) -> None:
        entry = next(e for e in self.entries[docket_id] if str(e["entry_number"]) == number)
        doc = entry["recap_documents"][0]
        if "description" in changes:
            entry["description"] = changes["description"]
        if changes.get("available"):
            doc["is_available"], doc["filepath_local"] = True, f"recap/gov.uscourts.x/{number}.pdf"
        if "sealed" in changes:
            doc["is_sealed"] = changes["sealed"]
        entry["date_modified"] = doc["date_modified"] = self._tick()

    def load_kadrey(self, docket_id: int = 67569326) -> None:
        """The real Kadrey v. Meta entries (those with a filing date, as the feed needs)."""
        self.add_docket(docket_id, "cand", "3:23-cv-03417", "Kadrey v. Meta Platforms, Inc.",
                        pacer_case_id="415175", assigned_to_str="Vince Chhabria")
        for e in kadrey_entries():
            if e["date_filed"]:
                self.add_entry(docket_id, e["entry_number"], e["date_filed"], e["text"], short="Order",
                               available=e["entry_number"] is not None)

    # -- serving -------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        params = request.args.to_dict()
        self.requests.append((request.path, params))
        if self.queued:
            return self.queued.pop(0)
        if self.fail_with:
            return Response("failing on purpose", status=self.fail_with)
        parts = [p for p in request.path.split("/") if p]
        if len(parts) == 3 and parts[0] == "docket" and parts[2] == "feed":
            return self.feed(int(parts[1]), request)
        if parts == ["api", "rest", "v4", "courts"]:
            return self.court_page(request)
        if parts[:3] == ["api", "rest", "v4"]:
            return self.api(parts[3:], params, request)
        return Response("not found", status=404)

    def feed(self, docket_id: int, request: Request) -> Response:
        if docket_id not in self.dockets:
            return Response("not found", status=404)
        d = self.dockets[docket_id]
        rows = [e for e in self.entries[docket_id] if e["date_filed"]]
        rows.sort(key=lambda e: (e["recap_sequence_number"], e["entry_number"] or 0), reverse=True)
        items = []
        for e in rows[:30]:
            anchor = f"entry-{e['entry_number']}" if e["entry_number"] else f"minute-entry-{e['id']}"
            title = (f"Entry #{e['entry_number']}" if e["entry_number"] else f"Minute entry from {e['date_filed']}")
            doc = e["recap_documents"][0]
            enclosure = (f'<link href="https://storage.courtlistener.com/{doc["filepath_local"]}" '
                         'rel="enclosure" type="application/pdf"/>') if doc["filepath_local"] else ""
            summary = self.feed_rendering(e["description"] or doc["description"])
            items.append(
                f"<entry><title>{html.escape(title)} in {html.escape(d['case_name'])}, {d['docket_number']}</title>"
                f'<link href="{self.base_url}/docket/{docket_id}/x/?order_by=desc#{anchor}" rel="alternate"/>'
                f"<published>{e['date_filed']}T00:00:00-07:00</published>"
                f"<id>{self.base_url}/docket/{docket_id}/x/#{anchor}</id>"
                f'<summary type="html">{html.escape(html.escape(summary))}</summary>{enclosure}</entry>'
            )
        body = (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us">'
            f"<title>CourtListener.com: Docket for {html.escape(d['case_name'])}, {d['docket_number']}</title>"
            f'<link href="{self.base_url}/docket/{docket_id}/feed/" rel="self"/>'
            f"<id>{self.base_url}/docket/{docket_id}/x/</id><updated>{self.clock.isoformat()}</updated>"
            + "".join(items) + "</feed>"
        ).encode()
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        if self.truncate_feed:
            body = body[: len(body) // 2]
        return Response(body, content_type="application/atom+xml; charset=utf-8", headers={"ETag": etag})

    def api(self, parts: list[str], params: dict, request: Request) -> Response:
        endpoint = parts[0] if parts else ""
        auth = request.headers.get("Authorization")
        if auth is None:
            return _json({"detail": "Authentication credentials were not provided."}, 401)
        if auth != f"Token {self.token}":
            return _json({"detail": "Invalid token."}, 401)
        exact, related = allowed_params(endpoint)
        if any(p not in exact and not any(p.startswith(r) for r in related) for p in params):
            return _json({"detail": "Unknown filter parameters are not allowed."}, 400)
        if endpoint == "dockets" and len(parts) == 2:
            docket = self.dockets.get(int(parts[1]))
            return _json(docket) if docket else _json({"detail": "No Docket matches the given query."}, 404)
        if endpoint == "dockets":
            found = [d for d in self.dockets.values()
                     if d["court_id"] == params.get("court") and d["docket_number_core"] == params.get("docket_number_core")]
            return _json({"count": f"{self.base_url}/api/rest/v4/dockets/?count=on", "next": None,
                          "previous": None, "results": found})
        if endpoint == "docket-entries":
            return self.entry_page(params)
        return _json({"detail": "Not found."}, 404)

    def entry_page(self, params: dict) -> Response:
        if params.get("order_by") != "date_modified":
            return _json({"detail": "this fake serves only order_by=date_modified"}, 400)
        rows = sorted(self.entries.get(int(params.get("docket", 0)), []), key=lambda e: e["date_modified"])
        if "date_modified__gte" in params:
            rows = [e for e in rows if datetime.fromisoformat(e["date_modified"]) >= datetime.fromisoformat(params["date_modified__gte"])]
        if "date_modified__gt" in params:
            rows = [e for e in rows if datetime.fromisoformat(e["date_modified"]) > datetime.fromisoformat(params["date_modified__gt"])]
        offset = int(base64.b64decode(params["cursor"]).decode()) if "cursor" in params else 0
        page = [json.loads(json.dumps(e)) for e in rows[offset: offset + PAGE_SIZE]]
        if params.get("omit") == "recap_documents__plain_text":
            for e in page:
                for doc in e["recap_documents"]:
                    doc.pop("plain_text", None)
        following = None
        if offset + PAGE_SIZE < len(rows):
            query = {k: v for k, v in params.items() if k != "cursor"}
            query["cursor"] = base64.b64encode(str(offset + PAGE_SIZE).encode()).decode()
            following = f"{self.base_url}/api/rest/v4/docket-entries/?{urlencode(query)}"
        return _json({"next": following, "previous": None, "results": page})


    def court_page(self, request: Request) -> Response:
        """`courts/`, anonymous: filtered by jurisdiction (repeatable), `fields` chosen, 20 a page."""
        options = api_options("courts")
        exact, _ = allowed_params("courts")
        if any(p not in exact for p in request.args):
            return _json({"detail": "Unknown filter parameters are not allowed."}, 400)
        kinds = request.args.getlist("jurisdiction")
        if any(k not in {c["value"] for c in options["filters"]["jurisdiction"]["choices"]} for k in kinds):
            return _json({"jurisdiction": ["Select a valid choice."]}, 400)
        wanted = [f for f in request.args.get("fields", "").split(",") if f]
        if any(f not in options["actions"]["POST"] for f in wanted):
            return _json({"detail": "fields names a field the API does not have"}, 400)
        rows = [c for c in self.courts if not kinds or c["jurisdiction"] in kinds]
        number = int(request.args.get("page", "1"))
        page = [{k: v for k, v in c.items() if not wanted or k in wanted}
                for c in rows[(number - 1) * PAGE_SIZE: number * PAGE_SIZE]]
        following = None
        if number * PAGE_SIZE < len(rows):
            query = [(k, v) for k, v in request.args.items(multi=True) if k != "page"] + [("page", str(number + 1))]
            following = f"{self.base_url}/api/rest/v4/courts/?{urlencode(query)}"
        return _json({"count": len(rows), "next": following, "previous": None, "results": page})


def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
