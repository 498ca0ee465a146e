"""Phone numbers as people and providers write them, normalised to E.164. Channels and commands use this;
pseudonymous keys and masking live in storage.phones. Error messages never repeat the number."""
from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from gateway.config_schema import OPERATORS


class InvalidPhoneNumber(ValueError):
    """A number that cannot be a real phone number; the message says why, without the number."""


def normalize_phone(raw: str, region: str = "MN") -> str:
    """Return E.164 (`+97699112233`) for `99112233`, `976 99112233`, `+976-9911-2233`…; raise InvalidPhoneNumber."""
    if raw and len(raw) <= 32:  # every hop of a USSD session repeats its number; parsing costs a quarter of a ms
        return _normalized(raw, region)
    return _normalize(raw, region)


@lru_cache(maxsize=20_000)
def _normalized(raw: str, region: str) -> str:
    return _normalize(raw, region)


def _normalize(raw: str, region: str) -> str:
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    digits = re.sub(r"\D", "", text)
    # Mongolian habit: 976XXXXXXXX without the plus, or the 001/00 international prefixes.
    for prefix in ("001976", "00976"):
        if digits.startswith(prefix):
            text = "+" + digits[len(prefix) - 3:]
    if not text.startswith("+") and digits.startswith("976") and len(digits) == 11:
        text = "+" + digits
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number ({len(digits)} digits: {exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"not a valid phone number for its country ({len(digits)} digits)")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def operator_of(e164: str, prefixes: dict[str, list[str]]) -> str | None:
    """The mobile operator (Mobicom, Unitel, Skytel, G-Mobile) of a Mongolian number, for on-net sending:
    phonenumbers' carrier data where it names one of those, else the longest matching prefix in `prefixes`
    (operator → prefixes after +976, from config). None for other countries and numbers no one names."""
    from phonenumbers import carrier

    if not e164.startswith("+976"):
        return None
    try:
        named = carrier.name_for_number(phonenumbers.parse(e164), "en").casefold()
    except phonenumbers.NumberParseException:
        return None
    for operator in OPERATORS:
        if operator.casefold() == named:
            return operator
    national = e164[4:]
    matches = [(len(prefix), operator) for operator, listed in prefixes.items() for prefix in listed
               if national.startswith(prefix)]
    return max(matches)[1] if matches else None
