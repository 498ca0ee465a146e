"""The compiled, immutable form of a flow file. Built once by ``flows.loader``; read by the engine and checks."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any, Literal

from flows.text import to_latin

Severity = Literal["error", "warning"]
DEFAULT_MAX_RETRIES = 2
DEFAULT_SMS_WAIT = timedelta(days=3)
RECORD_KINDS = ("scorecard", "complaint", "rsvp", "join", "complaint_followup", "complaint_reply",
                "ldf_vote")
# System flows play a part in every conversation; the decision finds them by role (flows/system/*.yaml) and
# gives each role these variables, which its texts and conditions may read.
ROLE_VARS: dict[str, frozenset[str]] = {
    "consent": frozenset({"months"}), "ussd_menu": frozenset({"services"}),
    "help": frozenset({"keywords", "unknown", "word"}), "language": frozenset({"word"}),
    "script": frozenset({"word"}), "rejoin": frozenset(),
}
ROLES = tuple(ROLE_VARS)
# What a step's `do` may change; each becomes an effect the gateway applies.
ACTIONS = ("set_language", "set_script", "opt_in")


@dataclass(frozen=True)
class Issue:
    """One problem found in a flow file; ``str()`` gives the editor-friendly ``file:line:column: message``."""

    file: str
    line: int
    column: int
    severity: Severity
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column, "severity": self.severity,
                "code": self.code, "message": self.message}


class FlowError(Exception):
    """A flow file that cannot be used; ``issues`` says why (errors and warnings)."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = issues


@lru_cache(maxsize=8192)
def _latin_source(mn: str) -> str:
    return to_latin(mn)


@dataclass(frozen=True)
class Text:
    """A translatable text. Mongolian Latin is the ``latn`` override, or the Cyrillic transliterated."""

    mn: str = ""
    en: str = ""
    latn: str | None = None

    def source(self, language: str, script: str) -> str:
        """The template source to render for a reader (English ignores script)."""
        if language == "en":
            return self.en or self.mn
        if script == "latn":
            return self.latn if self.latn is not None else _latin_source(self.mn)
        return self.mn or self.en

    def variants(self) -> dict[str, str]:
        """Every rendering we may send, keyed mn / latn / en."""
        return {"mn": self.source("mn", "cyrl"), "latn": self.source("mn", "latn"), "en": self.source("en", "latn")}


@dataclass(frozen=True)
class Choice:
    key: str
    label: Text
    number: int
    aliases: tuple[str, ...] = ()
    means: str | None = None  # a lexicon class (flows/lexicon.yaml): every word of it picks this choice


@dataclass(frozen=True)
class Branch:
    goto: str
    condition: Mapping[str, Any] | None = None  # None = always


@dataclass(frozen=True)
class Foreach:
    list_path: str  # e.g. "round.indicators"
    item_name: str  # e.g. "indicator"
    key_field: str = "code"


@dataclass(frozen=True)
class Answer:
    """What an ``ask`` accepts. ``kind`` is one of ANSWER_KINDS; the other fields apply per kind."""

    kind: str
    choices: tuple[Choice, ...] = ()
    choices_from: str | None = None
    other_key: str | None = None
    other_save: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 160
    optional: bool = False
    levels: tuple[str, ...] = ()
    ask_second: Text | None = None
    # choices_from only: keep the items whose field equals a saved result or data path ((field, path), …)
    where: tuple[tuple[str, str], ...] = ()
    most: int | str | None = None  # up to this many choices (a number, or a path to one in the data)


# choices_from compiles to kind "choices" with ``choices_from`` set: its items arrive with the context.
ANSWER_KINDS = ("choices", "number", "text", "yes_no", "date", "admin_unit")


@dataclass(frozen=True)
class Step:
    id: str
    say: Text | None = None
    ask: Text | None = None
    hint: Text | None = None
    answer: Answer | None = None
    save: str | None = None
    foreach: Foreach | None = None
    next: tuple[Branch, ...] = ()
    goto_flow: str | None = None
    goto_flow_from: str | None = None  # a saved result that names the flow to go to (the USSD menu)
    end: bool = False
    do: tuple[tuple[str, str], ...] = ()  # actions run when the step is reached, before its say

    @property
    def is_terminal(self) -> bool:
        return self.end or self.leaves_flow or not self.next

    @property
    def leaves_flow(self) -> bool:
        return self.goto_flow is not None or self.goto_flow_from is not None

    def texts(self) -> list[tuple[str, Text]]:
        """(label, text) pairs for translation and size checks."""
        found = [(name, text) for name, text in (("say", self.say), ("ask", self.ask), ("hint", self.hint)) if text]
        if self.answer:
            found += [(f"choice {choice.key}", choice.label) for choice in self.answer.choices]
            if self.answer.ask_second:
                found.append(("ask_second", self.answer.ask_second))
        return found


@dataclass(frozen=True)
class Flow:
    id: str
    version: int
    name: dict[str, str]
    start: str
    steps: dict[str, Step]
    keywords: tuple[str, ...] = ()
    ussd: bool = False
    ussd_order: int = 100
    records: str | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    sms_wait: timedelta = DEFAULT_SMS_WAIT
    reopen: bool = False  # SMS: after finishing, wait again quietly so a later answer replaces this one
    uses: frozenset[str] = frozenset()
    role: str | None = None
    reserved: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # group → one-word messages
    source: str = "<string>"
    positions: Mapping[tuple, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)

    def title(self, language: str, script: str) -> str:
        """The flow's name for menus and help lists."""
        return Text(self.name.get("mn", ""), self.name.get("en", ""), self.name.get("latn")).source(language, script)

    def position(self, *path: Any) -> tuple[int, int]:
        """Line and column (1-based) of a node in the source file, or of its nearest known parent."""
        key = tuple(path)
        while key and key not in self.positions:
            key = key[:-1]
        return self.positions.get(key, (1, 1))

    def saved_names(self) -> set[str]:
        """Result names some step saves; a ``foreach`` step saves ``name.*``."""
        names: set[str] = set()
        for step in self.steps.values():
            if step.save:
                names.add(f"{step.save}.*" if step.foreach else step.save)
            if step.answer and step.answer.other_save:
                names.add(step.answer.other_save)
        return names
