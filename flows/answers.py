"""Understanding what people send back: numbers, menu choices, yes/no, dates and unit names.

Every parser is total: it returns a value or None, never raises, whatever bytes arrive.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache

from flows.definition import Choice
from flows.messages import DONT_KNOW_WORDS, SKIP_WORDS, TODAY_WORDS, YESTERDAY_WORDS
from flows.text import normalize, same_word

_LEADING_NUMBER = re.compile(r"\s*([+-]?\d{1,9})(?!\d)")
_ONLY_NUMBER = re.compile(r"\s*(\d{1,3})\s*[.)]?\s*")
_MAX_MATCH_LENGTH = 200  # longer replies are sentences, not menu answers


def clean(text: str) -> str:
    """NFKC (full-width digits become ASCII) and trimmed."""
    return unicodedata.normalize("NFKC", text or "").strip()


def parse_number(text: str, minimum: int | None, maximum: int | None) -> int | None:
    """The number someone sent ("4", "4.", "４", "4 onoo"), if it is within bounds."""
    match = _LEADING_NUMBER.match(clean(text)[:_MAX_MATCH_LENGTH])
    if not match:
        return None
    number = int(match.group(1))
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        return None
    return number


def menu_number(text: str) -> int | None:
    """A bare menu number ("2", "2.", "2)")."""
    match = _ONLY_NUMBER.fullmatch(clean(text))
    return int(match.group(1)) if match else None


def parse_choice(text: str, choices: Sequence[Choice]) -> Choice | None:
    """Pick a choice by number, key, label (either script) or alias; None when unclear."""
    cleaned = clean(text)[:_MAX_MATCH_LENGTH]
    number = menu_number(cleaned)
    if number is not None:
        return next((choice for choice in choices if choice.number == number), None)
    wanted = normalize(cleaned)
    if not wanted:
        return None
    for matches in (_exact(wanted, choices), _by_leading_number(cleaned, choices), _by_word(wanted, choices)):
        if len(matches) == 1:
            return matches[0]
    return None


def is_skip(text: str) -> bool:
    return normalize(text) in {normalize(word) for word in SKIP_WORDS}


def is_dont_know(text: str) -> bool:
    return normalize(text) in {normalize(word) for word in DONT_KNOW_WORDS}


def parse_date(text: str, today: date) -> date | None:
    """Dates as people text them: 6/20 (month/day, this year), 2026-06-20, 2026.06.20, today, yesterday."""
    cleaned = clean(text)[:_MAX_MATCH_LENGTH]
    word = normalize(cleaned)
    if word in {normalize(w) for w in TODAY_WORDS}:
        return today
    if word in {normalize(w) for w in YESTERDAY_WORDS}:
        return today - timedelta(days=1)
    numbers = [int(part) for part in re.findall(r"\d+", cleaned)[:4]]
    if len(numbers) == 3 and numbers[0] > 31:
        return _safe_date(numbers[0], numbers[1], numbers[2])
    if len(numbers) == 2:
        month, day = numbers if numbers[0] <= 12 else reversed(numbers)
        return _safe_date(today.year, month, day)
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day) if 1900 <= year <= 2200 else None
    except ValueError:
        return None


def _exact(wanted: str, choices: Sequence[Choice]) -> list[Choice]:
    return [choice for choice in choices if wanted in choice_keys(choice)]


def _by_leading_number(cleaned: str, choices: Sequence[Choice]) -> list[Choice]:
    """"2 ugui" or "2-Үгүй": people often echo the menu line."""
    match = re.match(r"(\d{1,2})\b", cleaned)
    if not match:
        return []
    return [choice for choice in choices if choice.number == int(match.group(1))]


def _by_word(wanted: str, choices: Sequence[Choice]) -> list[Choice]:
    """A word that belongs to exactly one label ("zaluu" for "Залуу (16-24)"), allowing one dropped vowel."""
    matches = []
    for choice in choices:
        words = {word for key in choice_keys(choice) for word in key.split() if len(word) >= 3}
        if any(same_word(wanted, word) for word in words):
            matches.append(choice)
    return matches


@lru_cache(maxsize=2048)
def choice_keys(choice: Choice) -> frozenset[str]:
    """Every normalised way to name a choice; computed once per choice."""
    label = choice.label
    names = (choice.key, label.mn, label.en, label.source("mn", "latn"), *choice.aliases)
    return frozenset(normalize(name) for name in names if name) - {""}

