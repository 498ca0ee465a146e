"""Counting: one person counts once, the last vote counts, out-of-area votes apart, small group cells hidden."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import votes
from storage.db import database
from storage.models import AdminUnit
from tests.votes.conftest import cast, new_vote, person


def tally(app, vote_id: int) -> dict:
    with app.app_context(), database.connection_context():
        return votes.tally(votes.get_round(vote_id))


def counts(result: dict) -> dict[int, int]:
    return {p["number"]: p["votes"] for p in result["projects"]}


def test_one_person_voting_three_times_counts_once_with_the_last_vote(app):
    vote_id = new_vote(app)
    someone = person(app, "+97699110001")
    for choice in (1, 2, 3):
        cast(app, vote_id, someone, choice)
    result = tally(app, vote_id)
    assert counts(result) == {1: 0, 2: 0, 3: 1, 4: 0}
    assert result["turnout"]["voters"] == 1 and result["turnout"]["changed_their_vote"] == 1
    with app.app_context(), database.connection_context():
        assert votes.Ballot.select().count() == 1
        assert [c.replaced for c in votes.VoteCast.select().order_by(votes.VoteCast.id)] == [False, True, True]


def test_ranks_share_ties_and_up_to_k_choices(app):
    vote_id = new_vote(app, max_choices=2)
    for n, choice in enumerate([(1, 2), (1, 3), (2, 1), (4,), (2,)]):
        cast(app, vote_id, person(app, f"+9769911010{n}"), *choice)
    result = tally(app, vote_id)
    assert counts(result) == {1: 3, 2: 3, 3: 1, 4: 1}
    assert [p["rank"] for p in result["projects"]] == [1, 1, 3, 3]
    assert result["projects"][0]["share"] == 0.6 and result["turnout"]["voters"] == 5


def test_votes_from_other_units_are_kept_marked_and_counted_apart(app):
    vote_id = new_vote(app)
    cast(app, vote_id, person(app, "+97699110201"), 1)
    cast(app, vote_id, person(app, "+97699110202", unit="BGD-08"), 2, out_of_area=True)
    result = tally(app, vote_id)
    assert counts(result) == {1: 1, 2: 0, 3: 0, 4: 0}
    assert [p["out_of_area_votes"] for p in result["projects"]] == [0, 1, 0, 0]
    assert result["turnout"]["voters"] == 1 and result["turnout"]["out_of_area"] == 1
    assert result["turnout"]["registered_in_unit"] == 1


def test_one_small_cell_hides_the_whole_group_split_and_says_why(app):
    vote_id = new_vote(app, min_cell=5)
    numbers = iter(range(100))
    for choice, n in ((1, 6), (2, 5), (3, 2)):
        for _ in range(n):
            cast(app, vote_id, person(app, f"+976991103{next(numbers):02}"), choice, group="women")
    for _ in range(3):
        cast(app, vote_id, person(app, f"+976991103{next(numbers):02}"), 1, group="men")
    for _ in range(6):
        cast(app, vote_id, person(app, f"+976991103{next(numbers):02}"), 4)
    split = tally(app, vote_id)["by_group"]
    # men are too few: with the turnout and every project's votes published, hiding only that cell would let it be
    # worked out (13 + 6 + 3 = 22), so the whole table goes, every cell saying why
    assert set(split) == {"women", "men", "unspecified"}
    assert all(cell["suppressed"] and cell["voters"] == "hidden" and "another cell" in cell["hidden_why"]["en"]
               for cell in split.values())


def test_a_group_split_with_no_small_cell_is_shown_whole(app):
    vote_id = new_vote(app, min_cell=5)
    numbers = iter(range(100))
    for group, choice, n in (("women", 1, 6), ("women", 2, 5), ("men", 1, 5)):
        for _ in range(n):
            cast(app, vote_id, person(app, f"+976991104{next(numbers):02}"), choice, group=group)
    split = tally(app, vote_id)["by_group"]
    assert split == {"men": {"voters": 5, "votes": {"1": 5, "2": 0, "3": 0, "4": 0}},
                     "women": {"voters": 11, "votes": {"1": 6, "2": 5, "3": 0, "4": 0}}}


def test_a_draft_vote_needs_a_khoroo_and_two_to_twelve_one_line_projects(app):
    with app.app_context(), database.connection_context():
        khoroo = AdminUnit.get(AdminUnit.code == "BGD-07")
        district = AdminUnit.get(AdminUnit.code == "BGD")
        two = [{"mn": "A", "en": "A"}, {"mn": "B", "en": "B"}]
        for unit, projects, fields, message in (
                (district, two, {}, "khoroo or bag"),
                (khoroo, two[:1], {}, "2 to 12 projects"),
                (khoroo, two * 7, {}, "2 to 12 projects"),
                (khoroo, [{"mn": "A"}, {"mn": "B", "en": "B"}], {}, "missing 'en'"),
                (khoroo, [{"mn": "A\nB", "en": "A"}, {"mn": "B", "en": "B"}], {}, "one line"),
                (khoroo, two, {"max_choices": 3}, "max_choices"),
                (khoroo, two, {"closes_on": dt.date(2026, 1, 1), "opens_on": dt.date(2026, 2, 1)}, "before"),
                (khoroo, two, {"fund_amount": -5}, "fund_amount")):
            with pytest.raises(votes.VoteError, match=message):
                votes.create_round(unit, projects, **fields)
        round_ = votes.create_round(khoroo, two, fund_amount=150_000_000)
        three = [*two, {"mn": "C", "en": "C", "description": {"mn": "в", "en": "c"}}]
        votes.update_round(round_, projects=three, max_choices=3)  # a draft changes whole: the 3 fits the 3
        assert [(p.number, p.name_en) for p in votes.projects_of(round_)] == [(1, "A"), (2, "B"), (3, "C")]
        with pytest.raises(votes.VoteError, match="max_choices"):
            votes.update_round(round_, projects=two)
        assert len(votes.projects_of(round_)) == 3, "a refused change leaves the shortlist as it was"
        votes.set_status(round_, "open")
        with pytest.raises(votes.VoteError, match="cannot change max_choices"):
            votes.update_round(round_, max_choices=2)
        with pytest.raises(votes.VoteError, match="cannot change projects"):
            votes.update_round(round_, projects=three)
        with pytest.raises(votes.AlreadyOpen, match=f"vote {round_.id} is already open"):
            votes.set_status(votes.create_round(khoroo, two), "open")
        votes.update_round(round_, closes_on=dt.date(2026, 12, 1))
        votes.set_status(round_, "closed")
        with pytest.raises(votes.VoteError, match="cannot become open"):
            votes.set_status(round_, "open")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 6), st.sets(st.integers(1, 4), min_size=1, max_size=2)), max_size=30))
def test_tally_equals_counting_each_persons_last_vote(make_app, history):
    app = make_app()
    vote_id = new_vote(app, max_choices=2)
    people = {n: person(app, f"+9769911040{n}") for n in range(7)}
    last: dict[int, set[int]] = {}
    for who, choice in history:
        cast(app, vote_id, people[who], *sorted(choice))
        last[who] = choice
    result = tally(app, vote_id)
    assert result["turnout"]["voters"] == len(last)
    with app.app_context(), database.connection_context():
        assert votes.turnouts([vote_id]) == {vote_id: {"voters": len(last), "out_of_area": 0}}
    assert counts(result) == {n: sum(n in choice for choice in last.values()) for n in range(1, 5)}
    with app.app_context(), database.connection_context():  # the next example starts from no vote at all
        for model in (votes.Ballot, votes.VoteCast, votes.VoteProject, votes.VoteRound):
            model.delete().execute()
