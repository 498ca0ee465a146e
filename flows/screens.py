"""Turning a question into what a phone shows: compact SMS lines, or USSD screens paged to fit.

USSD screens hold 182 GSM-7 characters, or 80 once any character forces UCS-2 (protocols.md §1.3).
"""
from __future__ import annotations

from collections.abc import Sequence

from flows.messages import MESSAGES, MORE_NUMBER
from flows.text import is_gsm7, sms_units

USSD_GSM7_LIMIT = 182
USSD_UCS2_LIMIT = 80


def ussd_fits(screen: str) -> bool:
    gsm7, units = sms_units(screen)
    return units <= (USSD_GSM7_LIMIT if gsm7 else USSD_UCS2_LIMIT)


def ussd_limit(screen: str) -> int:
    return USSD_GSM7_LIMIT if is_gsm7(screen) else USSD_UCS2_LIMIT


def sms_question(question: str, items: Sequence[tuple[int, str]]) -> str:
    """SMS lists choices compactly after the question: "… 1-Тийм 2-Үгүй"."""
    listed = " ".join(f"{number}-{label}" for number, label in items)
    return f"{question} {listed}".strip() if listed else question


def ussd_pages(head: Sequence[str], items: Sequence[tuple[int, str]], language: str, script: str) -> list[str]:
    """Split a menu into screens; every screen but the last ends with "99 Цааш"; later ones offer "0 Буцах"."""
    more = f"{MORE_NUMBER} {MESSAGES['more'].source(language, script)}"
    back = f"0 {MESSAGES['back'].source(language, script)}"
    lines = [f"{number}. {label}" for number, label in items]
    size = {line: sms_units(line) for line in [*head, *lines, more, back]}  # each line measured once
    pages: list[list[str]] = [list(head)]
    for index, line in enumerate(lines):
        current = pages[-1]
        tail = [back] if len(pages) > 1 else []
        is_last = index == len(lines) - 1
        needed = current + [line] + ([] if is_last else [more]) + tail  # the last page needs no "more"
        if _has_item(current, head, len(pages)) and not _fits([size[part] for part in needed]):
            pages.append([])
        pages[-1].append(line)
    screens = []
    for index, page in enumerate(pages):
        tail = ([more] if index < len(pages) - 1 else []) + ([back] if index > 0 else [])
        screens.append("\n".join(line for line in page + tail if line))
    return screens


def _fits(sizes: list[tuple[bool, int]]) -> bool:
    """Whether lines of these sizes, joined by newlines, fit one USSD screen."""
    gsm7 = all(fits for fits, _ in sizes)
    units = sum(units for _, units in sizes) + len(sizes) - 1
    return units <= (USSD_GSM7_LIMIT if gsm7 else USSD_UCS2_LIMIT)


def _has_item(page: list[str], head: Sequence[str], page_count: int) -> bool:
    return len(page) > (len(head) if page_count == 1 else 0)
