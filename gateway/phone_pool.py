"""Which phone of the Android pool sends which message, and how long a send will take.

A message goes to a phone whose SIM is on the recipient's operator (on-net SMS is cheaper); with several such
phones, to the one that would finish its queue first at its own rate. When no phone on that operator is up, the
least loaded phone that is up takes it. Messages are assigned in batches (`Message.phone`), so a dispatcher can
skip the phones at their rate; a phone that goes down gives its queued messages back (`storage.outbox.unassign_phone`).
"""
from __future__ import annotations

import datetime as dt
import heapq
from collections import Counter

from flask import Flask

from gateway.channels.android import Phone
from gateway.channels.base import Channel, get_channel
from gateway.phones import operator_of
from storage import outbox as store
from storage.db import utcnow
from storage.models import Message

ASSIGN_BATCH = 1000


def pool(app: Flask) -> Channel | None:
    """The Android channel when it is enabled (it carries `phones`), else None."""
    return get_channel(app, "android")


def operator_table(app: Flask) -> dict[str, list[str]]:
    return app.config["GATEWAY"]["channels"]["android"]["operator_prefixes"]


def phones_up(channel: Channel, now: dt.datetime) -> list[Phone]:
    return [phone for phone in channel.phones if not store.channel_is_down(phone.key, now)]


def down_until(channel: Channel, now: dt.datetime) -> dt.datetime | None:
    """When the first phone of a pool that is wholly down comes back; None while any phone is up."""
    ends = [store.channel_state(phone.key).down_until for phone in channel.phones]
    if any(end is None or end <= now for end in ends):
        return None
    return min(ends)


def share(operators: list[str | None], phones: list[Phone], load: dict[str, float]) -> list[Phone | None]:
    """A phone for each recipient (by operator), in order: on-net phones first, each the one that would be done
    soonest ((load + 1) / rate); recipients with no on-net phone up go to the least loaded phone of all.
    `load` (messages already queued per phone key) is updated."""
    chosen: list[Phone | None] = [None] * len(operators)
    on_net = {phone.operator for phone in phones}
    for operator in {op for op in operators if op in on_net}:
        candidates = [phone for phone in phones if phone.operator == operator]
        picks = _fill([i for i, op in enumerate(operators) if op == operator], candidates, load)
        for index, phone in picks:
            chosen[index] = phone
    orphans = [i for i, op in enumerate(operators) if op not in on_net]
    for index, phone in _fill(orphans, phones, load):
        chosen[index] = phone
    return chosen


def _fill(indexes: list[int], phones: list[Phone], load: dict[str, float]) -> list[tuple[int, Phone]]:
    if not phones:
        return []
    heap = [((load.get(p.key, 0) + 1) / p.rate_per_second, n, p) for n, p in enumerate(phones)]
    heapq.heapify(heap)
    picks = []
    for index in indexes:
        _, n, phone = heapq.heappop(heap)
        picks.append((index, phone))
        load[phone.key] = load.get(phone.key, 0) + 1
        heapq.heappush(heap, ((load[phone.key] + 1) / phone.rate_per_second, n, phone))
    return picks


def _level(count: float, phones: list[Phone], load: dict[str, float]) -> None:
    """`share` for a count rather than a list (estimates of large broadcasts): fill the phones so that they all
    finish at the same time T, where sum(max(0, T × rate − load)) = count (water-filling)."""
    if count <= 0 or not phones:
        return
    ordered = sorted(phones, key=lambda p: load.get(p.key, 0) / p.rate_per_second)
    for used in range(len(ordered), 0, -1):
        group = ordered[:used]
        finish = (count + sum(load.get(p.key, 0) for p in group)) / sum(p.rate_per_second for p in group)
        if finish >= load.get(group[-1].key, 0) / group[-1].rate_per_second:
            break
    for phone in group:
        load[phone.key] = max(load.get(phone.key, 0), finish * phone.rate_per_second)


def assign_queued(app: Flask, limit: int = ASSIGN_BATCH) -> int:
    """Give up to `limit` unassigned queued Android messages to phones that are up. Returns how many."""
    channel = pool(app)
    if channel is None or len(channel.phones) < 2:  # a pool of one needs no choosing
        return 0
    phones = phones_up(channel, utcnow())
    rows = store.unassigned_to_phone(channel.name, limit) if phones else []
    if not rows:
        return 0
    table = operator_table(app)
    load: dict[str, float] = dict(store.queued_by_phone(channel.name))
    picks = share([operator_of(number, table) for _, number in rows], phones, load)
    by_phone: dict[str, list[int]] = {}
    for (message_id, _), phone in zip(rows, picks, strict=True):
        by_phone.setdefault(phone.key, []).append(message_id)
    return sum(store.assign_phone(ids, key) for key, ids in by_phone.items())


def phone_for(app: Flask, channel: Channel, row: Message, number: str) -> Phone | None:
    """The phone to send `row` through: its assigned phone while that is up, else a new choice (kept on the row)."""
    now = utcnow()
    assigned = channel.phone_by_key.get(row.phone or "")
    if assigned is not None and not store.channel_is_down(assigned.key, now):
        return assigned
    phones = phones_up(channel, now)
    if len(channel.phones) == 1 or not phones:
        return phones[0] if phones else None
    (phone,) = share([operator_of(number, operator_table(app))], phones, dict(store.queued_by_phone(channel.name)))
    store.set_phone(row.id, phone.key)
    row.phone = phone.key
    return phone


# ---------------------------------------------------------------------------------------------------- estimates

def operator_counts(app: Flask, counts_by_prefix: dict[str, int]) -> Counter:
    """Recipients per operator (None: no operator named) from counts by number prefix ("+976991": 120)."""
    table = operator_table(app)
    counts: Counter = Counter()
    for prefix, n in counts_by_prefix.items():
        counts[operator_of(prefix.ljust(12, "0"), table)] += n
    return counts


def estimate(app: Flask, counts: Counter, queued: dict[str, int] | None = None) -> dict | None:
    """How the pool would send `counts` recipients (per operator), after the messages already `queued` per phone:
    per phone, how many and how long at its rate, and the expected time to send (the slowest phone's). None
    without an Android pool."""
    channel = pool(app)
    if channel is None:
        return None
    phones = phones_up(channel, utcnow()) or channel.phones
    load: dict[str, float] = dict(queued or {})
    on_net = {phone.operator for phone in phones}
    for operator, n in counts.items():
        if operator in on_net:
            _level(n, [phone for phone in phones if phone.operator == operator], load)
    _level(sum(n for operator, n in counts.items() if operator not in on_net), phones, load)
    per_phone = [{"name": phone.name, "operator": phone.operator, "messages": int(load.get(phone.key, 0)),
                  "rate_per_second": phone.rate_per_second,
                  "seconds": round(load.get(phone.key, 0) / phone.rate_per_second, 1)} for phone in phones]
    return {"recipients_by_operator": {str(op): n for op, n in sorted(counts.items(), key=str)},
            "phones": per_phone, "eta_seconds": max((p["seconds"] for p in per_phone), default=0.0)}


def queued_estimate(app: Flask) -> dict | None:
    """The expected time to send what the Android pool has queued now (assigned or not)."""
    channel = pool(app)
    if channel is None:
        return None
    counts = operator_counts(app, store.unassigned_by_number_prefix(channel.name))
    return estimate(app, counts, store.queued_by_phone(channel.name))


def describe(app: Flask) -> list[dict]:
    """Each phone: name, operator, rate, state (up | down until …), last seen, last error. No provider call."""
    channel = pool(app)
    if channel is None:
        return []
    now, rows = utcnow(), []
    for phone in channel.phones:
        state = store.channel_state(phone.key)
        down = state.down_until is not None and state.down_until > now
        rows.append({"name": phone.name, "operator": phone.operator, "rate_per_second": phone.rate_per_second,
                     "state": f"down until {state.down_until:%H:%M:%S} UTC" if down else "up",
                     "up": not down,
                     "last_seen": f"{state.last_seen_at:%Y-%m-%d %H:%M:%S} UTC" if state.last_seen_at else None,
                     "last_error": (state.last_error or "")[:120] or None})
    return rows


def duration(seconds: float) -> str:
    """`1 h 23 min`, `4 min 10 s`, `12 s`."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
