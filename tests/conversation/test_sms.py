"""SMS through the conversation applier: reserved words, first contact, sessions, keywords mid-flow, scripts."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.text import detect_script, normalize
from storage.db import database
from storage.models import FlowResult, FlowRun
from tests.conversation.conftest import FLOWS_DIR, Person, asked, consented, notice, say, system_text


def runs_of(app, person):
    with app.app_context(), database.connection_context():
        return list(FlowRun.select().where(FlowRun.contact == person.contact_id).order_by(FlowRun.id))


def results_of(app, run):
    with app.app_context(), database.connection_context():
        return {row.name: row.value for row in FlowResult.select().where(FlowResult.run == run.id)}


def test_first_message_gets_the_consent_notice_once_and_records_its_version(app, person):
    first = person.sms("us")
    assert first[0] == notice(app)
    assert first[1].startswith(asked(app, "water_kiosk_check", "open_today"))
    contact = person.contact
    assert contact.consent_version == app.config["GATEWAY"]["consent"]["version"]
    assert contact.consent_source == "sms" and contact.consent_at is not None
    second = person.sms("1")
    assert all("ZOGS" not in reply for reply in second)


@pytest.mark.parametrize("word", ["STOP", "Зогс!", "zogs", "stop.", "ЗОГС"])
def test_stop_opts_out_mid_run_and_nothing_more_is_sent(app, word):
    person = consented(Person(app))
    person.sms("us")
    replies = person.sms(word)
    script = person.contact.script or person.contact.last_script or "latn"  # the script of the STOP itself
    assert replies == [say(app, "stopped", "mn", script)]
    assert person.contact.opted_out_at is not None
    assert [run.status for run in runs_of(app, person)] == ["interrupted"]
    assert person.sms("us") == []
    assert person.sms("1") == []
    assert len(runs_of(app, person)) == 1


def test_start_opts_back_in_and_help_still_answers_after_stop(app):
    person = consented(Person(app))
    person.sms("STOP")
    assert person.sms("HELP") == [say(app, "opted_out_help", "mn", "latn")]
    assert person.sms("ЭХЛЭХ") == [say(app, "started", "mn", "cyrl")]
    assert person.contact.reachable
    assert person.sms("us")[0].startswith(asked(app, "water_kiosk_check", "open_today"))


def test_help_lists_the_keywords_in_the_script_the_person_wrote(app):
    person = consented(Person(app))
    cyrillic = person.sms("ТУСЛАМЖ")[0]
    assert "ГОМДОЛ" in cyrillic and "ҮНЭЛГЭЭ" in cyrillic and detect_script(cyrillic) == "cyrl"
    latin = person.sms("tuslamj")[0]
    assert "GOMDOL" in latin and "UNELGEE" in latin and detect_script(latin) == "latn"


def test_a_message_without_run_or_keyword_gets_the_help_list(app):
    person = consented(Person(app))
    reply = person.sms("sain baina uu")
    assert reply[0].startswith("Oilgosongui. ") and "GOMDOL" in reply[0]
    assert runs_of(app, person) == []


def test_en_switches_language_and_flows_answer_in_english(app):
    person = consented(Person(app))
    assert person.sms("EN") == [system_text(app, "language", "english", "say", "en")]
    assert person.sms("water") == ["Was the water kiosk open today? 1-Yes 2-No"]
    assert person.sms("МН") == [system_text(app, "language", "mongolian", "say", "mn", "cyrl")]
    assert person.contact.language == "mn"


def test_reply_follows_the_script_last_written_unless_chosen(app):
    person = consented(Person(app))
    assert detect_script(person.sms("ус")[0]) == "cyrl"
    assert detect_script(person.sms("1")[0]) == "cyrl"  # digits say nothing: keep Cyrillic
    assert detect_script(person.sms("us")[0]) == "latn"
    person.sms("КИРИЛЛ")
    assert person.contact.script == "cyrl"
    assert detect_script(person.sms("gomdol")[0]) == "cyrl"  # chosen: Latin input no longer switches


def test_another_flows_keyword_interrupts_the_current_run(app):
    person = consented(Person(app))
    person.sms("us")
    reply = person.sms("gomdol")
    assert normalize(reply[0]).startswith(normalize("Gomdol yuunii talaar ve"))
    assert [(run.flow_id, run.status) for run in runs_of(app, person)] == [
        ("water_kiosk_check", "interrupted"), ("complaint", "active")]


def test_a_keyword_at_the_last_complaint_question_asks_before_dropping_anything(app):
    person = consented(Person(app))
    for text in ("gomdol", "1", "Bayangol", "7", "0", "us alga"):
        person.sms(text)
    complaint = app.extensions["gateway.flows"].get("complaint").title("mn", "latn")
    scorecard = app.extensions["gateway.flows"].get("scorecard").title("mn", "latn")
    assert person.sms("unelgee") == [say(app, "switch", current=complaint, target=scorecard)]
    assert person.sms("1")[0].startswith(asked(app, "complaint", "anonymous"))  # carry on: the question again
    assert "G-0001" in person.sms("tiim")[0]
    assert [(run.flow_id, run.status) for run in runs_of(app, person)] == [("complaint", "completed")]


def test_dropping_the_answers_for_another_flow_is_the_persons_choice(app):
    person = consented(Person(app))
    for text in ("gomdol", "1"):
        person.sms(text)
    person.sms("us")
    assert person.sms("2")[0].startswith(asked(app, "water_kiosk_check", "open_today"))
    assert [(run.flow_id, run.status) for run in runs_of(app, person)] == [
        ("complaint", "interrupted"), ("water_kiosk_check", "active")]


def test_the_same_keyword_alone_restarts_the_flow_after_asking_when_answers_would_be_lost(app):
    person = consented(Person(app))
    person.sms("us")
    assert person.sms("US!")[0].startswith(asked(app, "water_kiosk_check", "open_today"))  # nothing to lose yet
    person.sms("2")
    title = app.extensions["gateway.flows"].get("water_kiosk_check").title("mn", "latn")
    assert person.sms("US!") == [say(app, "restart", current=title, target=title)]
    assert person.sms("2")[0].startswith(asked(app, "water_kiosk_check", "open_today"))
    assert [run.status for run in runs_of(app, person)] == ["interrupted", "interrupted", "active"]


def test_a_keyword_that_is_a_valid_answer_answers(make_app):
    app = make_app(flows={"paths": [str(FLOWS_DIR)]})
    person = consented(Person(app))
    person.sms("pick")
    assert person.sms("water") == ["Songoson: water"]
    assert [(run.flow_id, run.status) for run in runs_of(app, person)] == [("pick", "completed")]
    person.sms("pick")
    assert normalize(person.sms("gomdol")[0]).startswith(normalize("Gomdol yuunii talaar ve"))


def test_free_text_answers_may_start_with_a_keyword(app):
    person = consented(Person(app))
    for text in ("gomdol", "1", "Bayangol", "7", "0"):
        person.sms(text)
    person.sms("us tugeeh bair 3 honog haaltai")  # starts with the water flow's keyword: still the description
    run = runs_of(app, person)[-1]
    assert (run.flow_id, run.status) == ("complaint", "active")
    assert results_of(app, run)["description"] == "us tugeeh bair 3 honog haaltai"


def test_a_completed_run_stores_its_results(app):
    person = consented(Person(app))
    replies = [person.sms(text) for text in ("us", "2", "3", "4")]
    assert replies[-1] == ["Bayarlalaa! Tanii unelgee: 4"] or replies[-1][-1].endswith("4")
    (run,) = runs_of(app, person)
    assert run.status == "completed" and run.ended_at is not None
    assert results_of(app, run) == {"open_today": "closed", "hours_closed": "3", "rating": "4"}
    assert person.sms("4")[0].startswith("Oilgosongui. ")  # the run is over


def test_invalid_answers_are_asked_again_then_the_run_ends_politely(app):
    person = consented(Person(app))
    person.sms("us")
    person.sms("1")
    first = person.sms("9")
    assert "1-5" in first[0]
    person.sms("ten")
    last = person.sms("zero")
    (run,) = runs_of(app, person)
    assert run.status == "failed" and last


def test_waiting_sms_runs_get_an_expiry(app):
    person = consented(Person(app))
    person.sms("us")
    (run,) = runs_of(app, person)
    assert run.expires_at is not None
    assert 2.9 < (run.expires_at - run.started_at).total_seconds() / 86400 < 3.1


INPUTS = st.one_of(
    st.sampled_from(["us", "ус", "gomdol", "ГОМДОЛ", "unelgee", "join", "1", "2", "3", "5", "0", "00", "99", "98",
                     "Bayangol", "STOP", "Зогс", "START", "EHLEH", "HELP", "EN", "MN", "LATIN", "КИРИЛЛ", ""]),
    st.text(max_size=60),
    st.just("х" * 10_000),
    st.just("😀 \u200f\u202e gomdol"),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(INPUTS, max_size=12))
def test_any_sequence_of_messages_gets_a_reply_or_a_clean_end(app, texts):
    person = Person(app, "+97699" + str(abs(hash(tuple(texts))) % 1_000_000).zfill(6))
    for text in texts:
        was_out = person.contact.opted_out_at is not None
        replies = person.sms(text)
        assert isinstance(replies, list) and all(isinstance(reply, str) and reply for reply in replies)
        contact = person.contact
        if was_out and contact.opted_out_at is not None:
            allowed = [[say(app, key, contact.language, script)] for key in ("opted_out_help", "stopped")
                       for script in ("latn", "cyrl")]
            assert replies == [] or replies in allowed
        else:
            assert replies, f"no reply to {text!r}"
        active = [run for run in runs_of(app, person) if run.status == "active"]
        assert len(active) <= 1


def test_stop_as_the_very_first_message_then_start_gets_the_notice(app, person):
    assert person.sms("STOP") == [say(app, "stopped", "mn", "latn")]
    assert person.contact.consent_at is None
    assert person.sms("START") == [notice(app)]
    assert person.contact.consent_at is not None and person.contact.reachable


def test_new_contacts_start_in_the_configured_language(make_app):
    app = make_app(language={"default": "en"})
    person = Person(app)
    assert person.sms("water") == [notice(app, "en"), "Was the water kiosk open today? 1-Yes 2-No"]
    assert person.contact.language == "en"


def test_flows_are_not_started_for_people_who_opted_out(app, person):
    from gateway.conversation import start_sms_flow

    person.sms("STOP")
    with app.app_context(), database.connection_context():
        assert start_sms_flow(app, person.contact_id, "meeting_rsvp") == []
    assert runs_of(app, person) == []
