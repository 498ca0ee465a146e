"""Turning a question into what a phone shows: compact SMS lines, or USSD screens paged to fit.

USSD screens hold 182 GSM-7 characters, or 80 once any character forces UCS-2 (protocols.md §1.3).
"""
from __future__ import annotations

from collections.abc import Sequence

from flows.messages import MESSAGES, MORE_NUMBER
from flows.text import is_gsm7, sms_size, sms_units

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


SMS_PAGE_SEGMENTS = 2  # a menu longer than this is sent in parts ("99-Цааш" asks for the next one)
SMS_PAGE_ITEMS = 3  # … but each part lists at least this many items, so a short menu is never split


def sms_pages(question: str, items: Sequence[tuple[int, str]], language: str, script: str) -> list[str]:
    """A question and its menu as one SMS, or, when that would take more than SMS_PAGE_SEGMENTS segments,
    as parts that each fit (or hold SMS_PAGE_ITEMS items): the first starts with the question, all but the last
    end with "99-Цааш"."""
    whole = sms_question(question, items)
    if len(items) <= SMS_PAGE_ITEMS + 1 or sms_size(whole).segments <= SMS_PAGE_SEGMENTS:
        return [whole]
    more = f"{MORE_NUMBER}-{MESSAGES['more'].source(language, script)}"
    pages: list[list[str]] = [[question]]
    for index, (number, label) in enumerate(items):
        line = f"{number}-{label}"
        tail = [] if index == len(items) - 1 else [more]
        if len(pages[-1]) - (len(pages) == 1) >= SMS_PAGE_ITEMS and \
                sms_size(" ".join(pages[-1] + [line] + tail)).segments > SMS_PAGE_SEGMENTS:
            pages.append([])
        pages[-1].append(line)
    return [" ".join(page + ([more] if number < len(pages) else [])) for number, page in enumerate(pages, 1)]


def ussd_pages(head: Sequence[str], items: Sequence[tuple[int, str]], language: str, script: str) -> list[str]:
    """Split a menu into screens; every screen but the last ends with "99 Цааш"; later ones offer "0 Буцах"."""
    more = f"{MORE_NUMBER} {MESSAGES['more'].source(language, script)}"
    back = f"0 {MESSAGES['back'].source(language, script)}"
    lines = [f"{number}. {label}" for number, label in items]
    size = {line: sms_units(line) for line in [*head, *lines, more, back]}  # each line measured once
    pages: list[list[str]] = [list(head)]
    measure = _Measure().add(*(size[line] for line in head))
    for index, line in enumerate(lines):
        tail = [size[back]] if len(pages) > 1 else []
        ending = tail if index == len(lines) - 1 else [size[more], *tail]  # the last page needs no "more"
        if _has_item(pages[-1], head, len(pages)) and not measure.fits_with(size[line], *ending):
            pages.append([])
            measure = _Measure()
        pages[-1].append(line)
        measure.add(size[line])
    screens = []
    for index, page in enumerate(pages):
        tail = ([more] if index < len(pages) - 1 else []) + ([back] if index > 0 else [])
        screens.append("\n".join(line for line in page + tail if line))
    return screens


class _Measure:
    """The running size of one screen's lines: whether all fit GSM-7, and their units with the newlines."""

    def __init__(self) -> None:
        self.gsm7, self.units, self.lines = True, 0, 0

    def add(self, *sizes: tuple[bool, int]) -> _Measure:
        for gsm7, units in sizes:
            self.gsm7, self.units, self.lines = self.gsm7 and gsm7, self.units + units, self.lines + 1
        return self

    def fits_with(self, *sizes: tuple[bool, int]) -> bool:
        gsm7 = self.gsm7 and all(fits for fits, _ in sizes)
        units = self.units + sum(units for _, units in sizes) + self.lines + len(sizes) - 1
        return units <= (USSD_GSM7_LIMIT if gsm7 else USSD_UCS2_LIMIT)


def _has_item(page: list[str], head: Sequence[str], page_count: int) -> bool:
    return len(page) > (len(head) if page_count == 1 else 0)
