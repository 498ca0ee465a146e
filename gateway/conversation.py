"""The conversation applier: read one snapshot, ask the pure decision (flows.decision), apply its effects.

Every inbound message is one transaction under the per-contact lock: snapshot → decide → effects → inbound row
and outbox, then commit. A mid-flow USSD hop is one read and four writes. What finished runs mean (a complaint,
scores, an RSVP) is applied by the record handlers that `create_app` registers with `init_app`.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask import Flask

from flows.catalog import AdminCatalog
from flows.decision import (
    REFERENCE,
    Decision,
    Person,
    Run,
    Session,
    Settings,
    World,
    decide_expiry,
    decide_sms,
    decide_start,
    decide_ussd,
)
from flows.definition import Flow
from flows.effects import (
    EndSmsRuns,
    NewRun,
    NoteInbound,
    OptIn,
    OptOut,
    ReserveReference,
    SaveResults,
    SaveRun,
    SaveSession,
    SetLanguage,
    SetScript,
    StartRun,
)
from flows.sandbox import Sandbox, SandboxState
from flows.text import normalize
from gateway.clock import local_now, local_today, utc_of
from gateway.logs import log_event
from gateway.messages import InboundSms, UssdHop
from gateway.outbox import enqueue
from gateway.secrets import pseudonym_key
from storage import runs
from storage.complaints import reserve_ref
from storage.db import utcnow
from storage.outbox import cancel_pending_bulk
from storage.phones import contact_key

DUPLICATE_WINDOW = dt.timedelta(seconds=10)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # same text, same person, no provider id: a redelivery
DataProvider = Callable[[Flask, Person], Mapping[str, Any]]


@dataclass(frozen=True)
class AppliedRun:
    """Where a record effect comes from, for its handler."""

    contact_id: int
    run_id: int | None
    channel: str  # sms | ussd


RecordHandler = Callable[[Flask, AppliedRun, Any], None]


@dataclass(frozen=True)
class Registry:
    data: Mapping[str, DataProvider]  # by flow id or `records` kind: the variables a flow reads
    records: Mapping[type, RecordHandler]  # by effect type: what a finished run means


def init_app(app: Flask, data: Mapping[str, DataProvider], records: Mapping[type, RecordHandler]) -> None:
    app.extensions["gateway.conversation"] = Registry(dict(data), dict(records))


@dataclass(frozen=True)
class Handled:
    """An inbound message, answered: `body` is what the provider gets back (stored for redeliveries)."""

    body: str
    replies: list[str]
    duplicate: bool = False
    message_id: int | None = None
    held_back: bool = False  # kept, not answered (the flood limit)


# ---- inbound ------------------------------------------------------------------------------------------------

def receive_sms(app: Flask, sms: InboundSms, respond: Callable[[list[str]], str],
                held_back: Callable[[InboundSms], bool] | None = None) -> Handled:
    """Answer one SMS: the replies go to the outbox, `respond(replies)` is the provider's answer.
    `held_back(sms)` (the flood limit) runs under the person's lock, so their messages are counted one at a time;
    when it says True it has kept the message itself, and the conversation does not run."""
    sms = replace(sms, text=storable(sms.text))
    key = contact_key(sms.phone, pseudonym_key(app))
    with runs.conversation_transaction():
        snapshot = _snapshot(lambda: runs.sms_snapshot(key, sms.channel, sms.provider_id), key, sms.phone)
        earlier = _earlier(snapshot, sms)
        if earlier is not None:
            log_event("webhook.duplicate", channel=sms.channel, message=earlier[0])
            return Handled(earlier[1] if earlier[1] is not None else respond([]), [], duplicate=True)
        if held_back is not None and held_back(sms):
            return Handled(respond([]), [], held_back=True)
        decision = decide_sms(world(app, snapshot.contact), sms.text, _run(snapshot.run))
        decision = _Applier(app, snapshot.contact.id, "sms", sms.channel).apply(decision)
        body = respond(decision.replies)
        message_id = runs.insert_inbound(snapshot.contact.id, sms.channel, "sms", sms.provider_id, sms.text,
                                         normalize(sms.text), body)
        for text in decision.replies:
            enqueue(snapshot.contact.id, text, purpose="reply", channel=sms.channel, in_reply_to=message_id)
    log_event("sms.received", channel=sms.channel, message=message_id, replies=len(decision.replies))
    return Handled(body, decision.replies, message_id=message_id)


def receive_ussd(app: Flask, hop: UssdHop, respond: Callable[[str, bool], str]) -> Handled:
    """Answer one USSD hop; a redelivered hop gets the screen it got before and changes nothing. The session
    row is the record of the hops: it keeps the whole input history, the last screen and when it changed."""
    hop = replace(hop, text=storable(hop.text))
    key = contact_key(hop.phone, pseudonym_key(app))
    with runs.conversation_transaction():
        snapshot = _snapshot(lambda: runs.ussd_snapshot(key, hop.session_id), key, hop.phone)
        decision = decide_ussd(world(app, snapshot.contact), hop.session_id, hop.inputs, _session(snapshot.session))
        if decision.replayed:
            return Handled(respond(decision.screen.text, decision.screen.end), [], duplicate=True)
        decision = _Applier(app, snapshot.contact.id, "ussd", hop.channel, hop.text).apply(decision)
    return Handled(respond(decision.screen.text, decision.screen.end), [])


def start_sms_flow(app: Flask, contact_id: int, flow_id: str) -> list[str]:
    """Start `flow_id` for a contact on our initiative; returns the texts it would send (the caller decides).
    Nothing starts for people who opted out or never consented."""
    with runs.conversation_transaction():
        snapshot = runs.sms_snapshot_by_id(contact_id)
        if snapshot is None:
            return []
        decision = decide_start(world(app, snapshot.contact), flow_id, _run(snapshot.run))
        return _Applier(app, contact_id, "sms", None).apply(decision).replies


def expire_run(app: Flask, run_id: int) -> bool:
    """End an SMS run whose wait ran out (the engine records why); False when a reply came first."""
    with runs.conversation_transaction():
        snapshot = runs.run_snapshot(run_id)
        if snapshot is None or snapshot.run is None:
            return False
        decision = decide_expiry(world(app, snapshot.contact), _run(snapshot.run))
        _Applier(app, snapshot.contact.id, "sms", None).apply(decision)
    return True


def session_ended(app: Flask, session_key: str) -> None:
    """The provider says the USSD session is over: its run ends now."""
    ended = runs.end_ussd_session(session_key)
    log_event("ussd.session_ended", session=session_key, runs_ended=ended)


def storable(text: str) -> str:
    """What arrived, with what no database can keep (NUL, half an emoji) replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def _snapshot(read: Callable[[], runs.Snapshot | None], key: str, phone: str) -> runs.Snapshot:
    snapshot = read()
    if snapshot is None:  # first time we see this number
        runs.create_contact(key, phone)
        snapshot = read()
    return snapshot


def _earlier(snapshot: runs.Snapshot, sms: InboundSms) -> tuple[int, str | None] | None:
    if sms.provider_id:
        return (snapshot.earlier_id, snapshot.earlier_response) if snapshot.earlier_id is not None else None
    return runs.recent_inbound_id(snapshot.contact.id, sms.channel, sms.text, utcnow() - DUPLICATE_WINDOW)


# ---- what the decision is given ---------------------------------------------------------------------------

def world(app: Flask, contact: runs.ContactRow) -> World:
    return World(_person(contact), local_now(app), app.extensions["gateway.flows"], GatewayAssets(app),
                 settings(app), app.extensions.get("gateway.lexicon"))


def settings(app: Flask) -> Settings:
    config = app.config["GATEWAY"]
    months = max(1, round(config["retention"]["message_days"] / 30.4))
    return Settings(config["language"]["default"], config["language"]["sms_script"],
                    config["language"]["ussd_script"], str(config["consent"]["version"]), months)


def _person(contact: runs.ContactRow) -> Person:
    # Still on the column default and never heard from: the decision gives them the configured language.
    language = None if contact.untouched and contact.language == runs.DEFAULT_LANGUAGE else contact.language
    return Person(contact.id, language, contact.script, contact.last_script, contact.consented, contact.opted_out,
                  contact.unit_code, contact.unit_id)


def _run(row: runs.RunRow | None) -> Run | None:
    if row is None:
        return None
    expires = row.expires_at.replace(tzinfo=dt.UTC) if row.expires_at else None
    return Run(row.id, row.flow_id, row.state, row.channel, row.session_key, expires)


def _session(row: runs.SessionRow | None) -> Session | None:
    return None if row is None else Session("", row.consumed, row.screen, row.end, _run(row.run))


class GatewayAssets:
    """The data flows read, from the database, looked up only when a flow needs it."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def flow_data(self, flow: Flow, person: Person) -> Mapping[str, Any]:
        data = self.app.extensions["gateway.conversation"].data
        provider = data.get(flow.id) or data.get(flow.records or "")
        return provider(self.app, person) if provider else {}

    def units(self) -> AdminCatalog:
        return _LazyCatalog(lambda: admin_catalog(self.app))  # most hops never look at a place


class _LazyCatalog:
    """The admin-unit catalog, looked up the first time a question reads it."""

    def __init__(self, load: Callable[[], AdminCatalog]) -> None:
        self._load, self._catalog = load, None

    def __getattr__(self, name: str) -> Any:
        if self._catalog is None:
            self._catalog = self._load()
        return getattr(self._catalog, name)


CATALOG_CHECK_EVERY = dt.timedelta(seconds=60)  # admin units change rarely: a new bag shows within a minute


def admin_catalog(app: Flask) -> AdminCatalog:
    """The admin units valid today, built once and rebuilt when the AdminUnit rows change (or the day does);
    whether they changed is checked at most once a minute."""
    now, cached = utcnow(), app.extensions.get("gateway.admin_catalog")
    if cached is not None and now - cached[2] < CATALOG_CHECK_EVERY:
        return cached[1]
    today = local_today(app)
    stamp = runs.admin_units_stamp(today)
    if cached is None or cached[0] != stamp:
        cached = (stamp, AdminCatalog(runs.current_admin_units(today)), now)
    app.extensions["gateway.admin_catalog"] = (cached[0], cached[1], now)
    return cached[1]


def sandbox(app: Flask, data: dict | None = None) -> Sandbox:
    """A web phone for the console: the real decision and flows, state in `data`, nothing stored or sent."""
    state = Sandbox.state_from(data) if data else SandboxState()
    return Sandbox(app.extensions["gateway.flows"], GatewayAssets(app), settings(app), local_now(app), state,
                   app.extensions.get("gateway.lexicon"))


# ---- applying effects ---------------------------------------------------------------------------------------

class _Applier:
    """Turns one decision's effects into storage writes (the caller holds the transaction)."""

    def __init__(self, app: Flask, contact_id: int, channel: str, provider: str | None,
                 history: str | None = None) -> None:
        self.app, self.contact_id, self.channel, self.provider = app, contact_id, channel, provider
        self.history = history  # USSD: the hop's `*`-joined inputs
        self.contact_fields: dict[str, Any] = {}
        self.started: dict[NewRun, StartRun] = {}
        self.run_ids: dict[NewRun, int] = {}
        self.references: dict[str, str] = {}

    def apply(self, decision: Decision) -> Decision:
        for effect in decision.effects:
            self.one(effect)
        runs.update_contact(self.contact_id, self.contact_fields)
        _log_events(decision.events, self.channel)
        return self.with_references(decision)

    def one(self, effect: Any) -> None:
        handler = _CORE.get(type(effect))
        if handler is not None:
            return handler(self, effect)
        record = self.app.extensions["gateway.conversation"].records.get(type(effect))
        if record is None:
            log_event("conversation.unhandled_effect", logging.ERROR, effect=type(effect).__name__)
            return None
        return record(self.app, AppliedRun(self.contact_id, self.run_id(getattr(effect, "run", None)),
                                           self.channel), effect)

    def run_id(self, ref: Any) -> int | None:
        return self.run_ids.get(ref) if isinstance(ref, NewRun) else ref

    def note_inbound(self, effect: NoteInbound) -> None:
        self.contact_fields["last_seen_at"] = utcnow()
        if effect.script:
            self.contact_fields["last_script"] = effect.script

    def opt_in(self, effect: OptIn) -> None:
        self.contact_fields.update(consent_at=utcnow(), consent_version=effect.version, consent_source=effect.source,
                                   opted_out_at=None)
        log_event("contact.opted_in", contact=self.contact_id, channel=self.channel, version=effect.version)

    def opt_out(self, effect: OptOut) -> None:
        self.contact_fields["opted_out_at"] = utcnow()
        cancel_pending_bulk(self.contact_id)
        log_event("contact.opted_out", contact=self.contact_id, channel=self.channel)

    def save_run(self, effect: SaveRun) -> None:
        expires = utc_of(dt.UTC, effect.expires_at) if effect.expires_at else None
        if not isinstance(effect.run, NewRun):
            return runs.update_run(effect.run, effect.state, effect.status, expires)
        start = self.started[effect.run]
        run_id = runs.insert_run(self.contact_id, start.flow_id, start.flow_version, start.channel,
                                 start.session_key, effect.state, effect.status, expires)
        self.run_ids[effect.run] = run_id
        log_event("run.started", flow=start.flow_id, run=run_id, channel=start.channel)
        return None

    def reserve(self, effect: ReserveReference) -> None:
        self.references[effect.placeholder] = reserve_ref(self.run_id(effect.run))

    def save_session(self, effect: SaveSession) -> None:
        runs.save_session(effect.key, self.contact_id, self.provider, effect.consumed, self.history or "",
                          self.run_id(effect.run), self.substitute(effect.screen), effect.end, effect.new)

    def substitute(self, text: str) -> str:
        for placeholder, value in self.references.items():
            text = text.replace(placeholder, value)
        return text

    def with_references(self, decision: Decision) -> Decision:
        if not self.references:
            return decision
        screen = decision.screen
        if screen is not None:
            screen = replace(screen, text=self.substitute(screen.text))
        return replace(decision, replies=[self.substitute(reply) for reply in decision.replies], screen=screen)


_CORE: dict[type, Callable[[_Applier, Any], None]] = {
    NoteInbound: _Applier.note_inbound,
    SetLanguage: lambda applier, effect: applier.contact_fields.update(language=effect.language),
    SetScript: lambda applier, effect: applier.contact_fields.update(script=effect.script),
    OptIn: _Applier.opt_in,
    OptOut: _Applier.opt_out,
    EndSmsRuns: lambda applier, effect: runs.end_sms_runs(applier.contact_id, effect.status),
    StartRun: lambda applier, effect: applier.started.__setitem__(effect.run, effect),
    SaveRun: _Applier.save_run,
    SaveResults: lambda applier, effect: runs.save_results(applier.run_id(effect.run), effect.results),
    ReserveReference: _Applier.reserve,
    SaveSession: _Applier.save_session,
}
_LOGGED_EVENTS = {"run_completed": "run.completed", "run_failed": "run.failed", "run_expired": "run.expired"}


def _log_events(events: list[dict], channel: str) -> None:
    """The engine's events: the ones operators care about at INFO, everything at DEBUG."""
    for event in events:
        name = _LOGGED_EVENTS.get(event.get("type"))
        if name:
            level = logging.WARNING if event.get("type") == "run_failed" else logging.INFO
            log_event(name, level, flow=event.get("flow"), channel=channel, reason=event.get("reason"))
        else:
            log_event(f"flow.{event.get('type')}", logging.DEBUG, flow=event.get("flow"), step=event.get("step"))


__all__ = ["REFERENCE", "Handled", "Registry", "expire_run", "init_app", "receive_sms", "receive_ussd",
           "sandbox", "session_ended", "start_sms_flow", "world"]
