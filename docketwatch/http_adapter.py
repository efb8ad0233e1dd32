"""requests' transport adapter that hands every socket of an attempt to its watchdog
(docketwatch.deadlines), so the attempt ends at its total deadline.

Apart from docketwatch.http so that importing that module (every source does) loads
neither requests nor urllib3: an HttpClient imports this when it is made.
"""

from __future__ import annotations

import socket
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager
from urllib3.response import HTTPResponse

from docketwatch.deadlines import Watchdog


def _register(sock: socket.socket | None) -> None:
    watchdog = Watchdog.current()
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
