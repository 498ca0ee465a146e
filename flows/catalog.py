"""Admin units (district/soum, khoroo/bag) as plain data, for the ``admin_unit`` question.

The gateway builds an ``AdminCatalog`` from its AdminUnit rows (or the bundled CSV); the engine only reads it.
A typed name is saved only when it names one unit exactly; otherwise ``search`` returns the few units it could
mean, for the person to pick from (``Сонгино``: Songinokhairkhan district or Songino soum).
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flows.text import normalize, same_word, to_latin

TOP_LEVEL_KINDS = ("district", "soum")
SECOND_LEVEL_KINDS = ("khoroo", "bag")
MAX_CANDIDATES = 5  # a longer list is no help: ask for more of the name instead
# Words people leave out when naming a unit ("Баянгол" for "Баянгол дүүрэг"); said, they narrow the kind.
_KIND_WORDS = {
    "district": ("дүүрэг", "дүүргийн", "district", "duureg"),
    "soum": ("сум", "сумын", "soum", "sum"),
    "aimag": ("аймаг", "аймгийн", "aimag", "province"),
}
_GENERIC_WORDS = {normalize(word): kind for kind, words in _KIND_WORDS.items() for word in words}


@dataclass(frozen=True)
class UnitMatch:
    """The units a typed name could mean, in catalogue order; ``exact`` when the name is exactly one's."""

    units: tuple[AdminUnit, ...]
    exact: bool

    @property
    def sure(self) -> bool:
        return self.exact and len(self.units) == 1


@dataclass(frozen=True)
class AdminUnit:
    code: str
    kind: str
    parent: str | None
    name_mn: str
    name_latn: str
    name_en: str

    def name(self, language: str, script: str = "cyrl") -> str:
        """Latin is written from the Cyrillic in texting style (Songinohairhan); name_latn is for matching."""
        if language == "en":
            return self.name_en or self.name_latn or self.name_mn
        if script == "latn":
            return to_latin(self.name_mn) if self.name_mn else self.name_latn
        return self.name_mn

    def short_name(self, language: str, script: str = "cyrl") -> str:
        """Khoroo/bag names repeat their district ("Баянгол дүүргийн 7-р хороо"); menus show "7-р хороо"."""
        full = self.name(language, script)
        if self.kind in SECOND_LEVEL_KINDS:
            return " ".join(full.split()[-2:])
        words = full.split()
        # "Сонгинохайрхан дүүрэг" → "Сонгинохайрхан": the question already says district or soum.
        return " ".join(words[:-1]) if len(words) > 1 and normalize(words[-1]) in _GENERIC_WORDS else full


class AdminCatalog:
    """Read-only tree of admin units with name matching in either script."""

    def __init__(self, units: Iterable[Mapping]) -> None:
        self._units: dict[str, AdminUnit] = {}
        for row in units:
            unit = AdminUnit(
                code=str(row["code"]), kind=str(row["kind"]), parent=row.get("parent") or None,
                name_mn=str(row.get("name_mn") or ""), name_latn=str(row.get("name_latn") or ""),
                name_en=str(row.get("name_en") or ""),
            )
            self._units[unit.code] = unit
        self._children: dict[str | None, list[AdminUnit]] = {}
        for unit in sorted(self._units.values(), key=lambda item: item.code):
            self._children.setdefault(unit.parent, []).append(unit)

    @classmethod
    def from_csv(cls, path: str | Path) -> AdminCatalog:
        with open(path, encoding="utf-8", newline="") as handle:
            return cls(list(csv.DictReader(handle)))

    def get(self, code: str) -> AdminUnit | None:
        return self._units.get(code)

    def children(self, code: str) -> list[AdminUnit]:
        return list(self._children.get(code, []))

    def top_level(self) -> list[AdminUnit]:
        """Districts and soums: the units people pick first, in a stable order."""
        return [unit for unit in self._units.values() if unit.kind in TOP_LEVEL_KINDS]

    def find(self, typed: str, parent: str | None = None) -> AdminUnit | None:
        """A unit by typed name or code: a district/soum, or a child of *parent* when given."""
        return self.match(typed, self.children(parent) if parent else self.top_level())

    def match(self, typed: str, among: list[AdminUnit]) -> AdminUnit | None:
        """The one unit of *among* that *typed* names exactly (any script, or its code); None when unclear."""
        found = self.search(typed, among)
        return found.units[0] if found.sure else None

    def search(self, typed: str, among: list[AdminUnit]) -> UnitMatch:
        """Units of *among* that *typed* may name: exactly, or loosely (a dropped vowel, or the first four letters
        or more, ``songino`` for Songinokhairkhan). Saying "сум" or "дүүрэг" narrows the kind."""
        by_code = [unit for unit in among if unit.code.casefold() == typed.strip().casefold()]
        if by_code:
            return UnitMatch((by_code[0],), True)
        words = normalize(typed).split()
        wanted = " ".join(word for word in words if word not in _GENERIC_WORDS)
        if not wanted:
            return UnitMatch((), False)
        exact = [unit for unit in among if wanted in _keys(unit)]
        loose = [unit for unit in among if unit not in exact and any(_close(wanted, key) for key in _keys(unit))]
        kinds = {_GENERIC_WORDS[word] for word in words if word in _GENERIC_WORDS}
        if any(unit.kind in kinds for unit in exact + loose):  # "Сонгино сум": not the district
            exact, loose = ([unit for unit in found if unit.kind in kinds] for found in (exact, loose))
        if len(exact) == 1 and not loose:
            return UnitMatch((exact[0],), True)
        return UnitMatch(tuple(unit for unit in among if unit in exact or unit in loose), False)

    def sure(self, unit: AdminUnit) -> UnitMatch:
        """A unit picked by its number: no doubt about it."""
        return UnitMatch((unit,), True)

    def label(self, unit: AdminUnit, language: str, script: str = "cyrl") -> str:
        """A unit named so it cannot be mistaken in a list: "Сонгино сум (Завхан)", "Сонгинохайрхан дүүрэг"."""
        if unit.kind in SECOND_LEVEL_KINDS:
            return unit.short_name(language, script)
        parent = self.get(unit.parent) if unit.parent else None
        if unit.kind == "soum" and parent is not None:
            return f"{unit.name(language, script)} ({parent.short_name(language, script)})"
        return unit.name(language, script)

    def confirmation(self, unit: AdminUnit, language: str, script: str = "cyrl") -> str:
        """What the reply after a saved unit opens with: "Сонгинохайрхан, 7-р хороо." or "Тэс сум (Завхан)."."""
        parent = self.get(unit.parent) if unit.parent else None
        if unit.kind in SECOND_LEVEL_KINDS and parent is not None:
            return f"{parent.short_name(language, script)}, {unit.short_name(language, script)}."
        return f"{self.label(unit, language, script)}."


@lru_cache(maxsize=8192)
def _keys(unit: AdminUnit) -> frozenset[str]:
    names = (unit.name_mn, unit.name_latn, unit.name_en, unit.short_name("mn", "cyrl"),
             unit.short_name("mn", "latn"), unit.short_name("en"))
    return frozenset(_significant(name) for name in names if name) - {""}


def _significant(name: str) -> str:
    return " ".join(word for word in normalize(name).split() if word not in _GENERIC_WORDS)


def _close(typed: str, key: str) -> bool:
    """A dropped vowel, or a prefix of at least four letters ("songino" for Songinokhairkhan)."""
    return same_word(typed, key) or (len(typed) >= 4 and key.startswith(typed))
