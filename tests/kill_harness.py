"""SIGKILLs of a real `docketwatch run` at seeded random moments while filings keep
arriving: the harness behind tests/test_kills.py and bench/kills.py.

Each life of the process polls once (`run` polls every job at start; the interval is
60 s, far longer than a life) and delivers what it found, by email (two recipients) and
to a Markdown folder, both `immediate`. The harness kills it at a moment it picks with a
seeded random generator: with the fake CourtListener's answer held (mid-poll), just after
the poll was committed (digest building), with the SMTP server holding DATA before or
after storing the message (mid-delivery; after storing, a kill leaves a message accepted
but not booked), once everything is delivered (between polls), or after a random delay.
It then restarts the process at once, as a supervisor would, and times the first poll.

What counts as delivered is read from what was received: the entry numbers under "New
filings (N)" in each mail's text part and in each Markdown file, with N checked against
the lines found. That is what a person gets, and it does not depend on how the outbox
books digests and recipients.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import create_engine, text
from werkzeug import Request, Response

from tests.conftest import KADREY_ID, fresh_court_coverage, write_config
from tests.fake_courtlistener import FakeCourtListener
from tests.servers import PASSWORD, LoopbackHTTPServer, SmtpServer, free_port, smtp_table

RECIPIENTS = ("ann@example.org", "bob@example.org")
MARKDOWN = "markdown folder"
# A restarted `run` must poll within this many seconds (a process start costs about a
# second; the rest is headroom for a loaded machine).
FIRST_POLL_WITHIN = 5.0
# However long any one condition may take before the harness gives up and says so.
CONDITION_DEADLINE = 30.0
# The kinds of moment a kill is aimed at: every 7 kills take each once (random twice),
# in a seeded random order.
MOMENTS = ("poll", "digest", "smtp-before-accept", "smtp-after-accept", "between", "random", "random")
FIRST_NUMBER = 1000  # new entries are numbered from here (the real Kadrey entries end at 598)
FIRST_DATE = date(2025, 8, 4)  # and filed from here (the real ones end on 2025-08-01)
TEXTS = ("ORDER granting stipulation re briefing schedule", "NOTICE of Appearance by counsel for Meta Platforms, Inc.",
         "MOTION to Compel production of training data", "Transcript of Proceedings held on the record",
         "DISCOVERY ORDER re deposition scheduling")


class Gate:
    """Holds a server's handler at one point until released, so a kill lands right there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed = False
        self.entered = threading.Event()
        self.released = threading.Event()

    def arm(self) -> None:
        with self._lock:
            self._armed = True
            self.entered.clear()
            self.released.clear()

    def hold(self) -> bool:
        """Wait here if armed (once); True when this call was held."""
        with self._lock:
            if not self._armed:
                return False
            self._armed = False
        self.entered.set()
        self.released.wait(CONDITION_DEADLINE * 2)
        return True

    def release(self) -> None:
        with self._lock:
            self._armed = False
        self.released.set()


class Court:
    """The fake CourtListener on loopback (threaded, so a held answer blocks nothing
    else), with the time of every request and a gate that holds one answer (of a path
    that contains `held`: any, by default)."""

    def __init__(self, held: str = "") -> None:
        self.held = held
        self.http = LoopbackHTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.http.start()
        self.fake = FakeCourtListener(base_url=self.http.url_for("").rstrip("/"))
        self.fake.load_kadrey()
        self.gate = Gate()
        self.request_times: list[float] = []
        self.published: dict[str, float] = {}  # entry number -> when it was published
        self._lock = threading.Lock()
        self.http.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.request_times.append(time.monotonic())
        if self.held in request.path:
            self.gate.hold()
        with self._lock:
            return self.fake.handle(request)

    def publish(self, rng: random.Random) -> str:
        with self._lock:
            number = FIRST_NUMBER + len(self.published)
            filed = FIRST_DATE + timedelta(days=len(self.published) // 4)
            self.fake.add_entry(KADREY_ID, str(number), filed.isoformat(), f"{rng.choice(TEXTS)} ({number})",
                                short="Order", available=rng.random() < 0.5)
        self.published[str(number)] = time.monotonic()
        return str(number)

    def stop(self) -> None:
        self.gate.release()
        self.http.stop()


class Mailbox(SmtpServer):
    """The in-process SMTP server, with gates that hold DATA before or after the message
    is stored, and the sessions between MAIL and the answer to DATA (open deliveries)."""

    def __init__(self) -> None:
        super().__init__(free_port())
        self.before_accept = Gate()
        self.after_accept = Gate()
        self.open_sessions: set[int] = set()

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:
        self.open_sessions.add(id(session))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        try:
            if await asyncio.to_thread(self.before_accept.hold):
                return "451 held until the client was killed; not stored"
            reply = await super().handle_DATA(server, session, envelope)
            await asyncio.to_thread(self.after_accept.hold)
            return reply
        finally:
            self.open_sessions.discard(id(session))

    def client_died(self) -> None:
        """Let go of everything the killed client had open."""
        self.before_accept.release()
        self.after_accept.release()
        self.open_sessions.clear()


def new_filings(text_: str, heading: str, line: str) -> list[str]:
    """Entry numbers listed under every "<heading> (N)", checked against N."""
    numbers = []
    lines = text_.splitlines()
    for i, title in enumerate(lines):
        announced = re.fullmatch(rf"{heading} \((\d+)\)", title)
        if not announced:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        found = []
        while j < len(lines) and lines[j].strip():
            if match := re.match(line, lines[j]):
                found.append(match.group(1))
            j += 1
        if len(found) != int(announced.group(1)):
            raise AssertionError(f"a digest announces {announced.group(1)} new filings but lists {len(found)}:\n{text_}")
        numbers += found
    return numbers


def mail_entries(message: EmailMessage) -> list[str]:
    return new_filings(message.get_body(("plain",)).get_content(), "New filings", r"^  #(\d+)  ")


def markdown_entries(path: Path) -> list[str]:
    return new_filings(path.read_text(encoding="utf-8"), "### New filings", r"^- \*\*\\?#(\d+)\*\*")


@dataclass
class Deliveries:
    """Per recipient (and the Markdown folder): entry -> the messages (or files) it came in."""

    where: dict[str, dict[str, set[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    copies: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # message id -> times received

    def entries(self, recipient: str) -> set[str]:
        return set(self.where[recipient])

    def duplicates(self, recipient: str) -> dict[str, list[str]]:
        """Entries that came in two different messages (or files)."""
        return {n: sorted(ids) for n, ids in self.where[recipient].items() if len(ids) > 1}


@dataclass
class Kill:
    number: int
    moment: str  # what the harness aimed at
    phase: str  # where the process was, as seen from outside when it died


@dataclass
class Figures:
    label: str
    seed: int
    kills: list[Kill] = field(default_factory=list)
    spawns: int = 0
    restarts: int = 0  # starts after a kill (the next life, or the clean run at the end)
    refused: list[str] = field(default_factory=list)  # last line of each refused start
    # Per restart that lived to poll: seconds from its first spawn to its first request.
    first_poll: list[float] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)
    deliveries: Deliveries = field(default_factory=Deliveries)
    rewritten: list[str] = field(default_factory=list)  # Markdown files replaced by the same name
    seconds: float = 0.0
    aborted: str | None = None  # why the kills stopped early

    def lost(self) -> dict[str, list[str]]:
        want = set(self.published)
        out = {"store": sorted(want - self.stored, key=int)}
        for who in (*RECIPIENTS, MARKDOWN):
            out[who] = sorted(want - self.deliveries.entries(who), key=int)
        return {k: v for k, v in out.items() if v}

    def unexpected(self) -> dict[str, list[str]]:
        """Delivered entries the court never published after the baseline."""
        out = {w: sorted(self.deliveries.entries(w) - set(self.published)) for w in (*RECIPIENTS, MARKDOWN)}
        return {k: v for k, v in out.items() if v}

    def duplicates(self) -> dict[str, dict[str, list[str]]]:
        out = {w: self.deliveries.duplicates(w) for w in (*RECIPIENTS, MARKDOWN)}
        return {k: v for k, v in out.items() if v}

    def resends(self) -> dict[str, dict[str, int]]:
        """Per recipient: Message-IDs received more than once, and how often (the same digest sent again)."""
        out = {w: {m: n for m, n in self.deliveries.copies[w].items() if n > 1} for w in RECIPIENTS}
        return {k: v for k, v in out.items() if v}

    def summary(self) -> str:
        phases = Counter(k.phase for k in self.kills)
        moments = Counter(k.moment for k in self.kills)
        lines = [
            f"kill test, {self.label}, seed {self.seed}: {self.seconds:.0f} s",
            f"  kills                 {len(self.kills)}",
            "  kills by phase        " + ", ".join(f"{p} {phases[p]}" for p in
                                                   ("start", "poll", "digest", "delivery", "between")),
            "  kills aimed at        " + ", ".join(f"{m} {moments[m]}" for m in dict.fromkeys(MOMENTS)),
            f"  restarts              {self.restarts} after a kill ({self.spawns} spawns in all, "
            f"{len(self.refused)} refused to start)",
            f"  entries published     {len(self.published)} (stored {len(self.stored & set(self.published))})",
            "  delivered             " + ", ".join(
                f"{w} {len(self.deliveries.entries(w) & set(self.published))}" for w in (*RECIPIENTS, MARKDOWN)),
            f"  lost                  {sum(map(len, self.lost().values()))} {self.lost() or ''}"
            + (" (not drained: the soak stopped early)" if self.aborted else ""),
            f"  duplicates            {sum(map(len, self.duplicates().values()))} {self.duplicates() or ''}",
        ]
        resends = self.resends()
        lines.append(f"  same-Message-ID resends {sum(n - 1 for r in resends.values() for n in r.values())}"
                     + "".join(f"\n    {w}: {m} x{n}" for w, r in resends.items() for m, n in r.items()))
        lines.append(f"  Markdown files rewritten under the same name {len(self.rewritten)}"
                     + "".join(f"\n    {name}" for name in self.rewritten))
        if self.first_poll:
            lines.append(f"  first poll after a restart: median {statistics.median(self.first_poll):.2f} s, "
                         f"max {max(self.first_poll):.2f} s, limit {FIRST_POLL_WITHIN:.0f} s "
                         f"({len(self.first_poll)} restarts timed; the others were killed before their poll)")
        if self.refused:
            lines.append(f"  a refused start said: {self.refused[-1]}")
        if self.aborted:
            lines.append(f"  STOPPED EARLY: {self.aborted}")
        return "\n".join(lines)


class Soak:
    """One kill soak: servers, configuration, the process's lives, and the figures."""

    def __init__(self, workdir: Path, database_url: str, seed: int, label: str) -> None:
        self.rng = random.Random(seed)
        self.figures = Figures(label, seed)
        self.court = Court()
        self.mail = Mailbox()
        self.mail.start()
        self.folder = workdir / "archive"
        self.config = write_config(workdir, self.court.fake.base_url, token=False, database_url=database_url)
        self.config.write_text(self.config.read_text() + f'''
[schedule]
interval = "60s"
jitter = "0s"

[outbox]  # a digest a killed life had claimed is due again in the next life
max_attempts = 100
retry_backoff = 0

[[digests]]
name = "desk"
channel = "email"
to = {json.dumps(RECIPIENTS)}
schedule = "immediate"

[[digests]]
name = "archive"
channel = "markdown"
dir = "{self.folder}"
schedule = "immediate"
''' + smtp_table(self.mail.port))
        self.engine = create_engine(database_url)
        self.env = {**os.environ, "SMTP_TEST_PASSWORD": PASSWORD, "XDG_CACHE_HOME": str(workdir / "cache")}
        self.env.pop("DOCKETWATCH_CONFIG", None)
        fresh_court_coverage(workdir / "cache")  # `run` reads no court list from the internet
        self.logs = workdir / "lives"
        self.logs.mkdir()
        self.files: dict[str, int] = {}  # Markdown file -> inode, to see rewrites
        self.settle_times: list[float] = []

    def close(self) -> None:
        self.mail.client_died()
        self.court.stop()
        self.mail.stop()
        self.engine.dispose()

    # -- the process ---------------------------------------------------------
    def spawn(self, *args: str) -> tuple[subprocess.Popen, Path]:
        self.figures.spawns += 1
        log = self.logs / f"{self.figures.spawns:03d}.log"
        with log.open("w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "docketwatch", "--config", str(self.config), "run", *args],
                                    stdout=out, stderr=subprocess.STDOUT, env=self.env)
        return proc, log

    def once(self, what: str, after_kill: bool) -> None:
        """`run --once`, which must succeed: the baseline, and the clean run at the end."""
        seen = len(self.court.request_times)
        proc, log = self.spawn("--once")
        spawned = time.monotonic()
        if proc.wait(timeout=120) != 0:
            raise AssertionError(f"{what}: `run --once` exited {proc.returncode}:\n{tail(log)}")
        if after_kill:
            self.figures.restarts += 1
            self.figures.first_poll.append(self.court.request_times[seen] - spawned)

    def restart(self, kill_after: float | None, after_kill: bool) -> tuple[subprocess.Popen, Path, float, float | None]:
        """Start `run` as a supervisor would (again at once while it refuses to start).

        Returns the process, its log, when it was spawned, and when it made its first
        request; or, when `kill_after` seconds from its spawn come first, None for the
        request. The first request must come within FIRST_POLL_WITHIN of the restart.
        """
        self.figures.restarts += after_kill
        began = time.monotonic()
        while True:
            seen = len(self.court.request_times)
            spawned = time.monotonic()
            proc, log = self.spawn()
            while len(self.court.request_times) == seen and proc.poll() is None:
                now = time.monotonic()
                if kill_after is not None and now >= spawned + kill_after:
                    return proc, log, spawned, None
                if now - began > FIRST_POLL_WITHIN:
                    proc.kill()
                    proc.wait()
                    raise AssertionError(f"the restart after kill {len(self.figures.kills)} did not poll within "
                                         f"{FIRST_POLL_WITHIN:.0f} s ({self.figures.spawns} spawns so far)")
                time.sleep(0.005)
            if len(self.court.request_times) > seen:
                first = self.court.request_times[seen]
                if after_kill:
                    self.figures.first_poll.append(first - began)
                return proc, log, spawned, first
            output = log.read_text().strip()
            if proc.returncode != 3:
                raise AssertionError(f"`run` exited {proc.returncode} before polling:\n{tail(log)}")
            self.figures.refused.append(output.splitlines()[-1] if output else "(no output)")

    # -- what the world looks like -------------------------------------------
    def last_check_run(self) -> int:
        with self.engine.connect() as db:
            return db.execute(text("SELECT coalesce(max(id), 0) FROM checkrun")).scalar_one()

    def collect(self) -> None:
        """Read every message received and every Markdown file in the folder."""
        deliveries = Deliveries()
        for rcpts, message in list(self.mail.received):
            numbers = mail_entries(message)
            for who in rcpts:
                deliveries.copies[who][message["Message-ID"]] += 1
                for n in numbers:
                    deliveries.where[who][n].add(message["Message-ID"])
        for path in sorted(self.folder.glob("digest-*.md")):
            inode = path.stat().st_ino
            if self.files.get(path.name, inode) != inode:
                self.figures.rewritten.append(path.name)
            self.files[path.name] = inode
            for n in markdown_entries(path):
                deliveries.where[MARKDOWN][n].add(path.name)
        self.figures.deliveries = deliveries

    def settled(self, polled_at: float) -> bool:
        """Everything published before this life's poll is delivered everywhere."""
        if self.mail.open_sessions:
            return False
        self.collect()
        due = {n for n, at in self.court.published.items() if at < polled_at}
        return all(due <= self.figures.deliveries.entries(w) for w in (*RECIPIENTS, MARKDOWN))

    def wait(self, condition, proc: subprocess.Popen, log: Path, what: str) -> None:
        deadline = time.monotonic() + CONDITION_DEADLINE
        while not condition():
            if proc.poll() is not None:
                raise AssertionError(f"`run` exited {proc.returncode} while waiting for {what}:\n{tail(log)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {CONDITION_DEADLINE:.0f} s:\n{tail(log)}")
            time.sleep(0.01)

    # -- one life --------------------------------------------------------------
    def life(self, number: int, moment: str) -> None:
        for _ in range(self.rng.choice((1, 2) if moment.startswith("smtp") else (0, 1, 1, 2, 3))):
            self.figures.published.append(self.court.publish(self.rng))
        gate = {"poll": self.court.gate, "smtp-before-accept": self.mail.before_accept,
                "smtp-after-accept": self.mail.after_accept}.get(moment)
        if gate:
            gate.arm()
        runs_before = self.last_check_run()
        typical = statistics.median(self.settle_times) if self.settle_times else 1.5
        kill_after = self.rng.uniform(0, 1.3 * typical) if moment == "random" else None
        small_delay = self.rng.uniform(0, 0.15)
        late_entry = self.rng.random() < 0.3
        proc = None
        try:
            proc, log, spawned, polled_at = self.restart(kill_after, after_kill=number > 1)
            if gate:
                self.wait(gate.entered.is_set, proc, log, f"{moment} hold")
            elif moment == "digest":
                self.wait(lambda: self.last_check_run() > runs_before, proc, log, "check run row")
                time.sleep(small_delay)
            elif moment == "between":
                self.wait(lambda: self.settled(polled_at), proc, log, "delivery of this life's entries")
                self.settle_times.append(time.monotonic() - spawned)
                time.sleep(small_delay)
            elif moment == "random":
                time.sleep(max(0.0, spawned + kill_after - time.monotonic()))
            if late_entry:  # a filing that arrives just as the process dies
                self.figures.published.append(self.court.publish(self.rng))
            if proc.poll() is not None:
                raise AssertionError(f"`run` exited {proc.returncode} on its own:\n{tail(log)}")
        finally:  # the kill; also when something went wrong, so that no process outlives the soak
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            self.court.gate.release()
        phase = self.phase(moment, runs_before, spawned)
        self.mail.client_died()
        self.figures.kills.append(Kill(number, moment, phase))

    def phase(self, moment: str, runs_before: int, spawned: float) -> str:
        """Where the dead process was, judged from outside (its database, the servers)."""
        requests = [t for t in self.court.request_times if t >= spawned]
        if not requests:
            return "start"
        polled_at = requests[0]
        if moment == "poll":
            return "poll"
        # `run` tries the deliveries owed at start, alongside its first poll: an SMTP
        # session open at the kill is a delivery, whether or not the poll has stored yet.
        if moment.startswith("smtp") or self.mail.open_sessions:
            return "delivery"
        if self.last_check_run() == runs_before:
            return "poll"
        return "between" if self.settled(polled_at) else "digest"

    # -- the whole soak --------------------------------------------------------
    def run(self, kills: int) -> Figures:
        began = time.monotonic()
        self.once("baseline", after_kill=False)
        try:
            moments: list[str] = []
            for number in range(1, kills + 1):
                if not moments:
                    moments = self.rng.sample(MOMENTS, len(MOMENTS))
                self.life(number, moments.pop())
        except AssertionError as e:  # said in the figures, which the caller checks
            self.figures.aborted = str(e)
        if not self.figures.aborted:
            self.once("the clean run after the last kill", after_kill=True)
        self.collect()
        with self.engine.connect() as db:
            self.figures.stored = {n for (n,) in db.execute(text("SELECT entry_number FROM entry")) if n}
        self.figures.seconds = time.monotonic() - began
        return self.figures


def tail(log: Path, lines: int = 12) -> str:
    """The end of a life's log, for a message."""
    return "\n".join(log.read_text().splitlines()[-lines:])


def soak(workdir: Path, database_url: str, kills: int, seed: int, label: str) -> Figures:
    run = Soak(workdir, database_url, seed, label)
    try:
        return run.run(kills)
    finally:
        run.close()
