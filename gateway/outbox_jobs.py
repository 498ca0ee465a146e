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
    """GET /health on each phone of the pool: a healthy answer counts as 'seen'; no answer (or `fail`) marks that
    phone down, and its queued messages go to the rest of the pool. Returns the phones' answers, joined."""
    channel = get_channel(app, "android")
    if channel is None:
        return None
    return ", ".join(_poll(app, channel, phone) for phone in channel.phones)


def _poll(app: Flask, channel, phone) -> str:
    down_for = dt.timedelta(seconds=app.config["GATEWAY"]["outbox"]["down_seconds"])
    try:
        health = channel.health(phone)
    except Exception as exc:  # unreachable phone: any client or network error means the same thing here
        _phone_down(channel, phone, f"health check failed: {type(exc).__name__}", utcnow() + down_for)
        log_event("android.unreachable", logging.WARNING, phone=phone.name, error=type(exc).__name__)
        return "unreachable"
    if health == "fail":
        _phone_down(channel, phone, "phone reports health fail", utcnow() + down_for)
    store.mark_seen(phone.key, utcnow(), health)
    return health


def _phone_down(channel, phone, reason: str, until: dt.datetime) -> None:
    store.mark_down(phone.key, reason, until)
    if len(channel.phones) > 1:
        store.unassign_phone(phone.key)
