"""A total deadline per HTTP attempt: the watchdog that shuts an attempt's sockets down,
and requests' transport adapter that hands it every socket.

Apart from docketwatch.http so that importing that module (every source does) loads
neither requests nor urllib3: an HttpClient imports this when it is made.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager
from urllib3.response import HTTPResponse


class Watchdog:
    """Ends one attempt at its deadline, or when cancelled, by shutting its sockets down.

    The attempt registers every socket it uses (`_register`, from the connection
    classes below) with the watchdog of its thread.
    """

    _current = threading.local()

    def __init__(self, seconds: float, cancel: threading.Event):
        self.deadline = time.monotonic() + seconds
        self.cancel = cancel
        self.fired: str | None = None  # "timeout" or "cancel"
        self.connected = False
        self._sockets: list[socket.socket] = []
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="http-watchdog", daemon=True)

    def __enter__(self) -> Watchdog:
        Watchdog._current.watchdog = self
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        Watchdog._current.watchdog = None
        with self._lock:
            self._done.set()
        self._thread.join()
        for sock in self._sockets:
            sock.close()

    def _watch(self) -> None:
        while not self._done.wait(min(max(self.deadline - time.monotonic(), 0.0), 0.1)):
            reason = "cancel" if self.cancel.is_set() else "timeout" if time.monotonic() >= self.deadline else None
            if reason is None:
                continue
            with self._lock:
                if not self._done.is_set():
                    self.fired = reason
                    for sock in self._sockets:
                        _shut(sock)
            return

    def register(self, sock: socket.socket) -> None:
        # A duplicate of the descriptor: shutting it down ends the connection for every
        # descriptor, and it stays valid when TLS wraps (and detaches) the original.
        duplicate = socket.socket(fileno=os.dup(sock.fileno()))
        with self._lock:
            self.connected = True
            self._sockets.append(duplicate)
            if self.fired:
                _shut(duplicate)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed





def _register(sock: socket.socket | None) -> None:
    watchdog = getattr(Watchdog._current, "watchdog", None)
    if watchdog is not None and sock is not None:
        watchdog.register(sock)


class _Watched(HTTPConnection):
    """Connection mixin: every socket an attempt uses is registered with its watchdog."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _register(sock)  # a new connection: from before the TLS handshake on
        return sock

    # urllib3 overrides http.client's getresponse with its own response type (and ignores the same error).
    def getresponse(self, *args: Any, **kwargs: Any) -> HTTPResponse:  # type: ignore[override]
        _register(self.sock)  # a kept-alive connection, reused
        return super().getresponse(*args, **kwargs)


class _WatchedConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connections whose sockets the watchdog can shut down."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}
        return manager
