"""`docketwatch` in a process whose wall clock is set when the test says so, as NTP or an
operator sets a machine's clock; its monotonic clock (timeouts, waits) goes on unchanged.

Run as `python -m tests.clock_step --config PATH COMMAND ...`: once a file `clock-step`
appears beside the configuration, holding a number of seconds (negative: back), the wall
clock moves by that much and keeps ticking from there.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

from docketwatch.cli import main

TRIGGER = "clock-step"


def step_when_asked(trigger: Path) -> None:
    while not trigger.exists():
        time.sleep(0.05)
    seconds = float(trigger.read_text())
    time_machine.travel(datetime.now(UTC) + timedelta(seconds=seconds), tick=True).start()
    print(f"clock_step: the wall clock was set {seconds:+.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    config = Path(sys.argv[sys.argv.index("--config") + 1])
    threading.Thread(target=step_when_asked, args=[config.parent / TRIGGER], daemon=True).start()
    sys.argv[0] = "docketwatch"
    main()
