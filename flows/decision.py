"""The conversation decision: snapshots, an input, the time and the flows in; replies and typed effects out.

This is the whole of how the gateway talks (goflow's idea: the engine emits events, the caller applies them):
STOP and START, the first-contact notice, reserved words, which run a message belongs to, keywords typed in the
middle of a flow, the USSD main menu, `0`/`00`/`99`, and what finished runs mean. It imports no Flask, no
database and no channel: `gateway.conversation` reads the snapshots, calls `decide_*`, and applies the effects
in one transaction under the per-contact lock.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from flows import engine
from flows.answers import Accepted, parse_choice
from flows.catalog import AdminCatalog
from flows.checks import BUILT_IN_WORDS
from flows.definition import Choice, Flow, Text
from flows.effects import (
    Effect,
    EndSmsRuns,
    NewRun,
    NoteInbound,
    OptIn,
    OptOut,
    ReserveReference,
    RunRef,
    SaveResults,
    SaveRun,
    SaveSession,
    SetLanguage,
    SetScript,
    StartRun,
)
from flows.lexicon import Lexicon
from flows.loader import FlowSet
from flows.records import record_effects
from flows.templates import render
from flows.text import detect_script, normalize, same_word, to_latin

RUN_STATUS = {"waiting": "active", "completed": "completed", "goto": "completed", "home": "interrupted",
              "failed": "failed", "expired": "expired"}
MAX_GOTO_CHAIN = 5  # flows that redirect to flows: a cycle the validator missed still ends
REFERENCE = "[[ref]]"  # stands for a complaint reference until the gateway reserves one
_SWITCH_CHOICES = (Choice("keep", Text("Үргэлжлүүлэх", "Carry on", "Urgeljluuleh"), 1, ("keep",)),
                   Choice("switch", Text("Эхлэх", "Start", "Ehleh"), 2, ("switch",)))


# ---- inputs -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    """The contact, as the decision sees it: no number, only what shapes the conversation."""

    id: int
    language: str | None = None  # mn | en; None before we ever heard from them
    script: str | None = None  # chosen with KIRILL / LATIN
    last_script: str | None = None  # what their last SMS was written in
    consented: bool = False
    opted_out: bool = False
    unit: str | None = None  # admin-unit code
    unit_id: int | None = None  # the gateway's row id for it (the data providers look rounds up by it)


@dataclass(frozen=True)
class Run:
    id: int
    flow_id: str
    state: dict
    channel: str
    session_key: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Session:
    """A USSD session the gateway already answered."""

    key: str
    consumed: int  # inputs of the `*`-joined history already handled
    screen: str | None
    end: bool
    run: Run | None = None  # the run waiting for the next input


@dataclass(frozen=True)
class Settings:
    default_language: str = "mn"
    sms_script: str = "latn"
    ussd_script: str = "latn"
    consent_version: str = "1"
    retention_months: int = 12


class Assets(Protocol):
    """Data the decision may read, looked up only when a flow needs it (goflow's assets)."""

    def flow_data(self, flow: Flow, person: Person) -> Mapping[str, Any]: ...

    def units(self) -> AdminCatalog | None: ...


@dataclass(frozen=True)
class World:
    person: Person
    now: datetime  # aware, in the local zone
    flows: FlowSet
    assets: Assets
    settings: Settings = field(default_factory=Settings)
    lexicon: Lexicon | None = None  # None: the bundled words alone


# ---- outputs ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Screen:
    text: str
    end: bool  # True: END (the session closes); False: CON (waits for input)


@dataclass
class Decision:
    replies: list[str] = field(default_factory=list)  # SMS texts to send, in order
    effects: list[Effect] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)  # the engine's events, each with its flow
    screen: Screen | None = None  # USSD: what this hop shows
    replayed: bool = False  # USSD: a redelivered hop, answered as before; nothing to apply

    @property
    def failed(self) -> bool:
        return any(event.get("type") == "run_failed" for event in self.events)


# ---- entry points -------------------------------------------------------------------------------------------

def decide_sms(world: World, text: str, run: Run | None) -> Decision:
    """The answer to one SMS; `run` is the person's active SMS run, if any."""
    talk = _Talk(world, "sms")
    script = detect_script(text)
    talk.effect(NoteInbound(script))
    if script:  # answer in the script of this message (digits alone say nothing)
        talk.person = replace(talk.person, last_script=script)
    talk.sms(text, run)
    return talk.decision()


def decide_ussd(world: World, session_key: str, inputs: list[str], session: Session | None) -> Decision:
    """The screen for one USSD hop. `inputs` is the session's whole history; a redelivered hop gets its screen."""
    if session is not None and len(inputs) <= session.consumed and session.screen is not None:
        return Decision(screen=Screen(session.screen, session.end), replayed=True)
    talk = _Talk(world, "ussd")
    if session is None:
        talk.effect(NoteInbound(None))
        screen, first = talk.open_session(session_key), 0
    else:
        talk.adopt(session.run)
        screen, first = Screen(session.screen or "", session.end), session.consumed
    for value in inputs[first:]:
        if screen.end:
            break  # a telco's extra digits after the end change nothing
        screen = talk.ussd_input(value.strip())
    talk.effect(SaveSession(session_key, len(inputs), screen.text, screen.end, talk.waiting_run(), session is None))
    return talk.decision(screen)


def decide_start(world: World, flow_id: str, run: Run | None) -> Decision:
    """Start `flow_id` on our initiative (a meeting notice awaiting an RSVP, a complaint follow-up). The
    person's active SMS run is interrupted. Nothing for people who opted out or never consented."""
    talk = _Talk(world, "sms")
    flow = world.flows.get(flow_id)
    if flow is None or not world.person.consented or world.person.opted_out:
        return talk.decision()
    if run is not None:
        talk.effect(SaveRun(run.id, run.state, "interrupted"))
    talk.start(flow)
    return talk.decision()


def decide_expiry(world: World, run: Run) -> Decision:
    """The run's wait ran out: it ends `expired` with the answers it had; nothing is sent or reserved."""
    talk = _Talk(world, "sms")
    flow = world.flows.get(run.flow_id)
    if flow is None:
        talk.effect(SaveRun(run.id, run.state, "expired"))
        return talk.decision()
    language, script = talk.style()
    outcome = engine.expire(flow, run.state, engine.Context("sms", language, script, world.now,
                                                          lexicon=world.lexicon))
    talk.effect(SaveRun(run.id, outcome.state, RUN_STATUS.get(outcome.status, "expired")))
    return talk.decision()


def is_stop(text: str) -> bool:
    return _built_in(text) == "stop"


def _built_in(text: str) -> str | None:
    if text.isdigit():  # most USSD input: a menu number is never STOP or START
        return None
    words = normalize(text).split()
    if len(words) != 1:
        return None
    for name, keys in _built_in_keys():
        if words[0] in keys or any(len(key) >= 4 and same_word(words[0], key) for key in keys):
            return name
    return None


@lru_cache(maxsize=1)
def _built_in_keys() -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple((name, frozenset(normalize(word) for word in words)) for name, words in BUILT_IN_WORDS.items())


# ---- the conversation ---------------------------------------------------------------------------------------

@dataclass
class _Current:
    """The run being driven in this decision."""

    ref: RunRef
    flow: Flow
    state: dict
    status: str  # the engine's status
    session_key: str | None = None
    expires_at: datetime | None = None


class _Talk:
    def __init__(self, world: World, channel: str) -> None:
        self.world, self.channel, self.flows = world, channel, world.flows
        self.person = world.person
        self.replies: list[str] = []
        self.effects: list[Effect] = []
        self.events: list[dict] = []
        self.current: _Current | None = None
        self.started = 0
        if world.person.language is None:  # never heard from: the configured language
            self.person = replace(self.person, language=world.settings.default_language)
            self.effect(SetLanguage(world.settings.default_language))

    # ---- plumbing ---------------------------------------------------------------------------------------

    def effect(self, effect: Effect) -> None:
        self.effects.append(effect)

    def decision(self, screen: Screen | None = None) -> Decision:
        return Decision(self.replies, _compact(self.effects), self.events, screen)

    def style(self) -> tuple[str, str]:
        """(language, script) to answer in: their choice; else (SMS) the script they last wrote in; else config."""
        settings, person = self.world.settings, self.person
        language = person.language if person.language in ("mn", "en") else settings.default_language
        if person.script in ("cyrl", "latn"):
            return language, person.script
        if self.channel == "ussd":
            return language, settings.ussd_script
        return language, person.last_script or settings.sms_script

    def say(self, key: str, **values: Any) -> str:
        language, script = self.style()
        text = self.flows.messages[key]
        rendered = render(text.source(language, script), {"lang": language, **values})
        return to_latin(rendered) if language == "mn" and script == "latn" else rendered

    def context(self, flow: Flow, extra: Mapping[str, Any] | None = None) -> engine.Context:
        language, script = self.style()
        data = self.role_data(flow) if flow.role else dict(self.world.assets.flow_data(flow, self.person))
        if "ref" in flow.uses and "ref" not in data:
            data["ref"] = REFERENCE
        data.update(extra or {})
        units = self.world.assets.units() if _asks_admin_unit(flow) else None
        return engine.Context(self.channel, language, script, self.world.now, data, units, self.world.lexicon)

    def role_data(self, flow: Flow) -> dict[str, Any]:
        language, script = self.style()
        if flow.role == "consent":
            return {"months": self.world.settings.retention_months}
        if flow.role == "ussd_menu":
            return {"services": [{"key": service.id, "mn": service.title("mn", "cyrl"),
                                  "en": service.title("en", "latn"), "latn": service.title("mn", "latn")}
                                 for service in self.flows.ussd_flows()]}
        if flow.role == "help":
            return {"keywords": _keyword_list(self.flows, language, script)}
        return {}

    # ---- runs -------------------------------------------------------------------------------------------

    def start(self, flow: Flow, session_key: str | None = None, extra: Mapping[str, Any] | None = None,
              depth: int = 0) -> str:
        self.started += 1
        ref = NewRun(self.started)
        self.effect(StartRun(ref, flow.id, flow.version, self.channel, session_key))
        self.current = _Current(ref, flow, {}, "waiting", session_key)
        return self.settle(engine.start(flow, self.context(flow, extra)), depth)

    def resume(self, text: str) -> str:
        current = self.current
        return self.settle(engine.resume(current.flow, current.state, text, self.context(current.flow)))

    def settle(self, outcome: engine.Outcome, depth: int = 0) -> str:
        """Record the engine's outcome as effects; follow a hand-over to another flow. Returns the last status."""
        current = self.current
        current.state, current.status = outcome.state, outcome.status
        current.expires_at = outcome.wait_until if outcome.status == "waiting" else None
        self.effect(SaveRun(current.ref, outcome.state, RUN_STATUS.get(outcome.status, "failed"),
                            current.expires_at))
        saved = {event["name"] for event in outcome.events if event.get("type") == "result_saved"}
        if saved & set(outcome.results) and current.flow.role is None:  # a menu choice is not worth keeping
            self.effect(SaveResults(current.ref, {name: outcome.results[name] for name in saved
                                                  if name in outcome.results}))
        self.apply_actions(outcome.events)
        self.events += [{**event, "flow": current.flow.id} for event in outcome.events]
        self.replies += outcome.replies
        if any(REFERENCE in reply for reply in outcome.replies):
            self.effect(ReserveReference(current.ref, REFERENCE))
        if outcome.status in ("completed", "goto"):
            self.effects += record_effects(current.flow.records, current.ref, outcome.results)
        if outcome.status == "goto" and depth < MAX_GOTO_CHAIN:
            return self.follow(outcome.goto, depth)
        if outcome.status == "completed" and current.flow.reopen and self.channel == "sms":
            self.listen_again(current.flow)
        return outcome.status

    def listen_again(self, flow: Flow) -> None:
        """A new run waits at the start, unasked (the question was just answered): a later answer replaces it."""
        self.started += 1
        ref = NewRun(self.started)
        self.effect(StartRun(ref, flow.id, flow.version, self.channel))
        outcome = engine.start(flow, self.context(flow))
        self.current = _Current(ref, flow, outcome.state, outcome.status, expires_at=outcome.wait_until)
        self.effect(SaveRun(ref, outcome.state, RUN_STATUS.get(outcome.status, "failed"), outcome.wait_until))

    def follow(self, flow_id: str | None, depth: int) -> str:
        target = self.flows.get(flow_id or "")
        if target is None:
            self.replies.append(self.say("no_services" if self.current.flow.role == "ussd_menu" else "unavailable"))
            return "failed"
        return self.start(target, self.current.session_key, depth=depth + 1)

    def apply_actions(self, events: list[dict]) -> None:
        for event in events:
            kind = event.get("type")
            if kind == "language_set":
                self.person = replace(self.person, language=event["language"])
                self.effect(SetLanguage(event["language"]))
            elif kind == "script_set":
                self.person = replace(self.person, script=event["script"])
                self.effect(SetScript(event["script"]))
            elif kind == "opted_in":
                self.person = replace(self.person, consented=True, opted_out=False)
                self.effect(OptIn(self.world.settings.consent_version, self.channel))

    def adopt(self, run: Run | None) -> bool:
        """Drive a stored run; False when there is none, or its flow is gone (it ends `failed`)."""
        self.current = None
        if run is None:
            return False
        flow = self.flows.get(run.flow_id)
        if flow is None:
            self.effect(SaveRun(run.id, run.state, "failed"))
            return False
        self.current = _Current(run.id, flow, run.state, run.state.get("status", "waiting"), run.session_key,
                                run.expires_at)
        return True

    def waiting_run(self) -> RunRef | None:
        current = self.current
        return current.ref if current is not None and current.status == "waiting" else None

    # ---- SMS ----------------------------------------------------------------------------------------------

    def sms(self, text: str, run: Run | None) -> None:
        word, reserved = _built_in(text), self.flows.reserved(text)
        if word == "stop":
            return self.stop()
        if self.person.opted_out:
            return self.while_opted_out(word, reserved)
        if word == "start":
            if self.person.consented:
                self.replies.append(self.say("started"))
                return None
            return self.first_contact()
        self.first_contact()
        if reserved is not None:  # HELP, MN, LATIN…: answered beside the current run, which carries on
            self.start(reserved[0], extra={"word": reserved[1], "unknown": False})
            return None
        return self.route(text, run)

    def stop(self) -> None:
        self.effect(EndSmsRuns("interrupted"))
        if self.current is not None and self.channel == "ussd":
            self.effect(SaveRun(self.current.ref, self.current.state, "interrupted"))
            self.current.status = "interrupted"
        self.effect(OptOut())
        self.person = replace(self.person, opted_out=True)
        self.replies.append(self.say("stopped_ussd" if self.channel == "ussd" else "stopped"))

    def while_opted_out(self, word: str | None, reserved: tuple[Flow, str] | None) -> None:
        """After STOP only START gets an answer (and HELP, which says how to come back)."""
        if word == "start":
            if not self.person.consented:  # their very first message was STOP: they have not seen the notice
                self.start_role("consent")
                return
            self.effect(OptIn(self.world.settings.consent_version, self.channel))
            self.person = replace(self.person, opted_out=False)
            self.replies.append(self.say("started"))
        elif reserved is not None and reserved[0].role == "help":
            self.replies.append(self.say("opted_out_help"))

    def first_contact(self) -> None:
        """The consent and privacy notice, once, on a person's first message."""
        if not self.person.consented:
            self.start_role("consent")

    def start_role(self, role: str, **extra: Any) -> str | None:
        flow = self.flows.by_role(role)
        return self.start(flow, extra=extra) if flow is not None else None

    def route(self, text: str, run: Run | None) -> None:
        """Which run the message belongs to: the waiting one, a new one for a keyword, or none (help)."""
        has_run = self.adopt(run)
        if has_run and self.current.state.get("switch"):
            return self.answer_switch(text)
        target = self.keyword_flow(text)
        if not has_run:
            if target is not None:
                self.start(target)
            else:
                self.start_role("help", unknown=True, word="")
            return None
        flow = self.current.flow
        if target is None or (not _one_word(text) and (target.id == flow.id or self.waits_for_text())):
            self.resume(text)
        elif self.trial_accepts(text):  # a keyword that answers the question (a menu of other flows' names)
            self.resume(text)
        elif not self.current.state.get("results"):  # nothing to lose yet
            self.interrupt()
            self.start(target)
        else:
            self.ask_switch(target, text)
        return None

    def keyword_flow(self, text: str) -> Flow | None:
        words = normalize(text).split()
        return self.flows.by_keyword(words[0]) if words else None

    def waits_for_text(self) -> bool:
        step = self.current.flow.steps.get(self.current.state.get("step", ""))
        return bool(step and step.answer and step.answer.kind == "text")

    def trial_accepts(self, text: str) -> bool:
        """A keyword that is also a valid answer to the question asked (a menu of other flows' names)."""
        current = self.current
        step = current.flow.steps.get(current.state.get("step", ""))
        trial = engine.resume(current.flow, current.state, text, self.context(current.flow))
        catch_all = step is not None and step.answer is not None and step.answer.other_key
        saved = [event for event in trial.events if event.get("type") == "result_saved"]
        return bool(saved) and trial.status != "failed" and not (
            catch_all and any(event.get("value") == step.answer.other_key for event in saved))

    def ask_switch(self, target: Flow, text: str) -> None:
        """Answers would be lost: ask first, and keep what was typed in case they carry on."""
        current = self.current
        state = {**current.state, "switch": {"flow": target.id, "text": text[:480]}}
        self.effect(SaveRun(current.ref, state, "active", current.expires_at))
        language, script = self.style()
        key = "restart" if target.id == current.flow.id else "switch"
        self.replies.append(self.say(key, current=current.flow.title(language, script),
                                     target=target.title(language, script)))

    def answer_switch(self, text: str) -> None:
        current = self.current
        pending = current.state["switch"]
        current.state = {key: value for key, value in current.state.items() if key != "switch"}
        parsed = parse_choice(text, _SWITCH_CHOICES)
        choice = parsed.value if isinstance(parsed, Accepted) else None
        target = self.flows.get(pending.get("flow", ""))
        if choice is not None and choice.key == "switch" and target is not None:
            self.interrupt()
            self.start(target)
        elif choice is not None:  # carry on: what they typed is the answer if it fits, else the question again
            if self.trial_accepts(pending.get("text", "")):
                self.resume(pending["text"])
            else:
                self.settle(engine.repeat(current.flow, current.state, self.context(current.flow)))
        else:
            self.resume(text)

    def interrupt(self) -> None:
        current = self.current
        self.effect(SaveRun(current.ref, current.state, "interrupted"))
        current.status = "interrupted"

    # ---- USSD ---------------------------------------------------------------------------------------------

    def open_session(self, session_key: str) -> Screen:
        if self.person.opted_out:
            role = "rejoin"
        elif not self.person.consented:
            role = "consent"
        else:
            role = "ussd_menu"
        mark = len(self.replies)
        flow = self.flows.by_role(role)
        if flow is None:
            return Screen(self.say("unavailable"), True)
        return self.ussd_screen(self.start(flow, session_key), mark)

    def ussd_input(self, value: str) -> Screen:
        mark = len(self.replies)
        if is_stop(value):
            self.stop()
            return Screen(self.replies[-1], True)
        current = self.current
        if current is None or current.status != "waiting":
            return Screen(self.say("unavailable"), True)
        previous = current.state
        status = self.resume(value)
        if status == "home" and current.flow.role == "ussd_menu":  # 0 on the menu's first page: stay there
            self.current = replace(current, state=previous)
            self.effect(SaveRun(current.ref, previous, "active"))
            self.replies += engine.repeat(current.flow, previous, self.context(current.flow)).replies
            self.current.status = "waiting"
            return Screen("\n".join(self.replies[mark:]), False)
        return self.ussd_screen(status, mark)

    def ussd_screen(self, status: str, mark: int) -> Screen:
        """CON with the question, the main menu after `00`, or the last screen (END)."""
        if status == "home":
            menu = self.flows.by_role("ussd_menu")
            if menu is not None:
                mark = len(self.replies)
                status = self.start(menu, self.current.session_key)
        text = "\n".join(reply for reply in self.replies[mark:] if reply)
        if status == "waiting":
            return Screen(text, False)
        return Screen(text or self.say("goodbye"), True)


# ---- helpers --------------------------------------------------------------------------------------------------

def _one_word(text: str) -> bool:
    return len(normalize(text).split()) == 1


def _asks_admin_unit(flow: Flow) -> bool:
    return any(step.answer and step.answer.kind == "admin_unit" for step in flow.steps.values())


def _keyword_list(flows: FlowSet, language: str, script: str) -> str:
    listed = sorted((flow for flow in flows.services() if flow.keywords), key=lambda f: (f.ussd_order, f.id))
    return ", ".join(f"{_shown_keyword(flow, language, script)} - {flow.title(language, script)}" for flow in listed)


def _shown_keyword(flow: Flow, language: str, script: str) -> str:
    """The keyword to advertise: Mongolian in the reader's script (ГОМДОЛ, GOMDOL), an English one to English
    readers (COMPLAINT) when the flow has one."""
    cyrillic = [word for word in flow.keywords if detect_script(word) == "cyrl"]
    latin = [word for word in flow.keywords if detect_script(word) == "latn"]
    spoken = {normalize(word) for word in cyrillic}
    mongolian = [word for word in latin if normalize(word) in spoken]
    english = [word for word in latin if normalize(word) not in spoken]
    if language == "mn" and script == "cyrl" and cyrillic:
        return cyrillic[0].upper()
    preferred = english if language == "en" else mongolian
    return ((preferred or latin or [to_latin(flow.keywords[0])])[0]).upper()


def _compact(effects: list[Effect]) -> list[Effect]:
    """Drop what need not be stored: runs that started and ended within this decision without saving or
    recording anything (HELP, the SMS notice, a menu passed through), and earlier saves of the same run."""
    kept_runs = {effect.run for effect in effects if not isinstance(effect, StartRun | SaveRun)
                 and isinstance(getattr(effect, "run", None), NewRun)}
    last_save: dict[RunRef, SaveRun] = {}
    for effect in effects:
        if isinstance(effect, SaveRun):
            last_save[effect.run] = effect
    kept_runs |= {ref for ref, save in last_save.items() if isinstance(ref, NewRun) and save.status == "active"}
    compacted: list[Effect] = []
    for effect in effects:
        run = getattr(effect, "run", None)
        if isinstance(effect, StartRun | SaveRun) and isinstance(run, NewRun) and run not in kept_runs:
            continue
        if isinstance(effect, SaveRun) and last_save[run] is not effect:
            continue
        compacted.append(effect)
    return compacted
