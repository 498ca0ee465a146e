"""Scheduled jobs of the outbox: send what is due, and poll the Android phone's /health for the watchdog."""
from __future__ import annotations

import datetime as dt
import logging

from flask import Flask

from gateway.channels.base import get_channel
from gateway.logs import log_event
from gateway.outbox import dispatch
from storage import outbox as store
from storage.db import utcnow


def dispatch_outbox(app: Flask) -> dict:
    """Send due messages (replies first); a run stops after `outbox.dispatch_seconds`, the next tick goes on."""
    return dict(dispatch(app))


def poll_phone(app: Flask) -> str | None:
    """GET /health on the phone: a healthy answer counts as 'seen'; no answer marks the channel down."""
    channel = get_channel(app, "android")
    if channel is None:
        return None
    try:
        health = channel.health()
    except Exception as exc:  # unreachable phone: any client or network error means the same thing here
        down_for = dt.timedelta(seconds=app.config["GATEWAY"]["outbox"]["down_seconds"])
        store.mark_down("android", f"health check failed: {type(exc).__name__}", utcnow() + down_for)
        log_event("android.unreachable", logging.WARNING, error=type(exc).__name__)
        return "unreachable"
    if health == "fail":
        store.mark_down("android", "phone reports health fail",
                        utcnow() + dt.timedelta(seconds=app.config["GATEWAY"]["outbox"]["down_seconds"]))
    store.mark_seen("android", utcnow(), health)
    return health
