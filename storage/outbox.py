"""Outbox and inbound-log queries on `Message`, plus per-channel state (failures, phone last seen).

Outbound status only moves forward: queued → sending → sent → delivered | failed (cancelled is set only by an
operator or a guard, never by a provider report). Claiming is a compare-and-set on `status`, with
`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL so concurrent dispatchers never wait on each other.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import peewee as pw

from storage.db import BaseModel, database, is_postgres, utcnow
from storage.models import Contact, Message, PhoneNumber
from storage.phones import MaskedTextField

# Rank of each outbound status; a provider report may only raise it. delivered and failed are both final.
STATUS_ORDER = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3, "cancelled": 3}
FINAL_STATUSES = ("delivered", "failed", "cancelled")
BULK_PRIORITY = 10  # Message.priority: 0 = reply, 10 = bulk
# `last_error` of a row whose send was cut short by a dead process: the provider may or may not have it.
INTERRUPTED = "requeued after an interrupted send"


class ChannelState(BaseModel):
    """What one channel has shown lately: repeated send failures (→ failover) and, for a phone, when it was seen."""

    name = pw.CharField(primary_key=True)
    consecutive_failures = pw.IntegerField(default=0)
    down_until = pw.DateTimeField(null=True)
    last_error = MaskedTextField(null=True)
    last_seen_at = pw.DateTimeField(null=True)  # Android: last system:ping, webhook or healthy GET /health
    last_health = pw.TextField(null=True)  # Android: status from the last GET /health
    updated_at = pw.DateTimeField(default=utcnow)


# ---------------------------------------------------------------------------------------------------- inbound

@contextmanager
def contact_lock(contact_id: int) -> Iterator[None]:
    """A transaction that one contact's messages pass through one at a time.

    PostgreSQL locks the contact's row; SQLite takes the database write lock up front (BEGIN IMMEDIATE), which
    serialises all writers and so this contact too.
    """
    if is_postgres():
        with database.atomic():
            Contact.select(Contact.id).where(Contact.id == contact_id).for_update().execute()
            yield
    else:
        with database.atomic("IMMEDIATE"):
            yield


def inbound_by_provider_id(channel: str, provider_id: str) -> Message | None:
    return Message.get_or_none((Message.channel == channel) & (Message.direction == "in")
                               & (Message.provider_id == provider_id))


def recent_inbound_duplicate(contact_id: int, channel: str, text: str, since: dt.datetime) -> Message | None:
    """The same text from the same person on the same channel since `since`: used when a provider sends no id."""
    return (Message.select().where((Message.contact == contact_id) & (Message.direction == "in")
                                   & (Message.channel == channel) & (Message.text == text)
                                   & (Message.created_at >= since))
            .order_by(Message.id.desc()).first())


def recent_inbound_sms(contact_key: str, since: dt.datetime) -> tuple[int | None, int]:
    """(contact id, how many SMS they sent us since `since` on any channel), in one statement: the flood limit's
    count. (None, 0) for a number never seen."""
    recent = ((Message.contact == Contact.id) & (Message.direction == "in") & (Message.kind == "sms")
              & (Message.created_at >= since))
    row = (Contact.select(Contact.id, pw.fn.COUNT(Message.id)).join(Message, pw.JOIN.LEFT_OUTER, on=recent)
           .where(Contact.key == contact_key).group_by(Contact.id).tuples().first())
    return (row[0], row[1]) if row else (None, 0)


def contact_by_key(key: str) -> Contact | None:
    return Contact.get_or_none(Contact.key == key)


def create_inbound(**fields) -> Message:
    return Message.create(direction="in", status=fields.pop("status", "received"), **fields)


def set_response(message_id: int, response: str, status: str = "handled") -> None:
    Message.update(response=response, status=status, updated_at=utcnow()).where(Message.id == message_id).execute()


# ---------------------------------------------------------------------------------------------------- outbound

def create_outbound(**fields) -> tuple[Message, bool]:
    """Insert an outbox row; with an `idempotency_key` already used, return that row instead. (row, created)."""
    key = fields.get("idempotency_key")
    if not key:
        return Message.create(direction="out", **fields), True
    existing = Message.get_or_none(Message.idempotency_key == key)
    if existing:
        return existing, False
    try:
        with database.atomic():
            return Message.create(direction="out", **fields), True
    except pw.IntegrityError:
        if not key:
            raise
        return Message.get(Message.idempotency_key == key), False


def cancel_pending_bulk(contact_id: int) -> int:
    """Cancel a contact's bulk messages not yet handed to a provider (called when they opt out)."""
    return (Message.update(status="cancelled", last_error="opted out", updated_at=utcnow())
            .where((Message.contact == contact_id) & (Message.direction == "out") & (Message.status == "queued")
                   & (Message.priority >= BULK_PRIORITY))
            .execute())


def same_text_sent_count(contact_id: int, text: str, since: dt.datetime) -> int:
    """How often this text went (or is going) to this person since `since`: the loop guard's count."""
    return (Message.select().where((Message.contact == contact_id) & (Message.direction == "out")
                                   & (Message.text == text) & (Message.created_at >= since)
                                   & (Message.status != "cancelled"))
            .count())


def claim_next(now: dt.datetime, skip_channels: list[str] = ()) -> Message | None:
    """Take the most urgent due message (replies before bulk, then oldest) and mark it sending, attempts + 1.
    `skip_channels`: channels and pool phones (`Message.phone`) at their rate limit."""
    while True:
        query = (Message.select().where((Message.direction == "out") & (Message.status == "queued")
                                        & ((Message.next_attempt_at.is_null()) | (Message.next_attempt_at <= now)))
                 .order_by(Message.priority, Message.id).limit(1))
        if skip_channels:
            query = query.where(Message.channel.not_in(list(skip_channels))
                                & (Message.phone.is_null() | Message.phone.not_in(list(skip_channels))))
        if is_postgres():  # rows another dispatcher holds are skipped, not waited for
            with database.atomic():
                row = query.for_update(skip_locked=True).first()
                won = row is not None and _take(row.id, now)
        else:  # SQLite: one statement is atomic; no transaction, so no lock upgrade that could fail as busy
            row = query.first()
            won = row is not None and _take(row.id, now)
        if row is None:
            return None
        if won:  # otherwise another dispatcher took it between our read and our update: look again
            return Message.get_by_id(row.id)


def _take(message_id: int, now: dt.datetime) -> bool:
    """Compare-and-set queued → sending, so two dispatchers can never both own a row."""
    return bool(Message.update(status="sending", attempts=Message.attempts + 1, updated_at=now)
                .where((Message.id == message_id) & (Message.status == "queued")).execute())


def due_channels(now: dt.datetime) -> set[str]:
    """Channels, and pool phones, that have a queued message due now."""
    rows = Message.select(Message.channel, Message.phone).distinct().where(
        (Message.direction == "out") & (Message.status == "queued")
        & ((Message.next_attempt_at.is_null()) | (Message.next_attempt_at <= now))).tuples()
    return {name for row in rows for name in row if name}


# ---------------------------------------------------------------------------------------------------- phone pool

def unassigned_to_phone(channel: str, limit: int) -> list[tuple[int, str]]:
    """(message id, number) of queued messages on `channel` that no phone of its pool has taken yet, most urgent
    first. Only the sending code calls this."""
    return list(Message.select(Message.id, PhoneNumber.e164)
                .join(PhoneNumber, on=(PhoneNumber.contact == Message.contact))
                .where((Message.direction == "out") & (Message.status == "queued") & (Message.channel == channel)
                       & Message.phone.is_null())
                .order_by(Message.priority, Message.id).limit(limit).tuples())


def unassigned_by_number_prefix(channel: str, digits: int = 7) -> dict[str, int]:
    """How many unassigned queued messages on `channel` go to each number range ("+976991"): counts only."""
    prefix = pw.fn.SUBSTR(PhoneNumber.e164, 1, digits)
    return dict(Message.select(prefix, pw.fn.COUNT(Message.id))
                .join(PhoneNumber, on=(PhoneNumber.contact == Message.contact))
                .where((Message.direction == "out") & (Message.status == "queued") & (Message.channel == channel)
                       & Message.phone.is_null()).group_by(prefix).tuples())


def assign_phone(message_ids: list[int], phone: str) -> int:
    """Give queued messages to a phone; one another dispatcher assigned meanwhile keeps its phone."""
    return (Message.update(phone=phone).where(Message.id.in_(message_ids) & Message.phone.is_null()
                                              & (Message.status == "queued")).execute())


def queued_by_phone(channel: str) -> dict[str, int]:
    """How many queued messages each phone of `channel`'s pool has: its load."""
    query = (Message.select(Message.phone, pw.fn.COUNT(Message.id))
             .where((Message.direction == "out") & (Message.status == "queued") & (Message.channel == channel)
                    & Message.phone.is_null(False)).group_by(Message.phone).tuples())
    return dict(query)


def unassign_phone(phone: str) -> int:
    """A phone fell silent: its queued messages go back to the pool (retried ones due now, so they move at once;
    a message held for quiet hours keeps its time)."""
    with database.atomic():
        (Message.update(next_attempt_at=utcnow()).where((Message.phone == phone) & (Message.status == "queued")
                                                        & (Message.attempts > 0)).execute())
        return Message.update(phone=None).where((Message.phone == phone) & (Message.status == "queued")).execute()


def requeue_stale_sending(older_than: dt.datetime) -> int:
    """Rows left in `sending` by a process that died: due again now. The provider id, if any, is kept."""
    return (Message.update(status="queued", next_attempt_at=None, updated_at=utcnow(),
                           last_error=INTERRUPTED)
            .where((Message.direction == "out") & (Message.status == "sending") & (Message.updated_at < older_than))
            .execute())


def _update(message_id: int, **fields) -> None:
    Message.update(updated_at=utcnow(), **fields).where(Message.id == message_id).execute()


def set_channel(message_id: int, channel: str) -> None:
    _update(message_id, channel=channel)


def set_phone(message_id: int, phone: str | None) -> None:
    _update(message_id, phone=phone)


def set_provider_id(message_id: int, provider_id: str) -> None:
    _update(message_id, provider_id=provider_id)


def mark_sent(message_id: int, provider_id: str | None, segments: int | None = None) -> None:
    """Record the provider's acceptance. The status moves to `sent` only from `sending`: a status report that
    arrived first (an Android `sms:delivered` can beat our own bookkeeping) is never undone."""
    now = utcnow()
    facts: dict = {"sent_at": now, "updated_at": now}
    if provider_id:
        facts["provider_id"] = provider_id
    if segments:
        facts["segments"] = segments
    with database.atomic():
        Message.update(**facts).where(Message.id == message_id).execute()
        (Message.update(status="sent", last_error=None)
         .where((Message.id == message_id) & (Message.status == "sending")).execute())


def mark_retry(message_id: int, error: str, next_attempt_at: dt.datetime) -> None:
    _update(message_id, status="queued", last_error=error, next_attempt_at=next_attempt_at)


def was_interrupted(row: Message) -> bool:
    """True for a row whose last send was cut short by a dead process (and not settled since)."""
    return (row.last_error or "").startswith(INTERRUPTED)


def give_back_attempts(message_id: int, at_most: int) -> int:
    """Uncount up to `at_most` attempts (never below 0); returns the attempts left."""
    (Message.update(attempts=pw.fn.MAX(Message.attempts - at_most, 0) if not is_postgres()
                    else pw.fn.GREATEST(Message.attempts - at_most, 0))
     .where(Message.id == message_id).execute())
    return Message.get_by_id(message_id).attempts


def release(message_id: int, reason: str, next_attempt_at: dt.datetime) -> None:
    """Give a claimed row back untried: queued again, and the claim's attempt is not counted."""
    _update(message_id, status="queued", attempts=Message.attempts - 1, last_error=reason,
            next_attempt_at=next_attempt_at)


def mark_failed(message_id: int, error: str) -> None:
    _update(message_id, status="failed", last_error=error)


def mark_cancelled(message_id: int, reason: str) -> None:
    _update(message_id, status="cancelled", last_error=reason)


def apply_status(channel: str, provider_id: str, status: str, error: str | None = None) -> Message | None:
    """Move an outbound message forward to `status`; a late or repeated report changes nothing. Returns the row."""
    lower = [name for name, rank in STATUS_ORDER.items() if rank < STATUS_ORDER[status]]
    fields: dict = {"status": status, "updated_at": utcnow()}
    if error:
        fields["last_error"] = error
    (Message.update(**fields)
     .where((Message.channel == channel) & (Message.direction == "out") & (Message.provider_id == provider_id)
            & (Message.status.in_(lower))).execute())
    return Message.get_or_none((Message.channel == channel) & (Message.direction == "out")
                               & (Message.provider_id == provider_id))


def outbound_by_provider_id(channel: str, provider_id: str) -> Message | None:
    return Message.get_or_none((Message.channel == channel) & (Message.direction == "out")
                               & (Message.provider_id == provider_id))


def outbox_rows(statuses: list[str], limit: int = 100) -> list[Message]:
    return list(Message.select().where((Message.direction == "out") & (Message.status.in_(statuses)))
                .order_by(Message.priority, Message.id).limit(limit))


def retry_now(message_ids: list[int]) -> int:
    """Operator retry: failed or cancelled (or waiting) messages go back to the queue with a fresh attempt count."""
    return (Message.update(status="queued", attempts=0, next_attempt_at=None, last_error=None, updated_at=utcnow())
            .where((Message.id.in_(message_ids)) & (Message.direction == "out")
                   & (Message.status.in_(["failed", "cancelled", "queued"]))).execute())


def cancel(message_ids: list[int], reason: str = "cancelled by operator") -> int:
    return (Message.update(status="cancelled", last_error=reason, updated_at=utcnow())
            .where((Message.id.in_(message_ids)) & (Message.direction == "out") & (Message.status == "queued"))
            .execute())


# ---------------------------------------------------------------------------------------------------- channels

def channel_state(name: str) -> ChannelState:
    state = ChannelState.get_or_none(ChannelState.name == name)
    if state is None:
        try:
            with database.atomic():
                state = ChannelState.create(name=name)
        except pw.IntegrityError:
            state = ChannelState.get(ChannelState.name == name)
    return state


def channel_is_down(name: str, now: dt.datetime) -> bool:
    state = ChannelState.get_or_none(ChannelState.name == name)
    return bool(state and state.down_until and state.down_until > now)


def record_send_failure(name: str, error: str, down_after: int, down_seconds: int) -> bool:
    """Count a failed send; after `down_after` in a row the channel is down for `down_seconds`. True if down."""
    channel_state(name)
    now = utcnow()
    ChannelState.update(consecutive_failures=ChannelState.consecutive_failures + 1, last_error=error,
                        updated_at=now).where(ChannelState.name == name).execute()
    state = ChannelState.get_by_id(name)
    if state.consecutive_failures >= down_after:
        mark_down(name, error, now + dt.timedelta(seconds=down_seconds))
        return True
    return False


def hurry_backoffs(channel: str) -> int:
    """Messages backing off on a channel that just went down are due now, so they fail over at once.
    Only retried rows (attempts > 0): a bulk message held for quiet hours keeps its time."""
    return (Message.update(next_attempt_at=utcnow(), updated_at=utcnow())
            .where((Message.direction == "out") & (Message.status == "queued") & (Message.channel == channel)
                   & (Message.attempts > 0)).execute())


def mark_down(name: str, error: str, until: dt.datetime) -> None:
    channel_state(name)
    ChannelState.update(down_until=until, last_error=error, updated_at=utcnow()).where(
        ChannelState.name == name).execute()


def record_send_success(name: str) -> None:
    (ChannelState.update(consecutive_failures=0, down_until=None, updated_at=utcnow())
     .where((ChannelState.name == name) & ((ChannelState.consecutive_failures > 0)
                                           | ChannelState.down_until.is_null(False))).execute())


def mark_seen(name: str, at: dt.datetime, health: str | None = None) -> None:
    """The phone answered (ping, webhook or health check); a healthy answer also lifts a 'down' mark."""
    channel_state(name)
    fields: dict = {"last_seen_at": at, "updated_at": utcnow()}
    if health is not None:
        fields["last_health"] = health
    if health in ("pass", "warn"):
        fields["down_until"] = None
    ChannelState.update(**fields).where(ChannelState.name == name).execute()
