"""Sandboxed ``{{ }}`` templates, compiled once per distinct source string.

Templates see only plain data: saved results, the context variables a flow uses, and localized wrappers.
The sandbox blocks attribute tricks (``__class__`` and friends), so a flow file can never reach Python objects.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, meta, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flows.text import to_latin

_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")

_env = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=False)


class Localized(dict):
    """A mapping with mn/en(/latn) keys that prints itself in the reader's language and script.

    Lets data from the gateway (indicator texts, meeting places) be written ``{{ indicator }}`` in a template
    while its other fields stay reachable (``{{ indicator.code }}``).
    """

    def __init__(self, data: Mapping, language: str, script: str) -> None:
        super().__init__(data)
        self._language, self._script = language, script

    def __str__(self) -> str:
        return pick_language(self, self._language, self._script)


def pick_language(data: Mapping, language: str, script: str) -> str:
    if language == "en" and data.get("en"):
        return str(data["en"])
    if script == "latn":
        return str(data.get("latn") or to_latin(str(data.get("mn") or data.get("en") or "")))
    return str(data.get("mn") or data.get("en") or "")


class TextOnly:
    """Wraps any other object (e.g. the gateway's lazy ``ref``): a template can print it, nothing more.

    The sandbox hides underscore attributes, so neither ``_value`` nor its methods are reachable.
    """

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def __str__(self) -> str:
        return str(self._value)


_PLAIN = (str, int, float, bool, date, type(None))


def localize(value: Any, language: str, script: str) -> Any:
    """Plain data for templates; mappings with translations print in the reader's language."""
    if isinstance(value, Mapping):
        items = {str(key): localize(item, language, script) for key, item in value.items()}
        return Localized(items, language, script) if ("mn" in value or "en" in value) else items
    if isinstance(value, list | tuple):
        return [localize(item, language, script) for item in value]
    return value if isinstance(value, _PLAIN) else TextOnly(value)


@pass_context
def _day(context, value: Any) -> str:
    """A date as people write it: 6/20 in Mongolian, 20 June in English."""
    day = _as_date(value)
    if day is None:
        return str(value)
    return f"{day.day} {_MONTHS_EN[day.month - 1]}" if context.get("lang", "mn") == "en" else f"{day.month}/{day.day}"


@pass_context
def _day_genitive(context, value: Any) -> str:
    """"Of that date": 12/1-ний, 12/2-ын, 12/4-ийн, 12/7-гийн, 12/20-ны (12/1-nii … in Latin); 1 December in English.

    The ending follows the last number word said aloud (арван нэг → нэгний), so it depends on the day alone.
    """
    day = _as_date(value)
    if day is None or context.get("lang", "mn") == "en":
        return _day(context, value)
    endings = _GENITIVE_LATIN if context.get("script") == "latn" else _GENITIVE
    spoken = day.day % 10 or day.day  # 10, 20, 30 are words of their own
    return f"{day.month}/{day.day}-{endings[spoken]}"


# By the last number word: нэгний, хоёрын, гурвын, дөрвийн, тавны, зургааны, долоогийн, наймны, есний,
# аравны, хорины, гучны.
_GENITIVE = {1: "ний", 2: "ын", 3: "ын", 4: "ийн", 5: "ны", 6: "ны", 7: "гийн", 8: "ны", 9: "ний", 10: "ны",
             20: "ны", 30: "ны"}
_GENITIVE_LATIN = {number: to_latin(ending) for number, ending in _GENITIVE.items()}


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        return None


_env.filters["day"] = _day
_env.filters["day_genitive"] = _day_genitive


@lru_cache(maxsize=4096)
def compile_template(source: str):
    """Compile (and cache) one template; raises TemplateSyntaxError for the loader to report."""
    return _env.from_string(source)


@lru_cache(maxsize=4096)
def variables_in(source: str) -> frozenset[str]:
    """Top-level names a template reads, e.g. {'ref', 'meeting'}."""
    try:
        return frozenset(meta.find_undeclared_variables(_env.parse(source)))
    except TemplateSyntaxError:
        return frozenset()


def render(source: str, values: Mapping[str, Any]) -> str:
    return compile_template(source).render(**values)


def is_template(source: str) -> bool:
    return "{{" in source or "{%" in source
