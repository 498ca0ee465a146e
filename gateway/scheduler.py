"""APScheduler wiring. `create_app` names the jobs; a leader lease makes them run in one process only.

What is due lives in our own tables, so each job looks at the database on every tick: a restart or a missed
tick loses nothing. APScheduler only decides *when to look*. Two things make that hold across crashes:
- the lease is short (`scheduler.lease_seconds`, 6 s) and the leader renews it every quarter of that, so a leader
  killed with `kill -9` is replaced within seconds, not a minute;
- a cron job (the Monday digest, the nightly purge) whose time passed while the service was down runs once when
  the scheduler starts again (`catch_up`).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from gateway import clock
from gateway.logs import log_event
from storage import leases
from storage.db import database, utcnow

LEADER_LEASE = "scheduler-leader"
LEASE_JOB, CATCH_UP_JOB = "scheduler.lease", "scheduler.catch_up"


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[[Flask], object]
    trigger: str  # "interval" | "cron"
    trigger_args: dict = field(default_factory=dict)


def init_app(app: Flask, jobs: list[Job]) -> None:
    """The jobs this app runs; `create_app` names them all, so nothing registers itself by being imported."""
    app.extensions["gateway.jobs"] = {spec.name: spec for spec in jobs}


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def run_job(app: Flask, name: str) -> object:
    """Run one job now, in an app context with a connection. Tests call this directly."""
    with app.app_context(), database.connection_context():
        started = utcnow()
        try:
            result = app.extensions["gateway.jobs"][name].func(app)
        except Exception:
            log_event("job.failed", logging.ERROR, job=name, exc_info=True)
            raise
        leases.cover(name, started)
        return result


def missed_runs(app: Flask, now: dt.datetime | None = None) -> list[str]:
    """Cron jobs with a scheduled time after their last run and not after `now` (naive UTC). A job never seen
    before starts being watched from now: a fresh install does not send last week's digest."""
    now = now or utcnow()
    zone = clock.local_zone(app)
    missed = []
    with database.connection_context():
        for spec in app.extensions["gateway.jobs"].values():
            if spec.trigger != "cron":
                continue
            covered = leases.covered_until(spec.name)
            if covered is None:
                leases.cover(spec.name, now)
                continue
            since = covered.replace(tzinfo=dt.UTC) + dt.timedelta(microseconds=1)
            due = CronTrigger(timezone=zone, **spec.trigger_args).get_next_fire_time(None, since)
            if due is not None and due <= now.replace(tzinfo=dt.UTC):
                missed.append(spec.name)
    return missed


def catch_up(app: Flask) -> list[str]:
    """Run, once, every cron job whose time passed while no scheduler was running (leader only)."""
    ran = []
    for name in missed_runs(app) if is_leader(app) else []:
        try:
            run_job(app, name)
            ran.append(name)
        except Exception:  # logged by run_job; the next start tries again
            pass
    if ran:
        log_event("scheduler.caught_up", jobs=ran)
    return ran


def is_leader(app: Flask) -> bool:
    config = app.config["GATEWAY"]["scheduler"]
    with database.connection_context():
        return leases.acquire(LEADER_LEASE, app.extensions["gateway.process_id"], config["lease_seconds"])


def start_scheduler(app: Flask) -> BackgroundScheduler:
    """Start the background scheduler for this process; jobs only run while it holds the leader lease."""
    tz = app.config["GATEWAY"]["timezone"]
    scheduler = BackgroundScheduler(timezone=tz, job_defaults={"coalesce": True, "max_instances": 1,
                                                               "misfire_grace_time": 300})
    for spec in app.extensions["gateway.jobs"].values():
        scheduler.add_job(_leader_only, spec.trigger, args=[app, spec.name], id=spec.name, **spec.trigger_args)
    lease = app.config["GATEWAY"]["scheduler"]["lease_seconds"]
    scheduler.add_job(_renew_lease, "interval", args=[app], id=LEASE_JOB, seconds=max(lease / 4, 1),
                      next_run_time=dt.datetime.now(dt.UTC))
    scheduler.add_job(_quietly(catch_up), "date", args=[app], id=CATCH_UP_JOB)
    scheduler.start()
    app.extensions["gateway.scheduler"] = scheduler
    return scheduler


def stop_scheduler(app: Flask) -> None:
    scheduler = app.extensions.pop("gateway.scheduler", None)
    if scheduler and scheduler.running:
        scheduler.shutdown(wait=True)
    with database.connection_context():
        leases.release(LEADER_LEASE, app.extensions["gateway.process_id"])


def _renew_lease(app: Flask) -> None:
    """The lease is renewed on its own tick, so a long job (a big dispatch, a digest) never lets it lapse."""
    try:
        is_leader(app)
    except Exception:  # the database is away: the next tick tries again
        log_event("scheduler.lease_not_renewed", logging.WARNING)


def _quietly(func: Callable[[Flask], object]) -> Callable[[Flask], None]:
    def run(app: Flask) -> None:
        try:
            func(app)
        except Exception:
            log_event("scheduler.job_crashed", logging.ERROR, job=getattr(func, "__name__", "?"), exc_info=True)
    return run


def _leader_only(app: Flask, name: str) -> None:
    try:
        if is_leader(app):
            run_job(app, name)
    except Exception:  # a failing job must not kill the scheduler thread; run_job logged it
        pass
