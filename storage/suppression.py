"""Small-cell suppression that holds across every release: groups, totals, and week after week.

The rule: **counted in whole blocks of k** (k = 5 unless a round says otherwise).

- People in a group are taken in a fixed order (when they first answered) and counted only in complete blocks of k:
  a group of 12 releases 10, a group of 3 releases nothing (shown as "<5": fewer than 5 so far). Every figure
  of a group (its n, mean, median, distribution) is computed over exactly the people it counts.
- A total ("all") is the sum of the groups' released counts, and its figures are computed over the union of the
  people the groups count. Nothing is released about anyone else.

Why it holds. Every released count is a multiple of k, so every sum or difference of released counts is a multiple
of k: 0 or at least k. That covers complementary cells (total minus the shown groups), pairs of cells, and the
same cell in two releases (this week minus last week, or any two weeks). A block, once complete, never loses or
changes members (the order is fixed and people are only ever added), so two releases of a group differ by whole
blocks: the change between any two digests is about at least k people, never fewer. Because this does not depend
on which earlier releases anyone saw, nothing needs to be remembered between releases, and a digest of an old week
rebuilt today is safe next to the one sent then. (A person who later declares a different group moves, with their
answers, between blocks: counts still move in multiples of k; the docs say so.)

When an exact total is released with a table (a week's new complaints, a vote tally), it is one release, not a
series: counts are exact, but if any cell is under k every cell of the table is hidden ("a cell in this table is
under k"). Hiding only some cells would not do: whoever knows the rule could ask which true counts would have led
to exactly those cells being hidden, and sometimes only one answer is left. With all or none hidden (and one reason
for all), the only thing the table says beyond its total is that some cell is small, and any cell could be.

API (also used by participatory-budgeting results):
    release_counts(counts: Mapping[str, int], k: int = 5, exact_total: int | None = None, blocks: bool = True)
        -> dict[str, Released]
    counted(n, k) -> int: the part of n that is released (n // k * k)
    Released(n: int | None, reason: str | None): n is the released count (None when hidden); reason is None when
    shown, SMALL or WITH_SMALL_CELL; `label(k)` gives the count, "<5" or "hidden"; REASONS[reason] = (mn, en).
    NO_CHANGE_REASON: why a change since last week is not shown (fewer than k new since then, or none).
    A k below 3 protects nobody ("<2" can only mean 1): rounds should keep min_cell at 5.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_K = 5
SMALL = "small"  # fewer than k in the group
WITH_SMALL_CELL = "with_small_cell"  # a table with an exact total has a cell under k: all its cells are hidden
NO_CHANGE_REASON = "change_below_k"
REASONS = {
    SMALL: ("5-аас цөөн хүн", "fewer than 5 people"),
    WITH_SMALL_CELL: ("нуусан: энэ хүснэгтийн нэг нүд 5-аас цөөн тул бүгдийг нуусан",
                      "hidden to protect another cell: a cell of this table is under 5, so all are hidden"),
    NO_CHANGE_REASON: ("өнгөрсөн 7 хоногоос хойш 5-аас цөөн шинэ хүн", "change since last week <5"),
}


@dataclass(frozen=True)
class Released:
    n: int | None
    reason: str | None = None

    @property
    def shown(self) -> bool:
        return self.n is not None

    def label(self, k: int = DEFAULT_K) -> int | str:
        return self.n if self.n is not None else f"<{k}" if self.reason == SMALL else "hidden"


def counted(n: int, k: int = DEFAULT_K) -> int:
    """How many of `n` people are released: whole blocks of k only."""
    return max(int(n), 0) // k * k


def release_counts(counts: Mapping[str, int], k: int = DEFAULT_K, exact_total: int | None = None,
                   blocks: bool = True) -> dict[str, Released]:
    """Each group's released count or why it is hidden; groups of 0 are released as 0.

    `blocks=True`: whole blocks of k (for counts that grow release after release). `blocks=False`: exact counts
    of k or more, only for one-off or non-overlapping releases (this week's new complaints). `exact_total`: the
    table's total is released too (it must itself be at least k): then all cells or none (see the module)."""
    if exact_total is not None and any(0 < n < k for n in counts.values()):
        # one reason for every hidden cell: telling the small ones apart would give them away against the total
        return {g: Released(0) if n == 0 else Released(None, WITH_SMALL_CELL) for g, n in counts.items()}
    return {g: Released(counted(n, k) if blocks and exact_total is None else n) if n >= k or n == 0
            else Released(None, SMALL) for g, n in counts.items()}
