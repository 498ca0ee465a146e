"""Phone numbers: normalisation to E.164, pseudonymous keys, and masking for logs."""
from __future__ import annotations

import hashlib
import hmac
import re

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """A number that cannot be a real phone number; the message says why, without the full number."""


def normalize_phone(raw: str, region: str = "MN") -> str:
    """Return E.164 (`+97699112233`) for `99112233`, `976 99112233`, `+976-9911-2233`…; raise InvalidPhoneNumber."""
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
        raise InvalidPhoneNumber(f"not a phone number: {mask_phone(raw)} ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"not a valid phone number for its country: {mask_phone(raw)}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def contact_key(e164: str, secret: str) -> str:
    """The pseudonymous contact id: HMAC-SHA256(secret key, E.164 number), hex."""
    return hmac.new(secret.encode(), e164.encode(), hashlib.sha256).hexdigest()


def mask_phone(number: str) -> str:
    """`+97699112233` → `+976****2233`: enough to tell numbers apart in a log, not to dial one."""
    text = str(number or "")
    if len(text) <= 6:
        return "****"
    head = 4 if text.startswith("+") else 0
    return text[:head] + "****" + text[-4:]


# A "+" and 8+ digits (separators allowed), or 8-15 bare digits: dates and times do not match.
PHONE_PATTERN = re.compile(r"\+\d[\d \-]{6,}\d|(?<!\d)\d{8,15}(?!\d)")


def mask_phones_in(text: str) -> str:
    """Mask anything that looks like a phone number inside free text (log lines)."""
    return PHONE_PATTERN.sub(lambda m: mask_phone(re.sub(r"[\s\-]", "", m.group())), text)
