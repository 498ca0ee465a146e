"""The pure conversation decision, fed snapshots directly: no Flask, no database, no channel."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.decision import REFERENCE, Person, Run, Session, World, decide_sms, decide_start, decide_ussd
from flows.effects import (
    EndSmsRuns,
    NewRun,
    NoteInbound,
    OptIn,
    OptOut,
    RecordComplaint,
    RecordRsvp,
    ReserveReference,
    SaveRun,
    SaveSession,
    StartRun,
)
from flows.loader import load_flows
from flows.sandbox import SAMPLE_REFERENCE, Sandbox
from flows.screens import ussd_fits
from tests.conversation.sandbox_support import NOW, FixedAssets, sandbox_phone

FLOWS = load_flows([], bundled=True)
ROOT = Path(__file__).resolve().parents[2]


def world(person: Person) -> World:
    return World(person, NOW, FLOWS, FixedAssets())


def test_the_decision_imports_no_flask_no_database_and_no_channel():
    code = ("import sys, flows.decision, flows.sandbox; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'peewee', 'gateway', 'storage', "
            "'werkzeug', 'psycopg2', 'sqlite3', 'twilio', 'africastalking'}))")
    found = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_a_first_message_gets_the_notice_and_consent_is_an_effect():
    decision = decide_sms(world(Person(id=7)), "gomdol", None)
    kinds = [type(effect) for effect in decision.effects]
    assert NoteInbound in kinds and OptIn in kinds
    assert decision.replies[0].startswith("Tavtai moril") and decision.replies[1].startswith("Gomdol yuunii")
    started = [effect.flow_id for effect in decision.effects if isinstance(effect, StartRun)]
    assert started == ["complaint"]  # the notice ran as a flow too, but left nothing to store


@pytest.mark.parametrize("inputs", [[], ["gomdol", "1"], ["gomdol", "1", "Bayangol", "3", "0", "us", "unelgee"],
                                    ["STOP"], ["STOP", "hi"]])
def test_stop_wins_in_every_state(inputs):
    phone = sandbox_phone(consented=True)
    for text in inputs:
        phone.sms(text)
    run = phone._active_sms_run()
    decision = decide_sms(phone.world(), "Зогс!", run)
    assert OptOut() in decision.effects and EndSmsRuns("interrupted") in decision.effects
    assert decision.replies == [FLOWS.messages["stopped"].source("mn", "cyrl")]


def test_a_reference_is_reserved_only_by_the_message_that_prints_it():
    phone = sandbox_phone(consented=True)
    effects = []
    for text in ("gomdol", "1", "Bayangol", "3", "0", "us 3 honog alga", "unelgee", "1", "tiim"):
        decision = decide_sms(phone.world(), text, phone._active_sms_run())
        effects.append(decision.effects)
        replies = phone.apply(decision).replies
    assert [i for i, found in enumerate(effects) if any(isinstance(e, ReserveReference) for e in found)] == [8]
    assert REFERENCE not in replies[0] and SAMPLE_REFERENCE in replies[0]
    (complaint,) = [effect for effect in effects[8] if isinstance(effect, RecordComplaint)]
    assert (complaint.category, complaint.unit, complaint.landmark, complaint.anonymous) == ("water", "BGD-03",
                                                                                          None, True)


def test_help_and_language_words_answer_beside_the_run_which_carries_on():
    phone = sandbox_phone(consented=True)
    phone.sms("us")
    assert phone.sms("tuslamj")[0].startswith("Ilgeeh ug:")
    assert phone.sms("EN") == ["Language: English. For Mongolian, text MN."]
    assert phone.sms("2") == ["How many hours was it closed? (0-24)"]


def test_a_keyword_with_nothing_to_lose_switches_at_once():
    phone = sandbox_phone(consented=True)
    phone.sms("us")
    decision = decide_sms(phone.world(), "gomdol", phone._active_sms_run())
    effects = decision.effects
    interrupted = next(i for i, e in enumerate(effects) if isinstance(e, SaveRun) and e.status == "interrupted")
    started = next(i for i, e in enumerate(effects) if isinstance(e, StartRun))
    assert interrupted < started  # one active SMS run: the old one ends before the new one is stored
    assert phone.apply(decision).replies[0].startswith("Gomdol yuunii")


def test_an_rsvp_can_be_changed_and_the_latest_answer_wins():
    phone = sandbox_phone(consented=True)
    phone.apply(decide_start(phone.world(), "meeting_rsvp", None))
    answers = []
    for text in ("1", "ирж чадахгүй", "Хурал хаана болох вэ?"):
        decision = decide_sms(phone.world(), text, phone._active_sms_run())
        answers += [(e.answer, e.question) for e in decision.effects if isinstance(e, RecordRsvp)]
        phone.apply(decision)
    assert answers[:1] == [("yes", None)] and answers[-1] == (None, "Хурал хаана болох вэ?")
    assert phone._active_sms_run().flow_id == "meeting_rsvp"  # still listening


def test_nothing_is_started_for_someone_who_opted_out():
    person = Person(id=1, language="mn", consented=True, opted_out=True)
    assert decide_start(world(person), "meeting_rsvp", None).effects == []


def test_ussd_first_dial_notice_then_menu_and_home():
    phone = sandbox_phone()
    notice = phone.dial()
    assert notice.text.startswith("Hariultiig 12 sar hadgalna") and not notice.end
    menu = phone.press("1")
    assert menu.text.startswith("Songono uu:\n1. Irgediin unelgee")
    assert phone.press("0") == menu  # 0 on the menu's first page stays there
    assert phone.press("2").text.startswith("Gomdol yuunii")
    assert phone.press("00") == menu


def test_a_redelivered_ussd_hop_is_answered_from_the_session_and_changes_nothing():
    person = Person(id=3, language="mn", consented=True)
    session = Session("s", consumed=2, screen="Ali duureg esvel sum ve?", end=False,
                      run=Run(9, "complaint", {"flow": "complaint", "step": "unit", "status": "waiting"}, "ussd", "s"))
    decision = decide_ussd(world(person), "s", ["1", "2"], session)
    assert decision.replayed and decision.effects == [] and decision.screen.text == "Ali duureg esvel sum ve?"


def test_a_new_ussd_session_is_stored_with_its_waiting_run():
    decision = decide_ussd(world(Person(id=3, language="mn", consented=True)), "s1", [], None)
    saved = decision.effects[-1]
    assert isinstance(saved, SaveSession) and saved.new and saved.consumed == 0 and saved.run == NewRun(1)
    assert [e.flow_id for e in decision.effects if isinstance(e, StartRun)] == ["menu"]


def test_the_sandbox_state_travels_as_json():
    phone = sandbox_phone(consented=True)
    phone.sms("gomdol")
    phone.dial()
    copy = Sandbox(FLOWS, FixedAssets(), phone.settings, NOW, Sandbox.state_from(json.loads(json.dumps(
        phone.as_data()))))
    assert copy.sms("1")[0].startswith("Ali duureg")
    assert copy.press("2").text.startswith("Gomdol yuunii")


SMS_INPUTS = st.one_of(
    st.sampled_from(["us", "ус", "gomdol", "ГОМДОЛ", "unelgee", "join", "1", "2", "3", "5", "0", "00", "99", "98",
                     "Bayangol", "STOP", "Зогс", "START", "HELP", "EN", "MN", "LATIN", "КИРИЛЛ", "", "тийм ээ",
                     "за", "tav", "3-4", "Завхан", "Сонгино"]),
    st.text(max_size=40),
)
USSD_KEYS = st.one_of(st.sampled_from(["0", "00", "1", "2", "3", "4", "5", "7", "98", "99", "ZOGS", ""]),
                      st.text(alphabet=st.characters(blacklist_characters="*"), max_size=20))


def no_error_events(decision) -> bool:
    return not any(event.get("type") == "run_failed" and event.get("reason") == "error" for event in decision.events)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(SMS_INPUTS, max_size=12), language=st.sampled_from(["mn", "en"]))
def test_any_sms_sequence_is_decided_without_a_failure_event(texts, language):
    phone = sandbox_phone(language)
    for text in texts:
        decision = decide_sms(phone.world(), text, phone._active_sms_run())
        assert no_error_events(decision), decision.events
        phone.apply(decision)
        assert sum(run["status"] == "active" and run["channel"] == "sms" for run in phone.state.runs.values()) <= 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(keys=st.lists(USSD_KEYS, max_size=12), script=st.sampled_from(["latn", "cyrl"]))
def test_any_ussd_keypresses_are_decided_without_a_failure_event(keys, script):
    phone = sandbox_phone(script=script)
    screen = phone.dial()
    for key in keys:
        if screen.end:
            screen = phone.dial()
            continue
        phone.state.inputs.append(key)
        decision = decide_ussd(phone.world(), phone.state.session_key, list(phone.state.inputs),
                               phone._session(phone.state.session_key))
        assert no_error_events(decision), decision.events
        screen = phone.apply(decision).screen
        assert screen.text and ussd_fits(screen.text), screen.text
        if screen.end:
            phone.state.session_key = None
