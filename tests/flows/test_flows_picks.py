"""Several choices in one answer ("1 3", "gerel, us"): the vote's "up to K projects"."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows.answers import UNCLEAR_CHOICE, Accepted, Rejected
from flows.definition import Choice, Text
from flows.picks import TOO_MANY_CHOICES, parse_picks

PROJECTS = tuple(Choice(str(number), Text(mn, en), number) for number, (mn, en) in enumerate(
    [("Гудамжны гэрэл", "Street lights"), ("Усны цэг", "Water kiosk"), ("Цэцэрлэгийн хашаа", "Kindergarten fence"),
     ("Замын засвар", "Road repair")], 1))


@pytest.mark.parametrize("text, keys", [
    ("1 3", ("1", "3")), ("1,3", ("1", "3")), (" 3 , 1. ", ("3", "1")), ("1 ба 3", ("1", "3")),
    ("1 and 3", ("1", "3")), ("1; 3", ("1", "3")), ("１ ３", ("1", "3")), ("2 2", ("2",)),
    ("gerel, usny", ("1", "2")), ("Гудамжны гэрэл", ("1",)), ("gudamjnii gerel", ("1",)),
    ("нэг гурав", ("1", "3")), ("усны цэг", ("2",)),
    ("1-Гудамжны гэрэл", ("1",)), ("hashaa bolon zamyn", ("3", "4")),
])
def test_picks_in_either_script_and_any_separator(text, keys):
    assert parse_picks(text, PROJECTS, most=2) == Accepted(keys)


@pytest.mark.parametrize("text, problem", [
    ("", UNCLEAR_CHOICE), ("5", UNCLEAR_CHOICE), ("13", UNCLEAR_CHOICE), ("1 9", UNCLEAR_CHOICE),
    ("1-3", UNCLEAR_CHOICE), ("гэрэл, сургууль", UNCLEAR_CHOICE), ("1 2 3", TOO_MANY_CHOICES),
    ("1,2,4", TOO_MANY_CHOICES), ("нэг хоёр гурав", TOO_MANY_CHOICES),
])
def test_out_of_range_unclear_or_too_many_is_asked_again(text, problem):
    assert parse_picks(text, PROJECTS, most=2) == Rejected(problem)


def test_one_choice_rounds_refuse_two():
    assert parse_picks("1 3", PROJECTS, most=1) == Rejected(TOO_MANY_CHOICES)
    assert parse_picks("3", PROJECTS, most=1) == Accepted(("3",))


@given(st.text(max_size=300))
def test_any_text_gives_picks_within_the_menu_or_a_reason(text):
    picks = parse_picks(text, PROJECTS, most=2)
    assert picks in (Rejected(UNCLEAR_CHOICE), Rejected(TOO_MANY_CHOICES)) or (
        set(picks.value) <= {choice.key for choice in PROJECTS} and 1 <= len(picks.value) <= 2)
