"""The start page, "this week at a glance": responses, complaints, meetings, open votes, sends, spend and channel
health."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from flows.text import sms_size
from gateway import broadcasts as bc
from gateway import phone_pool
from gateway.channels.base import CHANNEL_CLASSES, get_channel, load_channel_class
from gateway.clock import local_now
from gateway.console import scope
from gateway.console import votes as vote_pages
from gateway.console.auth import role
from storage import console as queries
from storage import meetings as meeting_store
from storage import outbox as outbox_store
from storage.db import utcnow
from storage.phones import mask_phones_in

bp = Blueprint("dashboard", __name__)
UPCOMING_MEETINGS = 5


def periods(app: Flask) -> dict[str, dt.datetime]:
    """Naive-UTC starts of the local week (Monday), day and month, and the start of next week."""
    now = local_now(app).replace(tzinfo=None)
    day = dt.datetime.combine(now.date(), dt.time())
    week = day - dt.timedelta(days=now.weekday())
    month = day.replace(day=1)
    return {name: bc.to_utc(app, value) for name, value in
            (("week", week), ("next_week", week + dt.timedelta(days=7)), ("day", day), ("month", month))}


def channel_health(app: Flask) -> list[dict]:
    """Each channel from what the database knows (no provider call): configured, credentials, down, last seen."""
    now = utcnow()
    rows = []
    for name in CHANNEL_CLASSES:
        channel = get_channel(app, name)
        row = {"name": name, "display_name": load_channel_class(name).display_name, "enabled": channel is not None,
               "missing": [], "down_until": None, "last_error": None, "seen_minutes": None, "verifies": True}
        if channel is not None:
            state = _pool_summary(channel, now) or outbox_store.channel_state(name)
            row.update(missing=channel.missing_secrets(), verifies=channel.verifies,
                       last_error=mask_phones_in(state.last_error or "") or None,
                       down_until=state.down_until if state.down_until and state.down_until > now else None)
            if state.last_seen_at is not None:
                row["seen_minutes"] = int((now - state.last_seen_at).total_seconds() // 60)
            if name == "android":
                row["silence_limit"] = app.config["GATEWAY"]["channels"]["android"]["silence_warning_minutes"]
        rows.append(row)
    return rows


def _pool_summary(channel, now: dt.datetime) -> outbox_store.ChannelState | None:
    """An Android pool as one row: down only while every phone is, seen when any phone last was."""
    phones = getattr(channel, "phones", ())
    if len(phones) < 2:
        return None
    states = [outbox_store.channel_state(phone.key) for phone in phones]
    seen = [state.last_seen_at for state in states if state.last_seen_at]
    errors = [f"{phone.name}: {state.last_error}" for phone, state in zip(phones, states, strict=True)
              if state.last_error]
    return outbox_store.ChannelState(name=channel.name, down_until=phone_pool.down_until(channel, now),
                                     last_seen_at=max(seen) if seen else None, last_error="; ".join(errors) or None)


def upcoming_meetings(limit: int) -> list:
    found = []
    for meeting in meeting_store.meetings_list(utcnow(), include_past=False):
        if scope.audience_allowed(meeting.audience):
            found.append(meeting)
        if len(found) >= limit:
            break
    return found


def spend(app: Flask, segments_by_channel: dict[str, int]) -> float:
    prices = app.config["GATEWAY"]["prices"]["per_segment"]
    return round(sum(n * float(prices.get(channel, 0)) for channel, n in segments_by_channel.items()), 2)


@bp.get("/")
@role("cso")
def index():
    app = current_app
    when = periods(app)
    area = scope.ids()
    sends = queries.sends_by_status(area, when["day"], when["day"] + dt.timedelta(days=1))
    glance = {
        "responses": queries.completed_runs(area, when["week"], when["next_week"]),
        "messages_in": queries.inbound_count(area, when["week"], when["next_week"]),
        "complaints": queries.complaint_counts(area, utcnow()),
        "sends_today": sum(sends.values()), "failed_today": sends.get("failed", 0),
        "queued_today": sends.get("queued", 0) + sends.get("sending", 0),
        "spend_month": spend(app, queries.segments_sent_by_channel(area, when["month"], utcnow())),
    }
    return render_template("console/dashboard.html", glance=glance, meetings=upcoming_meetings(UPCOMING_MEETINGS),
                           votes=vote_pages.open_in_area(), channels=channel_health(app), week_start=when["week"])


@bp.get("/sms-size")
@role("staff")
def sms_size_label():
    """Characters, segments and encoding of a text being typed (the reply box counts as people type)."""
    size = sms_size(request.args.get("text", "")[:2000])
    return jsonify(label=_("%(chars)d characters, %(segments)d SMS segment(s), %(encoding)s", chars=size.chars,
                           segments=size.segments, encoding=size.encoding))
