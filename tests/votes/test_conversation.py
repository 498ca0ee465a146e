"""Voting from a basic phone, through the real Africa's Talking SMS and USSD webhooks (a fake provider only on
the sending side): choices in either script, changed votes, the close, other units, the statement budget."""
from __future__ import annotations

import datetime as dt
import uuid

import time_machine
from playhouse.test_utils import count_queries

from gateway import votes as gateway_votes
from storage import scorecards, votes
from storage.db import database
from storage.models import Contact, Message
from tests.votes.conftest import AT_TOKEN, bearer, new_vote, person, phone

DAY = dt.datetime(2026, 11, 18, 3, 0)  # Wednesday 11:00 in Ulaanbaatar
KHOROO_7 = ("Bayangol", "7")  # what a person types for BGD-07


def tally(app, vote_id: int) -> dict:
    with app.app_context(), database.connection_context():
        return votes.tally(votes.get_round(vote_id))


def counts(app, vote_id: int) -> dict[int, int]:
    return {p["number"]: p["votes"] for p in tally(app, vote_id)["projects"]}


def sms_vote(someone, *choice_answers: str, keyword: str = "ONHS", group: str = "1") -> list[str]:
    """A first vote by SMS: the keyword, the khoroo, the group, the choices, then yes."""
    replies = []
    for text in (keyword, *KHOROO_7, group, *choice_answers, "1"):
        replies = someone.send_sms(text)
    return replies


def test_a_vote_by_sms_in_latin_and_in_cyrillic_is_the_same_choice(at_app):
    with time_machine.travel(DAY, tick=False):
        vote_id = new_vote(at_app, max_choices=2)
        latin = sms_vote(phone(at_app, "+97699120001"), "gudamjnii gerel, usnii tseg")
        cyrillic = sms_vote(phone(at_app, "+97699120002"), "гудамжны гэрэл ба усны цэг", keyword="ОНХС")
        digits = sms_vote(phone(at_app, "+97699120003"), "2 1", keyword="tosov")
    assert latin[-1] == "Tanii sanal burtgegdlee: 1) Gudamjnii gerel, 2) Usnii tseg."
    assert cyrillic[-1] == "Таны санал бүртгэгдлээ: 1) Гудамжны гэрэл, 2) Усны цэг."
    assert digits[-1] == "Tanii sanal burtgegdlee: 2) Usnii tseg, 1) Gudamjnii gerel."
    assert counts(at_app, vote_id) == {1: 3, 2: 3, 3: 0, 4: 0}


def test_one_person_voting_three_times_over_sms_and_ussd_counts_once_with_the_last_vote(at_app):
    with time_machine.travel(DAY, tick=False):
        vote_id = new_vote(at_app, closes_on=dt.date(2026, 11, 30))
        someone = phone(at_app, "+97699120011")
        assert sms_vote(someone, "1")[-1].endswith("11/30 hurtel ONHS gej bicheed oorchilj bolno.")
        screen, _ = someone.ussd(None)  # second vote, by USSD: the main menu, the vote, "yes, my khoroo"
        for press in ("4", "1", "2"):
            screen, _ = someone.ussd(press)
        assert "2 hurtel" not in screen and screen.startswith("Neg tosol songono uu:")
        someone.ussd("2")
        screen, ended = someone.ussd("1")
        assert ended and screen == "Tanii sanal burtgegdlee: 2) Usnii tseg."
        assert someone.send_sms("ONHS")[-1] == "Tanii horoo, bag: Bayangol, 7-r horoo? 1-Tiim 2-Ugui"
        someone.send_sms("1")
        shown = someone.send_sms("3")  # the group; the shortlist says what they chose last time
        assert shown[-1].startswith("Omnoh sanal: 2. Neg tosol songono uu:")
        someone.send_sms("4")
        assert someone.send_sms("1")[-1].startswith("Tanii sanal burtgegdlee: 4) Zamiin zasvar.")
    result = tally(at_app, vote_id)
    assert {p["number"]: p["votes"] for p in result["projects"]} == {1: 0, 2: 0, 3: 0, 4: 1}
    assert result["turnout"] == {"voters": 1, "changed_their_vote": 1, "out_of_area": 0, "registered_in_unit": 1}
    with at_app.app_context(), database.connection_context():
        ballot = votes.Ballot.get()
        assert (ballot.changes, ballot.group, ballot.channel) == (2, "youth", "sms")
        assert votes.VoteCast.select().count() == 3


def test_bad_choices_are_asked_again_and_nothing_counts_before_yes(at_app):
    with time_machine.travel(DAY, tick=False):
        vote_id = new_vote(at_app, max_choices=2)
        someone = phone(at_app, "+97699120021")
        for text in ("ONHS", *KHOROO_7, "5"):
            someone.send_sms(text)
        assert someone.send_sms("1-3")[-1].startswith("2 hurteleh dugaaraa zaigaar tusgaarlan bichne uu")
        assert someone.send_sms("1 2 3")[-1].startswith("2-aas ihguig songono uu.")
        assert counts(at_app, vote_id) == {1: 0, 2: 0, 3: 0, 4: 0}
        assert someone.send_sms("3 4")[-1].startswith("Tanii songolt: 3) Tsetserlegiin hashaa, 4) Zamiin zasvar.")
        assert someone.send_sms("2")[-1].startswith("2 hurtel tosol songono uu")  # "no": choose again
        someone.send_sms("1")
        someone.send_sms("1")
    assert counts(at_app, vote_id) == {1: 1, 2: 0, 3: 0, 4: 0}


def test_a_vote_after_the_close_is_not_counted_and_the_voter_is_told(at_app):
    admin = bearer(at_app, "admin")
    with time_machine.travel(DAY, tick=False):
        vote_id = new_vote(at_app)
        early, late = phone(at_app, "+97699120031"), phone(at_app, "+97699120032")
        sms_vote(early, "1")
        for text in ("ONHS", *KHOROO_7, "1", "2"):  # the late voter is at "is that right?" when staff close
            late.send_sms(text)
        closed = at_app.test_client().post(f"/api/v1/votes/{vote_id}/close", headers=admin)
        assert closed.json["results_sms_queued"] == 1
        assert late.send_sms("1") == ["Uuchlaarai, sanal huraalt haagdsan tul tanii sanal toologdohgui."]
        assert early.sms_replies()[0].startswith("ONHS sanal huraaltiin dun, 7-r horoo: 1) Gudamjnii gerel 1;")
        for someone in (early, late):
            assert someone.send_sms("ONHS") == ["Tanai sanal huraalt haagdsan (11/18), sanal toologdohgui. Odoogoor "
                                                "neelttei ONHS sanal huraalt alga. Bayarlalaa!"]
    assert counts(at_app, vote_id) == {1: 1, 2: 0, 3: 0, 4: 0}
    with at_app.app_context(), database.connection_context():
        assert votes.VoteCast.select().count() == 1


def test_after_the_last_day_the_vote_is_gone_even_before_the_close_job(at_app):
    with time_machine.travel(DAY, tick=False):
        vote_id = new_vote(at_app, closes_on=dt.date(2026, 11, 18))
        someone = phone(at_app, "+97699120041")
        for text in ("ONHS", *KHOROO_7, "1", "1"):
            someone.send_sms(text)
    with time_machine.travel(DAY + dt.timedelta(days=1), tick=False):  # the job has not run yet
        assert someone.send_sms("1") == ["Uuchlaarai, sanal huraalt haagdsan tul tanii sanal toologdohgui."]
    assert counts(at_app, vote_id) == {1: 0, 2: 0, 3: 0, 4: 0}


def test_a_unit_with_no_open_vote_gets_the_votes_open_nearby_or_none(at_app):
    with time_machine.travel(DAY, tick=False):
        someone = phone(at_app, "+97699120051")
        assert someone.send_sms("ONHS")[-1] == "Odoogoor neelttei ONHS sanal huraalt alga. Bayarlalaa!"
        new_vote(at_app)
        new_vote(at_app, unit="BGD-08")
        for text in ("ONHS", "Bayangol"):
            someone.send_sms(text)
        assert someone.send_sms("3") == ["Bayangol, 3-r horoo. End sanal huraalt alga. Oiroltsoo: 7-r horoo, "
                                         "8-r horoo."]


def test_votes_from_people_registered_elsewhere_are_kept_apart_and_marked(at_app):
    with time_machine.travel(DAY, tick=False):
        vote_id = new_vote(at_app)
        resident, visitor, unknown = (phone(at_app, number) for number in ("+97699120061", "+97699120062",
                                                                          "+97699120063"))
        person(at_app, "+97699120061", unit="BGD-07")
        person(at_app, "+97699120062", unit="SKhD-05")
        for someone, answers in ((resident, ("1", "1", "2", "1")), (visitor, (*KHOROO_7, "1", "3", "1")),
                                 (unknown, (*KHOROO_7, "1", "3", "1"))):
            for text in ("ONHS", *answers):
                someone.send_sms(text)
    result = tally(at_app, vote_id)
    assert [(p["votes"], p["out_of_area_votes"]) for p in result["projects"]] == [(0, 0), (1, 0), (1, 1), (0, 0)]
    assert result["turnout"]["voters"] == 2 and result["turnout"]["out_of_area"] == 1
    with at_app.app_context(), database.connection_context():
        placed = {c.id: c.admin_unit.code if c.admin_unit else None for c in Contact.select()}
        assert sorted(placed.values(), key=str) == ["BGD-07", "BGD-07", "SKhD-05"]  # the unknown is now placed


def test_the_results_sms_reaches_only_voters_who_did_not_opt_out(at_app):
    with time_machine.travel(DAY, tick=False):
        vote_id = new_vote(at_app)
        stays, leaves = phone(at_app, "+97699120071"), phone(at_app, "+97699120072")
        sms_vote(stays, "2")
        sms_vote(leaves, "2")
        assert leaves.send_sms("ZOGS")
        outsider = phone(at_app, "+97699120073")
        outsider.send_sms("unelgee")  # texted us, never voted
        response = at_app.test_client().post(f"/api/v1/votes/{vote_id}/close", headers=bearer(at_app, "admin"))
    assert response.json["results_sms_queued"] == 1
    assert stays.sms_replies() == ["ONHS sanal huraaltiin dun, 7-r horoo: 1) Usnii tseg 2; 2) Gudamjnii gerel 0; "
                                   "2) Tsetserlegiin hashaa 0; 2) Zamiin zasvar 0. Daraa ni: INH-aar heleltsej "
                                   "batalna."]
    assert leaves.sms_replies() == [] and outsider.sms_replies() == []


def test_a_vote_costs_no_more_statements_than_a_scorecard_answer(at_app):
    """Counted through peewee's query log: every message of a vote, against the scorecard answer that records."""
    client = at_app.test_client()

    def send(number: str, text: str) -> int:
        form = {"from": number, "to": "1411", "text": text, "id": uuid.uuid4().hex, "date": ""}
        with count_queries() as counted:
            assert client.post(f"/webhooks/africastalking/sms?token={AT_TOKEN}", data=form).status_code == 200
        return len(counted.get_queries())

    with time_machine.travel(DAY, tick=False):
        new_vote(at_app, max_choices=2)
        with at_app.app_context(), database.connection_context():
            point = scorecards.service_point("KG16", admin_unit_code="BGD-07", kind="kindergarten", name_mn="16",
                                             name_en="16")
            scorecards.set_status(scorecards.create_round(point, [{"code": "A", "mn": "Хоол", "en": "Food"}]), "open")
        for text in ("ONHS", *KHOROO_7):  # someone else first: this process now knows the admin units
            send("+97699120080", text)
        scorecard = [send("+97699120081", text) for text in ("unelgee", "1", "4", "0")]
        first_vote = [send("+97699120082", text) for text in ("ONHS", *KHOROO_7, "1", "1 3", "1")]
        changed_vote = [send("+97699120082", text) for text in ("ONHS", "1", "1", "2", "1")]
    assert max(first_vote[1:] + changed_vote) <= scorecard[-1], (scorecard, first_vote, changed_vote)
    assert first_vote[0] <= scorecard[0]  # a stranger's first message, with the notice


def test_the_shortlist_over_ussd_is_paged_and_several_choices_are_one_at_a_time(at_app):
    projects = [{"mn": f"Төсөл {n}", "en": f"Project {n}", "latn": f"Hogjliin tosol dugaar {n}"}
                for n in range(1, 13)]
    with time_machine.travel(DAY, tick=False):
        vote_id = new_vote(at_app, projects=projects, max_choices=3)
        someone = phone(at_app, "+97699120091")
        person(at_app, "+97699120091")
        screens = [someone.ussd(None)[0]] + [someone.ussd(press)[0] for press in ("4", "1", "1")]
        assert screens[-1].startswith("3 hurtel tosol songono uu:") and screens[-1].endswith("99 Tsaash")
        page_2 = someone.ussd("99")[0]
        assert page_2.startswith("6. Hogjliin tosol dugaar 6") and page_2.endswith("99 Tsaash\n0 Butsah")
        someone.ussd("12")
        assert someone.ussd("1")[0].startswith("Songoson: 12, 1. Oor songoh uu?\n2. Hogjliin tosol dugaar 2")

        assert someone.ussd("0")[0].startswith("Tanii songolt: 12, 1. Zov uu?")
        screen, ended = someone.ussd("1")
    assert ended and screen.startswith("Tanii sanal burtgegdlee: 12)")
    assert [p["votes"] for p in tally(at_app, vote_id)["projects"]] == [1] + [0] * 10 + [1]


def test_votes_close_by_the_job_and_voters_get_the_ranking(at_app):
    with time_machine.travel(DAY, tick=False):
        vote_id = new_vote(at_app, closes_on=dt.date(2026, 11, 18))
        voter = phone(at_app, "+97699120101")
        sms_vote(voter, "3")
    with time_machine.travel(DAY + dt.timedelta(days=1), tick=False), at_app.app_context(), \
            database.connection_context():
        assert gateway_votes.close_due(at_app) == 1
        assert Message.select().where(Message.origin == f"vote:{vote_id}:results").count() == 1
