"""`docketwatch run`: the scheduled service (APScheduler 3).

Jobs: one poll job per row of the plan (each source plans its own: a case, a court's feed),
the outbox job (at start, every minute, and woken after each poll when a subscription
is immediate; when a run is in progress then, right after it, as that run may have read
the events before the poll's): it builds every digest that is due (`schedule.cutoff`
decides: a daily one in the minute after its time, or as soon as `run` starts when that
time passed while it was down) and tries the deliveries due, a prune job (at start, then daily, on the
delivery thread; see retention.py), a daily refresh of what sources know besides dockets
(which court feeds are complete), the lock's heartbeat, and a look at the
configuration file every `[schedule] reload_check`: an edited watchlist (`docketwatch
add`, `remove`, `pause`, a docket followed with `follow = "auto"`) is taken up without
a restart, and a file that no longer loads leaves the running configuration as it was.
`--once` prunes last.

Each kind has its own worker thread: polls one at a time (so two polls never spend
the same request budget at once), deliveries on another (an SMTP server that hangs
never holds up polling), the heartbeat on a third; a fourth watches for the system
clock being set back (`_watch_clock`). On SIGTERM or SIGINT requests in
flight are cancelled, and whatever still runs after STOP_GRACE (a delivery waiting on
a silent SMTP server) is abandoned: the outbox counted that attempt before it began,
so the digest is simply sent again, with the same Message-ID, after the restart.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.base import BaseExecutor, run_job
from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine
from sqlmodel import Session

from docketwatch.http import HttpClient, HttpError
from docketwatch.ops import health, lock, plan, retention
from docketwatch.ops.signals import stop_on_signals
from docketwatch.pipeline import digests, outbox, poll
from docketwatch.settings import Config, ConfigError, DigestConfig
from docketwatch.store import StoreError
from docketwatch.store.models import iso, utcnow

log = logging.getLogger(__name__)
# The outbox job: how often it builds due digests and tries due deliveries.
OUTBOX, OUTBOX_EVERY = "outbox", timedelta(seconds=60)
# After SIGTERM, how long work in flight may take to finish (README promises 10 s).
STOP_GRACE = 5.0
# How often `run` compares the wall clock with the monotonic one, and by how much the
# wall clock must have been set back to count as a step (NTP slews far less than this).
CLOCK_CHECK, CLOCK_STEP = 2.0, timedelta(seconds=5)


class Service:
    def __init__(self, config: Config, engine: Engine, load: Callable[[], Config] | None = None):
        """`load` reads the configuration file again (None: never, as in tests of one run)."""
        self.engine = engine
        self.load = load
        self._file = _read(config.path)
        self._configure(config)
        self.stopping = threading.Event()
        self.scheduler: BlockingScheduler | None = None
        self._running: set[str] = set()
        self._idle = threading.Condition()
        self._outbox_wanted = False  # a poll asked for an outbox run that has not started yet
        self._reloading = threading.Lock()  # the reload job and a reference refresh may both reload
        self.database = health.DatabaseWatch(engine)

    def _configure(self, config: Config) -> None:
        with Session(self.engine) as session:
            self.jobs = plan.current(session, config)  # first: should it fail, the configuration in use stays
        self.config = config
        admin = config.admin_subscription
        self.subscriptions: list[DigestConfig] = list(config.digests) + ([admin] if admin else [])
        self.immediate = any(s.schedule.kind == "immediate" for s in self.subscriptions)

    def _plan(self) -> list[plan.PlanRow]:
        with Session(self.engine) as session:
            return plan.current(session, self.config)

    # -- the work each job does ------------------------------------------------
    def poll(self, job: plan.PlanRow) -> list[str]:
        """Run one poll job and log it: a line per case, then a line per event. Returns
        the labels of the cases that failed (none when stopping cancelled the job)."""
        # Job intervals are fixed at start; the API shares follow which cases are active now.
        results = poll.check(self.config, self.engine, job.cases, source=job.source,
                               http=HttpClient(self.config.http, cancel=self.stopping),
                               api_intervals=plan.api_intervals(self._plan()),
                               subscriptions_recorded=True)  # at start and at each reload
        if self.stopping.is_set():
            log.info("%s: cancelled, docketwatch is stopping", job.job_id)
            return []
        for r in results:
            name = r.case.name
            if not r.ok:
                log.warning("%s: %s: %s", job.job_id, name, "; ".join(r.errors))
            elif r.baseline:
                log.info("%s: %s: baseline recorded (%d entries)", job.job_id, name, r.baseline_entries)
            else:
                log.info("%s: %s: %d new, %d changed%s", job.job_id, name, len(r.new), len(r.changed),
                         f", {r.earlier} earlier entries recorded quietly" if r.earlier else "")
            for e in r.new:
                log.info("%s: new %s %s: %s", name, e.label, e.date_label, e.text)
            for e in r.changed:
                log.info("%s: changed %s %s (%s): %s", name, e.label, e.date_label, "; ".join(e.changes), e.text)
            for text in r.case_changes:
                log.info("%s: case: %s", name, text)
            for text in r.gaps:
                log.warning("%s: gap: %s", name, text)
        health.observe(self.engine, self.config, job)
        return [r.case.label for r in results if not r.ok]

    def digest(self) -> None:
        """Every subscription's due digest built and sent, and due retries tried (the
        subscriptions of the configuration as it is now, after any reload)."""
        if not self.subscriptions:
            return
        with self._idle:
            self._outbox_wanted = False  # this run reads every event committed so far
        report = outbox.run(self.config, self.engine, self.subscriptions)
        self._log_digests(report.attempts, report.errors)

    def prune(self) -> None:
        result = retention.prune(self.engine, self.config)
        log.info("pruned history from before %s (check runs: %s): %s", iso(result.cutoff),
                 iso(result.check_run_cutoff),
                 ", ".join(f"{n} {table.replace('_', ' ')}" for table, n in result.counts().items()))

    @staticmethod
    def _log_digests(attempts: list[outbox.Attempt], errors: list[str]) -> None:
        for a in attempts:
            if a.ok:
                log.info("digest %s: sent %s to %s", a.digest.subscription, a.delivery.message_id, a.detail)
            else:
                log.warning("digest %s: attempt %d failed: %s", a.digest.subscription, a.delivery.attempts, a.detail)
        for error in errors:
            log.error("%s", error)

    def reload(self) -> None:
        """Take up the configuration file when its bytes changed. A file that no longer
        loads (or names another database) is logged once per edit, and the cases already
        watched go on being polled as before: nothing stops because of a typo."""
        with self._reloading:
            self._reload()

    def _reload(self) -> None:
        data = _read(self.config.path)
        if self.load is None or data is None or data == self._file:
            return
        path = self.config.path
        try:
            config = self.load()
            if config.database.url != self.config.database.url:
                self._file = data
                log.error("%s was edited to use another database; restart docketwatch run to use it (it goes on "
                          "with the database it has)", path)
                return
            digests.record_subscriptions(self.engine, config)  # the poll jobs do not (subscriptions_recorded)
        except (ConfigError, digests.RenameError) as e:
            self._file = data  # read again once edited again
            log.error("the configuration file was edited but cannot be used: %s; docketwatch run goes on "
                      "with the configuration it last read until the file is fixed", e)
            return
        before = {j.job_id: j for j in self.jobs}
        self._configure(config)
        # Only now: a database that failed above (locked, gone) leaves the edit to the next check.
        self._file = data
        if self.scheduler is not None:
            self._schedule(before)
        added = [j.job_id for j in self.jobs if j.job_id not in before]
        removed = sorted(before.keys() - {j.job_id for j in self.jobs})
        log.info("%s reloaded: %d poll jobs (added: %s; removed: %s), %d digest subscriptions", path,
                 len(self.jobs), ", ".join(added) or "none", ", ".join(removed) or "none", len(self.subscriptions))

    def refresh_reference(self) -> None:
        """Let each source read again what it knows besides dockets, if stale (which court
        feeds are complete: a case without `sources` may now be read from its court's feed);
        when that changes what a source serves by default, the configuration is loaded again."""
        http = HttpClient(self.config.http, cancel=self.stopping)
        changed = []
        for name, source in self.config.source_plugins.items():
            try:
                if source.refresh_reference(http):
                    changed.append(name)
            except HttpError as e:
                log.warning("%s: could not read its reference data again (what it knew stays; tried again "
                            "tomorrow): %s", name, e)
        if changed:
            log.info("%s: reference data changed; the configuration is loaded again", ", ".join(changed))
            with self._reloading:
                self._file = None
                self._reload()

    def _schedule(self, before: dict[str, plan.PlanRow]) -> None:
        """Bring the scheduler's jobs in line with the plan: a new job runs now, one kept
        keeps its next run (its interval reset only if it changed), one gone is removed."""
        scheduler = self.scheduler
        assert scheduler is not None  # only while run_forever runs
        for job_id in before.keys() - {j.job_id for j in self.jobs}:
            scheduler.remove_job(job_id)
        for job in self.jobs:
            if job.job_id not in before:
                scheduler.add_job(self._poll_job, self._poll_trigger(job), args=[job], id=job.job_id,
                                  name=job.job_id, next_run_time=utcnow())
                continue
            scheduler.modify_job(job.job_id, args=[job])
            if before[job.job_id].interval != job.interval:
                scheduler.reschedule_job(job.job_id, trigger=self._poll_trigger(job))

    def _poll_trigger(self, job: plan.PlanRow) -> IntervalTrigger:
        jitter = int(self.config.schedule.jitter.total_seconds()) or None
        return IntervalTrigger(seconds=job.interval.total_seconds(), jitter=jitter)

    # -- running ---------------------------------------------------------------
    def _job(self, name: str, work: Callable[..., object], *args: Any, watches_database: bool = False) -> None:
        """Run one job: skipped once stopping; a database error is one log line and
        the service goes on (the next run of the job tries again). The jobs that always use
        the database (`watches_database`: polls, the heartbeat) tell `self.database` how it went."""
        if self.stopping.is_set():
            return
        with self._idle:
            self._running.add(name)
        try:
            work(*args)
        except StoreError as e:
            log.error("%s: %s", name, e)
            if watches_database:
                self.database.failed(self.config, e)
        else:
            if watches_database:
                self.database.worked(self.config)
        finally:
            with self._idle:
                self._running.discard(name)
                self._idle.notify_all()

    def _poll_job(self, job: plan.PlanRow) -> None:
        if job.job_id not in {j.job_id for j in self.jobs}:
            return  # queued before a reload removed it (a case paused or removed): not polled again
        self._job(job.job_id, self.poll, job, watches_database=True)
        if self.stopping.is_set() or self.scheduler is None:
            return
        if self.immediate:  # deliver what the poll found, on the delivery thread
            # An outbox run that has not started will read this poll's events; one in
            # progress may have built its digests before them, so another is queued
            # behind it (the outbox job's second instance), not left for its next minute.
            with self._idle:
                wanted, self._outbox_wanted = self._outbox_wanted, True
            if not wanted:
                self.scheduler.modify_job(OUTBOX, next_run_time=utcnow())

    def _wait_idle(self, seconds: float) -> list[str]:
        """Wait until no job runs, at most `seconds`; the jobs still running."""
        deadline = time.monotonic() + seconds
        with self._idle:
            while self._running and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
            return sorted(self._running)

    def run_once(self) -> list[str]:
        """Every job once, in order (for cron and systemd timers); SIGTERM stops it.
        Returns the labels of the cases whose poll failed."""
        failure: list[StoreError] = []
        failed: list[str] = []

        def once() -> None:
            try:
                for job in self.jobs:
                    if self.stopping.is_set():
                        return
                    failed.extend(label for label in self.poll(job) if label not in failed)
                if not self.stopping.is_set():
                    self.digest()
                if not self.stopping.is_set():
                    self.prune()
            except StoreError as e:
                failure.append(e)

        # In a worker, so that a stop never waits on a request or an SMTP server.
        worker = threading.Thread(target=once, name="docketwatch-once", daemon=True)
        with stop_on_signals(self.stopping):
            worker.start()
            while worker.is_alive() and not self.stopping.is_set():
                worker.join(0.2)
            worker.join(STOP_GRACE)
        if worker.is_alive():
            log.warning("stopping with work in flight (abandoned; it is retried at the next run)")
        if failure:
            raise failure[0]
        return failed

    def run_forever(self, held: lock.Lock) -> None:
        """Until SIGTERM or SIGINT: then cancel requests in flight and return within STOP_GRACE."""
        settings = self.config.schedule
        scheduler = BlockingScheduler(
            executors={"default": _Worker(), "delivery": _Worker(), "heartbeat": _Worker()},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": int(settings.misfire_grace.total_seconds())},
            timezone=self.config.timezone,
        )
        self.scheduler = scheduler
        now = utcnow()
        # First, on the poll thread (it makes requests): what it learns may add court feeds. Jobs
        # due at one time run in the order of their ids, so it is due a moment earlier.
        scheduler.add_job(self._job, IntervalTrigger(days=1), args=["reference", self.refresh_reference],
                          id="reference", next_run_time=now - timedelta(milliseconds=1))
        for job in self.jobs:
            scheduler.add_job(self._poll_job, self._poll_trigger(job), args=[job], id=job.job_id, name=job.job_id,
                              next_run_time=now)
        scheduler.add_job(self._job, IntervalTrigger(seconds=OUTBOX_EVERY.total_seconds()),
                          args=[OUTBOX, self.digest], id=OUTBOX, executor="delivery", next_run_time=now,
                          max_instances=2)  # one running, one queued after it (see _poll_job)
        scheduler.add_job(self._job, IntervalTrigger(days=1), args=["prune", self.prune], id="prune",
                          executor="delivery", next_run_time=now)
        scheduler.add_job(self._job, IntervalTrigger(seconds=lock.HEARTBEAT.total_seconds()),
                          args=["heartbeat", self._beat, held], kwargs={"watches_database": True}, id="heartbeat",
                          executor="heartbeat")
        scheduler.add_job(self._job, IntervalTrigger(seconds=settings.reload_check.total_seconds()),
                          args=["reload", self.reload], id="reload", executor="heartbeat")

        log.info("docketwatch run: %d poll jobs, %d digest subscriptions", len(self.jobs), len(self.subscriptions))
        threading.Thread(target=self._watch_clock, name="docketwatch-clock", daemon=True).start()
        with stop_on_signals(self.stopping, self._shutdown):
            scheduler.start()
            abandoned = self._wait_idle(STOP_GRACE)
        if abandoned:
            log.warning("stopping with %s in flight (abandoned; retried at the next start)", ", ".join(abandoned))
        log.info("stopped")

    def _watch_clock(self) -> None:
        """APScheduler waits for the wall-clock time of each job's next run: had the
        system clock been set back an hour, every job (polls, the heartbeat) would wait an
        hour more. Set back, the jobs' next runs move back with it (none before now)."""
        offset = time.time() - time.monotonic()
        while not self.stopping.wait(CLOCK_CHECK):
            offset, before = time.time() - time.monotonic(), offset
            step = timedelta(seconds=before - offset)
            if step < CLOCK_STEP or self.scheduler is None:
                continue
            log.warning("the system clock was set back by %s; the jobs' next runs move back with it", step)
            now = utcnow()
            for job in self.scheduler.get_jobs():
                if job.next_run_time is not None:
                    with contextlib.suppress(JobLookupError):  # removed meanwhile (a reload)
                        job.modify(next_run_time=max(job.next_run_time - step, now))

    def _beat(self, held: lock.Lock) -> None:
        if not held.heartbeat():
            log.error("the scheduler lock was lost to another docketwatch run; stopping")
            self.stopping.set()
            self._shutdown()

    def _shutdown(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)


class _Worker(BaseExecutor):  # type: ignore[misc]  # APScheduler 3 has no types: its classes are Any
    """One daemon thread running its jobs in turn. A daemon, so a job stuck past
    STOP_GRACE cannot keep the process alive after `run` returns.

    A job's lateness (`misfire_grace`: the machine slept) is counted up to when the
    scheduler handed it over, not the time it then waited for the jobs before it: a
    court feed that hangs delays the polls queued behind it, it does not skip them."""

    def start(self, scheduler: BaseScheduler, alias: str) -> None:
        super().start(scheduler, alias)
        self._queue: queue.SimpleQueue[tuple[Job, list[datetime], float] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=f"docketwatch-{alias}", daemon=True)
        self._thread.start()

    def shutdown(self, wait: bool = True) -> None:
        self._queue.put(None)
        if wait:
            self._thread.join()

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        self._queue.put((job, run_times, time.monotonic()))

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            job, run_times, queued = item
            waited = timedelta(seconds=time.monotonic() - queued)
            try:
                events = run_job(job, job._jobstore_alias, [t + waited for t in run_times], self._logger.name)
            except BaseException:
                self._run_job_error(job.id, *sys.exc_info()[1:])
            else:
                self._run_job_success(job.id, events)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None  # moved away for a moment (an editor saving): looked at again next time


def run(config: Config, engine: Engine, *, once: bool = False, load: Callable[[], Config] | None = None) -> list[str]:
    """Take the database's scheduler lock (or raise lock.AlreadyRunning), run, release.
    With `once`, returns the labels of the cases whose poll failed. `load` reads the
    configuration file again when it is edited."""
    started = utcnow()
    held = lock.acquire(engine, lock.holder_id())  # first: a run refused changes nothing
    try:
        digests.record_subscriptions(engine, config)  # a renamed_from that does not fit the database stops it here
        service = Service(config, engine, load)
        if once:
            failed = service.run_once()
            if not service.stopping.is_set():  # every job ran: health counts it as a live monitor
                lock.finished_once(engine, held.holder, started)
            return failed
        service.run_forever(held)
        return []
    finally:
        held.release()
