"""Read flow files: YAML 1.2 → schema check → compiled ``Flow`` → semantic checks.

Parsing happens once at load time. Every problem becomes an ``Issue`` with the file, line and column, so a
CSO staff member can jump straight to it. A broken flow is left out of the ``FlowSet``; the others keep working.
"""
from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
from jinja2 import TemplateSyntaxError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from flows import checks
from flows.definition import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_SMS_WAIT,
    ROLE_VARS,
    Answer,
    Branch,
    Choice,
    Flow,
    FlowError,
    Foreach,
    Issue,
    Step,
    Text,
)
from flows.templates import compile_template, variables_in
from flows.text import normalize

BUNDLED_DIR = Path(__file__).resolve().parent
SYSTEM_DIR = BUNDLED_DIR / "system"  # always loaded: consent, menu, help, language and script, and messages
MESSAGES_FILE = "messages.yaml"
SCHEMA_PATH = BUNDLED_DIR / "schema.json"
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_ENGINE_NAMES = frozenset({"lang", "script", "channel", "loop"})  # provided by the engine, not by the gateway


@dataclass
class FlowSet:
    """The flows that loaded (system flows included), the gateway's own messages, and every issue found."""

    flows: dict[str, Flow] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    messages: dict[str, Text] = field(default_factory=dict)
    _indexes: tuple = field(default=((), {}, {}), init=False, repr=False, compare=False)

    def get(self, flow_id: str) -> Flow | None:
        return self.flows.get(flow_id)

    def by_role(self, role: str) -> Flow | None:
        return next((flow for flow in self.flows.values() if flow.role == role), None)

    def by_keyword(self, word: str) -> Flow | None:
        """The flow whose keyword matches *word* (script-, case- and transliteration-insensitive)."""
        return self._match(word, self._index()[1])

    def reserved(self, text: str) -> tuple[Flow, str] | None:
        """(system flow, word group) when *text* is one reserved word (`Help!`, `ТУСЛАМЖ`, `mongol`)."""
        words = normalize(text).split()
        return self._match(words[0], self._index()[2]) if len(words) == 1 else None

    def services(self) -> list[Flow]:
        """Flows people start themselves: the USSD main menu and the help list show these."""
        return [flow for flow in self.flows.values() if flow.role is None]

    def ussd_flows(self) -> list[Flow]:
        """Flows for the USSD main menu, by ``ussd_order`` then id."""
        return sorted((flow for flow in self.services() if flow.ussd), key=lambda f: (f.ussd_order, f.id))

    @staticmethod
    def _match(word: str, index: dict):
        key = normalize(word)
        if not key:
            return None
        if key in index:
            return index[key]
        close = [found for known, found in index.items() if len(key) >= 4 and checks.keywords_clash(key, known)]
        return close[0] if len({id(found) for found in close}) == 1 else None

    def _index(self) -> tuple:
        """(signature, keyword → flow, reserved word → (flow, group)), rebuilt only when the flows change."""
        signature = tuple((flow_id, id(flow)) for flow_id, flow in self.flows.items())
        if self._indexes[0] != signature:
            keywords = {normalize(word): flow for flow in self.services() for word in flow.keywords}
            reserved = {normalize(word): (flow, group) for flow in self.flows.values()
                        for group, words in flow.reserved.items() for word in words}
            self._indexes = (signature, keywords, reserved)
        return self._indexes

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "error"]


def load_flow_text(text: str, source: str = "<string>") -> Flow:
    """Compile one flow; raises ``FlowError`` when it has errors (warnings alone do not stop it)."""
    flow, issues = load_flow_text_with_issues(text, source)
    if flow is None:
        raise FlowError(issues)
    return flow


def load_flow_text_with_issues(text: str, source: str = "<string>") -> tuple[Flow | None, list[Issue]]:
    """Like ``load_flow_text`` but returns (flow or None, issues) so warnings are not lost."""
    try:
        data, positions = _parse_yaml(text, source)
    except FlowError as error:
        return None, error.issues
    issues = _schema_issues(data, positions, source)
    if issues:
        return None, issues
    flow = _compile(data, positions, source)
    issues = _template_issues(flow)
    if issues:
        return None, issues
    issues = checks.check_flow(flow)
    has_errors = any(issue.severity == "error" for issue in issues)
    return (None if has_errors else flow), issues


NOT_FLOWS = frozenset({MESSAGES_FILE, "lexicon.yaml"})  # data files that live beside the flows


def flow_files(paths: Iterable[str | Path], bundled: bool = True) -> list[Path]:
    """YAML files named by *paths* (folders are searched one level deep): system flows first, then bundled."""
    found: list[Path] = []
    roots = [SYSTEM_DIR] + ([BUNDLED_DIR] if bundled else []) + [Path(path) for path in paths]
    for root in roots:
        candidates = sorted(p for p in root.glob("*.y*ml") if p.name not in NOT_FLOWS) if root.is_dir() else [root]
        found += [path for path in candidates if path.resolve() not in {seen.resolve() for seen in found}]
    return found


def load_flows(paths: list[str | Path], bundled: bool = True) -> FlowSet:
    """Load every flow file; broken flows are left out and reported in ``FlowSet.issues``.

    A flow with a system `role` replaces the one loaded before it with that role (a CSO's own menu or notice)."""
    flow_set = FlowSet(messages=load_messages(SYSTEM_DIR / MESSAGES_FILE))
    flow_set.issues += checks.check_messages(flow_set.messages, str(SYSTEM_DIR / MESSAGES_FILE))
    for path in flow_files(paths, bundled):
        flow, issues = _load_file(path)
        flow_set.issues += issues
        if flow is None:
            continue
        replaced = flow_set.by_role(flow.role) if flow.role else None
        if replaced is not None:
            del flow_set.flows[replaced.id]
        clashes = checks.check_against_loaded(flow, flow_set.flows)
        flow_set.issues += clashes
        if not any(issue.severity == "error" for issue in clashes):
            flow_set.flows[flow.id] = flow
    flow_set.issues += checks.check_flow_references(flow_set.flows)
    return flow_set


@lru_cache(maxsize=8)
def load_messages(path: Path) -> dict[str, Text]:
    """The gateway's own texts ({key: {mn, en, latn}}); a broken file is a bug in the package, so it raises."""
    document = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    return {str(key): Text(str(text["mn"]), str(text["en"]), text.get("latn")) for key, text in document.items()}


def _load_file(path: Path) -> tuple[Flow | None, list[Issue]]:
    try:
        stat = path.stat()
        return _load_unchanged_file(str(path), stat.st_mtime_ns, stat.st_size)
    except (OSError, UnicodeDecodeError) as error:
        return None, [Issue(str(path), 1, 1, "error", "unreadable_file", f"cannot read flow file: {error}")]


@lru_cache(maxsize=256)
def _load_unchanged_file(path: str, mtime_ns: int, size: int) -> tuple[Flow | None, list[Issue]]:
    # Keyed on modification time and size: a file is compiled once per process until it changes.
    return load_flow_text_with_issues(Path(path).read_text(encoding="utf-8"), path)


# ---- YAML with positions ---------------------------------------------------------------------------------

def _parse_yaml(text: str, source: str) -> tuple[Any, dict[tuple, tuple[int, int]]]:
    # YAML 1.2 round-trip mode: yes/no/on/off stay strings, and every node remembers its line and column.
    yaml = YAML(typ="rt")
    yaml.version = (1, 2)
    try:
        document = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax: {error.problem or error.context}"
        raise FlowError([Issue(source, line, column, "error", "yaml_syntax", message)]) from None
    except Exception as error:  # ruamel raises a few unmarked errors (e.g. bad directives)
        raise FlowError([Issue(source, 1, 1, "error", "yaml_syntax", f"YAML syntax: {error}")]) from None
    positions: dict[tuple, tuple[int, int]] = {(): (1, 1)}
    return _plain(document, (), positions), positions


def _plain(node: Any, path: tuple, positions: dict[tuple, tuple[int, int]]) -> Any:
    """Plain dicts/lists/scalars, recording where each key or item starts."""
    if isinstance(node, dict):
        plain = {}
        for key, value in node.items():
            if hasattr(node, "lc"):
                line, column = node.lc.key(key)
                positions[path + (str(key),)] = (line + 1, column + 1)
            plain[str(key)] = _plain(value, path + (str(key),), positions)
        return plain
    if isinstance(node, list):
        items = []
        for index, value in enumerate(node):
            if hasattr(node, "lc"):
                line, column = node.lc.item(index)
                positions[path + (index,)] = (line + 1, column + 1)
            items.append(_plain(value, path + (index,), positions))
        return items
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return str(node)


# ---- schema ----------------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _schema_issues(data: Any, positions: dict, source: str) -> list[Issue]:
    issues = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = tuple(error.absolute_path)
        line, column = _nearest(positions, path + _unexpected_key(error))
        issues.append(Issue(source, line, column, "error", "schema", _schema_message(error, path)))
    return issues


def _schema_message(error: jsonschema.ValidationError, path: tuple) -> str:
    where = ".".join(str(part) for part in path) or "flow"
    if error.validator == "oneOf" and len(path) == 2 and path[0] == "steps":
        # jsonschema's own words ("is not valid under any of the given schemas") do not help an author.
        return (f"step '{path[1]}': an 'ask' needs exactly one answer type (choices, choices_from, number, text,"
                " yes_no, date, admin_unit); a step without 'ask' cannot have answer fields, save or foreach")
    unexpected = _unexpected_key(error)
    if unexpected:
        allowed = sorted(error.schema.get("properties", {}))
        guess = difflib.get_close_matches(unexpected[0], allowed, n=1)
        return f"{where}: unknown key '{unexpected[0]}'" + (f" (did you mean '{guess[0]}'?)" if guess else "")
    return f"{where}: {error.message}"


def _unexpected_key(error: jsonschema.ValidationError) -> tuple:
    """Point at a misspelt key itself ("aks:") rather than at the step that holds it."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return ()
    allowed = set(error.schema.get("properties", {}))
    unexpected = sorted(key for key in error.instance if key not in allowed)
    return (unexpected[0],) if unexpected else ()


def _nearest(positions: dict, path: tuple) -> tuple[int, int]:
    while path and path not in positions:
        path = path[:-1]
    return positions.get(path, (1, 1))


# ---- compile ---------------------------------------------------------------------------------------------

def _compile(data: dict, positions: dict, source: str) -> Flow:
    triggers = data.get("triggers") or {}
    settings = data.get("settings") or {}
    steps = {step_id: _compile_step(step_id, raw) for step_id, raw in data["steps"].items()}
    flow = Flow(
        id=data["id"], version=data["version"], name=dict(data["name"]), start=data["start"], steps=steps,
        keywords=tuple(str(word) for word in triggers.get("keywords", [])),
        ussd=bool(triggers.get("ussd", False)), ussd_order=int(triggers.get("ussd_order", 100)),
        records=data.get("records"), role=data.get("role"),
        reserved={str(group): tuple(str(word) for word in words)
                  for group, words in (triggers.get("reserved") or {}).items()},
        max_retries=int(settings.get("max_retries", DEFAULT_MAX_RETRIES)),
        sms_wait=_duration(settings.get("sms_wait")), reopen=bool(settings.get("reopen", False)), source=source,
        positions=positions,
    )
    return _with_uses(flow)


def _compile_step(step_id: str, raw: dict) -> Step:
    foreach = raw.get("foreach")
    return Step(
        id=step_id, say=_text(raw.get("say")), ask=_text(raw.get("ask")), hint=_text(raw.get("hint")),
        answer=_compile_answer(raw), save=raw.get("save"),
        foreach=Foreach(foreach["list"], foreach["as"], foreach.get("key", "code")) if foreach else None,
        next=_compile_next(raw.get("next")), goto_flow=raw.get("goto_flow"), end=bool(raw.get("end", False)),
        goto_flow_from=raw.get("goto_flow_from"),
        do=tuple((name, str(value).lower()) for action in raw.get("do", []) for name, value in action.items()),
    )


def _compile_answer(raw: dict) -> Answer | None:
    if "choices" in raw or "choices_from" in raw:
        other = raw.get("other") or {}
        return Answer(
            kind="choices", choices=_compile_choices(raw.get("choices", [])), choices_from=raw.get("choices_from"),
            other_key=other.get("key"), other_save=other.get("save_text"),
            where=tuple((str(field), str(path)) for field, path in (raw.get("where") or {}).items()),
            most=raw.get("most"),
        )
    if "number" in raw:
        bounds = raw["number"] or {}
        return Answer(kind="number", minimum=bounds.get("min"), maximum=bounds.get("max"))
    if "text" in raw:
        options = raw["text"] or {}
        return Answer(kind="text", max_length=options.get("max_length", 160), optional=options.get("optional", False))
    if raw.get("yes_no"):
        return Answer(kind="yes_no", choices=_YES_NO)
    if raw.get("date"):
        return Answer(kind="date")
    if "admin_unit" in raw:
        options = raw["admin_unit"]
        return Answer(kind="admin_unit", levels=tuple(options["levels"]), ask_second=_text(options.get("ask_second")))
    return None


_YES_NO = (
    Choice("yes", Text("Тийм", "Yes", "Tiim"), 1, means="yes"),
    Choice("no", Text("Үгүй", "No", "Ugui"), 2, means="no"),
)


def _compile_choices(raw_choices: list[dict]) -> tuple[Choice, ...]:
    return tuple(
        Choice(
            key=str(raw["key"]), label=Text(raw.get("mn", ""), raw.get("en", ""), raw.get("latn")),
            number=int(raw.get("number", position)), aliases=tuple(str(alias) for alias in raw.get("aliases", [])),
            means=raw.get("means"),
        )
        for position, raw in enumerate(raw_choices, start=1)
    )


def _compile_next(raw: Any) -> tuple[Branch, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (Branch(goto=raw),)
    return tuple(Branch(goto=item["goto"], condition=item.get("if")) for item in raw)


def _text(raw: dict | None) -> Text | None:
    if raw is None:
        return None
    return Text(raw.get("mn", ""), raw.get("en", ""), raw.get("latn"))


def _duration(raw: str | None) -> timedelta:
    if not raw:
        return DEFAULT_SMS_WAIT
    match = re.fullmatch(r"(\d+)([smhd])", raw)
    return timedelta(**{_DURATION_UNITS[match.group(2)]: int(match.group(1))}) if match else DEFAULT_SMS_WAIT


def _with_uses(flow: Flow) -> Flow:
    """Record which context variables the flow reads, so the gateway computes only those."""
    results = {name.split(".")[0] for name in flow.saved_names()}
    item_names = {step.foreach.item_name for step in flow.steps.values() if step.foreach}
    read: set[str] = set()
    for step in flow.steps.values():
        for _, text in step.texts():
            for source in text.variants().values():
                read |= variables_in(source)
        if step.answer and step.answer.choices_from:
            read.add(step.answer.choices_from.split(".")[0])
            read |= {path.split(".")[0] for _, path in step.answer.where}
        if step.answer and isinstance(step.answer.most, str):
            read.add(step.answer.most.split(".")[0])
        if step.foreach:
            read.add(step.foreach.list_path.split(".")[0])
    chosen_lists = {step.save: step.answer.choices_from for step in flow.steps.values()
                    if step.answer and step.answer.choices_from and step.save}
    read |= {chosen_lists[name] for name in read if name in chosen_lists}
    read |= ROLE_VARS.get(flow.role or "", frozenset())
    return replace(flow, uses=frozenset(read - results - item_names - _ENGINE_NAMES))


def _template_issues(flow: Flow) -> list[Issue]:
    issues = []
    for step in flow.steps.values():
        for label, text in step.texts():
            for variant, source in text.variants().items():
                try:
                    compile_template(source)
                except TemplateSyntaxError as error:
                    line, column = flow.position("steps", step.id)
                    message = f"step '{step.id}' {label} ({variant}): template error: {error.message}"
                    issues.append(Issue(flow.source, line, column, "error", "invalid_template", message))
    return issues
