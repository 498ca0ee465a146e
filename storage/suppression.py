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

When an exact total is published elsewhere (a vote tally), `release_counts(..., exact_total=T)` also checks the
remainders: T minus the released counts must not pin any group's uncounted part, or a small group, to one value
between 1 and k-1; if it would, groups are hidden ("hidden to protect another cell") until it does not.

API (also used by participatory-budgeting results):
    release_counts(counts: Mapping[str, int], k: int = 5, exact_total: int | None = None, blocks: bool = True)
        -> dict[str, Released]
    counted(n, k) -> int: the part of n that is released (n // k * k)
    Released(n: int | None, reason: str | None): n is the released count (None when hidden); reason is None when
    shown, or one of SMALL, PROTECTS_ANOTHER, HIDDEN; `label(k)` gives "<5" or the count; REASONS[reason] = (mn, en).
    NO_CHANGE_REASON: why a change since last week is not shown (fewer than k new since then, or none).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_K = 5
SMALL = "small"  # fewer than k in the group
PROTECTS_ANOTHER = "protects_another"  # at least k, hidden so a small group cannot be worked out from a total
HIDDEN = "hidden"  # hidden for either reason (when telling them apart would itself give a group away)
NO_CHANGE_REASON = "change_below_k"
REASONS = {
    SMALL: ("5-аас цөөн хүн", "fewer than 5 people"),
    PROTECTS_ANOTHER: ("өөр нүдийг хамгаалж нуусан", "hidden to protect another cell"),
    HIDDEN: ("нуусан: цөөн хүн", "hidden: small group"),
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
    """Each group's released count (whole blocks of k) or why it is hidden. Groups of 0 are released as 0.

    `blocks=False` releases exact counts of k or more: only for counts that are never cumulative (this week's new
    complaints), where no two releases overlap; small ones are still hidden, and protected against `exact_total`."""
    released = {g: Released(counted(n, k) if blocks else n) if n >= k or n == 0 else Released(None, SMALL)
                for g, n in counts.items()}
    if exact_total is None:
        return released
    while _pins_a_small_count(counts, released, k, exact_total, blocks):
        shown = sorted((counts[g], g) for g, r in released.items() if r.shown and counts[g] > 0)
        if not shown:  # every group is hidden and the reasons still give one away: stop telling them apart
            return {g: Released(None, HIDDEN) if not r.shown else r for g, r in released.items()}
        released[shown[0][1]] = Released(None, PROTECTS_ANOTHER)
    return released


def _pins_a_small_count(counts: Mapping[str, int], released: dict[str, Released], k: int, total: int,
                        blocks: bool) -> bool:
    """Whether `total` minus the released counts pins some unknown to a single value between 1 and k-1.

    The unknowns, as anyone reading the release knows them: the uncounted part of a shown group is 0..k-1; a
    small group is 1..k-1; a group hidden to protect another is at least k. They add up to `total` minus the
    released counts. An unknown is pinned when every other unknown at its bounds leaves it one possible value."""
    bounds = []
    for group, r in released.items():
        if r.shown:
            if blocks and counts[group] > 0:
                bounds.append((0, k - 1, True))
        elif r.reason == SMALL:
            bounds.append((1, k - 1, True))
        else:
            bounds.append((k, None, False))
    rest = total - sum(r.n for r in released.values() if r.shown)
    low_sum = sum(lo for lo, _, _ in bounds)
    high_sum = None if any(hi is None for _, hi, _ in bounds) else sum(hi for _, hi, _ in bounds)
    for lo, hi, is_count in bounds:
        if not is_count:
            continue
        least = lo if high_sum is None else max(lo, rest - (high_sum - hi))
        most = min(hi, rest - (low_sum - lo))
        if least == most and 1 <= least <= k - 1:
            return True
    return False
