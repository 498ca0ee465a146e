"""The durable outbox: every outgoing SMS is a `Message` row first, and a provider call second.

Features call one function:

    from gateway.outbox import enqueue
    enqueue(contact, "Sain baina uu", purpose="notice", origin="meeting:3", idempotency_key="meeting:3:notice:42")

- `purpose`: "reply" (default; priority 0, sent at any hour) or a bulk purpose ("broadcast", "notice",
  "reminder", "digest"…; priority 10, held until quiet hours end, never sent to an opted-out contact).
- `channel`: where to send; default from config `routing` (`sms` for replies, `bulk` for bulk). A channel that is
  down fails over to the next one in that list.
- `idempotency_key`: enqueueing the same key twice returns the first row; use it for anything a job may repeat.
- `not_before`: naive UTC time before which the message is not sent.
- Loop guard: the same text to the same person more than `outbox.loop_guard_max` times in 5 minutes is stored as
  `cancelled` ("loop guard") instead of sent.

`dispatch(app)` (run by the `outbox.dispatch` job every 2 seconds) claims due rows one at a time — replies before
bulk, oldest first — and sends them with per-channel rate limits, retries with exponential backoff and jitter,
failover and opt-out handling. A row left in `sending` by a killed process is sent again after
`outbox.stale_sending_seconds`: the Android phone recognises a repeated id, so it never sends twice; Twilio is asked
first (its message list) and a message it already has is recorded, not sent again; Africa's Talking cannot be asked.

The Android channel is a pool of phones (gateway.phone_pool): each message is assigned to a phone on the
recipient's operator, rate limits and failure counts are per phone, and the channel is down only when every phone
is. A phone that goes down gives its queued messages back to the rest of the pool.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections import Counter
from collections.abc import Callable

from flask import Flask, current_app

from gateway import clock, phone_pool
from gateway.channels.base import Channel, SendError, SendResult, get_channel
from gateway.logs import log_event
from storage import outbox as store
from storage.contacts import number_of, opt_out
from storage.db import utcnow
from storage.models import Contact, Message
from storage.phones import mask_phone

# Messages we send first (nobody has just written to us): they wait out quiet hours, go after replies, and are
# never sent to an opted-out contact. A complaint's loop-closing question is one of them.
BULK_PURPOSES = frozenset({"broadcast", "notice", "reminder", "digest", "bulk", "loop_close"})
REPLY_PRIORITY, BULK_PRIORITY = 0, 10
LOOP_WINDOW = dt.timedelta(minutes=5)
MAX_BACKOFF_SECONDS = 3600


def enqueue(contact: Contact | int, text: str, *, purpose: str = "reply", channel: str | None = None,
            priority: int | None = None, origin: str | None = None, idempotency_key: str | None = None,
            not_before: dt.datetime | None = None, in_reply_to: Message | int | None = None) -> Message:
    """Queue one SMS to `contact` and return its row (the existing row when `idempotency_key` was used before)."""
    from flows.text import sms_size

    config = current_app.config["GATEWAY"]
    contact_id = contact.id if isinstance(contact, Contact) else contact
    bulk = purpose in BULK_PURPOSES
    route = route_for(current_app, purpose, channel)
    size = sms_size(text)
    due = _after_quiet_hours(config, not_before or utcnow()) if bulk else not_before
    row, created = store.create_outbound(
        contact=contact_id, channel=route[0] if route else (channel or "none"), kind="sms", text=text,
        status="queued", priority=(BULK_PRIORITY if bulk else REPLY_PRIORITY) if priority is None else priority,
        purpose=purpose, origin=origin, idempotency_key=idempotency_key, encoding=size.encoding,
        segments=size.segments, next_attempt_at=due, in_reply_to=in_reply_to)
    if created:
        _apply_guards(config, contact, row, bulk)
    return row


def _apply_guards(config: dict, contact: Contact | int, row: Message, bulk: bool) -> None:
    if bulk and isinstance(contact, int):
        contact = Contact.get_by_id(contact)
    if bulk and contact.opted_out_at is not None:
        store.mark_cancelled(row.id, "opted out")
        row.status = "cancelled"
        return
    earlier = store.same_text_sent_count(row.contact_id, row.text, utcnow() - LOOP_WINDOW) - 1
    if earlier >= config["outbox"]["loop_guard_max"]:
        store.mark_cancelled(row.id, f"loop guard: same text sent {earlier} times in 5 minutes")
        row.status = "cancelled"
        log_event("outbox.loop_guard", logging.WARNING, message=row.id, contact=row.contact_id)


def route_for(app: Flask, purpose: str, channel: str | None = None) -> list[str]:
    """Enabled channels to try, in order: the asked-for one first, then the purpose's `routing` list."""
    config = app.config["GATEWAY"]
    names = list(config["routing"]["bulk" if purpose in BULK_PURPOSES else "sms"])
    if channel:
        names = [channel] + [name for name in names if name != channel]
    return [name for name in names if get_channel(app, name) is not None]


def _after_quiet_hours(config: dict, when: dt.datetime) -> dt.datetime:
    """`when` (naive UTC), moved to the end of quiet hours if it falls inside them (local time, DST-aware)."""
    zone = clock.zone_named(config["timezone"])
    local = clock.in_zone(zone, when)
    start, end = (dt.time.fromisoformat(config["quiet_hours"][key]) for key in ("start", "end"))
    time_of_day = local.time()
    inside = (start <= time_of_day or time_of_day < end) if start > end else (start <= time_of_day < end)
    if not inside:
        return when
    end_day = local.date() + dt.timedelta(days=1) if start > end and time_of_day >= start else local.date()
    return clock.utc_of(zone, dt.datetime.combine(end_day, end))


# ---------------------------------------------------------------------------------------------------- dispatch

class RateLimiter:
    """Per-channel spacing of sends (messages per second), kept in the dispatching process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.next_at: dict[str, float] = {}
        self.clock, self.sleep = clock, sleep

    def busy(self) -> list[str]:
        now = self.clock()
        return [name for name, at in self.next_at.items() if at > now]

    def seconds_until_free(self, names: list[str]) -> float:
        now = self.clock()
        return max(0.0, min(self.next_at.get(name, now) for name in names) - now)

    def take(self, name: str, per_second: float) -> None:
        """Wait for `name`'s next slot, then book the one after it.

        Lateness of less than one interval (the send itself took time) keeps the schedule, so the average rate
        holds; after a longer pause the schedule restarts from now, so an idle channel never bursts."""
        interval = 1.0 / per_second
        now = self.clock()
        slot = self.next_at.get(name, now)
        if slot > now:
            self.sleep(slot - now)
        self.next_at[name] = (slot if now - slot < interval else now) + interval


def dispatch(app: Flask, budget_seconds: float | None = None) -> Counter:
    """Send what is due, most urgent first, for up to `budget_seconds`. Returns counts by outcome."""
    outbox_config = app.config["GATEWAY"]["outbox"]
    budget = outbox_config["dispatch_seconds"] if budget_seconds is None else budget_seconds
    limiter: RateLimiter = app.extensions.setdefault("gateway.rate_limiter", RateLimiter())
    store.requeue_stale_sending(utcnow() - dt.timedelta(seconds=outbox_config["stale_sending_seconds"]))
    phone_pool.assign_queued(app)
    deadline = time.monotonic() + budget
    outcomes: Counter = Counter()
    while time.monotonic() < deadline:
        busy = limiter.busy()
        row = store.claim_next(utcnow(), busy)
        if row is not None and row.channel == "android" and row.phone is None:
            phone_pool.assign_queued(app)  # new messages arrived (a broadcast being queued): give out a batch
        if row is None:
            waiting = [name for name in busy if name in store.due_channels(utcnow())]
            pause = limiter.seconds_until_free(waiting) if waiting else None
            if pause is None or time.monotonic() + pause >= deadline:
                break
            limiter.sleep(pause)
            continue
        outcomes[send_one(app, row, limiter)] += 1
    return outcomes


def send_one(app: Flask, row: Message, limiter: RateLimiter) -> str:
    """Send one claimed row; every path leaves it sent, queued for a retry, failed or cancelled."""
    contact = Contact.get_by_id(row.contact_id)
    if _expired(app, row):
        store.mark_failed(row.id, f"expired: no channel could send it within its validity of "
                                  f"{app.config['GATEWAY']['outbox']['validity_hours']} h ({row.last_error or ''})")
        return "failed"
    if row.purpose in BULK_PURPOSES and contact.opted_out_at is not None:
        store.mark_cancelled(row.id, "opted out")
        return "cancelled"
    number = number_of(contact)
    if number is None:
        store.mark_failed(row.id, "no phone number for this contact")
        return "failed"
    if store.was_interrupted(row):
        settled = _settle_interrupted(app, row, number)
        if settled:
            return settled
    channel = _usable_channel(app, row)
    phone = phone_pool.phone_for(app, channel, row, number) if getattr(channel, "phones", None) else None
    if channel is None or (phone is None and getattr(channel, "phones", None)):
        # nothing was tried, so no attempt is used up: wait for a channel to come back
        back = min(_when_a_channel_is_back(app, row), _expires_at(app, row))
        store.release(row.id, "no channel is configured and up", back)
        return "waiting"
    if phone is None:
        limiter.take(channel.name, channel.settings.get("rate_per_second", 1))
    else:
        limiter.take(phone.key, phone.rate_per_second)
    ref = f"gw-{row.id}"  # stable across attempts: a phone that already has it answers 409, not a second SMS
    if getattr(channel, "sends_our_id", False):
        store.set_provider_id(row.id, ref)  # recorded before the call, so a crash mid-send is recognisable
    try:
        result = channel.send(number, row.text, ref, phone) if phone else channel.send(number, row.text, ref)
    except SendError as exc:
        return _handle_failure(app, row, contact, channel, exc, phone)
    except Exception as exc:  # an SDK surprise must not lose the message: retry it like a provider error
        log_event("outbox.send_crashed", logging.ERROR, message=row.id, channel=channel.name, exc_info=True)
        return _handle_failure(app, row, contact, channel, SendError(f"{type(exc).__name__}: {exc}"[:300], True),
                               phone)
    store.record_send_success(phone.key if phone else channel.name)
    if result.provider_id is None and not getattr(channel, "sends_our_id", False):
        return _accepted_without_id(channel, row, number, result)
    store.mark_sent(row.id, result.provider_id, result.segments)
    log_event("outbox.sent", message=row.id, channel=channel.name, to=mask_phone(number), attempt=row.attempts,
              **({"phone": phone.name} if phone else {}))
    return "sent"


def _settle_interrupted(app: Flask, row: Message, number: str) -> str | None:
    """A send cut short by a dead process may have reached the provider. Where the provider lists what it took
    (Twilio), ask before sending again: found, it is recorded as sent and not sent twice; the list unreadable, the
    row waits for a retry. Where it cannot be asked (Africa's Talking), None: the message is sent again, so a crash
    can cost one duplicate (docs/reliability.md, "Exactly once, per provider"). Android dedups by our id itself."""
    channel = get_channel(app, row.channel)
    if channel is None or not channel.lists_sent:
        return None
    try:
        found = _unrecorded_sent_id(channel, number, row.text, row.created_at)
    except SendError as exc:
        return _retry_or_fail(app, row, SendError(f"{store.INTERRUPTED}; {exc.reason}", True))
    if found is None:
        return None
    store.mark_sent(row.id, found)
    log_event("outbox.sent", message=row.id, channel=channel.name, to=mask_phone(number), found=True)
    return "sent"


def _unrecorded_sent_id(channel: Channel, number: str, text: str, since: dt.datetime) -> str | None:
    """The provider id of a message with this text to `number` since `since` that no row of ours holds yet."""
    for provider_id in channel.sent_ids(number, text, since):
        if not store.outbound_by_provider_id(channel.name, provider_id):
            return provider_id
    return None


def _accepted_without_id(channel: Channel, row: Message, number: str, result: SendResult) -> str:
    """The provider said yes but gave no id. Never send again (that could be a duplicate) and never call it sent
    without an id (its status could never arrive): find it at the provider, else fail it as unconfirmed."""
    try:
        provider_id = _unrecorded_sent_id(channel, number, row.text, row.updated_at)
    except SendError:
        provider_id = None
    if provider_id is not None:
        store.mark_sent(row.id, provider_id, result.segments)
        log_event("outbox.sent", message=row.id, channel=channel.name, to=mask_phone(number), found=True)
        return "sent"
    store.mark_failed(row.id, f"unconfirmed: {channel.name} accepted it without a message id; not sent again, "
                              "to avoid a duplicate (gateway outbox retry sends it again)")
    log_event("outbox.unconfirmed", logging.WARNING, message=row.id, channel=channel.name)
    return "unconfirmed"


def _usable_channel(app: Flask, row: Message) -> Channel | None:
    """The row's channel if enabled and up, else the next one in its route; the row follows the choice."""
    now = utcnow()
    for name in route_for(app, row.purpose, row.channel):
        if not _is_down(app, name, now):
            if name != row.channel:
                store.set_channel(row.id, name)
                log_event("outbox.failover", logging.WARNING, message=row.id, channel_from=row.channel, to=name)
                row.channel = name
            return get_channel(app, name)
    return None


def _is_down(app: Flask, name: str, now: dt.datetime) -> bool:
    """A channel is down while it fails everyone; a phone pool, while every phone of it does."""
    phones = getattr(get_channel(app, name), "phones", None)
    if phones:
        return all(store.channel_is_down(phone.key, now) for phone in phones)
    return store.channel_is_down(name, now)


def _handle_failure(app: Flask, row: Message, contact: Contact, channel: Channel, exc: SendError,
                    phone=None) -> str:
    log_event("outbox.send_failed", logging.WARNING, message=row.id, channel=channel.name, reason=exc.reason,
              retryable=exc.retryable, attempt=row.attempts, **({"phone": phone.name} if phone else {}))
    if exc.opted_out:
        opt_out(contact)
        store.mark_failed(row.id, f"{exc.reason} (the person opted out with the provider)")
        return "failed"
    if not exc.retryable:
        store.mark_failed(row.id, exc.reason)
        return "failed"
    config = app.config["GATEWAY"]["outbox"]
    state = phone.key if phone else channel.name
    went_down = store.record_send_failure(state, exc.reason, config["failover_after"], config["down_seconds"])
    if store.channel_is_down(state, utcnow()):
        # The channel failed everyone, not this message: the attempts it took here are given back, so an outage
        # of every provider leaves replies waiting (within their validity), not failed.
        row.attempts = store.give_back_attempts(row.id, store.channel_state(state).consecutive_failures)
    if went_down and phone is not None:
        store.unassign_phone(phone.key)  # its queued messages go to the rest of the pool
        log_event("android.phone_down", logging.WARNING, phone=phone.name, reason=exc.reason)
        if not _is_down(app, channel.name, utcnow()):
            store.mark_retry(row.id, f"{exc.reason}; phone {phone.name} is down: another phone takes it", utcnow())
            return "retry"
    outcome = _retry_or_fail(app, row, exc)
    if went_down and _is_down(app, channel.name, utcnow()):
        log_event("channel.down", logging.WARNING, channel=channel.name, reason=exc.reason)
        if _other_channels_up(app, row):
            store.hurry_backoffs(channel.name)
    return outcome


def _retry_or_fail(app: Flask, row: Message, exc: SendError) -> str:
    config = app.config["GATEWAY"]["outbox"]
    if row.attempts >= config["max_attempts"]:
        store.mark_failed(row.id, f"{exc.reason} (gave up after {row.attempts} attempts)")
        return "failed"
    if _is_down(app, row.channel, utcnow()):
        if _other_channels_up(app, row):
            store.mark_retry(row.id, exc.reason, utcnow())  # fail over now rather than wait out a backoff
            return "retry"
        back = min(_when_a_channel_is_back(app, row), _expires_at(app, row))
        store.mark_retry(row.id, f"{exc.reason}; every channel is down: waiting for one to come back", back)
        return "waiting"
    store.mark_retry(row.id, exc.reason, utcnow() + dt.timedelta(seconds=backoff_seconds(config, row.attempts)))
    return "retry"


def _expires_at(app: Flask, row: Message) -> dt.datetime:
    return row.created_at + dt.timedelta(hours=app.config["GATEWAY"]["outbox"]["validity_hours"])


def _expired(app: Flask, row: Message) -> bool:
    return utcnow() >= _expires_at(app, row)


def _other_channels_up(app: Flask, row: Message) -> list[str]:
    now = utcnow()
    return [name for name in route_for(app, row.purpose, row.channel)
            if name != row.channel and not _is_down(app, name, now)]


def _when_a_channel_is_back(app: Flask, row: Message) -> dt.datetime:
    """The earliest end of a 'down' period on the row's route; with no channel configured, a minute from now."""
    now = utcnow()
    ends = [_down_until(app, name, now) for name in route_for(app, row.purpose, row.channel)]
    return min([end for end in ends if end] or [now + dt.timedelta(minutes=1)])


def _down_until(app: Flask, name: str, now: dt.datetime) -> dt.datetime | None:
    channel = get_channel(app, name)
    if getattr(channel, "phones", None):
        return phone_pool.down_until(channel, now)
    return store.channel_state(name).down_until


def backoff_seconds(config: dict, attempts: int) -> float:
    """Exponential backoff with full jitter between half and one and a half times the nominal delay."""
    nominal = min(config["backoff_seconds"] * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
    return nominal * random.uniform(0.5, 1.5)
