"""Text helpers shared by the engine, the validator and the gateway.

Two jobs live here: *matching* what people type (``normalize``, ``same_word``) and *sizing* what we send
(``to_latin``, ``sms_size``).  Matching folds the informal habits of Mongolian texters (domain.md §4.1) so that
``ГОМДОЛ!``, ``Гомдол``, ``gomdol`` and ``gomdl`` meet; sizing follows the GSM 03.38 rules in protocols.md §4.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import cyrtranslit
import gsm0338  # noqa: F401  (registers the 'gsm03.38' codec)

Script = Literal["cyrl", "latn"]
Encoding = Literal["GSM-7", "UCS-2"]

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Keyboards without Mongolian letters: Є/Ї and Latin V stand in for Ө/Ү; Latin capitals stand in for their
# Cyrillic twins.  Only applied inside words that already contain Cyrillic, so English stays English.
_LOOKALIKE_IN_CYRILLIC = str.maketrans({
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р", "T": "Т",
    "X": "Х", "Y": "У", "a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "k": "к",
    "Є": "Ө", "є": "ө", "Ї": "Ү", "ї": "ү", "V": "Ү", "v": "ү", "Ö": "Ө", "ö": "ө", "Ü": "Ү", "ü": "ү",
})

# Informal habits folded before cyrtranslit sees the word (domain.md §4.1): people write u for ө/ү/у, h for х,
# i for ы/й, e for е, and drop the soft and hard signs.
_CYRILLIC_FOLD = str.maketrans({
    "ө": "u", "ү": "u", "у": "u", "х": "h", "ы": "i", "й": "i", "е": "e", "э": "e", "ь": "", "ъ": "",
    "ё": "yo", "ю": "yu", "я": "ya", "ц": "ts", "і": "i",
})

_LATIN_FOLDS: tuple[tuple[str, str], ...] = (
    ("kh", "h"), ("w", "v"), ("q", "u"), ("v", "u"), ("y", "i"), ("c(?!h)", "ts"), ("i+", "i"),
)
_LATIN_FOLD_RE = [(re.compile(pattern), replacement) for pattern, replacement in _LATIN_FOLDS]

# Outbound Latin must stay in GSM-7; these are the non-GSM characters Mongolian text and our templates produce.
_GSM_FRIENDLY = str.maketrans({
    "–": "-", "—": "-", "‑": "-", "…": "...", "«": '"', "»": '"', "“": '"', "”": '"', "„": '"', "‘": "'",
    "’": "'", "`": "'", "₮": "tug", "№": "No", "\u00a0": " ", "•": "-", "×": "x",
})

_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
_WORD_RE = re.compile(r"\S+")
_VOWELS = set("aeiouy")


def normalize(text: str) -> str:
    """Reduce *text* to a matching key: Latin, lower-case, no punctuation, informal spellings folded."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _drop_invisible_and_symbols(text)
    text = _WORD_RE.sub(lambda word: _fold_lookalikes(word.group()), text)
    text = text.lower().translate(_CYRILLIC_FOLD).replace("ö", "u").replace("ü", "u")  # MNS ö/ü = ө/ү
    text = _strip_diacritics(text)
    text = cyrtranslit.to_latin(text, "mn").lower()
    for pattern, replacement in _LATIN_FOLD_RE:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def same_word(a: str, b: str) -> bool:
    """True when *a* and *b* normalise alike, or differ by one dropped vowel (``gomdl`` = ``gomdol``).

    Also loose on o/u, since people type o as well as u for ө (``dorvoljin`` = Дөрвөлжин).
    """
    first, second = normalize(a).replace("o", "u"), normalize(b).replace("o", "u")
    if first == second:
        return bool(first)
    shorter, longer = sorted((first, second), key=len)
    if len(longer) != len(shorter) + 1 or len(shorter) < 3:
        return False
    return any(
        longer[i] in _VOWELS and longer[:i] + longer[i + 1:] == shorter for i in range(len(longer))
    )


def to_latin(text: str) -> str:
    """Render Cyrillic Mongolian in Latin letters that fit GSM-7 (ö and ü are in the GSM basic set)."""
    latin = cyrtranslit.to_latin(text or "", "mn").translate(_GSM_FRIENDLY)
    return "".join(_gsm_char(char) for char in latin)


def detect_script(text: str) -> Script | None:
    """The script the person wrote in; Cyrillic wins when both appear, since Latin look-alikes are common."""
    if _CYRILLIC_RE.search(text or ""):
        return "cyrl"
    if _LATIN_RE.search(text or ""):
        return "latn"
    return None


@dataclass(frozen=True)
class SmsSize:
    encoding: Encoding
    chars: int  # characters as a person counts them (code points)
    segments: int
    units: int = 0  # septets for GSM-7, UTF-16 code units for UCS-2


def sms_size(text: str) -> SmsSize:
    """Encoding and segment count of one SMS, per the 3GPP TS 23.038 rules."""
    septets = _gsm_septets(text)
    if septets is not None:
        return SmsSize("GSM-7", len(text), _count_parts(septets, GSM7_SINGLE, GSM7_PART), sum(septets))
    units = [2 if ord(char) > 0xFFFF else 1 for char in text]
    return SmsSize("UCS-2", len(text), _count_parts(units, UCS2_SINGLE, UCS2_PART), sum(units))


def sms_encoding(text: str) -> Encoding:
    return sms_size(text).encoding


def sms_segments(text: str) -> int:
    return sms_size(text).segments


def is_gsm7(text: str) -> bool:
    return _gsm_septets(text) is not None


def _gsm_septets(text: str) -> list[int] | None:
    """Septets per character (1 basic, 2 extension), or None if any character needs UCS-2."""
    widths = [_gsm_width(char) for char in text]
    return None if 0 in widths else widths


@functools.lru_cache(maxsize=4096)
def _gsm_width(char: str) -> int:
    """1 for the basic set, 2 for the extension table, 0 when the character needs UCS-2."""
    if char == "\x1b":
        return 1
    try:
        return len(char.encode("gsm03.38"))
    except UnicodeEncodeError:
        return 0


def _count_parts(widths: list[int], single: int, per_part: int) -> int:
    """Pack characters into parts without splitting an escape or surrogate pair across two parts."""
    if sum(widths) <= single:
        return 1
    parts, used = 1, 0
    for width in widths:
        if used + width > per_part:
            parts, used = parts + 1, 0
        used += width
    return parts


def _drop_invisible_and_symbols(text: str) -> str:
    """Punctuation, symbols (emoji) and format marks (RTL/LTR, zero-width) become spaces."""
    return "".join(
        " " if unicodedata.category(char)[0] in "PSZC" else char for char in text
    )


def _fold_lookalikes(word: str) -> str:
    return word.translate(_LOOKALIKE_IN_CYRILLIC) if _CYRILLIC_RE.search(word) else word


def _strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _gsm_char(char: str) -> str:
    if is_gsm7(char):
        return char
    stripped = _strip_diacritics(char)
    return stripped if stripped and is_gsm7(stripped) else "?"
