"""Phone numbers as stored: pseudonymous keys, and masking wherever text leaves the system (normalisation is
gateway.phones)."""
from __future__ import annotations

import hashlib
import hmac
import re

import peewee
import phonenumbers


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


FREE_TEXT_MASK = "[утас]"
# Six or more digits close together: only then is the (slower) phonenumbers matcher run.
_DIGIT_RUN = re.compile(r"\d(?:[\s().\-/]{0,3}\d){5,}")
# A "+" and 7+ digits is someone's number even when phonenumbers thinks the number invalid.
_PLUS_NUMBER = re.compile(r"\+\d(?:[\s\-]?\d){6,}")
# A calendar date reads like a possible number ("2026-11-23", "2026.11.23"); it is not one.
_DATE = re.compile(r"(?:19|20)\d\d[-./](?:0?[1-9]|1[0-2])[-./](?:0?[1-9]|[12]\d|3[01])")


def mask_phones_in(text: str, region: str = "MN", keep_last: int = 4) -> str:
    """Every phone number inside `text`, however written (`9911 2233`, `9911-2233`, `976-9911-2233`,
    `99-11-22-33`, `+976 9911 2233`, `97699112233`…), masked: as `+976****2233` (log lines, operators), or as
    `[утас]` with `keep_last=0` (free text that people read). Found by `phonenumbers.PhoneNumberMatcher`."""
    text = str(text or "")
    if not _DIGIT_RUN.search(text):
        return text
    pieces, end = [], 0
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
        if _DATE.fullmatch(match.raw_string.strip()) or not phonenumbers.is_valid_number(match.number):
            continue
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        pieces += [text[end:match.start], mask_phone(e164) if keep_last else FREE_TEXT_MASK]
        end = match.end
    masked = "".join(pieces) + text[end:]
    return _PLUS_NUMBER.sub(lambda m: mask_phone(re.sub(r"[\s\-]", "", m.group())) if keep_last
                            else FREE_TEXT_MASK, masked)


def mask_free_text(text: str | None, region: str = "MN") -> str | None:
    """Free text on its way to a person (staff, a CSO, an export): every number replaced by `[утас]`."""
    return None if text is None else mask_phones_in(text, region, keep_last=0)


class MaskedTextField(peewee.TextField):
    """A text column that never stores a phone number: provider errors quote the "To" number (Twilio's do)."""

    def db_value(self, value):
        return None if value is None else mask_phones_in(str(value))
