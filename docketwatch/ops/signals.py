"""Stopping on SIGTERM, SIGINT and SIGHUP by setting a flag that the work in flight watches.

The default SIGINT (KeyboardInterrupt) unwinds only the main thread: the requests
other threads have in flight still run to their timeout before the process can exit.
A flag instead cancels them (`HttpClient(cancel=...)`), and the work that finished
stays stored. `run` and `check` stop this way. SIGHUP (the terminal closed) too: by
default it would end the process at once, without a word and with its lock row left.

A signal the process started with ignored stays ignored, as Python itself leaves SIGINT
(the Unix rule): a shell script's background job ignores SIGINT so that Ctrl-C at the
terminal stops the command in the foreground, not it; `nohup` ignores SIGHUP.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)


class stop_on_signals:
    """SIGTERM, SIGINT and SIGHUP (those not ignored) set `stopping` (and call `then`) while the
    block runs; `received` is the first signal that came (None: none)."""

    def __init__(self, stopping: threading.Event, then: Callable[[], None] | None = None):
        self.stopping, self.then = stopping, then
        self.received: signal.Signals | None = None

    def __enter__(self) -> stop_on_signals:
        self.previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
                         if signal.getsignal(s) is not signal.SIG_IGN}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping.is_set():
            return
        self.received = signal.Signals(signum)
        self.stopping.set()
        log.info("received %s: cancelling the work in flight, then stopping", self.received.name)
        if self.then:
            self.then()
