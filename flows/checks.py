"""Semantic checks on compiled flows: graph shape, translations, choices, conditions and message sizes.

The loader runs them on every flow (a flow with errors does not load); ``flows.validate`` prints them.
Message sizes are measured on real renderings: the engine draws each screen with sample data.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flows.catalog import AdminCatalog
from flows.definition import Flow, Issue, Step, Text
from flows.engine import ENGINE_VARS, Context, _Run  # the engine draws the screens: measured sizes are real
from flows.lexicon import default_lexicon
from flows.screens import USSD_GSM7_LIMIT, ussd_fits, ussd_limit
from flows.templates import render
from flows.text import is_gsm7, normalize, same_word, sms_size, to_latin

SMS_SEGMENT_WARNING = 2
# STOP and START are built into the decision (STOP must work even with every flow file broken); the other
# reserved words belong to system flows (`triggers.reserved`). A flow keyword can claim none of them.
BUILT_IN_WORDS: dict[str, tuple[str, ...]] = {
    "stop": ("stop", "зогс", "zogs"),
    "start": ("start", "эхлэх", "ehleh"),
}
BESIDE_ROLES = ("help", "language", "script")  # answered beside the current run: they cannot ask anything
USSD_ROLES = ("consent", "ussd_menu", "rejoin")
RENDERINGS = (("mn", "cyrl"), ("mn", "latn"), ("en", "latn"))
RECORD_RESULTS = {
    "scorecard": ("group", "round", "score.*"),
    "complaint": ("category", "unit", "description", "anonymous"),
    "rsvp": ("rsvp",),
    "join": ("unit",),
    "complaint_followup": ("solved",),
    "complaint_reply": ("answer",),
    "ldf_vote": ("vote", "choice"),
}


def check_flow(flow: Flow) -> list[Issue]:
    """Every single-flow check, errors and warnings, in file order."""
    if flow.start not in flow.steps:
        return [_issue(flow, ("start",), "unknown_step", f"start step '{flow.start}' does not exist")]
    issues = (
        _unknown_steps(flow) + _unreachable_steps(flow) + _dead_ends(flow) + _endless_loops(flow)
        + _missing_translations(flow) + _choice_clashes(flow) + _choice_meanings(flow) + _unsaved_conditions(flow)
        + _step_rules(flow) + _record_results(flow) + _reserved_keywords(flow) + _role_rules(flow)
    )
    if not any(issue.severity == "error" for issue in issues):
        issues += _latin_overrides(flow) + size_issues(flow)
    return sorted(issues, key=lambda issue: (issue.line, issue.column))


def check_against_loaded(flow: Flow, loaded: Mapping[str, Flow]) -> list[Issue]:
    """Clashes with flows loaded before this one: the same id or a keyword another flow already claims."""
    if flow.id in loaded:
        other = loaded[flow.id]
        return [_issue(flow, ("id",), "duplicate_flow", f"flow id '{flow.id}' is already used by {other.source}")]
    issues = []
    for index, keyword in enumerate(flow.keywords):
        for other in loaded.values():
            reserved = next((word for words in other.reserved.values() for word in words
                             if keywords_clash(keyword, word)), None)
            if reserved is not None:
                message = f"keyword '{keyword}' is reserved ('{reserved}' of system flow '{other.id}')"
                issues.append(_issue(flow, ("triggers", "keywords", index), "reserved_keyword", message))
            clash = next((word for word in other.keywords if keywords_clash(keyword, word)), None)
            if clash is not None:
                message = f"keyword '{keyword}' clashes with '{clash}' of flow '{other.id}' ({other.source})"
                issues.append(_issue(flow, ("triggers", "keywords", index), "duplicate_keyword", message))
    return issues


def check_flow_references(flows: Mapping[str, Flow]) -> list[Issue]:
    """goto_flow must name a flow that loaded."""
    issues = []
    for flow in flows.values():
        for step in flow.steps.values():
            if step.goto_flow and step.goto_flow not in flows:
                message = f"step '{step.id}' goes to flow '{step.goto_flow}', which is not loaded"
                issues.append(_issue(flow, ("steps", step.id, "goto_flow"), "unknown_flow", message))
    return issues


def _reserved_keywords(flow: Flow) -> list[Issue]:
    reserved = {normalize(word) for words in BUILT_IN_WORDS.values() for word in words}
    return [
        _issue(flow, ("triggers", "keywords", index), "reserved_keyword",
               f"keyword '{keyword}' is reserved (STOP/START/HELP/MN/EN work before any flow)")
        for index, keyword in enumerate(flow.keywords) if normalize(keyword) in reserved
    ]


def _role_rules(flow: Flow) -> list[Issue]:
    """System flows: reserved words need a role; a flow answered beside the current run cannot wait."""
    issues = []
    if flow.reserved and flow.role not in BESIDE_ROLES:
        message = f"triggers.reserved is only for flows with role {', '.join(BESIDE_ROLES)}"
        issues.append(_issue(flow, ("triggers", "reserved"), "reserved_without_role", message))
    if flow.role and (flow.keywords or flow.ussd):
        message = "a system flow (role) is started by the gateway: it cannot have keywords or a USSD menu entry"
        issues.append(_issue(flow, ("triggers",), "role_with_triggers", message))
    if flow.role in BESIDE_ROLES:
        issues += [_issue(flow, ("steps", step.id), "role_cannot_ask",
                          f"step '{step.id}': a {flow.role} flow answers at once and cannot ask anything")
                   for step in flow.steps.values() if step.answer]
    return issues


def keywords_clash(first: str, second: str) -> bool:
    return same_word(first, second)


# ---- graph -----------------------------------------------------------------------------------------------

def _unknown_steps(flow: Flow) -> list[Issue]:
    issues = []
    for step in flow.steps.values():
        for index, branch in enumerate(step.next):
            if branch.goto not in flow.steps:
                path = ("steps", step.id, "next") + ((index,) if len(step.next) > 1 or branch.condition else ())
                message = f"step '{step.id}' goes to unknown step '{branch.goto}'"
                issues.append(_issue(flow, path, "unknown_step", message))
    return issues


def _successors(flow: Flow, step: Step) -> list[str]:
    if step.end or step.leaves_flow:
        return []
    return [branch.goto for branch in step.next if branch.goto in flow.steps]


def _reachable(flow: Flow, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        step_id = todo.pop()
        if step_id not in seen and step_id in flow.steps:
            seen.add(step_id)
            todo += _successors(flow, flow.steps[step_id])
    return seen


def _reachable_on(flow: Flow, channel: str) -> set[str]:
    """Steps a conversation on *channel* can reach: a branch that tests only `channel` is decided here."""
    seen, todo = set(), [flow.start]
    while todo:
        step_id = todo.pop()
        if step_id in seen or step_id not in flow.steps:
            continue
        seen.add(step_id)
        step = flow.steps[step_id]
        for branch in [] if step.end or step.leaves_flow else step.next:
            channel_only = branch.condition is not None and set(branch.condition) == {"channel"}
            if channel_only and str(branch.condition["channel"]) != channel:
                continue
            todo.append(branch.goto)
            if branch.condition is None or channel_only:
                break
    return seen


def _unreachable_steps(flow: Flow) -> list[Issue]:
    reachable = _reachable(flow, flow.start)
    return [
        _issue(flow, ("steps", step_id), "unreachable_step", f"step '{step_id}' can never be reached")
        for step_id in flow.steps if step_id not in reachable
    ]


def _dead_ends(flow: Flow) -> list[Issue]:
    """An answer with nowhere to go, or branches that can all miss."""
    issues = []
    for step in flow.steps.values():
        if step.end or step.leaves_flow:
            continue
        if step.answer and not step.next:
            message = f"step '{step.id}' asks a question but has no 'next': the answer goes nowhere"
            issues.append(_issue(flow, ("steps", step.id), "dead_end", message))
        elif step.next and all(branch.condition for branch in step.next):
            message = f"step '{step.id}': every branch has an 'if'; add a last '- goto: …' for when none match"
            issues.append(_issue(flow, ("steps", step.id, "next"), "dead_end", message))
        elif not step.say and not step.answer and not step.next:
            message = f"step '{step.id}' does nothing: give it 'say', 'ask', 'next', 'goto_flow' or 'end'"
            issues.append(_issue(flow, ("steps", step.id), "dead_end", message))
    return issues


def _endless_loops(flow: Flow) -> list[Issue]:
    """Steps that can never reach an end, and cycles that never stop to ask anything."""
    can_end = {step_id for step_id, step in flow.steps.items()
               if step.is_terminal or _has_fallthrough(step) or _goes_nowhere(flow, step)}
    changed = True
    while changed:
        before = len(can_end)
        can_end |= {sid for sid, step in flow.steps.items() if set(_successors(flow, step)) & can_end}
        changed = len(can_end) != before
    issues = [
        _issue(flow, ("steps", step_id), "endless_loop", f"step '{step_id}' is in a loop with no way out")
        for step_id in flow.steps if step_id not in can_end and step_id in _reachable(flow, flow.start)
    ]
    silent = [sid for sid, step in flow.steps.items() if not step.answer and _silent_cycle(flow, sid)]
    issues += [_issue(flow, ("steps", sid), "endless_loop",
                      f"step '{sid}' loops back to itself without asking anything") for sid in silent]
    return issues


def _goes_nowhere(flow: Flow, step: Step) -> bool:
    """Branches to unknown steps are reported as such; do not report them again as loops."""
    return any(branch.goto not in flow.steps for branch in step.next)


def _has_fallthrough(step: Step) -> bool:
    return bool(step.next) and all(branch.condition for branch in step.next)


def _silent_cycle(flow: Flow, start: str) -> bool:
    """True when a path leads from *start* back to itself without asking anything (it would spin forever)."""
    seen, todo = set(), list(_successors(flow, flow.steps[start]))
    while todo:
        step_id = todo.pop()
        if step_id == start:
            return True
        if step_id in seen or flow.steps[step_id].answer:
            continue
        seen.add(step_id)
        todo += _successors(flow, flow.steps[step_id])
    return False


# ---- texts and choices -----------------------------------------------------------------------------------

def _missing_translations(flow: Flow) -> list[Issue]:
    issues = []
    for language in ("mn", "en"):
        if not str(flow.name.get(language, "")).strip():
            issues.append(_issue(flow, ("name",), "missing_translation", f"flow name has no '{language}' text"))
    for step in flow.steps.values():
        for label, text in step.texts():
            for language in ("mn", "en"):
                if not getattr(text, language).strip():
                    message = f"step '{step.id}' {label} has no '{language}' text"
                    issues.append(_issue(flow, _text_path(step, label), "missing_translation", message))
    return issues


def _text_path(step: Step, label: str) -> tuple:
    if label.startswith("choice "):
        keys = [choice.key for choice in step.answer.choices]
        key = label.removeprefix("choice ")
        return ("steps", step.id, "choices", keys.index(key)) if key in keys else ("steps", step.id)
    return ("steps", step.id, label if label != "ask_second" else "admin_unit")


def _choice_clashes(flow: Flow) -> list[Issue]:
    issues = []
    for step in flow.steps.values():
        if not step.answer or step.answer.kind != "choices":
            continue
        seen_numbers: dict[int, str] = {}
        seen_names: dict[str, str] = {}
        for index, choice in enumerate(step.answer.choices):
            path = ("steps", step.id, "choices", index)
            if choice.number in seen_numbers:
                first = seen_numbers[choice.number]
                message = f"step '{step.id}': choices '{first}' and '{choice.key}' share number {choice.number}"
                issues.append(_issue(flow, path, "choice_clash", message))
            seen_numbers[choice.number] = choice.key
            for name, written in _choice_names(choice).items():
                if name in seen_names and seen_names[name] != choice.key:
                    first = seen_names[name]
                    message = f"step '{step.id}': choices '{first}' and '{choice.key}' are both picked by '{written}'"
                    issues.append(_issue(flow, path, "choice_clash", message))
                seen_names.setdefault(name, choice.key)
    return issues


def _choice_meanings(flow: Flow) -> list[Issue]:
    """``means:`` names a lexicon class; two choices of one question cannot mean the same."""
    lexicon, issues = default_lexicon(), []
    for step in flow.steps.values():
        if not step.answer or step.answer.kind != "choices":
            continue
        claimed: dict[str, str] = {}
        for index, choice in enumerate(step.answer.choices):
            path = ("steps", step.id, "choices", index, "means")
            if choice.means is None:
                continue
            if choice.means not in lexicon.classes:
                known = ", ".join(sorted(lexicon.classes))
                message = f"step '{step.id}': choice '{choice.key}' means '{choice.means}', which the lexicon lacks"
                issues.append(_issue(flow, path, "unknown_lexicon_class", f"{message} (known: {known})"))
            elif choice.means in claimed:
                message = (f"step '{step.id}': choices '{claimed[choice.means]}' and '{choice.key}' both mean"
                           f" '{choice.means}'")
                issues.append(_issue(flow, path, "choice_clash", message))
            claimed.setdefault(choice.means, choice.key)
    return issues


def _choice_names(choice) -> dict[str, str]:
    """Normalised name → the name as written, for every way a choice can be picked."""
    names = (choice.key, choice.label.mn, choice.label.en, *choice.aliases)
    return {normalize(name): name for name in names if name and normalize(name)}


def _latin_overrides(flow: Flow) -> list[Issue]:
    """Hand-written Latin must be GSM-7 as written (the engine would otherwise replace characters)."""
    ctx = Context("sms", "mn", "latn", SAMPLE_NOW, SAMPLE_VARS, SAMPLE_UNITS)
    issues = []
    for step in flow.steps.values():
        values = _Run(flow, _sample_state(flow, step), ctx).values()
        for label, text in step.texts():
            rendered = render(text.latn, {"lang": "mn", "script": "latn", **values}) if text.latn else ""
            bad = "".join(sorted({char for char in rendered if not is_gsm7(char)}))
            if bad:
                message = f"step '{step.id}' {label}: Latin text is not GSM-7 (because of {bad!r})"
                issues.append(_issue(flow, _text_path(step, label), "not_gsm7", message))
    return issues


# ---- conditions and step rules ---------------------------------------------------------------------------

def _unsaved_conditions(flow: Flow) -> list[Issue]:
    saved = flow.saved_names()
    prefixes = {name[:-2] for name in saved if name.endswith(".*")}
    issues = []
    for step in flow.steps.values():
        for index, branch in enumerate(step.next):
            for name in branch.condition or {}:
                head = name.split(".")[0]
                if name in saved or head in saved or head in prefixes or head in flow.uses or head in ENGINE_VARS:
                    continue
                message = f"step '{step.id}' tests '{name}', but no step saves it"
                issues.append(_issue(flow, ("steps", step.id, "next", index, "if", name), "unsaved_result", message))
    return issues


def _step_rules(flow: Flow) -> list[Issue]:
    issues = []
    for step in flow.steps.values():
        issues += _answer_rules(flow, step)
    return issues


def _answer_rules(flow: Flow, step: Step) -> list[Issue]:
    answer, path, issues = step.answer, ("steps", step.id), []
    if answer is None:
        return issues
    if answer.kind == "number" and None not in (answer.minimum, answer.maximum) and answer.minimum > answer.maximum:
        issues.append(_issue(flow, path + ("number",), "invalid_range", f"step '{step.id}': min is above max"))
    if answer.kind == "admin_unit" and answer.levels[0] != "district_or_soum":
        message = f"step '{step.id}': admin_unit levels start with district_or_soum"
        issues.append(_issue(flow, path + ("admin_unit",), "invalid_levels", message))
    if (answer.kind in ("admin_unit",) or answer.choices_from or step.foreach) and not step.save:
        message = f"step '{step.id}' needs 'save' so the answer is kept"
        issues.append(_issue(flow, path, "missing_save", message))
    if step.foreach and answer.choices_from:
        message = f"step '{step.id}': foreach cannot be combined with choices_from"
        issues.append(_issue(flow, path + ("foreach",), "invalid_foreach", message))
    if answer.where and not answer.choices_from:
        message = f"step '{step.id}': 'where' picks items of a choices_from list"
        issues.append(_issue(flow, path + ("where",), "invalid_where", message))
    if answer.most is not None and (answer.kind != "choices" or answer.other_key or step.foreach):
        message = f"step '{step.id}': 'most' needs choices or choices_from (without 'other' or foreach)"
        issues.append(_issue(flow, path + ("most",), "invalid_most", message))
    return issues


def _record_results(flow: Flow) -> list[Issue]:
    """A flow that says what its results mean must save the names the gateway's handler reads."""
    saved = flow.saved_names()
    return [
        _issue(flow, ("records",), "missing_result", f"records: {flow.records} needs a step that saves '{name}'")
        for name in RECORD_RESULTS.get(flow.records or "", ()) if name not in saved
    ]


# ---- sizes -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MessageSize:
    flow: str
    step: str
    part: str  # say | ask | ask (page 2) | hint …
    channel: str
    language: str
    script: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        size = sms_size(self.text)
        limit = ussd_limit(self.text) if self.channel == "ussd" else None
        return {"flow": self.flow, "step": self.step, "part": self.part, "channel": self.channel,
                "language": self.language, "script": self.script, "encoding": size.encoding,
                "chars": size.chars, "units": size.units, "segments": size.segments, "ussd_limit": limit,
                "text": self.text}


USSD_MESSAGES = ("stopped_ussd", "unavailable", "goodbye", "no_services", "error")  # may end a USSD session


def system_message_sizes(messages: Mapping[str, Text], source: str) -> Iterator[MessageSize]:
    """The gateway's own texts (flows/system/messages.yaml) as sent, on SMS, and on USSD where they end a screen."""
    for key, text in messages.items():
        for channel in ("sms", "ussd") if key in USSD_MESSAGES else ("sms",):
            for language, script in RENDERINGS:
                rendered = render(text.source(language, script), {"lang": language, "current": "Gomdol",
                                                                  "target": "Irgediin unelgee", "months": 12})
                if language == "mn" and script == "latn" and text.latn is None:
                    rendered = to_latin(rendered)
                yield MessageSize("messages", key, "say", channel, language, script, rendered)


def check_messages(messages: Mapping[str, Text], source: str) -> list[Issue]:
    issues = []
    for message in system_message_sizes(messages, source):
        size, where = sms_size(message.text), f"message '{message.step}' [{message.channel} {message.language}]"
        if message.channel == "ussd" and not ussd_fits(message.text):
            issues.append(Issue(source, 1, 1, "error", "ussd_too_long",
                                f"{where}: USSD screen has {size.units} characters, more than "
                                f"{ussd_limit(message.text)}"))
        elif message.channel == "sms" and size.segments > SMS_SEGMENT_WARNING:
            issues.append(Issue(source, 1, 1, "warning", "sms_too_long", f"{where}: SMS is {size.segments} segments"))
    return issues


def size_issues(flow: Flow) -> list[Issue]:
    issues = []
    try:
        for message in message_sizes(flow):
            issues += _size_issue(flow, message)
    except Exception as error:  # a template that fails on data (e.g. blocked by the sandbox)
        issues.append(_issue(flow, ("steps",), "invalid_template", f"a text cannot be rendered: {error}"))
    return issues


def _size_issue(flow: Flow, message: MessageSize) -> list[Issue]:
    path, size, where = ("steps", message.step), sms_size(message.text), _where(message)
    if message.script == "latn" and message.language == "mn" and not is_gsm7(message.text):
        bad = "".join(sorted({char for char in message.text if not is_gsm7(char)}))
        return [_issue(flow, path, "not_gsm7", f"{where}: Latin rendering is not GSM-7 (because of {bad!r})")]
    if message.channel == "ussd" and not ussd_fits(message.text):
        limit = ussd_limit(message.text)
        text = f"{where}: USSD screen has {size.units} characters, more than {limit} ({size.encoding})"
        # A re-ask screen is rare and the hint is ours, so it only warns; the normal screens must fit.
        severity = "warning" if message.part.startswith("re-ask") else "error"
        return [_issue(flow, path, "ussd_too_long", text, severity)]
    if message.channel == "sms" and size.segments > SMS_SEGMENT_WARNING:
        text = f"{where}: SMS is {size.segments} segments ({size.encoding}, {size.units} units)"
        return [_issue(flow, path, "sms_too_long", text, "warning")]
    return []


def _where(message: MessageSize) -> str:
    script = f"/{message.script}" if message.language == "mn" else ""
    return f"step '{message.step}' {message.part} [{message.channel} {message.language}{script}]"


def message_sizes(flow: Flow) -> Iterator[MessageSize]:
    """Every message the flow can send, rendered with sample data, per channel, language and script."""
    channels = ("sms", "ussd") if flow.ussd or flow.role in USSD_ROLES else ("sms",)
    for channel in channels:
        for language, script in RENDERINGS:
            yield from _step_messages(flow, channel, language, script)


def _step_messages(flow: Flow, channel: str, language: str, script: str) -> Iterator[MessageSize]:
    ctx = Context(channel, language, script, SAMPLE_NOW, SAMPLE_VARS, SAMPLE_UNITS)
    reachable = _reachable_on(flow, channel)
    for step in (step for step in flow.steps.values() if step.id in reachable):
        run = _Run(flow, _sample_state(flow, step), ctx)
        if step.say and not step.answer:
            yield MessageSize(flow.id, step.id, "say", channel, language, script, run.text(step.say))
        if not step.answer:
            continue
        for part, screen in _screens(run, step, channel):
            yield MessageSize(flow.id, step.id, part, channel, language, script, screen)


def _screens(run, step: Step, channel: str) -> Iterator[tuple[str, str]]:
    levels = [None, {"parent": SAMPLE_PARENT}] if step.answer.kind == "admin_unit" else [None]
    for level in levels:
        run.state["unit"] = level
        suffix = " (2nd level)" if level else ""
        if channel == "sms":
            yield "ask" + suffix, run.screen(step)
            continue
        if _can_be_rejected(step):
            run.state["retries"] = 1
            for number, page in enumerate(run.pages(step), 1):
                yield "re-ask" + suffix + (f" (page {number})" if number > 1 else ""), page
            run.state["retries"] = 0
        # Long menus are paged with "99 More", so each page must fit, not the whole menu.
        for number, page in enumerate(run.pages(step), 1):
            yield "ask" + suffix + (f" (page {number})" if number > 1 else ""), page


def _can_be_rejected(step: Step) -> bool:
    """An optional free-text answer longer than any USSD input takes whatever is sent: it has no re-ask screen."""
    answer = step.answer
    return not (answer.kind == "text" and answer.optional and answer.max_length >= USSD_GSM7_LIMIT)


def _sample_state(flow: Flow, step: Step) -> dict:
    results = {}
    for other in flow.steps.values():
        if other.save:
            results.update(_sample_results(other))
    return {"flow": flow.id, "step": step.id, "status": "waiting", "results": results, "item": 0, "page": 0,
            "unit": None, "back": [], "retries": 0}


def _sample_results(step: Step) -> dict[str, dict]:
    answer = step.answer
    if step.foreach:
        return {f"{step.save}.{code}": {"value": 5, "category": "number"} for code in "ABCD"}
    if answer is None:
        return {}
    if answer.choices_from:
        items = SAMPLE_VARS.get(answer.choices_from.split(".")[0]) or SAMPLE_VARS["rounds"]
        value = " ".join(str(p["key"]) for p in _SAMPLE_PROJECTS[:2]) if answer.most else str(items[0]["key"])
        return {step.save: {"value": value, "category": "choice"}}
    value = {
        "choices": max((choice.key for choice in answer.choices), key=len, default="x"),
        "yes_no": "yes", "number": answer.maximum if answer.maximum is not None else 100,
        "text": "x" * min(answer.max_length, 40), "date": "2026-06-20", "admin_unit": "SHD-07",
    }[answer.kind]
    return {step.save: {"value": value, "category": answer.kind}}


def _issue(flow: Flow, path: tuple, code: str, message: str, severity: str = "error") -> Issue:
    line, column = flow.position(*path)
    return Issue(flow.source, line, column, severity, code, message)


# ---- sample data for size checks: realistic lengths, from domain.md §7 ------------------------------------

SAMPLE_NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
_INDICATORS = [
    {"code": "A", "mn": "Багш нар хүүхдэд эелдэг хандадаг уу?", "en": "Are teachers courteous to children?"},
    {"code": "B", "mn": "Ус түгээх байр цагтаа ажилладаг уу?", "en": "Does the water kiosk keep its hours?"},
    {"code": "C", "mn": "Хог цагт нь ачигддаг уу?", "en": "Is garbage collected on schedule?"},
    {"code": "D", "mn": "Гудамжны гэрэл шөнө асдаг уу?", "en": "Do street lights work at night?"},
]
_MEETING = {"date": "2026-06-20", "time": "18:00",
            "title": {"mn": "7-р хорооны ИНХ", "en": "Khoroo 7 Citizens' General Meeting"},
            "place": {"mn": "хорооны байранд", "en": "at the khoroo office"}}
# A Local Development Fund vote: twelve projects, names as long as staff may write them (60 characters).
_SAMPLE_PROJECTS = [{"key": str(number), "mn": mn, "en": en} for number, (mn, en) in enumerate([
    ("Гудамжны гэрэл", "Street lights"), ("Усны цэг", "Water kiosk"), ("Цэцэрлэгийн хашаа", "Kindergarten fence"),
    ("Замын засвар", "Road repair"), ("Хүүхдийн тоглоомын талбай", "Children's playground"),
    ("Хогийн цэг", "Waste point"), ("Гүүр", "Footbridge"), ("Спорт талбай", "Sports ground"),
    ("Автобусны буудал", "Bus stop"), ("Үерийн суваг", "Flood channel"), ("Ногоон байгууламж", "Green space"),
    ("Хэсгийн ахлагчийн байр", "Kheseg leaders' room")], 1)]
_SAMPLE_VOTE = {"key": "3", "unit": "SHD-07", "near": ["SHD-07", "SHD-08"], "mn": "Сонгинохайрхан, 7-р хороо",
                "en": "Songinokhairkhan khoroo 7", "short": {"mn": "7-р хороо", "en": "khoroo 7"}, "most": 3,
                "closes": "2026-06-30",
                "fund": {"mn": "150 сая ₮", "en": "MNT 150 million", "latn": "150 saya tug"},
                "projects": _SAMPLE_PROJECTS, "voted": ["1", "2"]}
SAMPLE_VARS: dict[str, Any] = {
    "votes": [_SAMPLE_VOTE, {**_SAMPLE_VOTE, "key": "4", "unit": "SHD-08", "mn": "Сонгинохайрхан, 8-р хороо",
                              "en": "Songinokhairkhan khoroo 8"}],
    "home": _SAMPLE_VOTE,
    "closed_here": {**_SAMPLE_VOTE, "closed": "2026-05-31"},
    "ref": "G-0412",
    "meeting": _MEETING,
    "rounds": [
        {"key": "kg16", "mn": "16-р цэцэрлэг", "en": "Kindergarten 16", "indicators": _INDICATORS, "meeting": _MEETING},
        {"key": "fhc7", "mn": "7-р хорооны ӨЭМТ", "en": "Khoroo 7 health centre", "indicators": _INDICATORS},
        {"key": "kiosk12", "mn": "12-р хэсгийн ус түгээх байр", "en": "Kheseg 12 water kiosk",
         "indicators": _INDICATORS},
    ],
}
SAMPLE_PARENT = "SHD"
SAMPLE_UNITS = AdminCatalog(
    [{"code": "UB", "kind": "capital", "parent": None, "name_mn": "Улаанбаатар", "name_latn": "Ulaanbaatar",
      "name_en": "Ulaanbaatar"},
     {"code": "SHD", "kind": "district", "parent": "UB", "name_mn": "Сонгинохайрхан дүүрэг",
      "name_latn": "Songinokhairkhan düüreg", "name_en": "Songinokhairkhan district"},
     {"code": "ZA-TS", "kind": "soum", "parent": None, "name_mn": "Цагаанхайрхан сум",
      "name_latn": "Tsagaankhairkhan sum", "name_en": "Tsagaankhairkhan soum"}]
    + [{"code": f"SHD-{number:02d}", "kind": "khoroo", "parent": "SHD",
        "name_mn": f"Сонгинохайрхан дүүргийн {number}-р хороо", "name_latn": f"Songinokhairkhan {number}-r khoroo",
        "name_en": f"Songinokhairkhan khoroo {number}"} for number in range(1, 44)]
)

