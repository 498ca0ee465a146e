"""APScheduler wiring. `create_app` names the jobs; a leader lease makes them run in one process only.

What is due lives in our own tables, so each job looks at the database on every tick: a restart or a missed
tick loses nothing. APScheduler only decides *when to look*.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from gateway.logs import log_event
from storage import leases
from storage.db import database

LEADER_LEASE = "scheduler-leader"


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
        try:
            return app.extensions["gateway.jobs"][name].func(app)
        except Exception:
            log_event("job.failed", logging.ERROR, job=name, exc_info=True)
            raise


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
    scheduler.start()
    app.extensions["gateway.scheduler"] = scheduler
    return scheduler


def stop_scheduler(app: Flask) -> None:
    scheduler = app.extensions.pop("gateway.scheduler", None)
    if scheduler and scheduler.running:
        scheduler.shutdown(wait=True)
    with database.connection_context():
        leases.release(LEADER_LEASE, app.extensions["gateway.process_id"])


def _leader_only(app: Flask, name: str) -> None:
    try:
        if is_leader(app):
            run_job(app, name)
    except Exception:  # a failing job must not kill the scheduler thread; run_job logged it
        pass
