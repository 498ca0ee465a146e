"""Liveness and readiness, for load balancers and for people.

- `GET /healthz` (liveness): 200 while this process can serve requests; 503 only when it cannot (its database does
  not answer). A sleeping phone or a dead provider never takes USSD and the webhooks out of service.
- `GET /readyz` (readiness): 200 when everything the service promises works: database, flows, the scheduler when
  enabled, every enabled channel configured, and at least one of them able to send. 503 otherwise, saying why.

Both answer the same JSON body: database, scheduler, flows, version, and each enabled channel's state.
"""
from __future__ import annotations

import datetime as dt
from importlib.metadata import PackageNotFoundError, version

from flask import Blueprint, current_app, jsonify

from gateway import phone_pool
from gateway.channels.base import Channel, enabled_channels, get_channel
from gateway.config import SECRET_ENV
from storage import outbox as store
from storage.db import ping, utcnow

bp = Blueprint("health", __name__)
ENV_OF = {key: env for env, key in SECRET_ENV.items()}


def package_version() -> str:
    try:
        return version("mn-feedback-gateway")
    except PackageNotFoundError:
        return "0+unknown"


@bp.get("/healthz")
def healthz():
    body = _report()
    body["ok"] = body["database"] == "ok"
    return jsonify(body), 200 if body["ok"] else 503


@bp.get("/readyz")
def readyz():
    body = _report()
    body["not_ready"] = _not_ready(body)
    body["ok"] = not body["not_ready"]
    return jsonify(body), 200 if body["ok"] else 503


def _report() -> dict:
    database = _database()
    return {"database": database, "scheduler": _scheduler(), "flows": _flows(),
            "channels": _channels() if database == "ok" else {}, "version": package_version()}


def _not_ready(body: dict) -> list[str]:
    reasons = []
    if body["database"] != "ok":
        reasons.append("database")
    if not body["flows"]["loaded"]:
        reasons.append("flows")
    if body["scheduler"] == "not running":
        reasons.append("scheduler")
    channels = body["channels"]
    reasons += [f"channel {name}" for name, state in channels.items() if state["state"] == "misconfigured"]
    if channels and not any(state["ready"] for state in channels.values()):
        reasons.append("no channel can send")
    return reasons


def _database() -> str:
    try:
        ping()
        return "ok"
    except Exception as exc:  # any driver error means "cannot serve", never a 500
        return f"error: {type(exc).__name__}"


def _scheduler() -> str:
    if not current_app.config["GATEWAY"]["scheduler"]["enabled"]:
        return "disabled in config"
    scheduler = current_app.extensions.get("gateway.scheduler")
    return "running" if scheduler and scheduler.running else "not running"


def _flows() -> dict:
    flowset = current_app.extensions.get("gateway.flows")
    if flowset is None:
        return {"loaded": 0, "ids": [], "broken": []}
    broken = sorted({str(issue.file) for issue in flowset.issues if issue.severity == "error"})
    return {"loaded": len(flowset.flows), "ids": sorted(flowset.flows), "broken": broken}


def _channels() -> dict[str, dict]:
    """Each enabled channel: misconfigured (secrets missing), down (failing over, until when) or up."""
    return {name: channel_state(get_channel(current_app, name)) for name in enabled_channels(current_app)}


def channel_state(channel: Channel) -> dict:
    missing = channel.missing_secrets()
    if missing:
        names = ", ".join(ENV_OF.get(f"channels.{channel.name}.{key}", key) for key in missing)
        return {"state": "misconfigured", "ready": False, "detail": f"missing {names}: nothing can be sent"}
    if len(getattr(channel, "phones", ())) > 1:
        return pool_state(channel)
    state, now = store.channel_state(channel.name), utcnow()
    if state.down_until and state.down_until > now:
        detail = f"down until {state.down_until:%H:%M:%S} UTC ({(state.last_error or '')[:120]})"
        return {"state": "down", "ready": False, "detail": detail}
    detail = phone_last_seen(channel, state, now) if channel.name == "android" else "up"
    return {"state": "up", "ready": True, "detail": detail}


def pool_state(channel: Channel) -> dict:
    """An Android pool: up while any phone is; each phone's state and last seen, and how long the queue takes."""
    phones = phone_pool.describe(current_app)
    up = [phone for phone in phones if phone["up"]]
    queued = phone_pool.queued_estimate(current_app)
    detail = (f"{len(up)} of {len(phones)} phones up; queue sent in about "
              f"{phone_pool.duration(queued['eta_seconds'])}")
    return {"state": "up" if up else "down", "ready": bool(up), "detail": detail, "phones": phones,
            "queued": {"eta_seconds": queued["eta_seconds"], "phones": queued["phones"]}}


def phone_last_seen(channel: Channel, state: store.ChannelState, now: dt.datetime) -> str:
    """When the Android phone last reported in, with a warning when it has been silent too long. A silent phone
    is still tried (it may only be asleep); the outbox fails over when sends to it fail."""
    limit = channel.settings["silence_warning_minutes"]
    if state.last_seen_at is None:
        return "WARNING: phone never seen (no system:ping or /health answer yet)"
    silent = now - state.last_seen_at
    detail = f"phone last seen {int(silent.total_seconds() // 60)} min ago ({state.last_seen_at:%Y-%m-%d %H:%M} UTC)"
    if state.last_health:
        detail += f", health {state.last_health}"
    if silent > dt.timedelta(minutes=limit):
        return f"WARNING: {detail}; silent longer than {limit} min"
    return detail
