"""Answer parsing: a value, or a reason it was refused; never an exception, whatever arrives."""
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flows import answers
from flows.answers import Accepted, Rejected, parse_choice, parse_date, parse_number, parse_text
from flows.definition import Choice, Text

TODAY = date(2026, 6, 1)


@pytest.mark.parametrize(("text", "number"), [
    ("4", 4), ("#4", 4), ("４", 4), ("4.", 4), ("4)", 4), (" 4 onoo", 4), ("4 оноо", 4), ("тав", 5), ("дөрөв", 4),
    ("five", 5), ("Five!", 5), ("дөрвөн оноо", 4), ("4 дөрөв", 4), ("тэг", 0), ("0", 0), ("арав", 10),
    ("№4", 4), ("dorov", 4),
])
def test_numbers_in_digits_and_words(text, number):
    assert parse_number(text, 0, 10) == Accepted(number)


@pytest.mark.parametrize("text", ["3-4", "4,5", "4.5", "3 or 4", "3 эсвэл 4", "гурав дөрөв", "3/4", "1-5", "3 4"])
def test_two_numbers_are_asked_again(text):
    assert parse_number(text, 0, 10) == Rejected(answers.SEVERAL_NUMBERS)


@pytest.mark.parametrize(("text", "reason"), [
    ("", answers.NOT_A_NUMBER), ("сайн", answers.NOT_A_NUMBER), ("yes", answers.NOT_A_NUMBER),
    ("9", answers.OUT_OF_RANGE), ("0", answers.OUT_OF_RANGE), ("-3", answers.OUT_OF_RANGE),
    ("9" * 400, answers.OUT_OF_RANGE), ("ес", answers.OUT_OF_RANGE),
])
def test_refused_numbers_say_why(text, reason):
    assert parse_number(text, 1, 5) == Rejected(reason)


@given(st.integers(min_value=-10**6, max_value=10**6), st.sampled_from(["{}", "#{}", "{}.", " {} onoo", "{} оноо"]))
def test_any_number_in_range_is_taken_as_written(number, form):
    parsed = parse_number(form.format(number), -10**6, 10**6)
    assert parsed == Accepted(number)


YES_NO = (Choice("yes", Text("Тийм", "Yes", "Tiim"), 1, means="yes"),
          Choice("no", Text("Үгүй", "No", "Ugui"), 2, means="no"))
RSVP = (Choice("yes", Text("Ирнэ", "Coming"), 1, means="rsvp_yes"),
        Choice("no", Text("Ирэхгүй", "Not coming"), 2, means="rsvp_no"),
        Choice("maybe", Text("Магадгүй", "Maybe"), 3, means="rsvp_maybe"))


@pytest.mark.parametrize(("text", "key"), [
    ("1", "yes"), ("тийм ээ", "yes"), ("тиймээ", "yes"), ("за", "yes"), ("zaa", "yes"), ("ok", "yes"),
    ("yes please", "yes"), ("tiimee", "yes"), ("2", "no"), ("ugui ee", "no"), ("үгүй ээ", "no"), ("нэг", "yes"),
    ("хоёр", "no"), ("2 ugui", "no"),
])
def test_yes_and_no_however_said(text, key):
    assert parse_choice(text, YES_NO) == Accepted(YES_NO[0] if key == "yes" else YES_NO[1])


@pytest.mark.parametrize(("text", "key"), [
    ("за", "yes"), ("тиймээ", "yes"), ("очно", "yes"), ("irne ee", "yes"), ("yes please", "yes"),
    ("ирж чадахгүй", "no"), ("ugui ee", "no"), ("not coming", "no"), ("магадгүй", "maybe"), ("maybe", "maybe"),
    ("magadgui", "maybe"), ("3", "maybe"), ("гурав", "maybe"),
])
def test_rsvp_choices_take_every_word_they_mean(text, key):
    parsed = parse_choice(text, RSVP)
    assert isinstance(parsed, Accepted) and parsed.value.key == key


@pytest.mark.parametrize("text", ["Хэдэн цагт эхлэх вэ?", "4", "", "yes no", "😀"])
def test_unclear_choices_say_so(text):
    assert parse_choice(text, RSVP) == Rejected(answers.UNCLEAR_CHOICE)


def test_a_label_or_alias_wins_over_a_meaning():
    choices = (Choice("fine", Text("Зүгээр", "Fine"), 1, aliases=("ok",)), Choice("yes", Text("Тийм", "Yes"), 2,
                                                                                 means="yes"))
    assert parse_choice("ok", choices).value.key == "fine"
    assert parse_choice("за", choices).value.key == "yes"


@pytest.mark.parametrize(("text", "reason"), [("", answers.EMPTY), ("  ", answers.EMPTY), ("x" * 11, answers.TOO_LONG)])
def test_text_refusals(text, reason):
    assert parse_text(text, 10) == Rejected(reason)


@pytest.mark.parametrize("text", ["0", "алгасах", "algasah", "байхгүй", "skip", "no", "үгүй ээ", "-", "..."])
def test_skip_words(text):
    assert answers.is_skip(text)


@pytest.mark.parametrize("text", ["12-р хэсэг", "сургуулийн хажууд", "10"])
def test_answers_are_not_skips(text):
    assert not answers.is_skip(text)


@pytest.mark.parametrize("text", ["98", "мэдэхгүй", "medehgui", "мэдэхгүй ээ", "don't know", "Мэдкүй"])
def test_dont_know_words(text):
    assert answers.is_dont_know(text)


@pytest.mark.parametrize(("text", "day"), [
    ("6/20", date(2026, 6, 20)), ("өнөөдөр", TODAY), ("onoodor", TODAY), ("Өчигдөр", date(2026, 5, 31)),
    ("yesterday", date(2026, 5, 31)), ("2026-07-01", date(2026, 7, 1)),
])
def test_dates(text, day):
    assert parse_date(text, TODAY) == Accepted(day)


@pytest.mark.parametrize("text", ["", "13/45", "маргааш", "2026-02-30", "9" * 300])
def test_unclear_dates_say_so(text):
    assert parse_date(text, TODAY) == Rejected(answers.NOT_A_DATE)


@given(st.text(max_size=400), st.one_of(st.none(), st.integers(-5, 5)), st.one_of(st.none(), st.integers(0, 50)))
def test_parsers_are_total(text, minimum, maximum):
    results = [parse_number(text, minimum, maximum), parse_choice(text, RSVP), parse_choice(text, YES_NO),
               parse_date(text, TODAY), parse_text(text, 160)]
    assert all(isinstance(result, Accepted | Rejected) for result in results)
    assert all(isinstance(result.reason, str) for result in results if isinstance(result, Rejected))
    assert isinstance(answers.is_skip(text), bool) and isinstance(answers.is_dont_know(text), bool)
