"""Several choices in one answer, for "up to K" questions (the Local Development Fund vote): "1 3", "1,3",
"1 ба 3", "нэг гурав", "gerel, usnii", "Гудамжны гэрэл". Total: whatever arrives, the chosen keys or a reason to
ask again, never an exception.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from flows.answers import UNCLEAR_CHOICE, Accepted, Parsed, Rejected, clean, parse_choice
from flows.definition import Choice
from flows.lexicon import Lexicon, default_lexicon
from flows.text import normalize

_MAX_LENGTH = 200
# Between picks: punctuation, or a conjunction in either script ("1 ба 3", "1 and 3", "1 bolon 3").
_CONJUNCTIONS = ("ба", "болон", "бас", "ba", "bolon", "bas", "and")
_SEPARATOR = re.compile(r"\s*[,;&+/]\s*|\s+(?:" + "|".join(_CONJUNCTIONS) + r")\s+", re.IGNORECASE)
_RANGE = re.compile(r"\d+\s*-\s*\d+")  # "1-3": a range or a list? Ask rather than guess.
TOO_MANY_CHOICES = "too_many_choices"  # a Rejected reason, beside flows.answers' own


def parse_picks(text: str, choices: Sequence[Choice], most: int, lexicon: Lexicon | None = None) -> Parsed:
    """Accepted(the chosen keys, each once, in the order given) or Rejected(unclear_choice | too_many_choices);
    `most` is how many may be chosen."""
    lexicon = lexicon or default_lexicon()
    keys: list[str] = []
    for token in _tokens(clean(text)[:_MAX_LENGTH], lexicon):
        parsed = Rejected(UNCLEAR_CHOICE) if _RANGE.fullmatch(token) else parse_choice(token, choices, lexicon)
        if isinstance(parsed, Rejected):
            return parsed
        if parsed.value.key not in keys:
            keys.append(parsed.value.key)
    if not keys:
        return Rejected(UNCLEAR_CHOICE)
    return Accepted(tuple(keys)) if len(keys) <= most else Rejected(TOO_MANY_CHOICES)


def _tokens(text: str, lexicon: Lexicon) -> list[str]:
    tokens = []
    for part in _SEPARATOR.split(text):
        part = part.strip(" .")
        words = part.split()
        if len(words) > 1 and all(word.isdigit() or lexicon.number(word) is not None for word in words):
            tokens += words  # "1 3", "нэг гурав"
        elif part and normalize(part):
            tokens.append(part)
    return tokens
