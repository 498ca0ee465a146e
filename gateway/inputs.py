"""Reading untrusted input: raw JSON bodies, text, whole numbers. The webhooks and the API both read through here, so
every endpoint refuses the same things in the same way: a clear 400, never a 500 and never a traceback in the log.
"""
from __future__ import annotations

import json
import re

MAX_JSON_DEPTH = 32  # our bodies nest 3 deep; deeper is an attack on the parser, not a message
MAX_DIGITS = 12
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
ASCII_DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")


class BadInput(ValueError):
    """Input that cannot be what the endpoint takes; the message says what is wrong and is safe to answer."""


def parse_json(raw: bytes) -> object:
    """The JSON value of a body: strict UTF-8, at most MAX_JSON_DEPTH levels deep."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("the body is not valid UTF-8") from None
    if nesting_depth(text) > MAX_JSON_DEPTH:
        raise BadInput(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BadInput("the body is not valid JSON") from None


def nesting_depth(text: str) -> int:
    """How deep brackets nest in JSON text (brackets inside strings do not count); linear, no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def has_lone_surrogate(text: str) -> bool:
    """Half of a UTF-16 pair (JSON allows `\\ud83d` alone): no database can store it as text."""
    return LONE_SURROGATE.search(text) is not None


def replace_lone_surrogates(text: str) -> str:
    """Keep what arrived, with each unstorable half-character shown as U+FFFD (the replacement character)."""
    return LONE_SURROGATE.sub("\ufffd", text)


def whole_number(raw: str, name: str) -> int:
    """A non-negative whole number written in ASCII digits (not `²`, not 5,000 digits)."""
    if not ASCII_DIGITS.fullmatch(raw or ""):
        raise BadInput(f"'{name}' must be a whole number of at most {MAX_DIGITS} digits")
    return int(raw)
