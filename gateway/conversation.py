"""The conversation layer: who is talking, which flow run their message belongs to, and what we answer.

Channels call `handle_sms` / `handle_ussd` with a normalised message; this module applies the reserved words
(STOP, START, HELP, MN/EN, KIRILL/LATIN), the first-contact notice and the session rules, drives the pure
`flows.engine`, and stores the run in the database so any process can serve the next message.

Run states written here: active → completed | interrupted | expired | failed. Each save checks FlowRun.version
(optimistic concurrency); a lost race retries the whole message, which is safe because the engine is pure.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

import peewee
from flask import Flask

from flows import engine
from flows.catalog import AdminCatalog
from flows.checks import RESERVED_WORDS
from flows.definition import Flow
from flows.messages import MORE_NUMBER
from flows.screens import ussd_pages
from flows.text import detect_script, normalize, same_word, to_latin
from gateway import join, records
from gateway.clock import local_today
from gateway.conversation_texts import say
from gateway.logs import log_event
from gateway.messages import InboundSms, UssdHop, UssdScreen
from storage import contacts as contact_store
from storage import runs
from storage.db import database
from storage.models import Contact, FlowRun, Message

# Reserved words (flows.checks.RESERVED_WORDS) work in any state, before any flow. Only a message that is exactly
# one of these words counts, so a complaint that starts "stop light broken" is still a complaint.
_RESERVED_INDEX = {normalize(word): name for name, words in RESERVED_WORDS.items() for word in words}
MAX_ATTEMPTS = 3  # a message that loses the optimistic-version race this often gets the apology
MAX_GOTO_CHAIN = 5  # flows that redirect to flows: a cycle the validator missed still ends
RUN_STATUS = {"waiting": "active", "completed": "completed", "goto": "completed", "home": "interrupted",
              "failed": "failed", "expired": "expired"}
T = TypeVar("T")


class RunConflict(Exception):
    """Another process wrote the run or session first; the message is handled again from fresh rows."""


@dataclass
class Turn:
    """One inbound message's view of the person: who, on which channel, in which language and script."""

    app: Flask
    contact: Contact
    channel: str  # sms | ussd

    @property
    def config(self) -> dict:
        return self.app.config["GATEWAY"]

    @property
    def language(self) -> str:
        return reply_style(self.app, self.contact, self.channel)[0]

    @property
    def script(self) -> str:
        return reply_style(self.app, self.contact, self.channel)[1]

    @property
    def flowset(self):
        return self.app.extensions["gateway.flows"]

    def say(self, key: str, **values: object) -> str:
        return say(key, self.language, self.script, **values)

    def local_now(self) -> dt.datetime:
        return dt.datetime.now(ZoneInfo(self.config["timezone"]))

    def context(self, flow: Flow, run: FlowRun | None) -> engine.Context:
        provider = _registered(records.CONTEXT_PROVIDERS, flow)
        variables = provider(self.app, self.contact, run) if provider else {}
        units = admin_catalog(self.app) if _asks_admin_unit(flow) else None
        return engine.Context(self.channel, self.language, self.script, self.local_now(), variables or {}, units)

    def localized(self, replies: list[str]) -> list[str]:
        """Replies from other modules, put in the reader's script (Latin Mongolian stays GSM-7)."""
        if self.language == "mn" and self.script == "latn":
            return [to_latin(reply) for reply in replies]
        return list(replies)


@dataclass
class Settled:
    replies: list[str]
    run: FlowRun
    status: str  # the engine's outcome status of the last run touched


def reply_style(app: Flask, contact: Contact, channel: str) -> tuple[str, str]:
    """(language, script) to answer this contact in: their choice, else (SMS) the script they last wrote in,
    else the configured default. USSD screens follow config, since keypad input tells us nothing."""
    config = app.config["GATEWAY"]["language"]
    language = contact.language if contact.language in ("mn", "en") else config["default"]
    if contact.script in ("cyrl", "latn"):
        return language, contact.script
    if channel == "ussd":
        return language, config["ussd_script"]
    return language, contact.last_script or config["sms_script"]


def reserved_word(text: str) -> str | None:
    """The reserved word a one-word message is (`Зогс!`, `STOP`, `zgs`), or None."""
    words = normalize(text).split()
    if len(words) != 1:
        return None
    if words[0] in _RESERVED_INDEX:
        return _RESERVED_INDEX[words[0]]
    return next((name for key, name in _RESERVED_INDEX.items() if len(key) >= 4 and same_word(words[0], key)), None)


# ---- SMS -----------------------------------------------------------------------------------------------------

def handle_sms(app: Flask, contact: Contact, inbound_row: Message | None, sms: InboundSms) -> list[str]:
    """The replies to one inbound SMS (possibly none: after STOP nothing but START gets an answer)."""
    _adopt_defaults(app, contact)
    runs.note_inbound(contact, detect_script(sms.text))
    turn = Turn(app, contact, "sms")
    word = reserved_word(sms.text)
    if word == "stop":
        return _stop(turn)
    if contact.opted_out_at is not None:
        if word == "start":
            return _join_again(turn)
        return [turn.say("opted_out_help")] if word == "help" else []
    if word:
        replies = RESERVED_ACTIONS[word](turn)
        return _first_contact(turn) + replies
    notice = _first_contact(turn)
    return notice + _retrying(turn, lambda: _route_sms(turn, sms.text), fallback=lambda: [turn.say("error")])


def start_sms_flow(app: Flask, contact: Contact, flow_id: str) -> list[str]:
    """Start `flow_id` for a contact on our initiative (e.g. a meeting notice awaiting an RSVP); returns the
    texts to send. The contact's current SMS run, if any, is interrupted."""
    turn = Turn(app, contact, "sms")
    flow = turn.flowset.get(flow_id)
    if flow is None:
        raise KeyError(f"no loaded flow with id {flow_id!r}")
    if not contact.reachable:
        return []  # opted out, or never consented: we do not start conversations with them
    return _retrying(turn, lambda: _start_sms(turn, flow), fallback=lambda: [])


def _route_sms(turn: Turn, text: str) -> list[str]:
    run = runs.active_sms_run(turn.contact)
    flow = turn.flowset.get(run.flow_id) if run else None
    if run is not None and flow is None:  # its flow was removed or broke: do not strand the person
        runs.end_run(run, "failed")
        run = None
    keyword_flow = _keyword_flow(turn, text)
    if run is None:
        return _start_sms(turn, keyword_flow) if keyword_flow else [_help(turn, unknown=True)]
    if keyword_flow is None or (keyword_flow.id == flow.id and not _only_one_word(text)):
        return _resume_sms(turn, run, flow, text)
    if keyword_flow.id == flow.id or _waits_for_text(flow, run):
        # the keyword alone restarts or switches; with more words it is the answer to a free-text question
        return _start_sms(turn, keyword_flow) if _only_one_word(text) else _resume_sms(turn, run, flow, text)
    # another flow's keyword where a choice or number is expected: a valid answer wins, otherwise switch
    trial = engine.resume(flow, run.state, text, turn.context(flow, run))
    if _accepted(trial):
        return _settle_atomically(turn, run, flow, trial)
    return _start_sms(turn, keyword_flow)


def _start_sms(turn: Turn, flow: Flow) -> list[str]:
    with database.atomic():
        try:
            run = runs.start_run(turn.contact, flow.id, flow.version, "sms")
        except peewee.IntegrityError:  # another process started this contact's run just now
            raise RunConflict from None
        log_event("run.started", flow=flow.id, run=run.id, channel="sms")
        return _settle(turn, run, flow, engine.start(flow, turn.context(flow, run))).replies


def _resume_sms(turn: Turn, run: FlowRun, flow: Flow, text: str) -> list[str]:
    outcome = engine.resume(flow, run.state, text, turn.context(flow, run))
    return _settle_atomically(turn, run, flow, outcome)


def _settle_atomically(turn: Turn, run: FlowRun, flow: Flow, outcome: engine.Outcome) -> list[str]:
    with database.atomic():
        return _settle(turn, run, flow, outcome).replies


def _keyword_flow(turn: Turn, text: str) -> Flow | None:
    words = normalize(text).split()
    return turn.flowset.by_keyword(words[0]) if words else None


def _only_one_word(text: str) -> bool:
    return len(normalize(text).split()) == 1


def _waits_for_text(flow: Flow, run: FlowRun) -> bool:
    step = flow.steps.get((run.state or {}).get("step", ""))
    return bool(step and step.answer and step.answer.kind == "text")


def _accepted(outcome: engine.Outcome) -> bool:
    return outcome.status != "failed" and not any(event.get("type") == "answer_rejected" for event in outcome.events)


# ---- reserved words ----------------------------------------------------------------------------------------

def _stop(turn: Turn) -> list[str]:
    runs.end_runs(turn.contact, "sms", "interrupted")
    contact_store.opt_out(turn.contact)
    log_event("contact.opted_out", contact=turn.contact.id, channel=turn.channel)
    return [turn.say("stopped")]


def _join_again(turn: Turn) -> list[str]:
    """START after STOP. Someone whose very first message was STOP has not seen the notice yet: send it."""
    never_consented = turn.contact.consent_at is None
    contact_store.opt_in(turn.contact, turn.config["consent"]["version"], turn.channel)
    log_event("contact.opted_in", contact=turn.contact.id, channel=turn.channel)
    return [_notice(turn) if never_consented else turn.say("started")]


def _start_word(turn: Turn) -> list[str]:
    """START from someone already in: the first-contact notice says all, otherwise confirm."""
    return [] if turn.contact.consent_at is None else [turn.say("started")]


def _help_word(turn: Turn) -> list[str]:
    return [_help(turn)]


def _language_word(language: str) -> Callable[[Turn], list[str]]:
    def switch(turn: Turn) -> list[str]:
        runs.set_language(turn.contact, language)
        return [turn.say("language")]
    return switch


def _script_word(script: str) -> Callable[[Turn], list[str]]:
    def switch(turn: Turn) -> list[str]:
        runs.set_script(turn.contact, script)
        return [turn.say(f"script_{script}")]
    return switch


RESERVED_ACTIONS: dict[str, Callable[[Turn], list[str]]] = {
    "start": _start_word, "help": _help_word, "mn": _language_word("mn"), "en": _language_word("en"),
    "cyrl": _script_word("cyrl"), "latn": _script_word("latn"),
}


def _help(turn: Turn, unknown: bool = False) -> str:
    flows = sorted((flow for flow in turn.flowset.flows.values() if flow.keywords), key=lambda f: (f.ussd_order, f.id))
    listed = ", ".join(f"{_shown_keyword(flow, turn.language, turn.script)} - {flow.title(turn.language, turn.script)}"
                       for flow in flows)
    text = turn.say("help", keywords=listed) if listed else turn.say("help_none")
    return f"{turn.say('unknown')} {text}" if unknown else text


def _shown_keyword(flow: Flow, language: str, script: str) -> str:
    """The keyword to advertise: a Cyrillic one to Cyrillic readers, a Latin one to everyone else."""
    cyrillic = [word for word in flow.keywords if detect_script(word) == "cyrl"]
    latin = [word for word in flow.keywords if detect_script(word) == "latn"]
    if language == "mn" and script == "cyrl" and cyrillic:
        return cyrillic[0].upper()
    return (latin[0] if latin else to_latin(flow.keywords[0])).upper()


def _adopt_defaults(app: Flask, contact: Contact) -> None:
    """A contact we have never heard from, still on the model's language (mn), starts in the configured one."""
    default = app.config["GATEWAY"]["language"]["default"]
    untouched = contact.last_seen_at is None and contact.consent_at is None
    if untouched and contact.language == Contact.language.default != default:
        runs.set_language(contact, default)


def _first_contact(turn: Turn) -> list[str]:
    """The consent and privacy notice, once, on a person's first message; the notice version is recorded."""
    contact = turn.contact
    if contact.consent_at is not None or contact.opted_out_at is not None:
        return []
    contact_store.opt_in(contact, turn.config["consent"]["version"], turn.channel)
    log_event("contact.consented", contact=contact.id, channel=turn.channel, version=contact.consent_version)
    return [_notice(turn)]


def _notice(turn: Turn, key: str = "notice") -> str:
    months = max(1, round(turn.config["retention"]["message_days"] / 30.4))
    return turn.say(key, months=months)


# ---- settling an engine outcome --------------------------------------------------------------------------

def _settle(turn: Turn, run: FlowRun, flow: Flow, outcome: engine.Outcome, depth: int = 0) -> Settled:
    """Store the outcome on the run (version-checked), record results, run the completion handler, and follow
    a redirect to another flow. Call inside a transaction: a RunConflict rolls everything back."""
    expires_at = _naive_utc(outcome.wait_until) if outcome.wait_until else None
    if not runs.save_run(run, state=outcome.state, status=RUN_STATUS.get(outcome.status, "failed"),
                         expires_at=expires_at):
        raise RunConflict
    if outcome.results:
        runs.save_results(run, outcome.results)
    replies = list(outcome.replies)
    if outcome.status in ("completed", "goto"):
        replies += _complete(turn, run, flow, outcome.results)
        log_event("run.completed", flow=flow.id, run=run.id, channel=turn.channel)
    settled = Settled(replies, run, outcome.status)
    if outcome.status == "goto" and depth < MAX_GOTO_CHAIN:
        settled = _follow(turn, run, outcome.goto, replies, depth)
    return settled


def _complete(turn: Turn, run: FlowRun, flow: Flow, results: dict) -> list[str]:
    join.remember_unit(turn.app, turn.contact, results)
    handler = _registered(records.COMPLETION_HANDLERS, flow)
    if handler is None:
        return []
    return turn.localized(handler(turn.app, turn.contact, run, results) or [])


def _follow(turn: Turn, previous: FlowRun, flow_id: str | None, replies: list[str], depth: int) -> Settled:
    target = turn.flowset.get(flow_id or "")
    if target is None:
        return Settled(replies + [turn.say("unavailable")], previous, "failed")
    run = runs.start_run(turn.contact, target.id, target.version, turn.channel, session_key=previous.session_key)
    settled = _settle(turn, run, target, engine.start(target, turn.context(target, run)), depth + 1)
    return Settled(replies + settled.replies, settled.run, settled.status)


def _registered(registry: dict[str, Callable], flow: Flow) -> Callable | None:
    """What a module registered for this flow's id (most specific) or for its `records` kind."""
    return registry.get(flow.id) or registry.get(flow.records or "")


def _retrying(turn: Turn, attempt: Callable[[], T], fallback: Callable[[], T]) -> T:
    for _ in range(MAX_ATTEMPTS):
        try:
            return attempt()
        except RunConflict:
            turn.contact = Contact.get_by_id(turn.contact.id)
    log_event("conversation.conflict", logging.WARNING, contact=turn.contact.id, channel=turn.channel)
    return fallback()


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _asks_admin_unit(flow: Flow) -> bool:
    return any(step.answer and step.answer.kind == "admin_unit" for step in flow.steps.values())


def admin_catalog(app: Flask) -> AdminCatalog:
    """The admin units valid today, built once and rebuilt when the AdminUnit rows change (or the day does)."""
    today = local_today(app)
    stamp = runs.admin_units_stamp(today)
    cached = app.extensions.get("gateway.admin_catalog")
    if cached is None or cached[0] != stamp:
        cached = (stamp, AdminCatalog(runs.current_admin_units(today)))
        app.extensions["gateway.admin_catalog"] = cached
    return cached[1]


# ---- USSD ----------------------------------------------------------------------------------------------------

def handle_ussd(app: Flask, contact: Contact, inbound_row: Message | None, hop: UssdHop) -> UssdScreen:
    """The screen for one USSD hop. `hop.text` holds every input of the session joined by `*`: only the inputs
    after those the session already handled are new, and a redelivered hop gets the screen it got before."""
    _adopt_defaults(app, contact)
    runs.note_inbound(contact, None)
    turn = Turn(app, contact, "ussd")

    def attempt() -> UssdScreen:
        with database.atomic():
            return _ussd_hop(turn, hop)

    def fallback() -> UssdScreen:
        session = runs.ussd_session(hop.session_id)
        if session is not None and session.screen is not None:
            return UssdScreen(session.screen, session.screen_end)
        return UssdScreen(turn.say("error"), True)

    return _retrying(turn, attempt, fallback)


def _ussd_hop(turn: Turn, hop: UssdHop) -> UssdScreen:
    session, created = runs.open_ussd_session(hop.session_id, turn.contact, hop.channel)
    inputs = hop.inputs
    if not created and len(inputs) <= session.consumed and session.screen is not None:
        return UssdScreen(session.screen, session.screen_end)  # a redelivered (or late, older) hop
    screen = _ussd_open(turn, session) if created else UssdScreen(session.screen or "", session.screen_end)
    for value in inputs[0 if created else session.consumed:]:
        if session.stage == "ended":
            break  # a telco's extra digits after the end change nothing
        screen = _ussd_input(turn, session, value.strip())
    session.consumed = len(inputs)
    session.screen, session.screen_end = screen.text, screen.end
    if not runs.save_ussd_session(session):
        raise RunConflict
    return screen


def _ussd_open(turn: Turn, session: runs.UssdSession) -> UssdScreen:
    contact = turn.contact
    if contact.opted_out_at is not None:
        session.stage = "opted_out"
        return UssdScreen(turn.say("ussd_opted_out"), False)
    if _first_contact(turn):
        session.stage = "notice"
        return UssdScreen(f"{_notice(turn, 'notice_ussd')}\n{turn.say('continue')}", False)
    return _ussd_entry(turn, session)


def _ussd_entry(turn: Turn, session: runs.UssdSession) -> UssdScreen:
    """The main menu, or straight into the flow when only one is offered on USSD."""
    flows = turn.flowset.ussd_flows()
    if not flows:
        return _ussd_end(session, turn.say("no_services"))
    if len(flows) == 1:
        return _ussd_start(turn, session, flows[0])
    session.stage, session.run, session.page = "menu", None, 0
    return _menu(turn, session, flows)


def _menu(turn: Turn, session: runs.UssdSession, flows: list[Flow], invalid: bool = False) -> UssdScreen:
    """The main menu: the USSD flows, then the language switch; paged with "99 more" when it does not fit."""
    head = ([turn.say("invalid")] if invalid else []) + [turn.say("menu")]
    items = [(number, flow.title(turn.language, turn.script)) for number, flow in enumerate(flows, 1)]
    items.append((len(flows) + 1, turn.say("menu_language")))
    pages = ussd_pages(head, items, turn.language, turn.script)
    session.page = 0 if invalid else min(max(session.page, 0), len(pages) - 1)
    return UssdScreen(pages[session.page], False)


def _ussd_input(turn: Turn, session: runs.UssdSession, value: str) -> UssdScreen:
    if reserved_word(value) == "stop":
        if session.run_id:
            runs.end_run(session.run, "interrupted")
        _stop(turn)
        return _ussd_end(session, turn.say("stopped"))
    if session.stage == "opted_out":
        if value != "1":
            return _ussd_end(session, turn.say("goodbye"))
        _join_again(turn)
        return _ussd_entry(turn, session)
    if session.stage == "notice":
        return _ussd_entry(turn, session)
    if session.stage == "menu":
        return _ussd_menu_choice(turn, session, value)
    return _ussd_resume(turn, session, value)


def _ussd_menu_choice(turn: Turn, session: runs.UssdSession, value: str) -> UssdScreen:
    flows = turn.flowset.ussd_flows()
    number = int(value) if value.isdigit() and len(value) <= 3 else None
    if value in (MORE_NUMBER, "0", "00"):  # next page; back a page (or stay); home
        session.page = {MORE_NUMBER: session.page + 1, "0": session.page - 1}.get(value, 0)
        return _menu(turn, session, flows)
    if number is not None and 1 <= number <= len(flows):
        return _ussd_start(turn, session, flows[number - 1])
    if number == len(flows) + 1:
        runs.set_language(turn.contact, "en" if turn.language == "mn" else "mn")
        return _menu(turn, session, flows)
    return _menu(turn, session, flows, invalid=True)


def _ussd_start(turn: Turn, session: runs.UssdSession, flow: Flow) -> UssdScreen:
    run = runs.start_run(turn.contact, flow.id, flow.version, "ussd", session_key=session.session_key)
    log_event("run.started", flow=flow.id, run=run.id, channel="ussd")
    return _ussd_after(turn, session, _settle(turn, run, flow, engine.start(flow, turn.context(flow, run))))


def _ussd_resume(turn: Turn, session: runs.UssdSession, value: str) -> UssdScreen:
    run = runs.get_run(session.run_id) if session.run_id else None
    flow = turn.flowset.get(run.flow_id) if run else None
    if run is None or run.status != "active" or flow is None:
        return _ussd_end(session, turn.say("unavailable"))
    outcome = engine.resume(flow, run.state, value, turn.context(flow, run))
    return _ussd_after(turn, session, _settle(turn, run, flow, outcome))


def _ussd_after(turn: Turn, session: runs.UssdSession, settled: Settled) -> UssdScreen:
    """The screen after the engine moved: a question (CON), the main menu after `00`, or the last screen (END)."""
    text = "\n".join(reply for reply in settled.replies if reply)
    if settled.status == "waiting":
        session.stage, session.run = "run", settled.run
        return UssdScreen(text, False)
    if settled.status == "home":
        flows = turn.flowset.ussd_flows()
        if len(flows) == 1:
            return _ussd_start(turn, session, flows[0])
        session.stage, session.run, session.page = "menu", None, 0
        return _menu(turn, session, flows)
    return _ussd_end(session, text or turn.say("goodbye"))


def _ussd_end(session: runs.UssdSession, text: str) -> UssdScreen:
    session.stage = "ended"
    return UssdScreen(text, True)
