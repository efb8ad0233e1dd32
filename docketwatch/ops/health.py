"""Is the monitor working? Per poll job: last success, failures in a row, next run;
deliveries that keep failing; subscriptions whose digest cannot be built; and the operator
alerts: one when a job has failed N times in a row, one on recovery, and one when a
delivery has failed `outbox.max_attempts` times (the outbox alerts on a digest that cannot
be built, and on its recovery).

Alerts go through the outbox like any digest (stored first, retried, sent once), to
the `[admin] to` addresses; without them, or without `[smtp]`, they are only logged.
The one exception is a database that cannot be used (`DatabaseWatch`): the outbox is in
it, so that alert is mailed at once.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as select_columns  # sqlmodel's select of columns types each as optional
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from docketwatch.ops import lock, plan
from docketwatch.settings import Config
from docketwatch.store import StoreError
from docketwatch.store.models import DIGEST_JOB, Case, CheckRun, Delivery, Digest, HealthAlert, as_utc, iso, utcnow

if TYPE_CHECKING:
    from docketwatch.pipeline.digests import Unconfigured

log = logging.getLogger(__name__)
# A due digest not attempted for this long, while `run` is alive, means delivery is stuck.
OUTBOX_STUCK = timedelta(minutes=15)
# A job's health is read from its latest runs, this many (retention keeps them).
RUNS_READ = 50


class _Run(NamedTuple):
    ok: bool
    started_at: datetime
    error: str | None


def _runs(session: Session, job: plan.PlanRow, limit: int = RUNS_READ) -> list[_Run]:
    """The job's latest runs, newest first (a court feed's runs are those of its first case).

    Read as the latest successes and the latest failures, each a walk down the (case_id,
    ok, id) index: the latest runs of either kind would be a sort of every run the case
    has kept, and `status` would slow down as history grows (bench/growth.py). Columns,
    not CheckRun objects: `status` reads them for every job."""
    columns = select_columns(col(CheckRun.id), col(CheckRun.ok), col(CheckRun.started_at), col(CheckRun.error))
    runs = [row for ok in (True, False) for row in session.execute(
        columns.where(*_of_job(job), col(CheckRun.ok) == ok).order_by(col(CheckRun.id).desc()).limit(limit))]
    return [_Run(ok, started_at, error) for _, ok, started_at, error in
            sorted(runs, key=lambda row: row[0] or 0, reverse=True)[:limit]]


def _of_job(job: plan.PlanRow) -> list[ColumnElement[bool]]:
    """The conditions of the job's check runs (a court feed's are those of its first case)."""
    case = job.cases[0]
    case_id = select(Case.id).where(Case.court == case.court, Case.docket_number == case.docket_number)
    return [col(CheckRun.source) == job.source, col(CheckRun.case_id) == case_id.scalar_subquery()]


def job_health(session: Session, job: plan.PlanRow) -> dict[str, Any]:
    runs = _runs(session, job)
    failures = next((i for i, r in enumerate(runs) if r.ok), len(runs))
    success = next((r.started_at for r in runs if r.ok), None)
    last = runs[0].started_at if runs else None
    return {
        "job": job.job_id,
        "last_success": iso(success),
        "consecutive_failures": failures,
        "last_error": runs[0].error if runs and not runs[0].ok else None,
        # Without the scheduler's own state, the next run is one interval after the last.
        "next_run": iso(as_utc(last) + job.interval) if last else "now",
    }


def unhealthy(session: Session, config: Config, jobs: list[plan.PlanRow], job_health: list[dict[str, Any]],
              deliveries: list[dict[str, Any]], failing: list[dict[str, Any]],
              unconfigured: list[Unconfigured]) -> list[str]:
    """Reasons the service is not healthy (empty: healthy), for `status --health`, from
    the jobs and their `job_health`, the `failing_deliveries`, the `failing_subscriptions`
    and the `digests.unconfigured` ones (which `status` shows too: read once)."""
    reasons = []
    now = utcnow()
    # Under a timer, `run --once` is the monitor: alive while one finished within twice the interval.
    window = 2 * config.schedule.interval + config.schedule.jitter
    if (running := lock.alive(session, now)) is not None:
        reasons += _stuck(session, config, jobs, as_utc(running.acquired_at), now, OUTBOX_STUCK)
    elif (once := lock.last_once(session)) is not None and now - as_utc(once.heartbeat_at) <= window:
        reasons += _stuck(session, config, jobs, as_utc(once.acquired_at), now, window)
    else:
        reasons.append("no docketwatch run has a fresh heartbeat on this database" + (
            f", and the last run --once finished at {iso(once.heartbeat_at)}, more than twice the interval "
            f"({config.schedule.interval}) ago" if once else ""))
    for h in job_health:
        if h["consecutive_failures"] >= config.admin.failures_before_alert:
            reasons.append(f"{h['job']} failed {h['consecutive_failures']} times in a row: {h['last_error']}")
    for d in deliveries:
        reasons.append(f"{d['what']}: not delivered after {d['attempts']} attempts: {d['last_error']}")
    for f in failing:
        reasons.append(f"the digest for {f['subscription']!r} cannot be built (since {f['since']}): {f['error']}")
    for u in unconfigured:
        owed = " and ".join(filter(None, [f"{u.events} event{'' if u.events == 1 else 's'}" if u.events else "",
                                          f"{u.pending} pending deliver{'y' if u.pending == 1 else 'ies'}"
                                          if u.pending else ""]))
        if owed:  # and nobody will send it
            reasons.append(f"subscription {u.name!r} is no longer configured and is owed {owed}: add renamed_from = "
                           f"{u.name!r} to the subscription it became, or give it up: docketwatch digest --forget "
                           f"{u.name}")
    return reasons


def failing_subscriptions(session: Session, config: Config) -> list[dict[str, Any]]:
    """Configured subscriptions whose digest could not be built the last time it was due
    (outbox._watch_building keeps the state)."""
    names = {d.name for d in config.digests}
    rows = session.exec(select(HealthAlert).where(col(HealthAlert.job).startswith(DIGEST_JOB), col(HealthAlert.failing))
                        .order_by(col(HealthAlert.job)))
    return [{"subscription": name, "since": iso(row.alerted_at), "error": row.error}
            for row in rows if (name := row.job.removeprefix(DIGEST_JOB)) in names]


def failing_deliveries(session: Session, config: Config) -> list[dict[str, Any]]:
    """Deliveries still pending after `outbox.max_attempts` failures (they keep being retried)."""
    rows = session.exec(
        select(Delivery, Digest).join(Digest, col(Digest.id) == Delivery.digest_id)
        .where(Delivery.status == "pending", Delivery.attempts >= config.outbox.max_attempts)
        .order_by(col(Delivery.id)))
    return [{"id": delivery.id, "what": _what(digest, delivery), "subscription": digest.subscription,
             "recipient": delivery.recipient, "subject": digest.subject, "message_id": delivery.message_id,
             "attempts": delivery.attempts, "last_error": delivery.last_error, "created_at": iso(digest.created_at),
             "next_attempt": iso(delivery.next_attempt_at)} for delivery, digest in rows]


def _what(digest: Digest, delivery: Delivery) -> str:
    return (f"delivery {delivery.id} of the digest for {digest.subscription!r} "
            f"to {delivery.recipient or 'each recipient'}")


def _stuck(session: Session, config: Config, jobs: list[plan.PlanRow], started: datetime,
           now: datetime, outbox_after: timedelta) -> list[str]:
    """A live `run` whose heartbeat is fresh (or a recent `run --once`, started at
    `started`) can still be stuck: a poll that has not finished within twice its interval
    (plus jitter) since the run started, or a due digest not attempted for `outbox_after`."""
    reasons = []
    for job in jobs:
        finished = _last_finished(session, job)
        since = max(as_utc(finished), started) if finished else started
        if now - since > 2 * job.interval + config.schedule.jitter:
            reasons.append(f"{job.job_id} is stuck: no poll has finished since {iso(since)}, "
                           "more than twice its interval ago")
    oldest = session.exec(select(func.min(Delivery.next_attempt_at)).where(Delivery.status == "pending")).one()
    if oldest is not None and now - as_utc(oldest) > outbox_after:
        reasons.append(f"the outbox is stuck: a delivery due since {iso(oldest)} has not been attempted")
    return reasons


def _last_finished(session: Session, job: plan.PlanRow) -> datetime | None:
    """When a poll of the job last finished, successful or not (see `_runs`)."""
    return session.exec(select(func.max(CheckRun.finished_at)).where(*_of_job(job))).one()


def observe(engine: Engine, config: Config, job: plan.PlanRow, now: datetime | None = None) -> None:
    """After a poll: alert once when the job reaches N failures in a row, once on recovery."""
    from docketwatch.pipeline import outbox  # templates: only in `run`, which polls

    now = now or utcnow()
    with Session(engine) as session:
        h = job_health(session, job)
        failing = h["consecutive_failures"] >= config.admin.failures_before_alert
        subject = f"docketwatch: {job.job_id} failed {h['consecutive_failures']} times in a row"
        text = f"{subject}.\n\nLast error: {h['last_error']}\nLast success: {h['last_success'] or 'never'}\n"
        again = f"docketwatch: {job.job_id} works again"
        outbox.watch_health(session, config, job.job_id, (h["last_error"] or "failed") if failing else None, now,
                            failed=(subject, text), recovered=(again, f"{again} (last success {h['last_success']}).\n"))
        session.commit()


class DatabaseWatch:
    """The database itself, as `run`'s jobs that use it find it. At
    `failures_before_alert` failures in a row the operator is told at once, by a mail sent
    directly (the outbox lives in that database), tried again after as many failures
    more until a server takes it; and once more, through the outbox, when it works
    again. Jobs run on several threads: so may these calls."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._lock = threading.Lock()
        self._failures = 0
        self._since: datetime | None = None  # the first failure of the current run of them
        self._tried_at: int | None = None  # the failure count at the last try to mail the operator
        self._mailed = False  # a server took that mail (or there is no one to mail)

    def failed(self, config: Config, error: StoreError) -> None:
        from docketwatch.pipeline import outbox

        every = config.admin.failures_before_alert
        with self._lock:
            self._failures += 1
            self._since = self._since or utcnow()
            if self._mailed or self._failures < (self._tried_at or 0) + every:
                return
            self._tried_at = failures = self._failures
            since = self._since
        subject = "docketwatch: the database cannot be used"
        text = (f"{subject}: {error}\n\n{failures} jobs in a row found it so, since {iso(since)}. Nothing is "
                "polled, stored or delivered until it can be used; docketwatch run keeps trying, and says so "
                "when it works again. This message was sent directly, not through the outbox (which is in "
                "that database), and is sent once.\n")
        log.error("%s (%d jobs in a row since %s)", subject, failures, iso(since))
        probes = outbox.alert_now(config, subject, text, utcnow())
        for probe in probes:
            if probe.ok:
                log.info("%s: mailed to %s: %s", subject, probe.recipient, probe.detail)
            else:
                log.error("%s: could not be mailed to %s: %s", subject, probe.recipient, probe.detail)
        if probes and not any(probe.ok for probe in probes):
            log.error("%s: tried again after %d more failures", subject, every)
            return
        with self._lock:
            if self._tried_at == failures:  # not since told the database works again
                self._mailed = True

    def worked(self, config: Config) -> None:
        from docketwatch.pipeline import outbox

        with self._lock:
            tried_at, mailed, since = self._tried_at, self._mailed, self._since
            self._failures, self._since, self._tried_at, self._mailed = 0, None, None, False
            if tried_at is None:
                return
        subject = "docketwatch: the database works again"
        now = utcnow()
        try:
            with Session(self.engine) as session:
                outbox.alert(session, config, subject, f"{subject} (it could not be used from {iso(since)} to "
                             f"{iso(now)}); polls and deliveries go on.\n", now)
                session.commit()
        except StoreError as e:  # failing again already: the next job that works says it
            log.error("%s: %s", subject, e)
            with self._lock:
                self._since, self._tried_at, self._mailed = since, tried_at, mailed
            return
        log.warning("%s", subject)
