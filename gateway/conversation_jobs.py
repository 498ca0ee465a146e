"""Scheduled conversation housekeeping: SMS runs whose wait ran out, and USSD sessions the provider dropped."""
from __future__ import annotations

import datetime as dt

from flask import Flask

from flows import engine
from gateway.conversation import RUN_STATUS, Turn
from gateway.logs import log_event
from gateway.scheduler import job
from storage import runs
from storage.db import utcnow
from storage.models import Contact

USSD_IDLE = dt.timedelta(minutes=10)  # providers drop a session after 3 minutes at most (protocols.md §1.3)
USSD_SESSION_KEEP = dt.timedelta(days=2)  # long enough to answer any redelivered hop


@job("conversation.expire", "interval", minutes=1)
def expire_runs(app: Flask) -> dict[str, int]:
    """End SMS runs past their wait (through the engine, which records why) and idle USSD runs."""
    now = utcnow()
    expired = sum(_expire_sms_run(app, run) for run in runs.stale_runs(now, "sms"))
    ussd = runs.expire_ussd_runs(now - USSD_IDLE)
    purged = runs.purge_ussd_sessions(now - USSD_SESSION_KEEP)
    if expired or ussd or purged:
        log_event("conversation.expired", sms_runs=expired, ussd_runs=ussd, ussd_sessions_purged=purged)
    return {"sms_runs": expired, "ussd_runs": ussd, "ussd_sessions_purged": purged}


def _expire_sms_run(app: Flask, run) -> bool:
    """The engine's expire sends nothing; the run keeps the answers it had. False when a reply won the race."""
    turn = Turn(app, Contact.get_by_id(run.contact_id), "sms")
    flow = turn.flowset.get(run.flow_id)
    if flow is None:
        runs.end_run(run, "expired")
        return True
    # no context providers: expiring reads nothing, and must not allocate anything (such as a complaint ref)
    context = engine.Context("sms", turn.language, turn.script, turn.local_now())
    outcome = engine.expire(flow, run.state, context)
    if not runs.save_run(run, state=outcome.state, status=RUN_STATUS.get(outcome.status, "expired"), expires_at=None):
        return False
    if outcome.results:
        runs.save_results(run, outcome.results)
    return True
