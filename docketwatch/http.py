"""Polite HTTP: identify ourselves, bound every request in time and size, retry only
what is worth retrying, never spend more requests than a source's budget allows, and
stop at once when docketwatch is stopping.

`[http] timeout` is a total deadline per attempt, from connecting to the last byte of
the body: per-read timeouts alone let a server that trickles a byte a second hold a
poll for ever. A watchdog thread enforces it (and cancellation) by shutting the
attempt's socket down, which ends a blocked read at once in whatever phase it is.
Bodies are streamed and capped at `[http] max_response_bytes`.

Connection errors, timeouts and 5xx are retried with backoff; every attempt that
reached the server is counted, because the server counts it too. A 429 is honoured:
a short wait is slept out, a long one raises `Throttled` with the time the server
named, so the caller can record it and stop asking until then.

One client serves concurrent requests: each thread has its own `requests.Session`, at
most `[http] max_per_host` requests are in flight to one host, a budget is spent before
a request is sent (so concurrent requests never exceed it), and a 429 holds back every
thread's requests to that host with the same credentials (another client of the
server, like the anonymous one beside a token, is limited apart).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from docketwatch import __version__, redact
from docketwatch.deadlines import Watchdog
from docketwatch.settings import HttpConfig
from docketwatch.store.models import utcnow

if TYPE_CHECKING:
    import requests

USER_AGENT = f"docketwatch/{__version__} (self-hosted court docket monitor; python-requests)"
_EXPECTED_IN = re.compile(r"Expected available in (\d+) seconds?")
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# Connecting gets at most this long (within `timeout`), so a stop never waits on a
# connect to an unresponsive host for long: a connecting socket cannot be shut down.
CONNECT_TIMEOUT = 5.0
CHUNK = 64 * 1024


class HttpError(Exception):
    """A request failed for good; the message names the URL and what the server said
    (scrubbed: a URL may carry a password, a server may quote a token)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(redact.scrub(message))
        self.status = status


class Throttled(HttpError):
    """The server asked us to wait longer than we are willing to wait now."""

    def __init__(self, message: str, until: datetime):
        super().__init__(message, status=429)
        self.until = until


class BudgetExhausted(HttpError):
    """Another request would exceed the daily budget."""


class Cancelled(HttpError):
    """The request was abandoned because docketwatch is stopping; not the source's fault."""


@dataclass
class Budget:
    """Requests still allowed against a daily quota, shared by concurrent requests: each
    is reserved before it is sent, and given back only when it never reached the server."""

    limit: int
    used: int
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def reserve(self) -> None:
        """Take one request from the budget, or raise BudgetExhausted."""
        with self._lock:
            if self.used >= self.limit:
                raise BudgetExhausted(
                    f"daily request budget exhausted ({self.used}/{self.limit} in the last 24 h)")
            self.used += 1

    def release(self) -> None:
        """Give back a reserved request that never reached the server."""
        with self._lock:
            self.used -= 1


@dataclass
class Tally:
    """Requests one thread made, counted apart until settled (HttpClient.tally)."""

    requests: int = 0
    quota_requests: int = 0


class _Retryable(Exception):
    """An attempt failed in a way another attempt may not (connection, timeout, broken body)."""

    def __init__(self, message: str, connected: bool):
        super().__init__(message)
        self.connected = connected


class HttpClient:
    """One per poll: counts the requests it makes, so the poll can record them.

    `cancel`, when set, abandons the requests in flight (and any wait) with `Cancelled`.
    """

    def __init__(self, settings: HttpConfig, sleep: Callable[[float], None] | None = None,
                 cancel: threading.Event | None = None):
        self.timeout = settings.timeout
        self.max_bytes = settings.max_response_bytes
        self.retries = settings.retries
        self.backoff = settings.backoff
        self.max_throttle_wait = settings.max_throttle_wait
        self.max_per_host = settings.max_per_host
        self.cancel = cancel or threading.Event()
        self.sleep = sleep or self._wait
        self.requests = 0
        self.quota_requests = 0
        # Called before each request: a poll commits what it stored, so that no database
        # transaction stays open while the network is slow.
        self.before_request: Callable[[], None] | None = None
        # Hosts that could not be connected to in this run: later requests fail at once
        # instead of repeating the same retries for every case.
        self.unreachable: dict[str, str] = {}
        self._lock = threading.Lock()
        self._local = threading.local()  # each thread's session, and its tally while one is open
        self._slots: dict[str, threading.BoundedSemaphore] = {}  # host -> requests it may still have in flight
        # (host, Authorization) -> until when the server asked that client to wait (429).
        self._throttled: dict[tuple[str, str | None], datetime] = {}

    @property
    def session(self) -> requests.Session:
        """This thread's session: a requests.Session is not safe to share between threads."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            import requests  # here, not at the top: `status` and `--help` load the sources but make no request

            from docketwatch.http_adapter import WatchedAdapter

            session = self._local.session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            adapter = WatchedAdapter(max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        return session

    @contextmanager
    def tally(self) -> Iterator[Tally]:
        """Count this thread's requests apart (a worker of a concurrent fetch): they reach
        `requests` and `quota_requests` when the caller settles the tally with the case
        they were made for. `before_request` is not called meanwhile (the poll's database
        session belongs to the calling thread)."""
        tally = self._local.tally = Tally()
        try:
            yield tally
        finally:
            self._local.tally = None

    def settle(self, tally: Tally) -> None:
        with self._lock:
            self.requests += tally.requests
            self.quota_requests += tally.quota_requests

    def get(
        self,
        url: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        budget: Budget | None = None,
    ) -> requests.Response:
        """GET with retries; returns any response below 500 except 429 (the caller
        judges 3xx/4xx), its body read; raises HttpError (a 304 to a request without
        validators too: taken for "unchanged", it would hide a page never read),
        Throttled, BudgetExhausted or Cancelled."""
        if self.before_request is not None and getattr(self._local, "tally", None) is None:
            self.before_request()
        client = (urlsplit(url).netloc, (headers or {}).get("Authorization"))
        self._wait_for_throttle(url, client)
        while True:
            response = self._attempts(url, params, headers, budget)
            if response.status_code != 429:
                break
            wait = retry_after(response)
            until = utcnow() + timedelta(seconds=wait)
            with self._lock:
                self._throttled[client] = max(until, self._throttled.get(client, until))
            if wait > self.max_throttle_wait:
                raise Throttled(
                    f"{url}: throttled by the server (429); it asks to wait {wait:.0f} s "
                    f"(until {until:%Y-%m-%d %H:%M} UTC)",
                    until,
                )
            self._pause(url, wait)
        if response.status_code >= 500:
            raise HttpError(f"{url}: HTTP {response.status_code} {_detail(response)}", response.status_code)
        if response.status_code == 304 and not _VALIDATORS & {name.lower() for name in headers or {}}:
            raise HttpError(f"{url}: {_NOT_MODIFIED_UNASKED}", 304)
        return response

    def post(self, url: str, *, data: bytes, headers: dict[str, str]) -> requests.Response:
        """One POST, never repeated here (a delivery's retries are the outbox's, with the
        same body and idempotency key); any response, its body read under the cap; raises
        HttpError or Cancelled."""
        try:
            response = self._attempt(url, None, headers, may_retry=False, method="POST", data=data)
        except _Retryable as e:
            raise HttpError(f"{url}: {e}") from None
        self._count(None)
        return response

    def _wait_for_throttle(self, url: str, client: tuple[str, str | None]) -> None:
        """Wait out a short 429 another request of this client received; raise Throttled,
        without asking, while a long one holds."""
        with self._lock:
            until = self._throttled.get(client)
        wait = (until - utcnow()).total_seconds() if until else 0.0
        if wait > self.max_throttle_wait:
            assert until is not None
            raise Throttled(f"{url}: not requested: the server throttled this client (429) until "
                            f"{until:%Y-%m-%d %H:%M} UTC", until)
        if wait > 0:
            self._pause(url, wait)

    def _attempts(self, url: str, params: dict[str, str] | None, headers: dict[str, str] | None,
                  budget: Budget | None) -> requests.Response:
        """The first attempt and its retries; the last response, or HttpError."""
        host = urlsplit(url).netloc
        if host in self.unreachable:
            raise HttpError(f"{url}: {self.unreachable[host]} (earlier in this run; not retried)")
        attempt = 0
        while True:
            if self.cancel.is_set():
                raise Cancelled(f"{url}: cancelled: docketwatch is stopping")
            may_retry = attempt < self.retries and (budget is None or budget.remaining >= 2)
            try:
                response = self._attempt(url, params, headers, may_retry=may_retry, budget=budget)
            except _Retryable as e:
                if e.connected:
                    self._count(budget)
                if not may_retry:
                    if not e.connected:  # one that answered, even badly, is reachable: other requests may fare better
                        self.unreachable[host] = str(e)
                    raise HttpError(f"{url}: {e}") from None
            else:
                self._count(budget)
                if not (may_retry and response.status_code in RETRY_STATUSES):
                    return response
                response.close()
            attempt += 1
            self._pause(url, self.backoff * 2 ** (attempt - 1))

    def _attempt(self, url: str, params: dict[str, str] | None, headers: dict[str, str] | None, *,
                 may_retry: bool, budget: Budget | None = None, method: str = "GET",
                 data: bytes | None = None) -> requests.Response:
        """One request, body included, within the total deadline (a 5xx that will be
        retried is closed unread). Its budget is spent once it has its place, before it
        is sent, and given back when it never reached the server."""
        import requests

        with self._slot(urlsplit(url).netloc), Watchdog(self.timeout, self.cancel) as watchdog:
            if self.cancel.is_set():  # set while this waited for its place
                raise Cancelled(f"{url}: cancelled: docketwatch is stopping")
            if budget is not None:
                budget.reserve()
            try:
                response = self.session.request(method, url, params=params, headers=headers, data=data, stream=True,
                                                timeout=(min(CONNECT_TIMEOUT, self.timeout), self.timeout))
                if not (may_retry and response.status_code in RETRY_STATUSES):
                    self._read_body(url, response)
                error = None
            except requests.RequestException as e:
                error = e
        if budget is not None and not watchdog.connected:
            budget.release()
        # Checked even after a success: a connection shut down mid-headers can read as a
        # complete (empty) response.
        if watchdog.fired == "cancel":
            raise Cancelled(f"{url}: cancelled: docketwatch is stopping")
        if watchdog.fired == "timeout" or isinstance(error, requests.Timeout):
            raise _Retryable(f"no complete response within {self.timeout:g} s ([http] timeout)", watchdog.connected)
        if isinstance(error, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
            raise _Retryable(f"{type(error).__name__}: {_root_cause(error)}", watchdog.connected)
        if error is not None:
            raise HttpError(f"{url}: {type(error).__name__}: {_root_cause(error)}")
        return response

    def _read_body(self, url: str, response: requests.Response) -> None:
        """Read the body into the response, refusing one larger than max_response_bytes."""
        too_large = HttpError(
            f"{url}: the response is larger than {self.max_bytes} bytes ([http] max_response_bytes); "
            "not read", response.status_code)
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            response.close()
            raise too_large
        chunks, size = [], 0
        for chunk in response.iter_content(CHUNK):  # decoded: a small gzip of a huge body is caught too
            size += len(chunk)
            if size > self.max_bytes:
                response.close()
                raise too_large
            chunks.append(chunk)
        # What `response.content` holds once read: read here, under the cap, instead.
        response._content = b"".join(chunks)
        response.close()  # the body is consumed: this returns the connection to the pool

    @contextmanager
    def _slot(self, host: str) -> Iterator[None]:
        """One of the host's `max_per_host` places for a request in flight."""
        with self._lock:
            slots = self._slots.setdefault(host, threading.BoundedSemaphore(self.max_per_host))
        with slots:
            yield

    def _count(self, budget: Budget | None) -> None:
        """One request reached the server (its budget was spent when it was reserved)."""
        quota = 1 if budget is not None else 0
        tally: Tally | None = getattr(self._local, "tally", None)
        if tally is not None:
            tally.requests += 1
            tally.quota_requests += quota
            return
        with self._lock:
            self.requests += 1
            self.quota_requests += quota

    def _pause(self, url: str, seconds: float) -> None:
        self.sleep(seconds)
        if self.cancel.is_set():
            raise Cancelled(f"{url}: cancelled: docketwatch is stopping")

    def _wait(self, seconds: float) -> None:
        """The default sleep: ends early when cancelled."""
        self.cancel.wait(seconds)


def retry_after(response: requests.Response) -> float:
    """Seconds to wait after a 429: Retry-After, or CourtListener's "Expected available
    in N seconds", or a minute when the server names nothing."""
    header = response.headers.get("Retry-After", "").strip()
    if header.isdigit():
        return float(header)
    if header:
        try:
            when = parsedate_to_datetime(header)
            return max((when - utcnow()).total_seconds(), 0.0)
        except (TypeError, ValueError):
            pass
    if m := _EXPECTED_IN.search(response.text):
        return float(m.group(1))
    return 60.0


def _detail(response: requests.Response) -> str:
    """The server's own explanation, short, with any secret it quotes back cut out."""
    try:
        body = response.json()
        text = body.get("detail") if isinstance(body, dict) else None
        text = text or str(body)
    except ValueError:
        text = response.text
    return redact.scrub(" ".join(text.split()))[:300]


# A 304 answers a conditional request; to a request that carried no validator (nothing
# was read before) it says nothing of the page: a cache or proxy in between got it wrong.
_NOT_MODIFIED_UNASKED = ("answered 304 Not Modified to a request without validators (nothing was read before); "
                         "nothing was read or stored: a cache or proxy in between may be at fault")
_VALIDATORS = {"if-none-match", "if-modified-since"}


def describe_status(response: requests.Response) -> str:
    """`HTTP 400: Unknown filter parameters are not allowed.`"""
    return f"HTTP {response.status_code}: {_detail(response)}"


def _root_cause(e: BaseException) -> str:
    while e.__context__ is not None and str(e.__context__):
        e = e.__context__
    return str(e)[:300]
