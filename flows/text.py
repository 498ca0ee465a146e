"""Text helpers shared by the engine, the validator and the gateway.

Two jobs live here: *matching* what people type (``normalize``, ``same_word``) and *writing and sizing* what we
send (``to_latin``, ``sms_size``).  Matching folds the informal habits of Mongolian texters (domain.md §4.1) so that
``ГОМДОЛ!``, ``Гомдол``, ``gomdol`` and ``gomdl`` meet; ``to_latin`` writes the way people in Mongolia text
(``Hurliin zar … Purev … irehgui … uu``); sizing follows the GSM 03.38 rules in protocols.md §4.
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
# i for ы/й/ь, e for е, and drop the hard sign.
_CYRILLIC_FOLD = str.maketrans({
    "ө": "u", "ү": "u", "у": "u", "х": "h", "ы": "i", "й": "i", "е": "e", "э": "e", "ь": "i", "ъ": "",
    "ё": "yo", "ю": "yu", "я": "ya", "ц": "ts", "і": "i",
})

# o joins u last: texting writes o for both ө and о (``Onoodor``), people type u for ө, so all four meet.
# A word-initial "ye" is е (``Yeronhii`` = Ерөнхий), so English "yes" and texted ес (nine) meet too.
_LATIN_FOLDS: tuple[tuple[str, str], ...] = (
    ("kh", "h"), ("w", "v"), ("q", "u"), ("v", "u"), ("y", "i"), ("c(?!h)", "ts"), ("i+", "i"), ("o", "u"),
    (r"(?<!\w)ie", "e"),
)
_LATIN_FOLD_RE = [(re.compile(pattern), replacement) for pattern, replacement in _LATIN_FOLDS]

# Outbound Latin must stay in GSM-7; these are the non-GSM characters Mongolian text and our templates produce.
_GSM_FRIENDLY = str.maketrans({
    "–": "-", "—": "-", "‑": "-", "…": "...", "«": '"', "»": '"', "“": '"', "”": '"', "„": '"', "‘": "'",
    "’": "'", "`": "'", "₮": "tug", "№": "No", "\u00a0": " ", "•": "-", "×": "x",
})

# Texting-style Latin (docs/flows.md "Latin"): h for х, u for ү/у, o for ө/о, ii for ы/ий, i for ь, no
# diacritics, nothing outside GSM-7. е is "ye" at the start of a word (Yeronhii), "e" inside one (eeldeg).
# Kazakh and Ukrainian letters that turn up in names and on borrowed keyboards are written like their twins.
_TEXTING_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "j", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "ө": "o", "п": "p", "р": "r", "с": "s",
    "т": "t", "у": "u", "ү": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "",
    "ы": "ii", "ь": "i", "э": "e", "ю": "yu", "я": "ya",
    "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ұ": "u", "һ": "h", "і": "i", "ї": "u", "є": "o",
}
_TEXTING_PAIRS = {"ий": "ii", "ый": "ii"}

_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[A-Za-z\u00c0-\u024f]")
_WORD_RE = re.compile(r"\S+")
_VOWELS = set("aeiouy")


@functools.lru_cache(maxsize=8192)
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
    """True when *a* and *b* normalise alike, or differ by one dropped vowel (``gomdl`` = ``gomdol``)."""
    first, second = normalize(a), normalize(b)
    if first == second:
        return bool(first)
    shorter, longer = sorted((first, second), key=len)
    if len(longer) != len(shorter) + 1 or len(shorter) < 3:
        return False
    return any(
        longer[i] in _VOWELS and longer[:i] + longer[i + 1:] == shorter for i in range(len(longer))
    )


@functools.lru_cache(maxsize=8192)
def to_latin(text: str) -> str:
    """Cyrillic Mongolian in texting-style Latin (``Хурлын зар`` → ``Hurliin zar``), always GSM-7."""
    text = (text or "").translate(_GSM_FRIENDLY)
    out: list[str] = []
    index = 0
    while index < len(text):
        pair = text[index:index + 2]
        if pair.lower() in _TEXTING_PAIRS:
            out.append(_cased(_TEXTING_PAIRS[pair.lower()], text, index, 2))
            index += 2
            continue
        char = text[index]
        latin = _TEXTING_LATIN.get(char.lower())
        if latin is None:
            out.append(_plain_latin(char))
        else:
            if char.lower() == "е" and not (index and text[index - 1].isalnum()):
                latin = "ye"
            out.append(_cased(latin, text, index, 1))
        index += 1
    return "".join(out)


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


@functools.lru_cache(maxsize=4096)  # menus repeat the same lines (unit names, "99 Цааш") hop after hop
def sms_units(text: str) -> tuple[bool, int]:
    """(fits GSM-7, its length in septets or UTF-16 units): all a USSD screen's limit needs to know."""
    basic, extension = _gsm_alphabet()
    characters = set(text)
    if characters <= basic | extension:
        return True, len(text) + sum(text.count(char) for char in characters & extension)
    return False, len(text.encode("utf-16-le", "surrogatepass")) // 2


def sms_size(text: str) -> SmsSize:
    """Encoding and segment count of one SMS, per the 3GPP TS 23.038 rules."""
    basic, extension = _gsm_alphabet()
    characters = set(text)
    if characters <= basic | extension:
        septets = len(text) + sum(text.count(char) for char in characters & extension)
        widths = (lambda: [2 if char in extension else 1 for char in text]) if septets > GSM7_SINGLE else list
        return SmsSize("GSM-7", len(text), _count_parts(septets, widths, GSM7_SINGLE, GSM7_PART), septets)
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    widths = (lambda: [2 if ord(char) > 0xFFFF else 1 for char in text]) if units > UCS2_SINGLE else list
    return SmsSize("UCS-2", len(text), _count_parts(units, widths, UCS2_SINGLE, UCS2_PART), units)


def sms_encoding(text: str) -> Encoding:
    return sms_size(text).encoding


def sms_segments(text: str) -> int:
    return sms_size(text).segments


def is_gsm7(text: str) -> bool:
    basic, extension = _gsm_alphabet()
    return set(text) <= basic | extension


@functools.lru_cache(maxsize=1)
def _gsm_alphabet() -> tuple[frozenset[str], frozenset[str]]:
    """(the basic set, the extension table): one septet each, or two (an escape first). Read from the codec once."""
    basic, extension = {"\x1b"}, set()
    for code in range(128):
        basic |= set(_decoded(bytes([code])))
        extension |= set(_decoded(bytes([0x1B, code])))
    extension -= basic
    return frozenset(basic), frozenset(extension)


def _decoded(data: bytes) -> str:
    try:
        decoded = data.decode("gsm03.38")
    except UnicodeDecodeError:
        return ""
    return decoded if len(decoded) == 1 else ""


def _count_parts(total: int, widths, single: int, per_part: int) -> int:
    """Pack characters into parts without splitting an escape or surrogate pair across two parts; `widths` (a
    function giving each character's width) is only called when the message does not fit one part."""
    if total <= single:
        return 1
    parts, used = 1, 0
    for width in widths():
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


def _cased(latin: str, text: str, index: int, width: int) -> str:
    """Upper-case as the Cyrillic was: ``Ш`` → ``Sh`` in ``Шинэ``, ``SH`` in ``ШҮҮ`` and ``ИНХ``."""
    source = text[index:index + width]
    if not source[0].isupper():
        return latin
    after = text[index + width:index + width + 1]
    before = text[index - 1:index] if index else ""
    shouting = source.isupper() and (after.isupper() or (not after.isalpha() and before.isupper()))
    return latin.upper() if shouting or width == len(latin) == 1 else latin.capitalize()


def _plain_latin(char: str) -> str:
    """Anything else: Latin loses its diacritics (ü → u); what GSM-7 cannot carry becomes ``?``."""
    stripped = _strip_diacritics(char)
    if stripped and is_gsm7(stripped):
        return stripped
    return char if is_gsm7(char) else "?"
