"""Conversation state: flow runs and their results, USSD sessions, and the contact's language/script choices.

Every write that races with another process (two hops of one session, two SMS from one person) goes through an
optimistic version check: `save_run` / `save_ussd_session` return False when someone else wrote first.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import peewee as pw

from storage.db import BaseModel, database, utcnow
from storage.models import AdminUnit, Contact, FlowResult, FlowRun, Message

ENDED = ("completed", "interrupted", "expired", "failed")


class UssdSession(BaseModel):
    """One provider USSD session: how much of the `*`-joined history is handled, and the screen we answered."""

    session_key = pw.CharField(unique=True)  # the provider's session id
    contact = pw.ForeignKeyField(Contact, backref="ussd_sessions", on_delete="CASCADE")
    channel = pw.CharField()
    stage = pw.CharField(default="menu")  # notice | opted_out | menu | run | ended
    page = pw.IntegerField(default=0)  # which page of the main menu is shown
    consumed = pw.IntegerField(default=0)  # inputs of the hop text already handled
    run = pw.ForeignKeyField(FlowRun, null=True, backref="ussd_sessions", on_delete="SET NULL")
    screen = pw.TextField(null=True)
    screen_end = pw.BooleanField(default=False)
    version = pw.IntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow, index=True)


CONVERSATION_MODELS = [UssdSession]


# ---- flow runs ---------------------------------------------------------------------------------------------

def active_sms_run(contact: Contact) -> FlowRun | None:
    return (FlowRun.select().where((FlowRun.contact == contact) & (FlowRun.channel == "sms")
                                   & (FlowRun.status == "active"))
            .order_by(FlowRun.id.desc()).first())


def get_run(run_id: int) -> FlowRun | None:
    return FlowRun.get_or_none(FlowRun.id == run_id)


def start_run(contact: Contact, flow_id: str, flow_version: int, channel: str, *, session_key: str | None = None,
              interrupt: bool = True) -> FlowRun:
    """A new active run; for SMS the contact's other active SMS run is marked interrupted first.

    Raises IntegrityError when another process started an SMS run for the same contact at the same moment
    (a partial unique index keeps one active SMS run per contact)."""
    with database.atomic():
        if interrupt and channel == "sms":
            end_runs(contact, "sms", "interrupted")
        return FlowRun.create(contact=contact, flow_id=flow_id, flow_version=flow_version, channel=channel,
                              session_key=session_key, state={})


def save_run(run: FlowRun, *, state: dict, status: str, expires_at: dt.datetime | None) -> bool:
    """Write the run if nobody else has since we read it; on success `run` carries the new version."""
    now = utcnow()
    fields = {"state": state, "status": status, "expires_at": expires_at, "updated_at": now,
              "version": FlowRun.version + 1, "ended_at": now if status in ENDED else None}
    updated = FlowRun.update(**fields).where((FlowRun.id == run.id) & (FlowRun.version == run.version)).execute()
    if updated:
        run.state, run.status, run.expires_at, run.version = state, status, expires_at, run.version + 1
    return bool(updated)


def end_runs(contact: Contact, channel: str, status: str) -> int:
    now = utcnow()
    return (FlowRun.update(status=status, ended_at=now, updated_at=now, version=FlowRun.version + 1)
            .where((FlowRun.contact == contact) & (FlowRun.channel == channel) & (FlowRun.status == "active"))
            .execute())


def end_run(run: FlowRun, status: str) -> None:
    now = utcnow()
    FlowRun.update(status=status, ended_at=now, updated_at=now, version=FlowRun.version + 1).where(
        (FlowRun.id == run.id) & (FlowRun.status == "active")).execute()
    run.status = status


def save_results(run: FlowRun, results: dict[str, dict]) -> None:
    """Upsert each {name: {value, category}}; a value that is not text is kept as JSON."""
    for name, result in results.items():
        value = result.get("value") if isinstance(result, dict) else result
        category = result.get("category") if isinstance(result, dict) else None
        text = value if isinstance(value, str) or value is None else json.dumps(value, ensure_ascii=False)
        updated = (FlowResult.update(value=text, category=category)
                   .where((FlowResult.run == run) & (FlowResult.name == name)).execute())
        if not updated:
            FlowResult.create(run=run, name=name, value=text, category=category)


def results_of(run: FlowRun) -> dict[str, dict[str, Any]]:
    return {row.name: {"value": row.value, "category": row.category}
            for row in FlowResult.select().where(FlowResult.run == run).order_by(FlowResult.id)}


def stale_runs(now: dt.datetime, channel: str, limit: int = 200) -> list[FlowRun]:
    """Active runs whose wait has run out, oldest first."""
    return list(FlowRun.select().where((FlowRun.status == "active") & (FlowRun.channel == channel)
                                       & (FlowRun.expires_at <= now))
                .order_by(FlowRun.expires_at).limit(limit))


def expire_ussd_runs(before: dt.datetime) -> int:
    """USSD runs untouched since `before`: the provider's session is long gone."""
    now = utcnow()
    return (FlowRun.update(status="expired", ended_at=now, updated_at=now, version=FlowRun.version + 1)
            .where((FlowRun.status == "active") & (FlowRun.channel == "ussd") & (FlowRun.updated_at < before))
            .execute())


# ---- USSD sessions -----------------------------------------------------------------------------------------

def ussd_session(session_key: str) -> UssdSession | None:
    return UssdSession.get_or_none(UssdSession.session_key == session_key)


def open_ussd_session(session_key: str, contact: Contact, channel: str) -> tuple[UssdSession, bool]:
    """The session row, created on the first hop. Returns (session, created)."""
    try:
        with database.atomic():
            return UssdSession.create(session_key=session_key, contact=contact, channel=channel), True
    except pw.IntegrityError:
        return UssdSession.get(UssdSession.session_key == session_key), False


def save_ussd_session(session: UssdSession) -> bool:
    """Write the session's fields if its version is still the one we read."""
    fields = {"stage": session.stage, "page": session.page, "consumed": session.consumed, "run": session.run_id,
              "screen": session.screen, "screen_end": session.screen_end,
              "updated_at": utcnow(), "version": UssdSession.version + 1}
    updated = (UssdSession.update(**fields)
               .where((UssdSession.id == session.id) & (UssdSession.version == session.version)).execute())
    if updated:
        session.version += 1
    return bool(updated)


def purge_ussd_sessions(before: dt.datetime) -> int:
    return UssdSession.delete().where(UssdSession.updated_at < before).execute()


# ---- contact preferences -----------------------------------------------------------------------------------

def note_inbound(contact: Contact, script: str | None) -> None:
    """Last seen now; and the script the person just wrote in, when the text told us."""
    fields: dict[str, Any] = {"last_seen_at": utcnow()}
    if script:
        fields["last_script"] = script
        contact.last_script = script
    Contact.update(**fields).where(Contact.id == contact.id).execute()


def set_language(contact: Contact, language: str) -> None:
    Contact.update(language=language).where(Contact.id == contact.id).execute()
    contact.language = language


def set_script(contact: Contact, script: str | None) -> None:
    Contact.update(script=script).where(Contact.id == contact.id).execute()
    contact.script = script


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


def messages_to(contact: Contact | int, after_id: int = 0, kind: str = "sms") -> list[Message]:
    """Outbound rows for one contact newer than `after_id` (the simulator reads its replies here)."""
    return list(Message.select().where((Message.contact == contact) & (Message.direction == "out")
                                       & (Message.kind == kind) & (Message.id > after_id))
                .order_by(Message.id))


def last_message_id() -> int:
    return Message.select(pw.fn.MAX(Message.id)).scalar() or 0


def admin_unit_by_code(code: str, today: dt.date) -> AdminUnit | None:
    """The row of `code` valid on `today`."""
    return (AdminUnit.select().where((AdminUnit.code == code) & (AdminUnit.valid_from <= today)
                                     & (AdminUnit.valid_to.is_null() | (AdminUnit.valid_to > today)))
            .order_by(AdminUnit.valid_from.desc()).first())


def set_admin_unit(contact: Contact, unit: AdminUnit | None) -> None:
    Contact.update(admin_unit=unit).where(Contact.id == contact.id).execute()
    contact.admin_unit = unit
