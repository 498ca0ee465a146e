"""A round scored through the completion handler, then summarised: every number checked exactly."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from gateway import digests
from gateway.clock import parse_week
from storage import scorecards
from storage.db import database
from storage.digests import suppressed_keys
from storage.models import Contact, Message
from tests.scorecards.conftest import new_round

LAST_WEEK = dt.datetime(2026, 11, 10, 4, 0)  # 2026-W46 in Ulaanbaatar
THIS_WEEK = dt.datetime(2026, 11, 18, 4, 0)  # 2026-W47


def score(app, key: str, round_id: int, group: str, **scores: int) -> None:
    """One respondent's scores for contact `key`, stored as a finished scorecard run stores them."""
    with app.app_context(), database.connection_context():
        contact, _ = Contact.get_or_create(key=key)
        scorecards.record_scores(scorecards.Round.get_by_id(round_id), contact, group, scores)


def digest_for(app, week: str = "2026-W47", unit: str | None = None) -> dict:
    with app.app_context(), database.connection_context():
        return digests.build(app, digests.week_of(app, week), unit)


@pytest.fixture
def scored(app):
    """Round 1 (closed in October) and round 2 of KG16, scored in weeks 46 and 47."""
    with time_machine.travel(dt.datetime(2026, 10, 1, 4, 0), tick=False):
        first = new_round(app)
        for n, value in enumerate([3, 3, 4, 4, 4]):
            score(app, f"old{n}", first, "women", A=value, B=3)
        with app.app_context(), database.connection_context():
            scorecards.set_status(scorecards.Round.get_by_id(first), "closed")
    with time_machine.travel(dt.datetime(2026, 11, 1, 4, 0), tick=False):
        second = new_round(app)
    with time_machine.travel(LAST_WEEK, tick=False):
        for n, value in enumerate([1, 2, 2, 3, 4]):
            score(app, f"w{n}", second, "women", A=value, B=2)
        score(app, "w5", second, "women", A=1, B=2)  # re-scored below: counts once, with the later score
    with time_machine.travel(THIS_WEEK, tick=False):
        score(app, "w5", second, "women", A=5)
        for n, value in enumerate([3, 3, 4, 4, 5]):
            score(app, f"m{n}", second, "men", A=value, B=2)
        for n in range(2):
            score(app, f"y{n}", second, "youth", A=1, B=2)
    return first, second


def test_scores_replace_earlier_ones_and_count_each_respondent_once(app, scored):
    _, second = scored
    with app.app_context(), database.connection_context():
        assert scorecards.Score.select().where(scorecards.Score.round == second).count() == 26  # 13 people × 2
        assert scorecards.Respondent.select().where(scorecards.Respondent.round == second).count() == 13
        redo = (scorecards.Score.select().join(Contact)
                .where((Contact.key == "w5") & (scorecards.Score.round == second)).order_by(scorecards.Score.indicator))
        assert [s.score for s in redo] == [5, 2]


def test_digest_numbers_are_exact(app, scored):
    first, second = scored
    digest = digest_for(app)
    assert (digest["week"], digest["from"], digest["to"]) == ("2026-W47", "2026-11-16", "2026-11-22")
    [section] = digest["scorecards"]  # round 1 closed in October: not active in week 47
    assert section["round"] == {"id": second, "number": 2, "status": "open", "min_cell": 5}
    assert section["respondents"] == {"total": 13, "new_this_week": 7,  # w5 first scored last week
                                      "by_group": {"men": "<5", "women": 6, "youth": "<5"}}
    a, b = section["indicators"]
    assert a["groups"]["women"] == {"n": 6, "mean": 2.83, "median": 2.5,
                                    "distribution": {"1": 1, "2": 2, "3": 1, "4": 1, "5": 1}}
    # youth (n=2) is below 5; men (n=5) is hidden too, or youth = overall − women − men would give it away
    assert a["groups"]["youth"] == {"n": "<5", "suppressed": True}
    assert a["groups"]["men"] == {"n": "<5", "suppressed": True}
    assert a["overall"] == {"n": 13, "median": 3.0, "distribution": {"1": 3, "2": 2, "3": 3, "4": 3, "5": 2},
                            "mean_pooled": 2.92, "mean_of_group_means": 2.83}
    assert a["provider_score"] == 4.5 and a["gap"] == -1.58  # 38/13 − 4.5
    assert a["change_week"] == 0.52  # 38/13 − 12/5 (five women had scored by the start of the week)
    assert a["change_round"] == -0.68  # 38/13 − 18/5
    assert a["agenda"] and a["agenda_reasons"] == ["drop_since_last_round"]
    assert b["overall"]["mean_pooled"] == 2.0 and b["overall"]["median"] == 2.0
    assert b["change_round"] == -1.0 and b["agenda_reasons"] == ["low_mean", "drop_since_last_round"]
    assert b["provider_score"] is None and "gap" not in b


def test_last_week_digest_sees_only_what_was_scored_by_then(app, scored):
    _, second = scored
    [section] = digest_for(app, "2026-W46")["scorecards"]
    a = section["indicators"][0]
    assert section["respondents"]["total"] == 6
    # w5 re-scored A in week 47: a replaced score keeps only its latest time, so it drops out of week 46's view
    assert a["overall"]["n"] == 5 and a["overall"]["mean_pooled"] == 2.4
    assert a["overall"]["mean_of_group_means"] == 2.4
    assert section["indicators"][1]["overall"]["n"] == 6  # w5's B was not re-scored


def test_unweighted_mean_of_group_means_differs_from_pooled(app):
    with time_machine.travel(THIS_WEEK, tick=False):
        round_id = new_round(app, min_cell=2)
        for n in range(6):
            score(app, f"w{n}", round_id, "women", A=5, B=5)
        for n in range(2):
            score(app, f"y{n}", round_id, "youth", A=1, B=1)
        score(app, "u0", round_id, "undisclosed", A=1, B=1)
    a = digest_for(app)["scorecards"][0]["indicators"][0]
    assert a["groups"]["unspecified"] == {"n": "<2", "suppressed": True}
    assert a["groups"]["youth"] == {"n": "<2", "suppressed": True}  # complementary: protects 'unspecified'
    assert a["overall"]["mean_pooled"] == round(33 / 9, 2)
    assert a["overall"]["mean_of_group_means"] == 5.0  # only published declared groups


def test_a_round_that_closes_mid_conversation_takes_no_scores(app):
    from gateway.conversation import receive_sms
    from gateway.messages import InboundSms

    round_id = new_round(app)
    answers = ["start", "unelgee", "1", "3", "4", "0"]
    with app.app_context(), database.connection_context():
        for number, text in enumerate(answers):
            if number == len(answers) - 1:
                scorecards.set_status(scorecards.Round.get_by_id(round_id), "closed")
            sms = InboundSms("android", f"late-{number}", "+97699112233", text, THIS_WEEK)
            receive_sms(app, sms, lambda replies: "")
        assert scorecards.Score.select().count() == 0 and scorecards.Round.get_by_id(round_id).status == "closed"


def test_unit_filter_keeps_only_that_subtree(app):
    with time_machine.travel(THIS_WEEK, tick=False):
        here = new_round(app, code="KG1", unit="BKhD-01")
        there = new_round(app, code="KG2", unit="BKhD-02")
        score(app, "a", here, "women", A=4)
        score(app, "b", there, "women", A=4)
    assert [s["service_point"]["code"] for s in digest_for(app)["scorecards"]] == ["KG1", "KG2"]
    assert [s["service_point"]["code"] for s in digest_for(app, unit="BKhD-02")["scorecards"]] == ["KG2"]
    assert [s["service_point"]["code"] for s in digest_for(app, unit="BKhD")["scorecards"]] == ["KG1", "KG2"]


def test_week_bounds_follow_ulaanbaatar_time():
    week = parse_week("2026-W47", "Asia/Ulaanbaatar")
    assert week.start == dt.datetime(2026, 11, 15, 16, 0) and week.end == dt.datetime(2026, 11, 22, 16, 0)
    assert parse_week("2026W01", "Asia/Ulaanbaatar").first_day == dt.date(2025, 12, 29)
    for bad in ("2026-47", "2026-W54", "W47", "", "0001-W01", "9999-W52"):
        with pytest.raises(ValueError):
            parse_week(bad, "Asia/Ulaanbaatar")


def test_suppression_examples():
    assert suppressed_keys({"women": 10, "men": 3}, 5) == {"men", "women"}
    assert suppressed_keys({"women": 10, "men": 3, "youth": 7}, 5) == {"men", "youth"}
    assert suppressed_keys({"women": 10, "men": 3, "youth": 2}, 5) == {"men", "youth"}
    assert suppressed_keys({"women": 10, "men": 5}, 5) == set()
    assert suppressed_keys({"women": 10, "men": 0}, 5) == set()


@given(st.dictionaries(st.sampled_from(["women", "men", "youth", "elderly", "unspecified"]),
                       st.integers(min_value=0, max_value=40)), st.integers(min_value=2, max_value=10))
def test_no_hidden_cell_can_be_recovered_by_subtraction(counts, min_cell):
    hidden = suppressed_keys(counts, min_cell)
    assert {k for k, n in counts.items() if 0 < n < min_cell} <= hidden
    if sum(counts.values()) >= min_cell:  # the total is published
        # total − shown cells = the sum of the hidden ones: it must never be a single person-bearing cell
        assert len([k for k in hidden if counts[k] > 0]) != 1


def test_meetings_and_action_items_sections(app):
    from storage.meetings import Broadcast, Meeting, Rsvp

    with time_machine.travel(THIS_WEEK, tick=False), app.app_context(), database.connection_context():
        meeting = Meeting.create(kind="interface", title_mn="7-р хорооны ИНХ", title_en="Khoroo 7 meeting",
                                 place_mn="Хороо", starts_at=dt.datetime(2026, 11, 20, 10, 0),
                                 audience=["khoroo:BKhD-01"], reminder_minutes=[])
        notice = Broadcast.create(meeting=meeting, purpose="notice", audience=["khoroo:BKhD-01"], texts={},
                                  send_at=THIS_WEEK, status="queued")
        people = [Contact.create(key=f"c{n}") for n in range(4)]
        for person, status in zip(people, ["delivered", "delivered", "sent", "failed"], strict=True):
            Message.create(direction="out", contact=person, channel="android", text="notice", status=status,
                           purpose="notice", origin=notice.origin)
        for person, answer in zip(people[:3], ["yes", "yes", "no"], strict=True):
            Rsvp.create(meeting=meeting, contact=person, answer=answer)
    with time_machine.travel(THIS_WEEK, tick=False):
        round_id = new_round(app)
    with app.app_context(), database.connection_context():
        round_ = scorecards.Round.get_by_id(round_id)
        scorecards.add_action_item(round_, "Old promise", "director", "KG16", dt.date(2026, 11, 1))
        scorecards.add_action_item(round_, "Due now", "khoroo", "Khoroo 1", dt.date(2026, 11, 22), "B")
        scorecards.add_action_item(round_, "Later", "khoroo", "Khoroo 1", dt.date(2026, 12, 22))
        done = scorecards.add_action_item(round_, "Done", "khoroo", "Khoroo 1", dt.date(2026, 11, 2))
        scorecards.update_action_item(done, "done", "fixed", "staff")
    digest = digest_for(app)
    assert digest["meetings"] == {"available": True, "meetings": [{
        "id": meeting.id, "kind": "interface", "title_mn": "7-р хорооны ИНХ", "title_en": "Khoroo 7 meeting",
        "starts_at": "2026-11-20T10:00:00", "status": "scheduled", "sent": 3, "delivered": 2, "failed": 1,
        "rsvp_yes": 2, "rsvp_no": 1}]}
    assert [(a["action"], a["overdue"], a["indicator"]) for a in digest["action_items"]] == [
        ("Old promise", True, None), ("Due now", False, "B")]


def test_rounds_offered_are_those_near_the_contact(app):
    from flows.decision import Person
    from gateway.scorecards import rounds_near
    from storage.models import AdminUnit

    here = new_round(app, code="KG1", unit="BKhD-01")
    there = new_round(app, code="KG2", unit="BKhD-02")
    new_round(app, code="KG3", unit="BKhD-02", open_it=False)
    with app.app_context(), database.connection_context():
        scorecards.update_round(scorecards.Round.get_by_id(here), meeting_at=dt.datetime(2026, 12, 1, 10, 0),
                                meeting_place_mn="Хороо")
        unit = {code: AdminUnit.get(AdminUnit.code == code) for code in ("BKhD-01", "BKhD", "UB")}
        offered = {code: [item["key"] for item in rounds_near(app, Person(0, unit_id=u.id))["rounds"]]
                   for code, u in unit.items()}
        nowhere = rounds_near(app, Person(0))["rounds"]
    assert offered["BKhD-01"] == [str(here)]
    assert offered["BKhD"] == offered["UB"] == [str(here), str(there)]  # a district sees its khoroos' rounds
    first = nowhere[0]
    assert [item["key"] for item in nowhere] == [str(here), str(there)]
    assert first["meeting"] == {"date": "2026-12-01", "time": "18:00", "place": {"mn": "Хороо", "en": "Хороо"}}
    assert [i["code"] for i in first["indicators"]] == ["A", "B"] and first["en"] == "Kindergarten KG1"
