"""Broadcasts: validate, preview (recipients, texts, encoding, segments, cost), schedule and enqueue.

Every check happens before anything is written, so bad input gets one clear error and nothing is queued.
Each recipient becomes one outbox row (see storage.meetings.enqueue_chunk); the outbox dispatcher sends them.
"""
from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask

from flows.text import sms_size, to_latin
from gateway import clock, phone_pool
from gateway.logs import log_event
from storage import meetings as store
from storage.db import utcnow

MAX_TEXT_CHARS = 1600
PLACEHOLDERS = ("title", "place", "time", "weekday", "date")
MN_WEEKDAYS = ("Даваа", "Мягмар", "Лхагва", "Пүрэв", "Баасан", "Бямба", "Ням")
EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PAST_GRACE = dt.timedelta(minutes=1)  # "now" typed by a person is a little in the past by the time it arrives


class BroadcastError(ValueError):
    """Bad input for a broadcast or meeting: the message says what to fix."""


# ---- time -------------------------------------------------------------------------------------------------


to_local = clock.to_local


def to_utc(app: Flask, value: dt.datetime) -> dt.datetime:
    """Naive UTC from a local naive time (the configured zone) or an aware time."""
    try:
        return clock.to_utc(app, value)
    except clock.LocalTimeError as exc:
        raise BroadcastError(str(exc)) from None


def parse_time(app: Flask, text: str) -> dt.datetime:
    """`2026-11-25 18:00` (local time) or ISO 8601 with an offset → naive UTC."""
    try:
        return clock.parse_local_time(app, text)
    except clock.LocalTimeError as exc:
        raise BroadcastError(str(exc)) from None


def require_future(app: Flask, when: dt.datetime, what: str) -> None:
    if when < utcnow() - PAST_GRACE:
        local = to_local(app, when).strftime("%Y-%m-%d %H:%M")
        raise BroadcastError(f"{what} {local} is in the past")


def quiet_until(app: Flask, now: dt.datetime) -> dt.datetime | None:
    """When quiet hours end (naive UTC) if `now` is inside them, else None. Works for any zone, DST or not."""
    quiet = app.config["GATEWAY"]["quiet_hours"]
    start, end = (dt.time.fromisoformat(quiet[k]) for k in ("start", "end"))
    local = to_local(app, now)
    clock = local.time().replace(tzinfo=None)
    if start == end:
        return None
    inside = (clock >= start or clock < end) if start > end else (start <= clock < end)
    if not inside:
        return None
    day = local.date() + dt.timedelta(days=1) if (start > end and clock >= start) else local.date()
    return to_utc(app, dt.datetime.combine(day, end))


def last_moment_before_quiet(app: Flask, when: dt.datetime) -> dt.datetime:
    """The start of the quiet hours that contain `when`, minus a minute (the evening before), naive UTC."""
    start = dt.time.fromisoformat(app.config["GATEWAY"]["quiet_hours"]["start"])
    local = to_local(app, when)
    day = local.date() if local.time().replace(tzinfo=None) >= start else local.date() - dt.timedelta(days=1)
    return to_utc(app, dt.datetime.combine(day, start)) - dt.timedelta(minutes=1)


# ---- texts ------------------------------------------------------------------------------------------------


def placeholders_in(template: str) -> list[str]:
    """The names in `{name}` placeholders. A format spec or conversion (`{title:>20000000}`, `{title!r}`) is
    refused: filling one in could take seconds of CPU and gigabytes, and no notice needs one."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None]
    except ValueError as exc:
        raise BroadcastError(f"the text has an unmatched brace: {exc}") from None
    for name, spec, conversion in fields:
        if spec or conversion:
            raise BroadcastError(f"write placeholders plainly, like {{{name.split('.')[0][:20]}}}: no ':' or '!'")
    return [name for name, _, _ in fields]


def check_template(template: object, allowed: tuple[str, ...], label: str) -> None:
    if not isinstance(template, str):
        raise BroadcastError(f"the {label} text must be a string")
    if not template or not template.strip():
        raise BroadcastError(f"the {label} text is empty")
    if len(template) > MAX_TEXT_CHARS:
        raise BroadcastError(f"the {label} text has {len(template)} characters; at most {MAX_TEXT_CHARS} are allowed")
    for name in placeholders_in(template):
        if name not in allowed:
            known = ", ".join("{" + p + "}" for p in allowed) or "none (this is not a meeting notice)"
            raise BroadcastError(f"unknown placeholder {{{name}}} in the {label} text; known placeholders: {known}")


def meeting_values(app: Flask, starts_at: dt.datetime, title: dict, place: dict) -> dict[str, dict[str, str]]:
    """Placeholder values per language: {"mn": {...}, "en": {...}}."""
    local = to_local(app, starts_at)
    return {
        "mn": {"title": title["mn"], "place": place["mn"], "time": local.strftime("%H:%M"),
               "weekday": MN_WEEKDAYS[local.weekday()], "date": f"{local.month}/{local.day}"},
        "en": {"title": title.get("en") or title["mn"], "place": place.get("en") or place["mn"],
               "time": local.strftime("%H:%M"), "weekday": EN_WEEKDAYS[local.weekday()],
               "date": f"{local.day} {EN_MONTHS[local.month - 1]}"},
    }


def render_variants(templates: dict[str, str | None], values: dict[str, dict[str, str]] | None) -> dict[str, str]:
    """The three texts a broadcast can send: Mongolian in Cyrillic and in Latin, and English.

    Without an English text, English readers get the Mongolian in Latin letters.
    """
    values = values or {"mn": {}, "en": {}}
    mongolian = templates["mn"].format_map(values["mn"])
    english = templates["en"].format_map(values["en"]) if templates.get("en") else None
    latin = to_latin(mongolian)
    texts = {"mn-cyrl": mongolian, "mn-latn": latin, "en": english or latin}
    for variant, text in texts.items():
        if len(text) > MAX_TEXT_CHARS:
            raise BroadcastError(f"the {variant} text is {len(text)} characters once filled in; "
                                 f"at most {MAX_TEXT_CHARS} are allowed")
    return texts


def variant_texts(texts: dict[str, str]) -> list[store.VariantText]:
    result = []
    for variant in store.VARIANTS:
        size = sms_size(texts[variant])
        result.append(store.VariantText(variant, texts[variant], size.encoding, size.segments))
    return result


# ---- preview ----------------------------------------------------------------------------------------------


def bulk_channel(app: Flask) -> str:
    """The channel bulk goes out on first (the outbox's routing), else the first one listed: prices come from it."""
    from gateway.outbox import route_for

    route = route_for(app, "broadcast")
    return route[0] if route else (app.config["GATEWAY"]["routing"]["bulk"] or ["none"])[0]


@dataclass
class Preview:
    recipients: int
    channel: str
    currency: str
    price_per_segment: float
    send_at: dt.datetime
    held_until: dt.datetime | None  # quiet hours: when the first message may go
    variants: list[dict] = field(default_factory=list)
    options: dict = field(default_factory=dict)  # {"as_is": {...}, "latin": {...}}: the two costs side by side
    sending: dict | None = None  # on an Android pool: recipients per operator, each phone's share, eta_seconds

    def as_dict(self, app: Flask) -> dict:
        def local(value):
            return to_local(app, value).isoformat(timespec="seconds") if value else None
        return {"recipients": self.recipients, "channel": self.channel, "currency": self.currency,
                "price_per_segment": self.price_per_segment, "send_at": local(self.send_at),
                "held_until": local(self.held_until), "variants": self.variants, "sending": self.sending,
                **self.options}


def preview(app: Flask, audience: list[str], texts: dict[str, str], latin: bool, send_at: dt.datetime) -> Preview:
    """What a broadcast would send, to how many people, in how many segments, and what it would cost."""
    config = app.config["GATEWAY"]
    default_script = config["language"]["sms_script"]
    channel = bulk_channel(app)
    price = float(config["prices"]["per_segment"].get(channel, 0))
    sizes = {v.variant: v for v in variant_texts(texts)}
    options = {}
    for name, force in (("as_is", latin), ("latin", True)):
        counts = store.count_by_variant(audience, default_script, force)
        segments = sum(sizes[v].segments * n for v, n in counts.items())
        options[name] = {"recipients_by_variant": counts, "segments": segments, "cost": round(segments * price, 2)}
    counts = options["as_is"]["recipients_by_variant"]
    result = Preview(sum(counts.values()), channel, config["prices"]["currency"], price, send_at,
                     quiet_until(app, max(send_at, utcnow())))
    result.variants = [{"variant": v, "language": v[:2], "script": "latn" if v != "mn-cyrl" else "cyrl",
                        "recipients": counts[v], "text": sizes[v].text, "encoding": sizes[v].encoding,
                        "segments_per_message": sizes[v].segments, "segments_total": sizes[v].segments * counts[v]}
                       for v in store.VARIANTS]
    result.options = options
    if channel == "android":
        by_prefix = store.count_by_number_prefix(audience)
        result.sending = phone_pool.estimate(app, phone_pool.operator_counts(app, by_prefix))
    return result


# ---- create and enqueue -----------------------------------------------------------------------------------


def check_audience(audience: list[str]) -> list[str]:
    try:
        cleaned = store.validate_audience(audience)
        reachable = store.reachable_audience(cleaned).count()
    except store.UnknownAudience as exc:
        raise BroadcastError(str(exc)) from None
    if reachable == 0:
        raise BroadcastError(f"no one to send to: {', '.join(cleaned)} has no contacts who consented and "
                             "have not opted out")
    return cleaned


def plan_broadcast(app: Flask, audience: list[str], text_mn: str, text_en: str | None = None,
                   send_at: dt.datetime | None = None, latin: bool = False) -> tuple[list[str], dict, dt.datetime]:
    """Validate a plain broadcast; returns (audience, texts per variant, send time). Writes nothing."""
    check_template(text_mn, (), "Mongolian")
    if text_en:
        check_template(text_en, (), "English")
    when = send_at or utcnow()
    require_future(app, when, "the send time")
    cleaned = check_audience(audience)
    return cleaned, render_variants({"mn": text_mn, "en": text_en}, None), when


def create_broadcast(audience: list[str], texts: dict, send_at: dt.datetime, latin: bool,
                     created_by: str, meeting=None, purpose: str = "broadcast") -> store.Broadcast:
    return store.Broadcast.create(meeting=meeting, purpose=purpose, audience=audience, texts=texts, latin=latin,
                                  send_at=send_at, created_by=created_by)


def claim_lease(app: Flask) -> dt.timedelta:
    return dt.timedelta(seconds=app.config["GATEWAY"]["scheduler"]["lease_seconds"])


def enqueue(app: Flask, broadcast: store.Broadcast, progress: Callable[[int], None] | None = None) -> int | None:
    """Write one outbox row per recipient, in chunks (so progress shows and a crash loses at most a chunk's
    transaction). Safe to repeat: already-queued recipients are skipped. Returns the recipient count, or None
    when another process holds the broadcast."""
    now = utcnow()
    holder = app.extensions["gateway.process_id"]
    if not store.claim(broadcast, holder, now, now - claim_lease(app)):
        return None
    config = app.config["GATEWAY"]
    texts = variant_texts(broadcast.texts)
    chunk = config["broadcasts"]["chunk_size"]
    not_before, channel = quiet_until(app, now), bulk_channel(app)
    id_range = store.audience_id_range(broadcast.audience)
    if id_range is not None:
        for low in range(id_range[0], id_range[1] + 1, chunk):
            high = min(low + chunk - 1, id_range[1])
            store.enqueue_chunk(broadcast, texts, channel, not_before, config["language"]["sms_script"], (low, high))
            store.renew_claim(broadcast)
            if progress:
                progress(high - low + 1)
    count = store.finish(broadcast, holder)
    log_event("broadcast.enqueued", broadcast=broadcast.id, purpose=broadcast.purpose, recipients=count,
              held_until=not_before.isoformat() if not_before else None)
    return count


def broadcast_summary(app: Flask, broadcast: store.Broadcast) -> dict:
    counts = store.status_counts([broadcast.origin])
    return {"id": broadcast.id, "purpose": broadcast.purpose, "status": broadcast.status,
            "meeting_id": broadcast.meeting_id, "audience": broadcast.audience, "latin": broadcast.latin,
            "send_at": to_local(app, broadcast.send_at).isoformat(), "recipients": sum(counts.values()),
            "messages": {s: counts.get(s, 0) for s in ("queued", "sending", "sent", "delivered", "failed",
                                                        "cancelled")},
            "note": broadcast.note}


def send_plain_broadcast(app: Flask, audience: list[str], text_mn: str, text_en: str | None,
                         send_at: dt.datetime | None, latin: bool, created_by: str,
                         progress: Callable[[int], None] | None = None) -> store.Broadcast:
    """Validate, record and (when due now) enqueue a broadcast. Scheduled ones are picked up by the due job."""
    cleaned, texts, when = plan_broadcast(app, audience, text_mn, text_en, send_at, latin)
    with store.write_transaction():
        broadcast = create_broadcast(cleaned, texts, when, latin, created_by)
    if when <= utcnow():
        enqueue(app, broadcast, progress)
    return store.get_broadcast(broadcast.id)


def cancel_broadcast(app: Flask, broadcast: store.Broadcast, reason: str) -> int:
    """Cancel what has not gone yet: the broadcast itself while scheduled, and its messages still queued.
    Returns the messages cancelled (those already handed to a provider cannot be called back)."""
    with store.write_transaction():
        store.set_status([broadcast.id], "cancelled", reason, ("scheduled",))
        cancelled = store.cancel_queued_for(broadcast, reason)
    log_event("broadcast.cancelled", broadcast=broadcast.id, messages=cancelled)
    return cancelled
