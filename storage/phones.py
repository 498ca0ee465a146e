"""Phone numbers as stored: pseudonymous keys, and masking for logs (normalisation is gateway.phones)."""
from __future__ import annotations

import hashlib
import hmac
import re


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
