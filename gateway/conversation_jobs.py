"""Scheduled conversation housekeeping: SMS runs whose wait ran out, and USSD sessions the provider dropped."""
from __future__ import annotations

import datetime as dt

from flask import Flask

from gateway.conversation import expire_run
from gateway.logs import log_event
from storage import runs
from storage.db import utcnow

USSD_IDLE = dt.timedelta(minutes=10)  # providers drop a session after 3 minutes at most (protocols.md §1.3)
USSD_SESSION_KEEP = dt.timedelta(days=2)  # long enough to answer any redelivered hop


def expire_runs(app: Flask) -> dict[str, int]:
    """End SMS runs past their wait (through the engine, which records why) and idle USSD runs."""
    now = utcnow()
    expired = sum(expire_run(app, run.id) for run in runs.stale_runs(now, "sms"))
    ussd = runs.expire_ussd_runs(now - USSD_IDLE)
    purged = runs.purge_ussd_sessions(now - USSD_SESSION_KEEP)
    if expired or ussd or purged:
        log_event("conversation.expired", sms_runs=expired, ussd_runs=ussd, ussd_sessions_purged=purged)
    return {"sms_runs": expired, "ussd_runs": ussd, "ussd_sessions_purged": purged}
