"""A total deadline per network attempt: the watchdog that shuts an attempt's sockets
down when the deadline passes (or the attempt is cancelled), which wakes a read blocked
on them. A server trickling a byte at a time resets a socket's own timeout at every
byte; it cannot reset this one. HTTP (http_adapter) and SMTP (notifiers.email) use it.
"""

from __future__ import annotations

import os
import socket
import threading
import time


class Watchdog:
    """Ends one attempt at its deadline, or when cancelled, by shutting its sockets down.

    The attempt registers every socket it uses with it (`register`; for HTTP,
    http_adapter's connection classes do, through the watchdog of their thread). One thread (`_Watcher`) watches
    every attempt in progress: a thread started per attempt cost a poll of 200 court
    feeds more CPU than its own requests did.
    """

    _current = threading.local()

    def __init__(self, seconds: float, cancel: threading.Event | None = None):
        self.deadline = time.monotonic() + seconds
        self.cancel = cancel
        self.fired: str | None = None  # "timeout" or "cancel"
        self.connected = False
        self._sockets: list[socket.socket] = []
        self._done = False
        self._lock = threading.Lock()

    @staticmethod
    def current() -> Watchdog | None:
        """The watchdog of the attempt this thread is making, if any."""
        watchdog: Watchdog | None = getattr(Watchdog._current, "watchdog", None)
        return watchdog

    def __enter__(self) -> Watchdog:
        Watchdog._current.watchdog = self
        _WATCHER.watch(self)
        return self

    def __exit__(self, *exc: object) -> None:
        Watchdog._current.watchdog = None
        with self._lock:
            self._done = True  # from here on, the watcher leaves the sockets alone
        _WATCHER.forget(self)
        for sock in self._sockets:
            sock.close()

    def fire(self, reason: str) -> None:
        """End the attempt ("timeout" or "cancel"), unless it is over already."""
        with self._lock:
            if not self._done:
                self.fired = reason
                for sock in self._sockets:
                    _shut(sock)

    def register(self, sock: socket.socket) -> None:
        # A duplicate of the descriptor: shutting it down ends the connection for every
        # descriptor, and it stays valid when TLS wraps (and detaches) the original.
        duplicate = socket.socket(fileno=os.dup(sock.fileno()))
        with self._lock:
            self.connected = True
            self._sockets.append(duplicate)
            if self.fired:
                _shut(duplicate)


class _Watcher:
    """The one thread that ends attempts: it wakes at the nearest deadline, and every
    `POLL` seconds while any attempt runs, to see cancellations (an Event cannot call
    back). Started on the first attempt, and again in a forked child; idle, it waits."""

    POLL = 0.1

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._changed = threading.Condition()
        self._watching: set[Watchdog] = set()
        self._thread: threading.Thread | None = None

    def watch(self, watchdog: Watchdog) -> None:
        with self._changed:
            self._watching.add(watchdog)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="http-watchdog", daemon=True)
                self._thread.start()
            self._changed.notify()  # its deadline may come before the next wake

    def forget(self, watchdog: Watchdog) -> None:
        with self._changed:
            self._watching.discard(watchdog)

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for watchdog in list(self._watching):
                    reason = ("cancel" if watchdog.cancel is not None and watchdog.cancel.is_set()
                              else "timeout" if now >= watchdog.deadline else None)
                    if reason:
                        watchdog.fire(reason)
                        self._watching.discard(watchdog)
                if self._watching:
                    nearest = min(w.deadline for w in self._watching)
                    self._changed.wait(min(max(nearest - now, 0.0), self.POLL))
                else:
                    self._changed.wait()


_WATCHER = _Watcher()
os.register_at_fork(after_in_child=_WATCHER._reset)  # the child has no watcher thread, and maybe a held lock


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


