"""Conversation state: flow runs and their results, USSD sessions, and the contact fields a conversation changes.

A message is handled in one transaction under the per-contact lock (`conversation_transaction`), so no two
writes race and no version checks are needed. The hot path (one snapshot read, then a few writes) is plain SQL
prepared once per engine: peewee's query builder cost more than the statements themselves (bench/README.md).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import peewee as pw

from storage.db import BaseModel, database, is_postgres, utcnow
from storage.models import AdminUnit, Contact, FlowResult, FlowRun, Message

ENDED = ("completed", "interrupted", "expired", "failed")
DEFAULT_LANGUAGE = Contact.language.default  # what a contact has before anyone chose


class UssdSession(BaseModel):
    """One provider USSD session: how much of the `*`-joined history is handled, and the screen we answered."""

    session_key = pw.CharField(unique=True)  # the provider's session id
    contact = pw.ForeignKeyField(Contact, backref="ussd_sessions", on_delete="CASCADE")
    channel = pw.CharField()
    consumed = pw.IntegerField(default=0)  # inputs of the hop text already handled
    history = pw.TextField(null=True)  # the `*`-joined inputs as last received: the session's record of hops
    run = pw.ForeignKeyField(FlowRun, null=True, backref="ussd_sessions", on_delete="SET NULL")
    screen = pw.TextField(null=True)
    screen_end = pw.BooleanField(default=False)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow, index=True)


CONVERSATION_MODELS = [UssdSession]


# ---- snapshots ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunRow:
    id: int
    flow_id: str
    state: dict
    channel: str
    session_key: str | None
    expires_at: dt.datetime | None


@dataclass(frozen=True)
class SessionRow:
    id: int
    consumed: int
    screen: str | None
    end: bool
    run: RunRow | None


@dataclass(frozen=True)
class ContactRow:
    id: int
    language: str
    script: str | None
    last_script: str | None
    consented: bool
    opted_out: bool
    untouched: bool  # never heard from and never consented: still on the column defaults
    unit_id: int | None
    unit_code: str | None


@dataclass(frozen=True)
class Snapshot:
    contact: ContactRow
    run: RunRow | None = None  # SMS: the active SMS run; USSD: the session's waiting run
    session: SessionRow | None = None
    earlier_id: int | None = None  # SMS: an inbound message with the same provider id (a redelivery)
    earlier_response: str | None = None


_CONTACT_COLUMNS = ("c.id, c.language, c.script, c.last_script, c.consent_at IS NOT NULL, "
                    "c.opted_out_at IS NOT NULL, c.last_seen_at IS NULL AND c.consent_at IS NULL, "
                    "c.admin_unit_id, u.code")
_RUN_COLUMNS = "r.id, r.flow_id, r.state, r.channel, r.session_key, r.expires_at"

SMS_SNAPSHOT = f"""
SELECT {_CONTACT_COLUMNS}, {_RUN_COLUMNS}, m.id, m.response
FROM contact c
LEFT JOIN admin_unit u ON u.id = c.admin_unit_id
LEFT JOIN flow_run r ON r.contact_id = c.id AND r.channel = 'sms' AND r.status = 'active'
LEFT JOIN message m ON m.channel = ? AND m.direction = 'in' AND m.provider_id = ?
WHERE c.key = ?"""

USSD_SNAPSHOT = f"""
SELECT {_CONTACT_COLUMNS}, {_RUN_COLUMNS}, s.id, s.consumed, s.screen, s.screen_end
FROM contact c
LEFT JOIN admin_unit u ON u.id = c.admin_unit_id
LEFT JOIN ussd_session s ON s.session_key = ? AND s.contact_id = c.id
LEFT JOIN flow_run r ON r.id = s.run_id AND r.status = 'active'
WHERE c.key = ?"""


CONTACT_SNAPSHOT = f"""
SELECT {_CONTACT_COLUMNS}, {_RUN_COLUMNS}
FROM contact c
LEFT JOIN admin_unit u ON u.id = c.admin_unit_id
LEFT JOIN flow_run r ON r.contact_id = c.id AND r.channel = 'sms' AND r.status = 'active'
WHERE c.id = ?"""

RUN_SNAPSHOT = f"""
SELECT {_CONTACT_COLUMNS}, {_RUN_COLUMNS}
FROM flow_run r
JOIN contact c ON c.id = r.contact_id
LEFT JOIN admin_unit u ON u.id = c.admin_unit_id
WHERE r.id = ? AND r.status = 'active'"""


class _SqliteWriters:
    """One conversation writer at a time on a SQLite file, across the threads and the processes that serve it.

    A thread waiting for SQLite's own write lock polls with growing sleeps (tens of milliseconds under load); one
    waiting here is woken the moment the lock is free: threads queue on a lock, processes on `flock` of a file
    beside the database (opened per process, so a forked worker never shares its parent's)."""

    def __init__(self) -> None:
        self.threads = threading.RLock()
        self.depth = threading.local()
        self.files: dict[tuple[str, int], int] = {}

    @contextmanager
    def held(self, path: str | None) -> Iterator[None]:
        with self.threads:
            outer = getattr(self.depth, "n", 0) == 0
            handle = self._file(path) if outer and path else None
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            self.depth.n = getattr(self.depth, "n", 0) + 1
            try:
                yield
            finally:
                self.depth.n -= 1
                if handle is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def _file(self, path: str) -> int:
        key = (path, os.getpid())
        if key not in self.files:
            self.files[key] = os.open(f"{path}-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
        return self.files[key]


_SQLITE_WRITERS = _SqliteWriters()


@contextmanager
def conversation_transaction() -> Iterator[None]:
    """The per-contact lock's transaction. SQLite takes the write lock up front (BEGIN IMMEDIATE), which
    serialises writers (and `_SqliteWriters` makes them wait without polling); PostgreSQL locks the contact's row
    before the snapshot read (`_lock`)."""
    if is_postgres():
        with database.atomic():
            yield
        return
    path = database.database if database.database not in ("", ":memory:") else None
    with _SQLITE_WRITERS.held(path), database.atomic("IMMEDIATE"):
        yield


def sms_snapshot(contact_key: str, channel: str, provider_id: str | None) -> Snapshot | None:
    _lock(LOCK_BY_KEY, contact_key)
    row = _one(SMS_SNAPSHOT, (channel, provider_id, contact_key))
    if row is None:
        return None
    return Snapshot(_contact(row), run=_run(row[9:15]), earlier_id=row[15], earlier_response=row[16])


def ussd_snapshot(contact_key: str, session_key: str) -> Snapshot | None:
    _lock(LOCK_BY_KEY, contact_key)
    row = _one(USSD_SNAPSHOT, (session_key, contact_key))
    if row is None:
        return None
    run = _run(row[9:15])
    session = None if row[15] is None else SessionRow(row[15], row[16], row[17], bool(row[18]), run)
    return Snapshot(_contact(row), run=run, session=session)


def sms_snapshot_by_id(contact_id: int) -> Snapshot | None:
    """A contact and their active SMS run, when we start a conversation ourselves."""
    _lock(LOCK_BY_ID, contact_id)
    row = _one(CONTACT_SNAPSHOT, (contact_id,))
    return None if row is None else Snapshot(_contact(row), run=_run(row[9:15]))


def run_snapshot(run_id: int) -> Snapshot | None:
    """An active run and its contact (the expiry job); None when the run has ended meanwhile."""
    _lock(LOCK_BY_RUN, run_id)
    row = _one(RUN_SNAPSHOT, (run_id,))
    return None if row is None else Snapshot(_contact(row), run=_run(row[9:15]))


INSERT_CONTACT = ("INSERT INTO contact (key, language, created_at) VALUES (?, ?, ?) "
                  "ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING id")  # the id, new or not
INSERT_NUMBER = "INSERT INTO phone_number (contact_id, e164) VALUES (?, ?) ON CONFLICT DO NOTHING"


def create_contact(contact_key: str, e164: str) -> None:
    """The contact and its vault row, first time a number is seen (a racing request may have made them)."""
    contact_id = _execute(INSERT_CONTACT, (contact_key, DEFAULT_LANGUAGE, utcnow())).fetchall()[0][0]
    _execute(INSERT_NUMBER, (contact_id, e164))


def recent_inbound_id(contact_id: int, channel: str, text: str, since: dt.datetime) -> tuple[int, str | None] | None:
    """The same text from the same person since `since`, for providers that send no message id."""
    row = (Message.select(Message.id, Message.response)
           .where((Message.contact == contact_id) & (Message.direction == "in") & (Message.channel == channel)
                  & (Message.text == text) & (Message.created_at >= since))
           .order_by(Message.id.desc()).tuples().first())
    return (row[0], row[1]) if row else None


def _one(sql: str, params: tuple) -> tuple | None:
    return database.execute_sql(_prepared(sql, database.param), params).fetchone()


LOCK_BY_KEY = "SELECT id FROM contact WHERE key = ? FOR UPDATE"
LOCK_BY_ID = "SELECT id FROM contact WHERE id = ? FOR UPDATE"
LOCK_BY_RUN = "SELECT c.id FROM contact c JOIN flow_run r ON r.contact_id = c.id WHERE r.id = ? FOR UPDATE OF c"


def _lock(sql: str, value: object) -> None:
    """PostgreSQL: the contact's row lock, taken in a statement of its own. The snapshot is read by the next
    statement, so it sees what a transaction that held the lock before us committed (a read in the locking
    statement itself would see joined rows as they were when it started waiting)."""
    if is_postgres():
        database.execute_sql(_prepared(sql, database.param), (value,))


@lru_cache(maxsize=64)
def _prepared(sql: str, param: str) -> str:
    return sql.replace("?", param) if param != "?" else sql


def _contact(row: tuple) -> ContactRow:
    return ContactRow(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]), bool(row[6]), row[7], row[8])


def _run(columns: tuple) -> RunRow | None:
    run_id, flow_id, state, channel, session_key, expires_at = columns
    if run_id is None:
        return None
    state = json.loads(state) if isinstance(state, str) else (state or {})
    return RunRow(run_id, flow_id, state, channel, session_key, FlowRun.expires_at.python_value(expires_at))


# ---- writes -------------------------------------------------------------------------------------------------

INSERT_RUN = ("INSERT INTO flow_run (contact_id, flow_id, flow_version, channel, session_key, status, state, "
              "started_at, updated_at, expires_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")
UPDATE_RUN = "UPDATE flow_run SET state = ?, status = ?, expires_at = ?, updated_at = ?, ended_at = ? WHERE id = ?"
UPSERT_RESULT = ("INSERT INTO flow_result (run_id, name, value, category, created_at) VALUES {values} "
                 "ON CONFLICT (run_id, name) DO UPDATE SET value = excluded.value, category = excluded.category")
INSERT_SESSION = ("INSERT INTO ussd_session (session_key, contact_id, channel, consumed, history, run_id, screen, "
                  "screen_end, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
UPDATE_SESSION = ("UPDATE ussd_session SET consumed = ?, history = ?, run_id = ?, screen = ?, screen_end = ?, "
                  "updated_at = ? WHERE session_key = ?")
INSERT_INBOUND = ("INSERT INTO message (direction, contact_id, channel, kind, provider_id, text, text_norm, status, "
                  "priority, purpose, attempts, response, created_at, updated_at) "
                  "VALUES ('in', ?, ?, ?, ?, ?, ?, ?, 0, 'reply', 0, ?, ?, ?) RETURNING id")


def insert_run(contact_id: int, flow_id: str, flow_version: int, channel: str, session_key: str | None,
               state: dict, status: str, expires_at: dt.datetime | None) -> int:
    now = utcnow()
    params = (contact_id, flow_id, flow_version, channel, session_key, status, _json(state), now, now, expires_at,
              now if status in ENDED else None)
    return _execute(INSERT_RUN, params).fetchall()[0][0]


def update_run(run_id: int, state: dict, status: str, expires_at: dt.datetime | None) -> None:
    now = utcnow()
    _execute(UPDATE_RUN, (_json(state), status, expires_at, now, now if status in ENDED else None, run_id))


def save_results(run_id: int, results: dict[str, dict]) -> None:
    """Upsert only the given results; a value that is not text is kept as JSON."""
    if not results:
        return
    now, params = utcnow(), []
    for name, result in results.items():
        value = result.get("value")
        text = value if isinstance(value, str) or value is None else json.dumps(value, ensure_ascii=False)
        params += [run_id, name, text, result.get("category"), now]
    _execute(UPSERT_RESULT.format(values=", ".join(["(?, ?, ?, ?, ?)"] * len(results))), tuple(params))


def save_session(session_key: str, contact_id: int, channel: str, consumed: int, history: str, run_id: int | None,
                 screen: str, end: bool, new: bool) -> None:
    now = utcnow()
    if new:
        _execute(INSERT_SESSION, (session_key, contact_id, channel, consumed, history, run_id, screen, end, now, now))
    else:
        _execute(UPDATE_SESSION, (consumed, history, run_id, screen, end, now, session_key))


def insert_inbound(contact_id: int | None, channel: str, kind: str, provider_id: str | None, text: str,
                   text_norm: str | None, response: str | None, status: str = "handled") -> int:
    now = utcnow()
    params = (contact_id, channel, kind, provider_id, text, text_norm, status, response, now, now)
    return _execute(INSERT_INBOUND, params).fetchall()[0][0]


CONTACT_COLUMNS = frozenset({"last_seen_at", "last_script", "language", "script", "consent_at", "consent_version",
                             "consent_source", "opted_out_at", "admin_unit_id"})


def update_contact(contact_id: int, fields: dict[str, Any]) -> None:
    """One UPDATE with everything a conversation changed about the person."""
    if not fields:
        return
    names = tuple(sorted(fields))
    _execute(_contact_update(names), tuple(fields[name] for name in names) + (contact_id,))


@lru_cache(maxsize=64)
def _contact_update(names: tuple[str, ...]) -> str:
    unknown = set(names) - CONTACT_COLUMNS
    if unknown:
        raise ValueError(f"not a conversation field of contact: {sorted(unknown)}")
    return f"UPDATE contact SET {', '.join(f'{name} = ?' for name in names)} WHERE id = ?"


def end_sms_runs(contact_id: int, status: str) -> int:
    now = utcnow()
    return (FlowRun.update(status=status, ended_at=now, updated_at=now)
            .where((FlowRun.contact == contact_id) & (FlowRun.channel == "sms") & (FlowRun.status == "active"))
            .execute())


def end_ussd_session(session_key: str, status: str = "interrupted") -> int:
    """The provider ended the session: its waiting run ends now, not at the idle sweep."""
    run_id = UssdSession.select(UssdSession.run).where(UssdSession.session_key == session_key).scalar()
    if run_id is None:
        return 0
    now = utcnow()
    return (FlowRun.update(status=status, ended_at=now, updated_at=now)
            .where((FlowRun.id == run_id) & (FlowRun.status == "active")).execute())


def _execute(sql: str, params: tuple):
    return database.execute_sql(_prepared(sql, database.param), params)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# ---- housekeeping -------------------------------------------------------------------------------------------

def stale_runs(now: dt.datetime, channel: str, limit: int = 200) -> list[FlowRun]:
    """Active runs whose wait has run out, oldest first."""
    return list(FlowRun.select().where((FlowRun.status == "active") & (FlowRun.channel == channel)
                                       & (FlowRun.expires_at <= now))
                .order_by(FlowRun.expires_at).limit(limit))


def expire_ussd_runs(before: dt.datetime) -> int:
    """USSD runs untouched since `before`: the provider's session is long gone."""
    now = utcnow()
    return (FlowRun.update(status="expired", ended_at=now, updated_at=now)
            .where((FlowRun.status == "active") & (FlowRun.channel == "ussd") & (FlowRun.updated_at < before))
            .execute())


def purge_ussd_sessions(before: dt.datetime) -> int:
    return UssdSession.delete().where(UssdSession.updated_at < before).execute()


def results_of(run: FlowRun | int) -> dict[str, dict[str, Any]]:
    return {row.name: {"value": row.value, "category": row.category}
            for row in FlowResult.select().where(FlowResult.run == run).order_by(FlowResult.id)}


# ---- reference data and the outbox, as the conversation layer reads them ----------------------------------

def current_admin_units(today: dt.date) -> list[dict[str, Any]]:
    """Admin units valid on `today`, as plain rows (parent given by code) for flows.catalog.AdminCatalog."""
    Parent = AdminUnit.alias()
    query = (AdminUnit.select(AdminUnit.code, AdminUnit.kind, Parent.code.alias("parent"), AdminUnit.name_mn,
                              AdminUnit.name_latn, AdminUnit.name_en)
             .join(Parent, pw.JOIN.LEFT_OUTER, on=(AdminUnit.parent == Parent.id))
             .where((AdminUnit.valid_from <= today) & (AdminUnit.valid_to.is_null() | (AdminUnit.valid_to > today)))
             .order_by(AdminUnit.code))
    return list(query.dicts())


def admin_units_stamp(today: dt.date) -> tuple:
    """Changes when units are added or retired (and daily, as validity dates pass): a cached catalog rebuilds."""
    row = AdminUnit.select(pw.fn.COUNT(AdminUnit.id), pw.fn.MAX(AdminUnit.id), pw.fn.MAX(AdminUnit.valid_to),
                           pw.fn.MAX(AdminUnit.valid_from)).tuples().get()
    return tuple(str(value) for value in row) + (today.isoformat(),)


def admin_unit_by_code(code: str, today: dt.date) -> AdminUnit | None:
    """The row of `code` valid on `today`."""
    return (AdminUnit.select().where((AdminUnit.code == code) & (AdminUnit.valid_from <= today)
                                     & (AdminUnit.valid_to.is_null() | (AdminUnit.valid_to > today)))
            .order_by(AdminUnit.valid_from.desc()).first())


def messages_to(contact: Contact | int, after_id: int = 0, kind: str = "sms") -> list[Message]:
    """Outbound rows for one contact newer than `after_id` (the simulator reads its replies here)."""
    return list(Message.select().where((Message.contact == contact) & (Message.direction == "out")
                                       & (Message.kind == kind) & (Message.id > after_id))
                .order_by(Message.id))


def last_message_id() -> int:
    return Message.select(pw.fn.MAX(Message.id)).scalar() or 0
