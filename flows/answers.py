"""Understanding what people send back: numbers, menu choices, yes/no, dates and free text.

Every parser is total: whatever bytes arrive, it returns ``Accepted(value)`` or ``Rejected(reason)``, never
raises. A reason is a code (``several_numbers``, ``out_of_range``…) the engine turns into a hint that says what
was wrong, so "3-4" is asked again with "send one number" rather than silently read as 3.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from flows.definition import Choice
from flows.lexicon import Lexicon, default_lexicon
from flows.text import normalize, same_word

# Reason codes of a Rejected answer (the engine's hints and docs/flows.md list them too).
NOT_A_NUMBER = "not_a_number"
SEVERAL_NUMBERS = "several_numbers"  # "3-4", "4,5", "4.5", "3 or 4"
OUT_OF_RANGE = "out_of_range"
UNCLEAR_CHOICE = "unclear_choice"
NOT_A_DATE = "not_a_date"
EMPTY = "empty"
TOO_LONG = "too_long"
UNKNOWN_PLACE = "unknown_place"
TOO_MANY_PLACES = "too_many_places"

_NUMBER = re.compile(r"(?<!\d)-?\d+")
_LETTERS = re.compile(r"[^\W\d_]+")
_ONLY_NUMBER = re.compile(r"\s*(\d{1,3})\s*[.)]?\s*")
_MAX_MATCH_LENGTH = 200  # longer replies are sentences, not menu answers
_MAX_DIGITS = 9


@dataclass(frozen=True)
class Accepted:
    value: Any


@dataclass(frozen=True)
class Rejected:
    reason: str


Parsed = Accepted | Rejected


def clean(text: str) -> str:
    """NFKC (full-width digits become ASCII) and trimmed."""
    return unicodedata.normalize("NFKC", text if isinstance(text, str) else "").strip()


def parse_number(text: str, minimum: int | None, maximum: int | None, lexicon: Lexicon | None = None) -> Parsed:
    """One whole number, in digits or words: "4", "#4", "４", "4 onoo", "тав", "дөрвөн", "five"."""
    numbers = numbers_in(text, lexicon or default_lexicon())
    if not numbers:
        return Rejected(NOT_A_NUMBER)
    if len(numbers) > 1:
        return Rejected(SEVERAL_NUMBERS)
    number = numbers.pop()
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        return Rejected(OUT_OF_RANGE)
    return Accepted(number)


def numbers_in(text: str, lexicon: Lexicon) -> set[int]:
    """The distinct numbers a text names ("4 дөрөв" names one, "3-4" two)."""
    cleaned = clean(text)[:_MAX_MATCH_LENGTH]
    found = {_bounded_int(digits) for digits in _NUMBER.findall(cleaned)}
    found |= {number for word in _LETTERS.findall(cleaned) if (number := lexicon.number(word)) is not None}
    return found


def _bounded_int(digits: str) -> int:
    """Absurdly long digit runs stay out of range instead of becoming huge integers."""
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("-")
    return sign * (int(digits) if len(digits) <= _MAX_DIGITS else 10 ** _MAX_DIGITS)


def menu_number(text: str) -> int | None:
    """A bare menu number ("2", "2.", "2)")."""
    match = _ONLY_NUMBER.fullmatch(clean(text))
    return int(match.group(1)) if match else None


def parse_choice(text: str, choices: Sequence[Choice], lexicon: Lexicon | None = None) -> Parsed:
    """Pick a choice by number, key, label (either script), alias, meaning (``means:``) or number word."""
    lexicon = lexicon or default_lexicon()
    cleaned = clean(text)[:_MAX_MATCH_LENGTH]
    number = menu_number(cleaned)
    if number is None and normalize(cleaned):
        for matches in (_exact(normalize(cleaned), choices), _by_meaning(cleaned, choices, lexicon)):
            if len(matches) == 1:
                return Accepted(matches[0])
        number = lexicon.number(cleaned)
    if number is not None:
        chosen = next((choice for choice in choices if choice.number == number), None)
        return Accepted(chosen) if chosen else Rejected(UNCLEAR_CHOICE)
    wanted = normalize(cleaned)
    for matches in (_by_leading_number(cleaned, choices), _by_word(wanted, choices) if wanted else []):
        if len(matches) == 1:
            return Accepted(matches[0])
    return Rejected(UNCLEAR_CHOICE)


def parse_text(text: str, max_length: int) -> Parsed:
    cleaned = clean(text)
    if not cleaned:
        return Rejected(EMPTY)
    return Accepted(cleaned) if len(cleaned) <= max_length else Rejected(TOO_LONG)


def is_skip(text: str, lexicon: Lexicon | None = None) -> bool:
    """A skip word ("0", "алгасах", "байхгүй", "no"), or nothing but punctuation ("-", "...")."""
    cleaned = clean(text)[:_MAX_MATCH_LENGTH]
    return not normalize(cleaned) or (lexicon or default_lexicon()).means(cleaned, "skip")


def is_dont_know(text: str, lexicon: Lexicon | None = None) -> bool:
    return (lexicon or default_lexicon()).means(clean(text)[:_MAX_MATCH_LENGTH], "dont_know")


def parse_date(text: str, today: date, lexicon: Lexicon | None = None) -> Parsed:
    """Dates as people text them: 6/20 (month/day, this year), 2026-06-20, 2026.06.20, today, yesterday."""
    lexicon = lexicon or default_lexicon()
    cleaned = clean(text)[:_MAX_MATCH_LENGTH]
    if lexicon.means(cleaned, "today"):
        return Accepted(today)
    if lexicon.means(cleaned, "yesterday"):
        return Accepted(today - timedelta(days=1))
    numbers = [int(part) for part in re.findall(r"\d{1,4}", cleaned)[:4]]
    day = None
    if len(numbers) == 3 and numbers[0] > 31:
        day = _safe_date(numbers[0], numbers[1], numbers[2])
    elif len(numbers) == 2:
        month, day_of_month = numbers if numbers[0] <= 12 else reversed(numbers)
        day = _safe_date(today.year, month, day_of_month)
    return Accepted(day) if day else Rejected(NOT_A_DATE)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day) if 1900 <= year <= 2200 else None
    except ValueError:
        return None


def _exact(wanted: str, choices: Sequence[Choice]) -> list[Choice]:
    return [choice for choice in choices if wanted in choice_keys(choice)]


def _by_meaning(cleaned: str, choices: Sequence[Choice], lexicon: Lexicon) -> list[Choice]:
    """Choices that declare ``means: rsvp_yes`` take every word of that class ("очно", "irne ee", "yes please")."""
    if not any(choice.means for choice in choices):
        return []
    meanings = lexicon.meanings(cleaned)
    return [choice for choice in choices if choice.means in meanings]


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
