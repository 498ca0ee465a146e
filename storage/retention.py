"""Deleting what is past its retention period."""
from __future__ import annotations

import datetime as dt

from storage.db import database, utcnow
from storage.models import FlowRun, Message

FINISHED_RUN_STATES = ("completed", "interrupted", "expired", "failed")


def purge(message_days: int, run_days: int) -> dict[str, int]:
    """Delete messages older than `message_days` that are no longer in flight, and finished runs older than
    `run_days` (their results go with them). Domain records (complaints, scores) keep only pseudonymous ids."""
    now = utcnow()
    with database.atomic():
        messages = (Message.delete()
                    .where((Message.created_at < now - dt.timedelta(days=message_days))
                           & Message.status.not_in(("queued", "sending")))
                    .execute())
        runs = (FlowRun.delete()
                .where((FlowRun.updated_at < now - dt.timedelta(days=run_days))
                       & FlowRun.status.in_(FINISHED_RUN_STATES))
                .execute())
    return {"messages": messages, "runs": runs}
