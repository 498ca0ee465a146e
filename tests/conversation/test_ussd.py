"""USSD through the conversation applier: the main menu, the `*`-joined history, back/home, redelivery, STOP."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.messages import MESSAGES
from flows.screens import ussd_fits
from storage.db import database
from storage.models import FlowResult, FlowRun
from storage.runs import UssdSession
from tests.conversation.conftest import Person, asked, notice, render_text, say, system_text

MENU_LATN = ["Songono uu:", "1. Irgediin unelgee", "2. Gomdol", "3. Burtguuleh"]


def ussd_runs(app, person):
    with app.app_context(), database.connection_context():
        return list(FlowRun.select().where(FlowRun.contact == person.contact_id).order_by(FlowRun.id))


def test_first_dial_shows_the_notice_then_the_main_menu(app, person):
    screen = person.dial()
    assert not screen.end
    assert screen.text == notice(app, channel="ussd")
    assert person.contact.consent_source == "ussd"
    menu = person.press("1")
    lines = menu.text.split("\n")
    assert lines[:4] == MENU_LATN and lines[-1].endswith(". English") and not menu.end
    titles = [flow.title("mn", "latn") for flow in app.extensions["gateway.flows"].ussd_flows()]
    assert [line.split(". ", 1)[1] for line in lines[1:-1]] == titles


def test_a_flow_runs_to_the_end_screen_and_saves_results(app, person):
    person.dial()
    person.press("1")
    water = 1 + [flow.id for flow in app.extensions["gateway.flows"].ussd_flows()].index("water_kiosk_check")
    assert person.press(str(water)).text.startswith(asked(app, "water_kiosk_check", "open_today"))
    assert person.press("2").text.startswith(asked(app, "water_kiosk_check", "hours_closed"))
    assert person.press("0").text.startswith(asked(app, "water_kiosk_check", "rating"))  # 0 hours: a number
    end = person.press("5")
    assert end.end and end.text.endswith("5")
    run = ussd_runs(app, person)[-1]
    assert run.status == "completed" and run.channel == "ussd" and run.session_key == person.session
    with app.app_context(), database.connection_context():
        saved = {r.name: r.value for r in FlowResult.select().where(FlowResult.run == run.id)}
    assert saved == {"open_today": "closed", "hours_closed": "0", "rating": "5"}


def test_zero_goes_back_and_double_zero_goes_home_at_menu_positions(app, person):
    person.dial()
    person.press("1")
    category = person.press("2")  # complaint: category menu
    assert category.text.startswith("Gomdol yuunii")
    assert person.press("1").text.startswith("Ali duureg")
    assert person.press("0").text == category.text  # back to the category question
    assert person.press("1").text.startswith("Ali duureg")
    home = person.press("00")
    assert home.text.split("\n")[:4] == MENU_LATN
    assert [(run.flow_id, run.status) for run in ussd_runs(app, person)] == [
        ("consent", "completed"), ("menu", "completed"), ("complaint", "interrupted"), ("menu", "active")]
    assert person.press("0").text.split("\n")[:4] == MENU_LATN  # at the main menu, 0 stays there


def test_a_redelivered_hop_gets_the_same_screen_and_changes_nothing(app, person):
    person.dial()
    person.press("1")
    person.press("2")
    first = person.press("1")
    again = person._hop()  # the provider sends the same history again
    assert again == first
    with app.app_context(), database.connection_context():
        session = UssdSession.get(UssdSession.session_key == person.session)
        assert session.consumed == 3
        run = FlowRun.get_by_id(session.run_id)
        assert run.state["results"]["category"]["value"] == "water"
        assert run.state["step"] == "unit"


def test_several_new_inputs_in_one_hop_are_all_applied(app, person):
    person.dial()
    person.inputs = ["1", "2", "3"]  # e.g. a telco passing digits dialled after the service code
    screen = person._hop()
    assert screen.text.startswith("Ali duureg")
    run = ussd_runs(app, person)[-1]
    assert run.state["results"]["category"]["value"] == "heating"


def test_the_only_ussd_flow_is_entered_straight_away(make_app):
    from tests.conversation.conftest import FLOWS_DIR

    app = make_app(flows={"bundled": False, "paths": [str(FLOWS_DIR.parent / "one_flow")]})
    person = Person(app)
    person.sms("START")
    screen = person.dial()
    assert screen.text.startswith("Setgel sanaa?") and not screen.end
    assert person.press("00").text.startswith("Setgel sanaa?")  # home is the flow itself
    assert person.press("2") .text == "Bayarlalaa" and person._hop().end


def test_the_menu_switches_language(app, person):
    person.sms("START")
    menu = person.dial().text.split("\n")
    english = menu[-1].split(". ")[0]
    screen = person.press(english)
    assert screen.text.startswith("Choose:\n1. Citizen scorecard") or screen.text.startswith("Choose:")
    assert person.contact.language == "en"
    assert screen.text.split("\n")[-1].endswith(". Mongol")


def test_an_invalid_menu_choice_says_so(app, person):
    person.sms("START")
    person.dial()
    assert person.press("42").text.startswith(render_text(MESSAGES["hint_choice"], "mn", "latn"))


def test_stop_in_a_ussd_session_opts_out_and_ends(app, person):
    person.sms("START")
    person.dial()
    person.press("2")
    screen = person.press("ZOGS")
    assert screen.end and screen.text == say(app, "stopped_ussd", "mn", "latn")
    assert person.contact.opted_out_at is not None
    assert [(run.flow_id, run.status) for run in ussd_runs(app, person)] == [
        ("menu", "completed"), ("complaint", "interrupted")]


def test_an_opted_out_person_who_dials_may_join_again(app, person):
    person.sms("START")
    person.sms("STOP")
    screen = person.dial()
    offer = system_text(app, "rejoin", "offer", "ask")
    assert screen.text.startswith(offer) and screen.text.endswith("1. Dahin negdeh") and not screen.end
    assert person.press("2").end  # anything but 1: goodbye
    person.dial()
    assert person.press("1").text.split("\n")[:4] == MENU_LATN
    assert person.contact.reachable


def test_two_sessions_of_one_person_do_not_mix(app):
    person = Person(app)
    person.sms("START")
    other = Person(app)
    person.dial()
    person.press("2")
    other.dial()
    assert other.press("1").text.startswith("Irgediin") or other.session != person.session
    assert person.press("1").text.startswith("Ali duureg")


def test_a_main_menu_that_does_not_fit_one_cyrillic_screen_is_paged(make_app):
    app = make_app(language={"ussd_script": "cyrl"})
    person = Person(app)
    notice = person.dial()
    assert ussd_fits(notice.text)
    first = person.press("1")
    assert ussd_fits(first.text) and first.text.split("\n")[-1] == "99 Цааш"
    second = person.press("99")
    assert ussd_fits(second.text) and second.text.split("\n")[-1] == "0 Буцах"
    shown = [line.split(". ", 1)[1] for page in (first, second) for line in page.text.split("\n") if ". " in line]
    titles = [flow.title("mn", "cyrl") for flow in app.extensions["gateway.flows"].ussd_flows()]
    assert shown == titles + ["English"]
    assert person.press("0") == first
    assert person.press("2").text.startswith(asked(app, "complaint", "category", "mn", "cyrl"))


KEYS = st.one_of(st.sampled_from(["0", "00", "1", "2", "3", "4", "5", "7", "98", "99", "Bayangol", "ZOGS", ""]),
                 st.text(alphabet=st.characters(blacklist_characters="*"), max_size=30))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(presses=st.lists(KEYS, max_size=10))
def test_any_keypresses_give_a_screen_that_fits_or_an_end(app, presses):
    person = Person(app, "+97688" + str(abs(hash(tuple(presses))) % 1_000_000).zfill(6))
    screen = person.dial()
    for value in presses:
        if screen.end:
            screen = person.dial()
        screen = person.press(value)
        assert screen.text and ussd_fits(screen.text), screen.text
    with app.app_context(), database.connection_context():
        session = UssdSession.get(UssdSession.session_key == person.session)
        history = "*".join(person.inputs)  # AT cannot tell one empty input from none: both are ""
        assert session.consumed == (len(history.split("*")) if history else 0)
