"""Admin units (district/soum, khoroo/bag) as plain data, for the ``admin_unit`` question.

The gateway builds an ``AdminCatalog`` from its AdminUnit rows (or the bundled CSV); the engine only reads it.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from flows.text import normalize, same_word, to_latin

TOP_LEVEL_KINDS = ("district", "soum")
SECOND_LEVEL_KINDS = ("khoroo", "bag")
# Words people leave out when naming a unit ("Баянгол" for "Баянгол дүүрэг").
_GENERIC_WORDS = {normalize(word) for word in ("дүүрэг", "дүүргийн", "сум", "сумын", "district", "soum", "sum")}


@dataclass(frozen=True)
class AdminUnit:
    code: str
    kind: str
    parent: str | None
    name_mn: str
    name_latn: str
    name_en: str

    def name(self, language: str, script: str = "cyrl") -> str:
        if language == "en":
            return self.name_en
        if script == "latn":
            return self.name_latn or to_latin(self.name_mn)
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
        """The one unit of *among* whose name (any script) or code matches *typed*; None when unclear."""
        wanted = _significant(typed)
        if not wanted:
            return None
        exact = [unit for unit in among if wanted in _keys(unit)]
        if len(exact) == 1:
            return exact[0]
        fuzzy = [unit for unit in among if any(_close(wanted, key) for key in _keys(unit))]
        return fuzzy[0] if len(fuzzy) == 1 else None


def _keys(unit: AdminUnit) -> set[str]:
    names = (unit.name_mn, unit.name_latn, unit.name_en, unit.code, unit.short_name("mn", "cyrl"),
             unit.short_name("mn", "latn"), unit.short_name("en"))
    return {_significant(name) for name in names if name} - {""}


def _significant(name: str) -> str:
    return " ".join(word for word in normalize(name).split() if word not in _GENERIC_WORDS)


def _close(typed: str, key: str) -> bool:
    """A dropped vowel, or a prefix of at least four letters ("songino" for Songinokhairkhan)."""
    return same_word(typed, key) or (len(typed) >= 4 and key.startswith(typed))
