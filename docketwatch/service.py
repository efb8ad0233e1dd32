"""`docketwatch run`: the scheduled service (APScheduler 3).

Jobs: one poll job per row of the plan (a CourtListener case, or a court RSS feed),
one digest job per subscription (immediate ones also run after every poll, so an
immediate digest goes out within one poll cycle), an outbox job that retries digests
waiting for another attempt, and the lock's heartbeat. Poll and digest jobs share a
single worker thread, so two jobs never spend the same request budget at once; the
heartbeat has its own thread so a slow poll never looks like a dead scheduler.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine
from sqlmodel import Session

from docketwatch import checks, health, lock, outbox, plan
from docketwatch.config import Config, DigestConfig
from docketwatch.digests import parse_schedule
from docketwatch.models import utcnow

log = logging.getLogger(__name__)
OUTBOX_RETRY = timedelta(seconds=60)


class Service:
    def __init__(self, config: Config, engine: Engine):
        self.config = config
        self.engine = engine
        self.jobs = self._plan()
        admin = health.admin_subscription(config)
        self.subscriptions: list[DigestConfig] = list(config.digests) + ([admin] if admin else [])
        self.immediate = [s for s in self.subscriptions if parse_schedule(s.schedule).kind == "immediate"]

    def _plan(self) -> list[plan.PlanRow]:
        with Session(self.engine) as session:
            return plan.make_plan(self.config, plan.active_cases(session, self.config, utcnow().date()))

    # -- the work each job does ------------------------------------------------
    def poll(self, job: plan.PlanRow) -> None:
        # Job intervals are fixed at start; the API shares follow which cases are active now.
        results = checks.check(self.config, self.engine, job.cases, source=job.source,
                               api_intervals=plan.api_intervals(self._plan()))
        for r in results:
            if not r.ok:
                log.warning("%s: %s: %s", job.job_id, r.case.name, "; ".join(r.errors))
            elif r.baseline:
                log.info("%s: %s: baseline recorded (%d entries)", job.job_id, r.case.name, r.baseline_entries)
            else:
                log.info("%s: %s: %d new, %d changed%s", job.job_id, r.case.name, len(r.new), len(r.changed),
                         "".join(f"; gap: {g}" for g in r.gaps))
        health.observe(self.engine, self.config, job)
        self.digest(self.immediate)

    def digest(self, subscriptions: list[DigestConfig]) -> None:
        if not subscriptions:
            return
        report = outbox.run(self.config, self.engine, subscriptions)
        self._log_digests(report.attempts, report.errors)

    def retry(self) -> None:
        self._log_digests(outbox.deliver(self.config, self.engine, self.subscriptions, utcnow()), [])

    @staticmethod
    def _log_digests(attempts: list[outbox.Attempt], errors: list[str]) -> None:
        for a in attempts:
            if a.ok:
                log.info("digest %s: sent %s to %s", a.digest.subscription, a.delivery.message_id, a.detail)
            else:
                log.warning("digest %s: attempt %d failed: %s", a.digest.subscription, a.delivery.attempts, a.detail)
        for error in errors:
            log.error("%s", error)

    # -- running ---------------------------------------------------------------
    def run_once(self) -> None:
        """Every job once, in order (for cron and systemd timers)."""
        for job in self.jobs:
            self.poll(job)
        self.digest(self.subscriptions)

    def run_forever(self, holder: str) -> None:
        """Until SIGTERM or SIGINT: then finish the job in flight and return."""
        settings = self.config.schedule
        scheduler = BlockingScheduler(
            executors={"default": ThreadPoolExecutor(1), "heartbeat": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": int(settings.misfire_grace.total_seconds())},
            timezone=self.config.timezone,
        )
        jitter = int(settings.jitter.total_seconds()) or None
        now = utcnow()
        for job in self.jobs:
            scheduler.add_job(self.poll, IntervalTrigger(seconds=job.interval.total_seconds(), jitter=jitter),
                              args=[job], id=job.job_id, name=job.job_id, next_run_time=now)
        for sub in self.subscriptions:
            scheduler.add_job(self.digest, _digest_trigger(sub, self.config.timezone), args=[[sub]],
                              id=f"digest:{sub.name}")
        scheduler.add_job(self.retry, IntervalTrigger(seconds=OUTBOX_RETRY.total_seconds()), id="outbox")
        scheduler.add_job(self._beat, IntervalTrigger(seconds=lock.HEARTBEAT.total_seconds()),
                          args=[holder, scheduler], id="heartbeat", executor="heartbeat")

        stopping = threading.Event()

        def stop(signum: int, _frame) -> None:
            if not stopping.is_set():
                stopping.set()
                log.info("received %s: finishing the job in flight, then stopping", signal.Signals(signum).name)
                scheduler.shutdown(wait=True)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("docketwatch run: %d poll jobs, %d digest subscriptions", len(self.jobs), len(self.subscriptions))
        scheduler.start()
        log.info("stopped")

    def _beat(self, holder: str, scheduler: BlockingScheduler) -> None:
        if not lock.heartbeat(self.engine, holder):
            log.error("the scheduler lock was taken over by another docketwatch run; stopping")
            scheduler.shutdown(wait=False)


def _digest_trigger(sub: DigestConfig, zone: str) -> CronTrigger | IntervalTrigger:
    """Daily and weekly digests at their time; immediate ones also every minute (besides
    after each poll), so events from `docketwatch check` go out too."""
    schedule = parse_schedule(sub.schedule)
    if schedule.kind == "immediate":
        return IntervalTrigger(seconds=OUTBOX_RETRY.total_seconds())
    day = "*" if schedule.kind == "daily" else ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[schedule.weekday]
    return CronTrigger(day_of_week=day, hour=schedule.at.hour, minute=schedule.at.minute, timezone=zone)


def run(config: Config, engine: Engine, *, once: bool = False) -> None:
    """Take the database's scheduler lock (or raise lock.AlreadyRunning), run, release."""
    holder = lock.holder_id()
    lock.acquire(engine, holder)
    try:
        service = Service(config, engine)
        if once:
            service.run_once()
        else:
            service.run_forever(holder)
    finally:
        lock.release(engine, holder)
