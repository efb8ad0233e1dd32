"""Polite HTTP: identify ourselves, time out, retry only what is worth retrying, and
never spend more requests than a source's budget allows.

Retries with backoff (connection errors and 5xx) are urllib3's `Retry`; every attempt
that reached the server is counted, because the server counts it too. A 429 is
honoured: a short wait is slept out, a long one raises `Throttled` with the time the
server named, so the caller can record it and stop asking until then.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from docketwatch import __version__, redact
from docketwatch.config import HttpConfig
from docketwatch.models import utcnow

USER_AGENT = f"docketwatch/{__version__} (self-hosted court docket monitor; python-requests)"
_EXPECTED_IN = re.compile(r"Expected available in (\d+) seconds?")


class HttpError(Exception):
    """A request failed for good; the message names the URL and what the server said."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Throttled(HttpError):
    """The server asked us to wait longer than we are willing to wait now."""

    def __init__(self, message: str, until: datetime):
        super().__init__(message, status=429)
        self.until = until


class BudgetExhausted(HttpError):
    """Another request would exceed the daily budget."""


@dataclass
class Budget:
    """Requests still allowed against a daily quota; spent as requests are made."""

    limit: int
    used: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


class HttpClient:
    """One per poll: counts the requests it makes, so the poll can record them."""

    def __init__(self, settings: HttpConfig, sleep: Callable[[float], None] = time.sleep):
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.adapter = HTTPAdapter()
        self.session.mount("http://", self.adapter)
        self.session.mount("https://", self.adapter)
        self.timeout = (min(10.0, settings.timeout), settings.timeout)
        self.retries = settings.retries
        self.backoff = settings.backoff
        self.max_throttle_wait = settings.max_throttle_wait
        self.sleep = sleep
        self.requests = 0
        self.quota_requests = 0
        # Hosts that could not be reached in this run: later requests fail at once
        # instead of repeating the same retries for every case.
        self.unreachable: dict[str, str] = {}

    def get(
        self,
        url: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        budget: Budget | None = None,
    ) -> requests.Response:
        """GET with retries; returns any response below 500 except 429 (the caller
        judges 3xx/4xx); raises HttpError, Throttled or BudgetExhausted."""
        while True:
            response = self._attempt(url, params, headers, budget)
            if response.status_code != 429:
                break
            wait = retry_after(response)
            until = utcnow() + timedelta(seconds=wait)
            if wait > self.max_throttle_wait:
                raise Throttled(
                    f"{url}: throttled by the server (429); it asks to wait {wait:.0f} s "
                    f"(until {until:%Y-%m-%d %H:%M} UTC)",
                    until,
                )
            self.sleep(wait)
        if response.status_code >= 500:
            raise HttpError(f"{url}: HTTP {response.status_code} {_detail(response)}", response.status_code)
        return response

    def _attempt(self, url, params, headers, budget: Budget | None) -> requests.Response:
        host = urlsplit(url).netloc
        if host in self.unreachable:
            raise HttpError(f"{url}: {self.unreachable[host]} (earlier in this run; not retried)")
        retries = self.retries
        if budget is not None:
            if budget.remaining < 1:
                raise BudgetExhausted(
                    f"daily request budget exhausted ({budget.used}/{budget.limit} in the last 24 h)"
                )
            retries = min(retries, budget.remaining - 1)
        self.adapter.max_retries = Retry(
            total=retries,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            backoff_factor=self.backoff,
            raise_on_status=False,
            # 429 is handled above, with a cap on the wait; urllib3 would sleep any Retry-After.
            respect_retry_after_header=False,
        )
        try:
            response = self.session.get(url, params=params, headers=headers, timeout=self.timeout)
        except requests.ConnectionError as e:
            self.unreachable[host] = f"{type(e).__name__}: {_root_cause(e)}"
            raise HttpError(f"{url}: {self.unreachable[host]}") from None
        except requests.RequestException as e:
            raise HttpError(f"{url}: {type(e).__name__}: {_root_cause(e)}") from None
        retry_state = getattr(response.raw, "retries", None)
        attempts = 1 + len(retry_state.history) if retry_state is not None else 1
        self.requests += attempts
        if budget is not None:
            budget.used += attempts
            self.quota_requests += attempts
        return response


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


def describe_status(response: requests.Response) -> str:
    """`HTTP 400: Unknown filter parameters are not allowed.`"""
    return f"HTTP {response.status_code}: {_detail(response)}"


def _root_cause(e: BaseException) -> str:
    while e.__context__ is not None and str(e.__context__):
        e = e.__context__
    return str(e)[:300]
