"""No sequence of weekly releases and no pair of cells lets anyone work out a count below 5.

The adversary here knows the rule (storage.suppression), every release, and that cumulative counts never go down.
For each group it enumerates every true history that would have produced exactly what was released, and the test
fails if all of them agree on a count between 1 and 4: a group's size in a week where it was hidden, or how many
joined it between any two weeks. With an exact total (complaints, vote tallies) it does the same over every vector
of counts that adds up to the total.
"""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.clock import week_of
from storage import scorecards
from storage.db import database, utcnow
from storage.digests import build_digest
from storage.models import AdminUnit, Contact
from storage.suppression import release_counts

K = 5
GROUPS = ["women", "men", "youth", "elderly", "unspecified"]


def released(n: int, k: int = K):
    return release_counts({"g": n}, k)["g"].label(k)


def histories(observed: list, k: int = K):
    """Every non-decreasing history of true counts that releases exactly `observed` week by week."""
    top = max([n for n in observed if isinstance(n, int)] + [0]) + k
    def extend(prefix: list[int], week: int):
        if week == len(observed):
            yield list(prefix)
            return
        for n in range(prefix[-1] if prefix else 0, top + 1):
            if released(n, k) == observed[week]:
                yield from extend(prefix + [n], week + 1)
    yield from extend([], 0)


def pinned_small(values: set[int], k: int = K) -> bool:
    return len(values) == 1 and 1 <= next(iter(values)) <= k - 1


def assert_no_small_count_can_be_worked_out(observed: list, k: int = K) -> None:
    candidates = list(histories(observed, k))
    assert candidates, f"no history releases {observed}"
    weeks = range(len(observed))
    for week in weeks:
        assert not pinned_small({h[week] for h in candidates}, k), (observed, week)
    for early, late in itertools.combinations(weeks, 2):
        assert not pinned_small({h[late] - h[early] for h in candidates}, k), (observed, early, late)


weekly_joiners = st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=6)


@settings(deadline=None)
@given(st.lists(weekly_joiners, min_size=1, max_size=4), st.integers(min_value=3, max_value=7))
def test_weekly_releases_never_pin_a_small_count(groups, k):
    """(With k = 2, "<2" can only mean 1: a round's min_cell below 3 protects nobody, and the docs say so.)"""
    total_by_week: list[int] = []
    for joiners in groups:
        cumulative = list(itertools.accumulate(joiners))
        observed = [released(n, k) for n in cumulative]
        assert_no_small_count_can_be_worked_out(observed, k)
        shown = [n if isinstance(n, int) else 0 for n in observed]
        total_by_week = [a + b for a, b in itertools.zip_longest(total_by_week, shown, fillvalue=shown[-1])]
    # 'all' is the sum of what the groups release: any difference of totals is whole blocks too
    assert all(t % k == 0 for t in total_by_week)
    assert all((b - a) % k == 0 for a, b in itertools.combinations(total_by_week, 2))


def release_table(cells: dict[str, int]) -> tuple[int | str, dict]:
    """As the digest releases a table with a total (complaints): the total itself is hidden below 5."""
    total = sum(cells.values())
    shown_total = release_counts({"t": total}, K, blocks=False)["t"]
    table = release_counts(cells, K, exact_total=total if shown_total.shown else None, blocks=False)
    return shown_total.label(K), {g: r.label(K) for g, r in table.items()}


@settings(deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=11), min_size=2, max_size=3))
def test_with_a_total_no_cell_or_pair_of_cells_is_pinned(counts):
    cells = {f"c{i}": n for i, n in enumerate(counts)}
    observed = release_table(cells)
    consistent = [trial for trial in (dict(zip(cells, candidate, strict=True))
                                      for candidate in itertools.product(range(12), repeat=len(counts)))
                  if release_table(trial) == observed]
    hidden = [g for g, label in observed[1].items() if not isinstance(label, int)]
    for size in range(1, len(hidden) + 1):
        for subset in itertools.combinations(hidden, size):
            assert not pinned_small({sum(c[g] for g in subset) for c in consistent}), (cells, observed, subset)


def test_examples_of_why_cells_are_hidden():
    assert release_counts({"women": 5, "men": 2}, K)["women"].n == 5  # shown: it protects nothing here
    with_total = release_counts({"water": 9, "roads": 2, "heat": 0}, K, exact_total=11, blocks=False)
    assert {g: r.label() for g, r in with_total.items()} == {"water": "hidden", "roads": "hidden", "heat": 0}
    assert with_total["roads"].reason == with_total["water"].reason == "with_small_cell"
    assert release_table({"water": 3}) == ("<5", {"water": "<5"})  # a total below 5 is hidden, so is its cell
    assert release_table({"water": 6, "roads": 1}) == (7, {"water": "hidden", "roads": "hidden"})


# ---- the same property through the real digests, on SQLite and PostgreSQL -------------------------------------

FIRST_WEEK = dt.date(2026, 11, 2)  # a Monday (2026-W45)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(GROUPS), st.lists(st.integers(0, 6), min_size=3, max_size=3), min_size=1,
                       max_size=3))
def test_weekly_digests_never_pin_a_small_count(app, joiners):
    with app.app_context(), database.connection_context():
        round_id = _round()
        weeks = [week_of(FIRST_WEEK + dt.timedelta(days=7 * w), "Asia/Ulaanbaatar") for w in range(3)]
        for w, week in enumerate(weeks):
            with time_machine.travel(week.start + dt.timedelta(days=2), tick=False):
                for group, per_week in joiners.items():
                    for n in range(per_week[w]):
                        _respond(round_id, f"{round_id}-{group}-{w}-{n}", group)
        digests = [_section(build_digest(week), round_id) for week in weeks]
    for group in joiners:
        by_group = [d["respondents"]["by_group"].get(group, 0) if d else 0 for d in digests]
        cells = [d["indicators"][0]["groups"].get(group, {"n": 0})["n"] if d else 0 for d in digests]
        assert_no_small_count_can_be_worked_out(by_group)
        assert_no_small_count_can_be_worked_out(cells)
    for d in digests:
        if d:
            shown = [c["n"] for c in d["indicators"][0]["groups"].values() if isinstance(c["n"], int)]
            assert d["indicators"][0]["overall"].get("n", 0) in (sum(shown), "<5")


def _round() -> int:
    code = f"SP{scorecards.Round.select().count() + 1}"
    point = scorecards.service_point(code, admin_unit_code="BGD-07", kind="school", name_mn=code)
    round_ = scorecards.create_round(point, [{"code": "A", "mn": "А", "en": "A"}])
    round_.opened_at = dt.datetime(2026, 10, 1)
    round_.status = "open"
    round_.save()
    return round_.id


def _respond(round_id: int, key: str, group: str) -> None:
    contact = Contact.create(key=key, admin_unit=AdminUnit.get(AdminUnit.code == "BGD-07"))
    scorecards.record_scores(scorecards.Round.get_by_id(round_id), contact, group, {"A": 3})


def _section(digest: dict, round_id: int) -> dict | None:
    return next((s for s in digest["scorecards"] if s["round"]["id"] == round_id), None)


@pytest.fixture
def app(make_app):
    return make_app()


@time_machine.travel(dt.datetime(2026, 11, 18, 4, 0, tzinfo=dt.UTC), tick=False)  # mid-week: one week's digest
def test_a_cell_that_is_not_whole_blocks_is_never_shown(app):
    """Someone counted who skipped an indicator would make that cell 4 of a block of 5: it is hidden instead."""
    with app.app_context(), database.connection_context():
        point = scorecards.service_point("SKIP", admin_unit_code="BGD-07", kind="school", name_mn="Сургууль")
        round_ = scorecards.create_round(point, [{"code": "A", "mn": "А", "en": "A"},
                                                 {"code": "B", "mn": "Б", "en": "B"}])
        scorecards.set_status(round_, "open")
        for n in range(5):
            contact = Contact.create(key=f"skip-{n}")
            scorecards.record_scores(round_, contact, "women", {"A": 4, "B": 2} if n else {"A": 4})
        section = _section(build_digest(week_of(utcnow().date(), "Asia/Ulaanbaatar")), round_.id)
    a, b = section["indicators"]
    assert a["groups"]["women"]["n"] == 5 and a["overall"]["n"] == 5
    assert b["groups"]["women"]["suppressed"] and b["overall"]["suppressed"]
