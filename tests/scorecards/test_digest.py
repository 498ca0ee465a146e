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
from storage.models import Contact, Message
from storage.suppression import release_counts
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
    # people are counted in whole blocks of 5: 6 women count 5, 5 men count 5, 2 youth count none
    respondents = section["respondents"]
    assert (respondents["total"], respondents["new_this_week"]) == (10, 5)  # last week: one block of women
    assert respondents["by_group"] == {"men": 5, "women": 5, "youth": "<5"}
    assert respondents["hidden"]["youth"]["why_en"] == "fewer than 5 people"
    a, b = section["indicators"]
    # the first five women to answer (w0–w4); w5 waits for four more women
    assert a["groups"]["women"] == {"n": 5, "mean": 2.4, "median": 2.0,
                                    "distribution": {"1": 1, "2": 2, "3": 1, "4": 1, "5": 0}}
    assert a["groups"]["men"] == {"n": 5, "mean": 3.8, "median": 4.0,
                                  "distribution": {"1": 0, "2": 0, "3": 2, "4": 2, "5": 1}}
    assert a["groups"]["youth"]["n"] == "<5" and a["groups"]["youth"]["reason"] == "small"
    assert a["overall"] == {"n": 10, "median": 3.0, "distribution": {"1": 1, "2": 2, "3": 3, "4": 3, "5": 1},
                            "mean_pooled": 3.1, "mean_of_group_means": 3.1}
    assert a["provider_score"] == 4.5 and a["gap"] == -1.4  # 31/10 − 4.5
    assert a["change_week"] == 0.7  # 31/10 − 12/5: this week's new block of five men
    assert a["change_round"] == -0.5  # 31/10 − 18/5
    assert a["agenda"] and a["agenda_reasons"] == ["drop_since_last_round"]
    assert b["overall"]["mean_pooled"] == 2.0 and b["overall"]["median"] == 2.0
    assert b["change_round"] == -1.0 and b["agenda_reasons"] == ["low_mean", "drop_since_last_round"]
    assert b["provider_score"] is None and "gap" not in b


def test_last_week_digest_sees_only_who_had_answered_by_then(app, scored):
    _, second = scored
    [section] = digest_for(app, "2026-W46")["scorecards"]
    a = section["indicators"][0]
    assert section["respondents"]["total"] == 5
    assert a["overall"]["n"] == 5 and a["overall"]["mean_pooled"] == 2.4
    assert a["overall"]["mean_of_group_means"] == 2.4
    assert a["change_week"] is None and a["change_week_hidden"]["why_en"] == "change since last week <5"
    assert section["indicators"][1]["overall"]["n"] == 5


def test_unweighted_mean_of_group_means_differs_from_pooled(app):
    with time_machine.travel(THIS_WEEK, tick=False):
        round_id = new_round(app, min_cell=2)
        for n in range(6):
            score(app, f"w{n}", round_id, "women", A=5, B=5)
        for n in range(2):
            score(app, f"y{n}", round_id, "youth", A=1, B=1)
        score(app, "u0", round_id, "undisclosed", A=1, B=1)
    a = digest_for(app)["scorecards"][0]["indicators"][0]
    assert a["groups"]["unspecified"]["n"] == "<2" and a["groups"]["unspecified"]["suppressed"]
    assert a["groups"]["youth"]["n"] == 2  # blocks of 2: nothing to protect by hiding more
    assert a["overall"]["mean_pooled"] == round(32 / 8, 2)
    assert a["overall"]["mean_of_group_means"] == 3.0  # only published declared groups


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


def test_release_examples():
    def shown(counts, **kw):
        return {g: r.label() for g, r in release_counts(counts, 5, **kw).items()}

    assert shown({"women": 10, "men": 3}) == {"women": 10, "men": "<5"}
    assert shown({"women": 12, "men": 7, "youth": 0}) == {"women": 10, "men": 5, "youth": 0}
    assert shown({"water": 10, "roads": 3}, exact_total=13, blocks=False) == {"water": "hidden", "roads": "hidden"}
    assert shown({"water": 10, "roads": 7}, exact_total=17, blocks=False) == {"water": 10, "roads": 7}


@given(st.dictionaries(st.sampled_from(["women", "men", "youth", "elderly", "unspecified"]),
                       st.integers(min_value=0, max_value=40)), st.integers(min_value=2, max_value=10))
def test_released_counts_are_whole_blocks(counts, min_cell):
    released = release_counts(counts, min_cell)
    assert {k for k, n in counts.items() if 0 < n < min_cell} == {k for k, r in released.items() if not r.shown}
    assert all(r.n % min_cell == 0 and r.n <= counts[k] < r.n + min_cell for k, r in released.items() if r.shown)


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
        "rsvp_yes": "<5", "rsvp_no": "<5"}]}  # answers build up week by week: counted in blocks of 5
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
