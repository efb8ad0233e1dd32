"""`docketwatch serve`: a read-only status page, the feeds, and /healthz, over HTTP.

Flask, because the rest of docketwatch is synchronous (SQLAlchemy sessions, the same
status and health reads as the CLI) and a page is a function of the store: no async
framework or build step earns its keep here. Pages are rendered server-side through
the digests' Jinja2 environment (`render.environment`, so `templates_dir` overrides
them too), and waitress serves them: a production WSGI server in pure Python, where
Werkzeug's own server says it is for development only.

It binds 127.0.0.1 by default. Any other address needs `DOCKETWATCH_WEB_TOKEN` (at least
16 characters) in the environment, and then every request must carry it (`Authorization:
Bearer TOKEN`, or basic auth with the token as password, which browsers ask for by themselves).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import signal
import threading
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, abort, request
from sqlalchemy import func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from waitress import wasyncore  # type: ignore[import-untyped]  # waitress ships no types
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server  # type: ignore[import-untyped]

from docketwatch import redact, store
from docketwatch.ops import health, plan, status
from docketwatch.pipeline import digests, feeds, render
from docketwatch.settings import CaseConfig, Config, is_loopback
from docketwatch.store import StoreError
from docketwatch.store.models import Delivery, Digest, Entry, Event, iso, utcnow

TOKEN_ENV = "DOCKETWATCH_WEB_TOKEN"
# Beyond loopback the token is all that guards the page, and nothing slows guessing it.
MIN_TOKEN_LENGTH = 16
MAKE_TOKEN = "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
ENTRIES_PAGE = 50  # entries per page of a case
MAX_QUERY = 500  # characters of a case page's text filter (SQLite refuses LIKE patterns of 50,000 bytes)
MAX_ROW_ID = 2**63 - 1  # a larger page or event id is none there is (and no integer the database takes)
TIMELINE = 50  # events on a page of a case's timeline
PENDING_SHOWN = 20  # pending deliveries on the overview
THREADS = 4
STOP_GRACE = 5  # seconds requests in flight may take to finish when the server stops
POLL = 0.5  # seconds; how soon the loop notices close()


class WebError(Exception):
    """`serve` cannot start as asked (a usage error: exit 2)."""


class Server:
    """A bound server: `run()` serves until Ctrl-C, SIGTERM, SIGHUP or `close()` (from another thread).

    The loop is ours, not waitress's `run()`, so that stopping happens on the loop's own
    thread: requests in flight finish (STOP_GRACE at most), then every socket closes."""

    def __init__(self, wsgi: BaseWSGIServer | MultiSocketServer, sockets: dict[int, Any]):
        self.wsgi = wsgi
        self.sockets = sockets  # waitress's socket map: the listening sockets and connections
        self.stopping = threading.Event()
        # A host name may resolve to several addresses: waitress listens on each.
        listening = wsgi.effective_listen if isinstance(wsgi, MultiSocketServer) else \
            [(wsgi.effective_host, wsgi.effective_port)]
        host, port = listening[0]
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def run(self) -> None:
        if threading.current_thread() is threading.main_thread():  # `docketwatch serve`: stop on these too
            for s in (signal.SIGTERM, signal.SIGHUP):  # SIGHUP: its terminal closed (unless nohup ignores it)
                if signal.getsignal(s) is not signal.SIG_IGN:
                    signal.signal(s, lambda _signum, _frame: self.close())
        try:
            while not self.stopping.is_set():
                wasyncore.loop(timeout=POLL, map=self.sockets, use_poll=True, count=1)
        except KeyboardInterrupt:
            pass
        finally:
            self.wsgi.task_dispatcher.shutdown(timeout=STOP_GRACE)
            for channel in list(self.sockets.values()):
                channel.close()

    def close(self) -> None:
        self.stopping.set()


def server(config: Config, host: str, port: int, env: Mapping[str, str]) -> Server:
    """The status page of `config`'s database bound to host:port (port 0: any free port);
    WebError when a non-loopback address has no token in `env`, or the port is taken."""
    token = env.get(TOKEN_ENV) or None
    if token is None and not is_loopback(host):
        raise WebError(f"serve --host {host}: other machines could read the page; set {TOKEN_ENV} in the "
                       f"environment (a long random string that every request must carry: {MAKE_TOKEN}), "
                       "or bind 127.0.0.1")
    if token is not None and len(token) < MIN_TOKEN_LENGTH and not is_loopback(host):
        raise WebError(f"serve --host {host}: {TOKEN_ENV} is {len(token)} characters long, too easy to guess for "
                       f"a page other machines reach; use at least {MIN_TOKEN_LENGTH} random ones: {MAKE_TOKEN}")
    redact.register(token)
    engine = store.open_engine(config.database.url)
    sockets: dict[int, Any] = {}
    try:
        wsgi = create_server(app(config, engine, token), map=sockets, host=host, port=port, threads=THREADS,
                             ident="docketwatch", clear_untrusted_proxy_headers=True)
    except (OSError, ValueError) as e:  # ValueError: waitress found no address for the host
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e).rstrip(".")
        raise WebError(f"serve: cannot listen on {host}:{port}: {why}; choose another --host or --port") from None
    return Server(wsgi, sockets)


def app(config: Config, engine: Engine, token: str | None = None) -> Flask:
    """The WSGI application (tests use it directly, through Flask's test client)."""
    web = Flask(__name__)
    env = render.environment(config)
    env.filters["span"] = plan.span
    env.filters["when"] = _when

    def page(template: str, status_code: int = 200, **values: Any) -> Response:
        html = env.get_template(f"web/{template}").render(config=config, **values)
        return Response(html, status=status_code, mimetype="text/html")

    @web.before_request
    def authenticate() -> Response | None:
        if token is None or _authorized(request.headers.get("Authorization", ""), token):
            return None
        return Response("This page needs the token of DOCKETWATCH_WEB_TOKEN.\n", 401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Basic realm="docketwatch", charset="UTF-8"'})

    @web.errorhandler(StoreError)
    def store_error(e: StoreError) -> Response:
        return page("error.html.j2", 503, message=str(e))

    @web.get("/")
    def overview() -> Response:
        report = status.status(config, engine, config.cases)
        with Session(engine) as session:
            pending = _pending(session, config)
        slugs = {c.name: feeds.case_slug(c) for c in config.cases}
        return page("overview.html.j2", report=report, pending=pending, slugs=slugs, now=iso(utcnow()),
                    failing=[j for j in report["jobs"] if j["consecutive_failures"]],
                    sources=[line for record in report["sources"]
                             for line in config.source_plugins[record["source"]].status_lines(record)])

    @web.get("/cases/<slug>")
    def case_page(slug: str) -> Response:
        case = next((c for c in config.cases if feeds.case_slug(c) == slug), None)
        if case is None:
            abort(404)
        query = request.args.get("q", "").strip()[:MAX_QUERY]
        number = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_ROW_ID // ENTRIES_PAGE)
        before = request.args.get("before", type=int)  # the timeline's page: events older than this one
        before = before if before is not None and 1 <= before <= MAX_ROW_ID else None
        with Session(engine) as session:
            case_view = status.case_statuses(session, [case], config)[0]
            entries, total = _entries(session, case, query, number)
            timeline, older = _timeline(session, case, before)
            coverage = _coverage(session, config, case)
        pages = max((total + ENTRIES_PAGE - 1) // ENTRIES_PAGE, 1)
        return page("case.html.j2", case=case, status=case_view, entries=entries, total=total, query=query,
                    page=number, pages=pages, timeline=timeline, older=older, before=before, coverage=coverage,
                    feed=[r for r in feeds.catalog(config) if r.case == case][0])

    @web.get("/feeds/")
    def feed_list() -> Response:
        return page("feeds.html.j2", refs=feeds.catalog(config), formats=list(feeds.FORMATS))

    @web.get("/feeds/<path:path>")
    def feed(path: str) -> Response:
        found = feeds.find(config, path)
        if found is None:
            abort(404)
        ref, fmt = found
        with Session(engine) as session:
            data = feeds.render(session, config, ref, fmt, base_url=request.url_root + "feeds")
        return Response(data, content_type=feeds.FORMATS[fmt])

    @web.get("/calendar/<name>")
    def calendar_file(name: str) -> Response:
        """The .ics files `docketwatch calendar --out` writes, under the same names."""
        from docketwatch.pipeline import calendar  # icalendar, only when a calendar is asked for

        with Session(engine) as session:
            found = next((f for f in calendar.calendar_files(session, config) if f.name == name), None)
            if found is None:
                abort(404)
            data = calendar.to_ics(found.what, found.calendars, config)
        return Response(data, content_type="text/calendar; charset=utf-8")

    @web.get("/healthz")
    def healthz() -> tuple[dict[str, Any], int]:
        """The verdict of `status --health`: 200 healthy, 503 not, with the reasons."""
        reasons = status.unhealthy(config, engine)
        return {"healthy": not reasons, "unhealthy": reasons}, 503 if reasons else 200

    return web


def _when(moment: str | None) -> str:
    """A stored time as `iso` gives it (UTC), to the minute for people: 2025-07-02 14:05 UTC."""
    if moment is None or len(moment) < 16 or moment[10] != "T":
        return moment or "-"  # "never", "now"
    return f"{moment[:10]} {moment[11:16]} UTC"


def _authorized(header: str, token: str) -> bool:
    """`Bearer TOKEN`, or basic auth with TOKEN as the password (any user name)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        given = value.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    else:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


def _entries(session: Session, case: CaseConfig, query: str, number: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the case's entries, newest first, whose text contains `query`; and how many match."""
    row = store.find_case(session, case)
    if row is None:
        return [], 0
    where = [col(Entry.case_id) == row.id]
    if query:
        needle = query.lower()
        where.append(or_(func.lower(col(Entry.description)).contains(needle, autoescape=True),
                         func.lower(col(Entry.short_description)).contains(needle, autoescape=True)))
    total = session.exec(select(func.count()).select_from(Entry).where(*where)).one()
    rows = session.exec(select(Entry).where(*where).order_by(*Entry.newest_first())
                        .offset((number - 1) * ENTRIES_PAGE).limit(ENTRIES_PAGE))
    return [{**e.view().as_json(), "url": digests.web_link(e.url)} for e in rows], total


def _timeline(session: Session, case: CaseConfig, before: int | None) -> tuple[list[dict[str, Any]], int | None]:
    """The case's latest TIMELINE events (older than event `before`, when given), newest
    first; and the id to ask the next page with, when there are older ones. Paged by
    event id, not by offset: events recorded meanwhile shift nothing."""
    row = store.find_case(session, case)
    if row is None:
        return [], None
    query = (select(Event, Entry).join(Entry, col(Event.entry_id) == Entry.id, isouter=True)
             .where(col(Event.case_id) == row.id).order_by(col(Event.id).desc()).limit(TIMELINE + 1))
    if before is not None:
        query = query.where(col(Event.id) < before)
    rows = list(session.exec(query))
    older = rows[TIMELINE - 1][0].id if len(rows) > TIMELINE else None
    return [{"at": iso(event.created_at), "kind": event.kind, "source": event.source, "summary": event.summary,
             "changes": event.changes or [], "entry": entry.view().as_json() if entry else None}
            for event, entry in rows[:TIMELINE]], older


def _coverage(session: Session, config: Config, case: CaseConfig) -> list[dict[str, Any]]:
    """Per poll job serving the case: how often, how late news can be, its health and next run."""
    jobs = plan.make_plan(config, plan.active_cases(session, config, utcnow().date()))
    return [{"plan": job, "health": health.job_health(session, job)} for job in jobs if case in job.cases]


def _pending(session: Session, config: Config) -> list[dict[str, Any]]:
    """Deliveries still to make that have not failed `outbox.max_attempts` times (those
    are listed as failed), the oldest due first, at most PENDING_SHOWN."""
    rows = session.exec(select(Delivery, Digest).join(Digest, col(Digest.id) == Delivery.digest_id)
                        .where(Delivery.status == "pending", Delivery.attempts < config.outbox.max_attempts)
                        .order_by(col(Delivery.next_attempt_at)).limit(PENDING_SHOWN))
    return [{"id": d.id, "subscription": g.subscription, "recipient": d.recipient, "subject": g.subject,
             "attempts": d.attempts, "next_attempt": iso(d.next_attempt_at)} for d, g in rows]
