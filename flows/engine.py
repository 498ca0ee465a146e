"""Run a compiled flow: (flow, state, input, ctx) → Outcome. Pure: no I/O, no clock (time is ``ctx.now``).

The state is plain JSON the gateway stores between messages; results and events come back as data, and
the gateway decides what to store or send. Nothing here raises on user input: any failure ends the run
politely with status ``failed``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from flows import answers
from flows.answers import Rejected
from flows.catalog import MAX_CANDIDATES, AdminCatalog, AdminUnit
from flows.conditions import matches
from flows.definition import Choice, Flow, Step, Text
from flows.lexicon import Lexicon, default_lexicon
from flows.messages import MESSAGES, MORE_NUMBER, SKIP_UNIT_NUMBER
from flows.picks import TOO_MANY_CHOICES, parse_picks
from flows.screens import sms_pages, ussd_pages
from flows.templates import is_template, localize, pick_language, render
from flows.text import to_latin

log = logging.getLogger(__name__)

Status = Literal["waiting", "completed", "failed", "expired", "home", "goto"]
STATE_VERSION = 1
ENGINE_VARS = frozenset({"channel", "lang"})  # every flow may test these
MAX_STEPS_PER_CALL = 200  # a guard against loops the validator could not see (conditions on data)
MAX_BACK_DEPTH = 30
MAX_SAVED_TEXT = 1000


@dataclass(frozen=True)
class Context:
    channel: Literal["sms", "ussd"]
    language: Literal["mn", "en"]
    script: Literal["cyrl", "latn"]
    now: datetime
    vars: Mapping[str, Any] = field(default_factory=dict)
    units: AdminCatalog | None = None
    lexicon: Lexicon | None = None  # None = the bundled flows/lexicon.yaml alone


@dataclass
class Outcome:
    replies: list[str]
    state: dict
    status: Status
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    goto: str | None = None
    wait_until: datetime | None = None


def start(flow: Flow, ctx: Context) -> Outcome:
    """Begin a run at the flow's start step."""
    state = {"v": STATE_VERSION, "flow": flow.id, "flow_version": flow.version, "status": "waiting",
             "step": flow.start, "results": {}, "retries": 0, "page": 0, "item": 0, "unit": None, "back": []}
    return _safely(flow, state, ctx, lambda run: run.begin())


def resume(flow: Flow, state: dict, text: str, ctx: Context) -> Outcome:
    """Continue a waiting run with the person's reply."""
    return _safely(flow, state, ctx, lambda run: run.answer(text if isinstance(text, str) else ""))


def repeat(flow: Flow, state: dict, ctx: Context) -> Outcome:
    """Ask the waiting question again, changing nothing (after the person chose to carry on)."""
    return _safely(flow, state, ctx, lambda run: run.repeat())


def expire(flow: Flow, state: dict, ctx: Context) -> Outcome:
    """The wait timed out: end a waiting run without sending anything (a finished run is left as it is)."""
    return _safely(flow, state, ctx, lambda run: run.expire())


def _safely(flow: Flow, state: dict, ctx: Context, action) -> Outcome:
    try:
        run = _Run(flow, _checked_state(flow, state), ctx)
        action(run)
        return run.outcome()
    except ValueError as error:  # a state we cannot use: stale, from another flow, or damaged
        log.warning("flow %s: %s", getattr(flow, "id", "?"), error)
    except Exception:  # the contract is "never raise on any input": log it and end politely
        log.exception("flow %s failed", getattr(flow, "id", "?"))
    return _broken_outcome(state, ctx)


STATUSES = ("waiting", "completed", "failed", "expired", "home", "goto")


def _checked_state(flow: Flow, state: Any) -> dict:
    """A clean copy of a stored state; anything that cannot be ours raises (and ends the run politely)."""
    if not isinstance(state, dict) or state.get("flow") != flow.id or state.get("step") not in flow.steps:
        raise ValueError("state does not belong to this flow")
    if state.get("status", "waiting") not in STATUSES:
        raise ValueError("unknown run status")
    fresh = dict(state)  # a shallow copy is enough: the parts the engine changes are rebuilt just below
    fresh["status"] = state.get("status", "waiting")
    results = fresh.get("results")
    fresh["results"] = {str(name): dict(result) for name, result in
                        (results.items() if isinstance(results, dict) else []) if isinstance(result, dict)}
    for counter in ("page", "item", "retries"):
        value = fresh.get(counter)
        fresh[counter] = value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
    fresh["unit"] = _checked_unit(fresh.get("unit"))
    picks = fresh.get("picks")
    fresh["picks"] = [key for key in picks if isinstance(key, str)] if isinstance(picks, list) else []
    note = fresh.pop("note", None)
    if isinstance(note, dict) and isinstance(note.get("text"), str) and isinstance(note.get("step"), str | None):
        fresh["note"] = {"text": note["text"], "step": note["step"]}
    back = fresh.get("back")
    fresh["back"] = [item for item in back if isinstance(item, dict)] if isinstance(back, list) else []
    return fresh


def _checked_unit(unit: Any) -> dict | None:
    """The admin-unit position: {"parent": code} and/or {"candidates": [code, …]} (a list to pick from)."""
    if not isinstance(unit, dict):
        return None
    checked = {}
    if isinstance(unit.get("parent"), str):
        checked["parent"] = unit["parent"]
    candidates = unit.get("candidates")
    if isinstance(candidates, list) and 0 < len(candidates) <= MAX_CANDIDATES \
            and all(isinstance(code, str) for code in candidates):
        checked["candidates"] = list(candidates)
    return checked or None


def _broken_outcome(state: Any, ctx: Context) -> Outcome:
    results = state.get("results", {}) if isinstance(state, dict) else {}
    safe_state = dict(state, status="failed") if isinstance(state, dict) else {"status": "failed"}
    try:
        reply = _plain_render(MESSAGES["error"], ctx)
    except Exception:
        reply = MESSAGES["error"].en
    event = {"type": "run_failed", "reason": "error", "at": _iso(ctx)}
    return Outcome([reply], safe_state, "failed", dict(results) if isinstance(results, dict) else {}, [event])


def _plain_render(text: Text, ctx: Context,
                  values: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None) -> str:
    """A text for the reader; `values` (or a function giving them) are computed only for a template."""
    source = text.source(ctx.language, ctx.script)
    if is_template(source):
        values = values() if callable(values) else values
        source = render(source, {"lang": ctx.language, "script": ctx.script, "channel": ctx.channel,
                                 **(values or {})})
    return _latin(source) if ctx.language == "mn" and ctx.script == "latn" else source


@lru_cache(maxsize=4096)
def _latin(text: str) -> str:
    return to_latin(text)


def _iso(ctx: Context) -> str | None:
    try:
        return ctx.now.isoformat()
    except Exception:
        return None


class _Run:
    """One call's worth of work on a run: walk steps, collect replies, results and events."""

    def __init__(self, flow: Flow, state: dict, ctx: Context) -> None:
        self.flow, self.state, self.ctx = flow, state, ctx
        self.lexicon = ctx.lexicon or default_lexicon()
        self.at = _iso(ctx)  # every event of one call happens at the context's time
        self.replies: list[str] = []
        self.events: list[dict] = []
        self.goto: str | None = None
        self.localized: dict[tuple, tuple[Any, Any]] = {}  # (id, language, script) → (object, its template form)

    # ---- entry points ----------------------------------------------------------------------------------

    def begin(self) -> None:
        self.event("run_started", flow=self.flow.id, version=self.flow.version)
        self.walk(self.flow.start)

    def answer(self, text: str) -> None:
        if self.state.get("status") != "waiting":
            return
        step = self.flow.steps[self.state["step"]]
        if self.state["picks"] and text.strip() == "0":  # USSD, several choices one at a time: "0" = done
            return self.move_on(step)
        if self.ctx.channel == "ussd" and self.navigate(step, text.strip()):
            return
        if self.ctx.channel == "sms" and self.next_sms_page(step, text.strip()):
            return
        self.accept_or_reject(step, text)

    def repeat(self) -> None:
        if self.state.get("status") == "waiting":
            self.show(self.flow.steps[self.state["step"]], "question_repeated")

    def expire(self) -> None:
        if self.state.get("status") == "waiting":
            self.finish("expired", "run_expired")

    def finish(self, status: Status, event_type: str, **data: Any) -> None:
        self.state["status"] = status
        self.event(event_type, **data)

    # ---- walking steps ---------------------------------------------------------------------------------

    def walk(self, step_id: str | None) -> None:
        """Run steps until one waits for an answer or the run ends."""
        for _ in range(MAX_STEPS_PER_CALL):
            step = self.flow.steps.get(step_id or "")
            if step is None:
                return self.finish("completed", "run_completed")
            self.state.update(step=step.id, retries=0, page=0, item=0, unit=None, picks=[])
            if (self.state.get("note") or {}).get("step") not in (None, step.id):
                del self.state["note"]  # it opened the previous question's screen: done
            self.act(step)
            waits = bool(step.answer) and self.needs_answer(step)
            if step.say and not waits:
                self.replies.append(self.text(step.say))  # a waiting step's say is part of its question
            if waits:
                return self.wait(step)
            if step.leaves_flow or step.end:
                return self.move_on(step)
            step_id = self.next_step(step)
        self.fail("too_many_steps")

    def move_on(self, step: Step) -> None:
        """Leave a step: to another flow, to the end, or to the next step."""
        if step.leaves_flow:
            self.goto = step.goto_flow or str(self.lookup(step.goto_flow_from) or "")
            return self.finish("goto", "flow_redirected", flow=self.goto)
        if step.end:
            return self.finish("completed", "run_completed")
        self.walk(self.next_step(step))

    def act(self, step: Step) -> None:
        """A step's actions: the gateway applies them (as effects); later texts already follow them."""
        for name, value in step.do:
            if name == "set_language":
                language = ("en" if self.ctx.language == "mn" else "mn") if value == "toggle" else value
                self.ctx = replace(self.ctx, language=language)
                self.event("language_set", language=language)
            elif name == "set_script":
                self.ctx = replace(self.ctx, script=value)
                self.event("script_set", script=value)
            else:
                self.event("opted_in")

    def needs_answer(self, step: Step) -> bool:
        """False when the answer is already known: one open round, an empty list, or no admin units."""
        if step.answer.choices_from:
            items = self.items(step)
            if len(items) == 1 and step.save:
                self.save(step, step.save, str(items[0].get("key")), str(items[0].get("key")))
                return False
            return len(items) > 1
        if step.foreach:
            return bool(self.foreach_items(step))
        if step.answer.kind == "admin_unit":
            return self.ctx.units is not None and bool(self.ctx.units.top_level())
        return True

    def next_step(self, step: Step) -> str | None:
        for branch in step.next:
            if branch.condition is None or matches(branch.condition, self.lookup):
                return branch.goto
        return None

    def wait(self, step: Step) -> None:
        if self.state.get("note") and self.state["note"]["step"] is None:
            self.state["note"]["step"] = step.id
        self.state["status"] = "waiting"
        self.replies.append(self.screen(step))
        self.event("wait_started", step=step.id)

    # ---- answers ---------------------------------------------------------------------------------------

    def accept_or_reject(self, step: Step, text: str) -> None:
        snapshot = self.snapshot()
        accepted = self.take(step, text)
        if isinstance(accepted, Rejected):
            return self.reject(step, accepted.reason)
        if self.ctx.channel == "ussd":
            self.state["back"] = (self.state["back"] + [snapshot])[-MAX_BACK_DEPTH:]
        if accepted == "stay":
            self.state.update(retries=0, page=0)
            return self.wait(step)
        self.move_on(step)

    def take(self, step: Step, text: str) -> str | Rejected:
        """Apply one answer: "stay" = same step again (next item/level), "next" = move on, or why it was refused."""
        kind, lexicon = step.answer.kind, self.lexicon
        if kind in ("choices", "yes_no"):
            return self.take_choice(step, text)
        if kind == "number":
            parsed = answers.parse_number(text, step.answer.minimum, step.answer.maximum, lexicon)
            return self.save_answer(step, parsed.value, "number") if isinstance(parsed, answers.Accepted) else parsed
        if kind == "date":
            parsed = answers.parse_date(text, self.ctx.now.date(), lexicon)
            return self.save_answer(step, parsed.value.isoformat(), "date") if isinstance(parsed, answers.Accepted) \
                else parsed
        if kind == "text":
            return self.take_text(step, text)
        return self.take_unit(step, text)

    def take_choice(self, step: Step, text: str) -> str | Rejected:
        if step.answer.most is not None:
            return self.take_picks(step, text)
        parsed = answers.parse_choice(text, self.choices(step), self.lexicon)
        if isinstance(parsed, answers.Accepted):
            return self.save_answer(step, parsed.value.key, parsed.value.key)
        if step.answer.other_key and answers.clean(text):
            if step.answer.other_save:
                self.save(step, step.answer.other_save, answers.clean(text)[:MAX_SAVED_TEXT], "text")
            return self.save_answer(step, step.answer.other_key, step.answer.other_key)
        return parsed

    def take_picks(self, step: Step, text: str) -> str | Rejected:
        """Up to `most` choices: all in one SMS ("1 3"); on USSD one per screen until `most`, or "0" when done."""
        most, picked = self.most(step), self.state["picks"]
        parsed = parse_picks(text, self.choices(step), most, self.lexicon)
        if isinstance(parsed, Rejected):
            return parsed
        picked = picked + [key for key in parsed.value if key not in picked]
        if len(picked) > most:
            return Rejected(TOO_MANY_CHOICES)
        self.state["picks"] = picked
        if step.save:
            self.save(step, step.save, " ".join(picked), "choices")
        return "stay" if self.ctx.channel == "ussd" and len(picked) < most else "next"

    def most(self, step: Step) -> int:
        most = step.answer.most
        value = most if isinstance(most, int) else self.lookup(str(most))
        try:
            return max(1, int(value))
        except (TypeError, ValueError):
            return 1

    def take_text(self, step: Step, text: str) -> str | Rejected:
        if step.answer.optional and answers.is_skip(text, self.lexicon):
            self.event("result_skipped", step=step.id, name=step.save)
            return "next"
        parsed = answers.parse_text(text, step.answer.max_length)
        return self.save_answer(step, parsed.value, "text") if isinstance(parsed, answers.Accepted) else parsed

    def take_unit(self, step: Step, text: str) -> str | Rejected:
        """A district/soum, then (when asked for) its khoroo/bag; unclear names get a short list to pick from."""
        catalog, level = self.ctx.units, self.state.get("unit") or {}
        parent = level.get("parent")
        if parent is not None and "candidates" not in level and answers.is_dont_know(text, self.lexicon):
            return self.save_unit(step, catalog.get(parent))
        level_units = catalog.children(parent) if parent else catalog.top_level()
        found = self.pick_unit(text, level_units, level.get("candidates"))
        if isinstance(found, Rejected):
            if found.reason != answers.UNCLEAR_CHOICE:  # a new name that did not help: ask for the name again
                self.state["unit"] = {"parent": parent} if parent else None
            return found
        if not found.sure:
            self.state["unit"] = {**({"parent": parent} if parent else {}),
                                  "candidates": [unit.code for unit in found.units]}
            return "stay"
        unit = found.units[0]
        if parent is None and "khoroo_or_bag" in step.answer.levels and catalog.children(unit.code):
            self.state["unit"] = {"parent": unit.code}
            return "stay"
        return self.save_unit(step, unit)

    def pick_unit(self, text: str, level_units: list[AdminUnit], candidates: list[str] | None):
        """A unit by its menu number (or its number in the list just shown), else by name: a UnitMatch."""
        catalog = self.ctx.units
        number = answers.menu_number(text)
        if number is not None and candidates:
            shown = [catalog.get(code) for code in candidates]
            unit = shown[number - 1] if 0 < number <= len(shown) and shown[number - 1] else None
            return catalog.sure(unit) if unit else Rejected(answers.UNCLEAR_CHOICE)
        if number is not None:
            numbered = self.ctx.channel == "ussd" or self.state.get("unit")
            unit = _unit_by_number(level_units, number) if numbered else None
            return catalog.sure(unit) if unit else Rejected(answers.UNCLEAR_CHOICE)
        found = catalog.search(answers.clean(text)[:200], level_units)
        if not found.units:
            return Rejected(answers.UNKNOWN_PLACE)
        return found if len(found.units) <= MAX_CANDIDATES else Rejected(answers.TOO_MANY_PLACES)

    def save_unit(self, step: Step, unit: AdminUnit) -> str:
        # "Сонгинохайрхан, 7-р хороо." opens the next message; kept in the state with the step that shows it, so
        # that step's USSD pages are split the same way on every "99".
        self.state["note"] = {"text": self.ctx.units.confirmation(unit, self.ctx.language, self.ctx.script),
                              "step": None}
        return self.save_answer(step, unit.code, unit.kind)

    def save_answer(self, step: Step, value: Any, category: str) -> str:
        """Save under the step's name (``name.<code>`` inside a foreach) and say whether to repeat."""
        if step.foreach:
            items = self.foreach_items(step)
            index = self.state.get("item", 0)
            if index < len(items) and step.save:
                self.save(step, f"{step.save}.{items[index].get(step.foreach.key_field)}", value, category)
            if index + 1 < len(items):
                self.state["item"] = index + 1
                return "stay"
            return "next"
        if step.save:
            self.save(step, step.save, value, category)
        return "next"

    def save(self, step: Step, name: str, value: Any, category: str) -> None:
        self.state["results"][name] = {"value": value, "category": category}
        self.event("result_saved", step=step.id, name=name, value=value, category=category)

    def reject(self, step: Step, reason: str) -> None:
        self.state["retries"] = self.state.get("retries", 0) + 1
        self.state["reason"] = reason  # the hint says what was wrong, also on a USSD page turned later
        self.event("answer_rejected", step=step.id, retries=self.state["retries"], reason=reason)
        if self.state["retries"] > self.flow.max_retries:
            return self.fail("too_many_invalid_answers")
        self.state.update(status="waiting", page=0)
        self.replies.append(self.screen(step, hint=self.hint(step)))

    def fail(self, reason: str) -> None:
        self.replies.append(self.text(MESSAGES["failed"]))
        self.finish("failed", "run_failed", reason=reason)

    # ---- USSD navigation -------------------------------------------------------------------------------

    def navigate(self, step: Step, text: str) -> bool:
        """Handle 99 (more), 0 (back) and 00 (home) at menu positions; True when the input was one of them."""
        if not self.is_menu(step):
            return False
        page = self.state.get("page", 0)
        if text == MORE_NUMBER and page + 1 < len(self.pages(step)):
            self.state["page"] = page + 1
            return self.show(step, "page_turned")
        if text == "00" or (text == "0" and page == 0 and not self.state["back"]):
            return self.finish("home", "went_home") or True
        if text == "0" and page > 0:
            self.state["page"] = page - 1
            return self.show(step, "page_turned")
        if text == "0":
            self.restore(self.state["back"].pop())
            return self.show(self.flow.steps[self.state["step"]], "went_back")
        return False

    def next_sms_page(self, step: Step, text: str) -> bool:
        """"99" on SMS shows the next part of a menu too long for one message."""
        if text != MORE_NUMBER or not self.is_menu(step) or self.state["page"] + 1 >= len(self.sms_pages(step)):
            return False
        self.state["page"] += 1
        return self.show(step, "page_turned")

    def is_menu(self, step: Step) -> bool:
        if step.answer.kind == "choices" and step.answer.other_key:
            return False
        return step.answer.kind in ("choices", "yes_no", "admin_unit") and not any(
            choice.number == 0 for choice in self.choices(step))

    def show(self, step: Step, event_type: str) -> bool:
        self.state["status"] = "waiting"
        self.event(event_type, step=step.id, page=self.state.get("page", 0))
        self.replies.append(self.screen(step))
        return True

    def snapshot(self) -> dict:
        state = self.state
        return {"step": state.get("step"), "results": _copied(state["results"]), "item": state.get("item"),
                "unit": _copied(state.get("unit")), "picks": _copied(state.get("picks"))}

    def restore(self, snapshot: dict) -> None:
        self.state.update(_copied(snapshot), page=0, retries=0, status="waiting")

    # ---- rendering -------------------------------------------------------------------------------------

    def screen(self, step: Step, hint: str | None = None) -> str:
        """The question for the current position, as one SMS or one USSD screen (page)."""
        pages = self.pages(step) if self.ctx.channel == "ussd" else self.sms_pages(step, hint)
        return pages[min(self.state.get("page", 0), len(pages) - 1)]

    def sms_pages(self, step: Step, hint: str | None = None) -> list[str]:
        """The question as one SMS, or, for a menu too long for two segments, parts ending in "99-Цааш"."""
        question, items = self.question(step)
        if hint:
            question = f"{hint} {question}" if hint[-1:] in ".!?:" else f"{hint}. {question}"
        elif step.say and self.first_visit() and self.text(step.say):
            question = f"{self.text(step.say)} {question}"  # one SMS, not two: costs the same or less
        if self.note(step) and not hint:
            question = f"{self.note(step)} {question}"
        return sms_pages(question, items, self.ctx.language, self.ctx.script)

    def note(self, step: Step) -> str | None:
        """The saved unit's name, when this step's screen is the one that opens with it."""
        note = self.state.get("note") or {}
        return note.get("text") if note.get("step") == step.id else None

    def first_visit(self) -> bool:
        """Not yet past the first item of a foreach, the first level of an admin unit or the first pick."""
        return not self.state.get("unit") and not self.state.get("item") and not self.state.get("picks")

    def pages(self, step: Step) -> list[str]:
        """USSD pages of the current position. The split depends only on the state (not on what was said
        before), so "99" always shows the items that did not fit on the previous page. After an invalid
        answer the hint takes the place of the step's say: a screen has no room for both."""
        question, items = self.question(step)
        if self.state.get("retries"):
            head = [self.hint(step), question]
        elif step.say and self.first_visit():
            head = [self.text(step.say), question]
        else:
            head = [question]
        if self.note(step) and not self.state.get("retries"):
            head = [self.note(step), *head]
        return ussd_pages(head, items, self.ctx.language, self.ctx.script)

    def question(self, step: Step) -> tuple[str, list[tuple[int, str]]]:
        """Question text and the numbered items to list after it."""
        answer = step.answer
        if answer.kind == "admin_unit":
            return self.unit_question(step)
        if answer.kind in ("number", "text", "date"):
            return self.text(step.ask), []
        choices, picked = self.choices(step), self.state.get("picks")
        if picked:  # USSD, one choice at a time: the numbers chosen so far (names would not fit), the rest, 0
            by_key = {choice.key: choice for choice in choices}
            chosen = ", ".join(str(by_key[key].number) for key in picked if key in by_key)
            rest = [(choice.number, self.label(step, choice)) for choice in choices if choice.key not in picked]
            return self.text(MESSAGES["picked"], {"picked": chosen}), rest + [(0, self.text(MESSAGES["done"]))]
        return self.text(step.ask), [(choice.number, self.label(step, choice)) for choice in choices]

    def label(self, step: Step, choice: Choice) -> str:
        """Authors' labels are templates; labels from the gateway's data are shown as they are."""
        if step.answer.choices_from and choice.key not in {written.key for written in step.answer.choices}:
            return pick_language(asdict(choice.label), self.ctx.language, self.ctx.script)
        return self.text(choice.label)

    def unit_question(self, step: Step) -> tuple[str, list[tuple[int, str]]]:
        level = self.state.get("unit") or {}
        parent, candidates = level.get("parent"), level.get("candidates")
        catalog, language, script = self.ctx.units, self.ctx.language, self.ctx.script
        if candidates:
            units = [unit for unit in (catalog.get(code) for code in candidates) if unit]
            question = self.text(MESSAGES["ask_which_unit"])
            return question, [(number, catalog.label(unit, language, script)) for number, unit in enumerate(units, 1)]
        if parent is None:
            question = self.text(step.ask)
            if self.ctx.channel == "sms":
                return f"{question} {self.text(MESSAGES['sms_unit_name'])}", []
            units = catalog.top_level()
            return question, [(number, unit.short_name(language, script)) for number, unit in enumerate(units, 1)]
        question = self.text(step.answer.ask_second or MESSAGES["ask_second"])
        if self.ctx.channel == "sms":
            return f"{question} {self.text(MESSAGES['sms_unit_number'])}", []
        children = catalog.children(parent)
        items = [(_unit_number(unit, number), unit.short_name(language, script))
                 for number, unit in enumerate(children, 1)]
        return question, items + [(SKIP_UNIT_NUMBER, self.text(MESSAGES["dont_know"]))]

    def hint(self, step: Step) -> str:
        """What to send instead, saying what was wrong with the last answer when that helps."""
        answer, reason = step.answer, self.state.get("reason")
        bounds = {"min": answer.minimum, "max": answer.maximum}
        has_range = answer.kind == "number" and None not in bounds.values()
        if reason == answers.SEVERAL_NUMBERS:
            return self.text(MESSAGES["hint_one_number_range" if has_range else "hint_one_number"], bounds)
        if answer.most is not None and not step.hint and (reason == TOO_MANY_CHOICES or self.ctx.channel == "sms"):
            most = self.most(step)
            if reason == TOO_MANY_CHOICES and most == 1:
                return self.text(MESSAGES["hint_only_one"])
            return self.text(MESSAGES["hint_too_many" if reason == TOO_MANY_CHOICES else "hint_picks"], {"most": most})
        naming_a_place = (not (self.state.get("unit") or {}).get("parent") and not step.hint
                          and self.ctx.channel == "sms")  # a USSD screen has room only for "pick a number"
        if reason in (answers.TOO_MANY_PLACES, answers.UNKNOWN_PLACE) and naming_a_place:
            return self.text(MESSAGES["hint_unit_longer" if reason == answers.TOO_MANY_PLACES else "hint_unit"])
        if step.hint:
            return self.text(step.hint)
        if has_range:
            return self.text(MESSAGES["hint_number_range"], bounds)
        names = {"number": "hint_number", "yes_no": "hint_yes_no", "date": "hint_date", "choices": "hint_choice"}
        if answer.kind == "text":
            return self.text(MESSAGES["hint_text_empty" if reason == answers.EMPTY else "hint_text_long"],
                             {"max": answer.max_length})
        if answer.kind == "admin_unit":
            by_name = self.ctx.channel == "sms" and not self.state.get("unit")
            return self.text(MESSAGES["hint_unit" if by_name else "hint_choice"])
        return self.text(MESSAGES[names.get(answer.kind, "hint_choice")])

    def text(self, text: Text, extra: Mapping[str, Any] | None = None) -> str:
        """Render a text in the reader's language and script with results and context."""
        return _plain_render(text, self.ctx, lambda: {**self.values(), **(extra or {})})

    def values(self) -> dict[str, Any]:
        values = {name: self.localize(self.ctx.vars[name]) for name in self.flow.uses if name in self.ctx.vars}
        for name, result in self.state["results"].items():
            _put_path(values, name.split("."), result.get("value"))
        for step in self.flow.steps.values():
            if step.answer and step.answer.choices_from and step.save in self.state["results"]:
                values[step.save] = [self.localize(item) for item in self.chosen_items(step)] \
                    if step.answer.most is not None else self.localize(self.chosen_item(step))
        step = self.flow.steps.get(self.state.get("step"))
        if step and step.foreach:
            items, index = self.foreach_items(step), self.state.get("item", 0)
            if index < len(items):
                values[step.foreach.item_name] = self.localize(items[index])
                values["loop"] = {"number": index + 1, "total": len(items)}
        return values

    def localize(self, value: Any) -> Any:
        """Data ready for templates, made once per object, language and script in a call: the gateway's data
        does not change meanwhile, and a shortlist of votes is rendered into several texts per message."""
        key = (id(value), self.ctx.language, self.ctx.script)
        made = self.localized.get(key)
        if made is None or made[0] is not value:
            made = self.localized[key] = (value, localize(value, self.ctx.language, self.ctx.script))
        return made[1]

    # ---- data lookups ----------------------------------------------------------------------------------

    def choices(self, step: Step) -> tuple[Choice, ...]:
        """Choices written in the flow, after those from the gateway's data (the USSD menu adds "English")."""
        if not step.answer.choices_from:
            return step.answer.choices
        items = self.items(step)
        from_data = tuple(
            Choice(str(item.get("key")), Text(str(item.get("mn", "")), str(item.get("en", "")), item.get("latn")),
                   number) for number, item in enumerate(items, 1))
        return from_data + tuple(replace(choice, number=len(from_data) + number)
                                 for number, choice in enumerate(step.answer.choices, 1))

    def list_var(self, name: str) -> list[Mapping]:
        """A list the gateway provides (`rounds`), or one inside a chosen item (`vote.projects`)."""
        value = self.lookup(name) if "." in name else self.ctx.vars.get(name) if name in self.flow.uses else None
        return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list | tuple) else []

    def items(self, step: Step) -> list[Mapping]:
        """A choices_from step's list, narrowed by its `where` (an item field equal to, or a list holding, a value
        found by path); a path with no value keeps nothing."""
        items = self.list_var(step.answer.choices_from)
        for field_name, path in step.answer.where:
            wanted = self.lookup(path)
            items = [item for item in items if wanted is not None and _holds(item.get(field_name), wanted)]
        return items

    def chosen_item(self, step: Step) -> Mapping | None:
        key = self.state["results"].get(step.save, {}).get("value")
        return next((item for item in self.list_var(step.answer.choices_from) if str(item.get("key")) == key), None)

    def chosen_items(self, step: Step) -> list[Mapping]:
        """The items of a several-choice step, in the order chosen."""
        keys = str(self.state["results"].get(step.save, {}).get("value") or "").split()
        by_key = {str(item.get("key")): item for item in self.list_var(step.answer.choices_from)}
        return [by_key[key] for key in keys if key in by_key]

    def foreach_items(self, step: Step) -> list[Mapping]:
        value = self.lookup(step.foreach.list_path)
        return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list | tuple) else []

    def lookup(self, path: str) -> Any:
        """A saved result by exact name, else a dotted path through chosen items and context variables."""
        if path in self.state["results"]:
            return self.state["results"][path].get("value")
        head, *rest = path.split(".")
        value = self.root_value(head)
        for part in rest:
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    def root_value(self, head: str) -> Any:
        if head in ENGINE_VARS:
            return {"channel": self.ctx.channel, "lang": self.ctx.language}[head]
        for step in self.flow.steps.values():
            if step.answer and step.answer.choices_from and step.save == head:
                return self.chosen_item(step)
        return self.ctx.vars.get(head) if head in self.flow.uses else None

    # ---- output ----------------------------------------------------------------------------------------

    def event(self, event_type: str, **data: Any) -> None:
        self.events.append({"type": event_type, "at": self.at, **data})

    def outcome(self) -> Outcome:
        status = self.state.get("status", "failed")
        replies = self.replies
        if self.ctx.channel == "ussd" and len(replies) > 1:
            replies = ["\n".join(replies)]  # one USSD hop shows one screen
        note = self.state.get("note")
        if note and note["step"] is None:  # no question showed the saved unit: the last message opens with it
            joiner = "\n" if self.ctx.channel == "ussd" else " "
            replies = [joiner.join([note["text"], *replies[:1]]), *replies[1:]]
            del self.state["note"]
        waiting = status == "waiting" and self.ctx.channel == "sms"
        if status != "waiting":
            self.state["back"] = []
        return Outcome(
            replies=replies, state=self.state, status=status, results=_copied(self.state["results"]),
            events=self.events, goto=self.goto, wait_until=self.ctx.now + self.flow.sms_wait if waiting else None,
        )


def _copied(value: Any) -> Any:
    """A copy of plain JSON data (the state): several times faster than copy.deepcopy, which is general."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value
def _holds(value: Any, wanted: Any) -> bool:
    if isinstance(value, list | tuple):
        return str(wanted) in {str(item) for item in value}
    return value is not None and str(value) == str(wanted)


def _put_path(values: dict, parts: list[str], value: Any) -> None:
    """Results named "score.A" become values["score"]["A"] for templates."""
    target = values
    for part in parts[:-1]:
        existing = target.get(part)
        # a copy: the values may share the call's localized variables, which must stay as they are
        existing = target[part] = dict(existing) if isinstance(existing, dict) else {}
        target = existing
    target[parts[-1]] = value


def _unit_number(unit: AdminUnit, position: int) -> int:
    """Khoroo 7 is number 7 in the menu, whatever the sort order, so people can type what they know."""
    suffix = unit.code.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() and 0 < int(suffix) < SKIP_UNIT_NUMBER else position


def _unit_by_number(units: list[AdminUnit], number: int) -> AdminUnit | None:
    numbered = {_unit_number(unit, position): unit for position, unit in enumerate(units, 1)}
    return numbered.get(number)
