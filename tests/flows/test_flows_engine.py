"""Golden conversations through the bundled flows, plus the engine's rules (retries, USSD navigation, state)."""
import json
from datetime import timedelta

import pytest
from jinja2.exceptions import SecurityError

from flows import Context, FlowError, expire, load_flow_text, resume, start
from flows.templates import localize, render
from tests.flows.flows_support import NOW, ROUND_FHC, ROUND_KG, converse


def replies(outcomes):
    return [outcome.replies for outcome in outcomes]


# ---- the example -------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["2", "closed", "үгүй", "ugui", "Үгүй!", "VGVI", "2."])
def test_a_choice_is_picked_by_number_key_or_label_in_either_script(flow_set, make_ctx, answer):
    first, second = converse(flow_set.get("water_kiosk_check"), make_ctx(), [answer])
    assert second.results["open_today"] == {"value": "closed", "category": "closed"}
    assert second.replies == ["Хэдэн цаг хаалттай байсан бэ? (0-24)"]


def test_water_kiosk_sms_in_mongolian_cyrillic(flow_set, make_ctx):
    outcomes = converse(flow_set.get("water_kiosk_check"), make_ctx(), ["2", "25", "5", "4"])
    assert replies(outcomes) == [
        ["Өнөөдөр ус түгээх байр нээлттэй байсан уу? 1-Тийм 2-Үгүй"],
        ["Хэдэн цаг хаалттай байсан бэ? (0-24)"],
        ["0-24 хооронд тоо бичнэ үү. Хэдэн цаг хаалттай байсан бэ? (0-24)"],
        ["Үйлчилгээг 1-5 оноогоор үнэлнэ үү"],
        ["Баярлалаа! Таны үнэлгээ: 4"],
    ]
    last = outcomes[-1]
    assert last.status == "completed" and last.wait_until is None
    assert last.results == {"open_today": {"value": "closed", "category": "closed"},
                            "hours_closed": {"value": 5, "category": "number"},
                            "rating": {"value": 4, "category": "number"}}
    assert [event["type"] for event in last.events] == ["result_saved", "run_completed"]


def test_water_kiosk_sms_in_mongolian_latin_and_english(flow_set, make_ctx):
    latin = converse(flow_set.get("water_kiosk_check"), make_ctx(script="latn"), ["tiim", "x", "5"])
    assert replies(latin) == [
        ["Onoodor us tugeeh bair neelttei baisan uu? 1-Tiim 2-Ugui"],
        ["Uilchilgeeg 1-5 onoogoor unelne uu"],
        ["1-5 hoorondoh too bichne uu. Uilchilgeeg 1-5 onoogoor unelne uu"],
        ["Bayarlalaa! Tanii unelgee: 5"],
    ]
    english = converse(flow_set.get("water_kiosk_check"), make_ctx(language="en", script="cyrl"), ["yes", "0"])
    assert replies(english)[1:] == [["Rate the service from 1 to 5"],
                                    ["Please send a number from 1 to 5. Rate the service from 1 to 5"]]


def test_waiting_on_sms_sets_the_wait_deadline(flow_set, make_ctx):
    outcome = start(flow_set.get("water_kiosk_check"), make_ctx())
    assert outcome.status == "waiting" and outcome.wait_until == NOW + timedelta(days=3)
    assert outcome.events[0]["type"] == "run_started" and outcome.events[-1]["type"] == "wait_started"


def test_too_many_invalid_answers_end_politely(flow_set, make_ctx):
    outcomes = converse(flow_set.get("water_kiosk_check"), make_ctx(language="en"), ["1", "x", "y", "z"])
    assert [outcome.status for outcome in outcomes] == ["waiting", "waiting", "waiting", "waiting", "failed"]
    assert outcomes[-1].replies == ["Sorry, we could not understand the answer. Please try again later."]
    assert outcomes[-1].results == {"open_today": {"value": "open", "category": "open"}}
    failed = {"type": "run_failed", "at": NOW.isoformat(), "reason": "too_many_invalid_answers"}
    assert outcomes[-1].events[-1] == failed


def test_state_is_plain_json_and_survives_a_round_trip(flow_set, make_ctx):
    flow, ctx = flow_set.get("water_kiosk_check"), make_ctx()
    stored = json.loads(json.dumps(start(flow, ctx).state))
    outcome = resume(flow, stored, "1", ctx)
    assert outcome.replies == ["Үйлчилгээг 1-5 оноогоор үнэлнэ үү"]
    json.dumps(outcome.state)


def test_a_finished_run_ignores_further_input(flow_set, make_ctx):
    done = converse(flow_set.get("water_kiosk_check"), make_ctx(), ["1", "5"])[-1]
    again = resume(flow_set.get("water_kiosk_check"), done.state, "5", make_ctx())
    assert again.status == "completed" and again.replies == []


def test_expire_ends_the_run_silently(flow_set, make_ctx):
    waiting = start(flow_set.get("water_kiosk_check"), make_ctx())
    expired = expire(flow_set.get("water_kiosk_check"), waiting.state, make_ctx())
    assert expired.status == "expired" and expired.replies == []
    assert expired.events[-1]["type"] == "run_expired"


def test_a_state_from_another_flow_fails_without_raising(flow_set, make_ctx):
    state = start(flow_set.get("join"), make_ctx()).state
    outcome = resume(flow_set.get("water_kiosk_check"), state, "1", make_ctx(language="en"))
    assert outcome.status == "failed" and outcome.replies == ["Sorry, something went wrong. Please try again later."]


# ---- USSD -----------------------------------------------------------------------------------------------

def test_ussd_shows_one_screen_per_hop_and_0_is_an_answer_where_it_is_valid(flow_set, make_ctx):
    outcomes = converse(flow_set.get("water_kiosk_check"), make_ctx("ussd", "en"), ["2", "0", "3"])
    assert replies(outcomes) == [
        ["Was the water kiosk open today?\n1. Yes\n2. No"],
        ["How many hours was it closed? (0-24)"],
        ["Rate the service from 1 to 5"],
        ["Thank you! Your rating: 3"],
    ]
    assert outcomes[2].results["hours_closed"]["value"] == 0
    assert all(outcome.wait_until is None for outcome in outcomes)


def test_ussd_back_and_home_work_at_menu_positions(flow_set, make_ctx):
    flow, ctx = flow_set.get("complaint"), make_ctx("ussd", "en")
    outcomes = converse(flow, ctx, ["3", "0"])
    assert outcomes[-1].replies == [outcomes[0].replies[0]] and outcomes[-1].results == {}
    assert outcomes[-1].events[0]["type"] == "went_back"
    home = resume(flow, outcomes[1].state, "00", ctx)
    assert home.status == "home" and home.replies == []
    assert resume(flow, outcomes[0].state, "0", ctx).status == "home"  # back from the first question


def test_ussd_long_menus_are_paged(flow_set, make_ctx):
    flow, ctx = flow_set.get("join"), make_ctx("ussd", "mn", "cyrl")
    first = start(flow, ctx)
    assert first.replies == ["Аль дүүрэг/суманд амьдардаг вэ?\n1. Сонгинохайрхан\n2. Баянгол\n3. Тэс\n4. Улиастай"]
    khoroos = resume(flow, first.state, "1", ctx)
    screens = [khoroos.replies[0]]
    state = khoroos.state
    while "99 Цааш" in screens[-1]:
        page = resume(flow, state, "99", ctx)
        screens.append(page.replies[0])
        state = page.state
    assert all(len(screen) <= 80 for screen in screens)
    shown = "\n".join(screens)
    assert all(f"{n}. {n}-р хороо" in shown for n in range(1, 33)) and "98. Мэдэхгүй" in shown
    back_a_page = resume(flow, state, "0", ctx)
    assert back_a_page.replies == [screens[-2]]
    done = resume(flow, state, "17", ctx)
    assert done.status == "completed" and done.results["unit"] == {"value": "SKhD-17", "category": "khoroo"}
    assert len(done.replies) == 1


# ---- scorecard ------------------------------------------------------------------------------------------

def test_scorecard_sms_latin_with_one_open_round(flow_set, make_ctx):
    ctx = make_ctx(script="latn", rounds=[ROUND_KG])
    outcomes = converse(flow_set.get("scorecard"), ctx, ["zaluu", "4", "6", "2", "Hool muu"])
    assert replies(outcomes) == [
        ["Nergui unelgee. Ner bichih shaardlagagui, dung negtgej tailagnana. "
         "Ta ali buleg ve? 1-Emegtei 2-Eregtei 3-Zaluu (16-24) 4-Ahmad nastan 5-Hariulahgui"],
        ["Asuult 1/2: Bagsh nar huuhded eeldeg handadag uu? 1=mash muu ... 5=mash sain"],
        ["Asuult 2/2: Hool hangalttai yu? 1=mash muu ... 5=mash sain"],
        ["1-5 hoorondoh too bichne uu. Jisheelbel: 4. Asuult 2/2: Hool hangalttai yu? 1=mash muu ... 5=mash sain"],
        ["Shaltgaan, sanal baival bogino bichne uu (hunii ner buu bich). Algasah bol 0."],
        ["Unelgee duuslaa. Negdsen dung 6/20-nii hamtarsan uulzaltaar heleltsene. Bayarlalaa!"],
    ]
    assert outcomes[-1].results == {
        "group": {"value": "youth", "category": "youth"}, "round": {"value": "kg16", "category": "kg16"},
        "score.A": {"value": 4, "category": "number"}, "score.B": {"value": 2, "category": "number"},
        "reason": {"value": "Hool muu", "category": "text"}}


def test_scorecard_asks_which_round_when_several_are_open(flow_set, make_ctx):
    ctx = make_ctx(language="en", rounds=[ROUND_KG, ROUND_FHC])
    outcomes = converse(flow_set.get("scorecard"), ctx, ["5", "2", "3", "0"])
    assert replies(outcomes)[1:] == [
        ["Which service will you rate? 1-Kindergarten 16 2-Khoroo 7 health centre"],
        ["Q1/1: Are waits short? 1 very poor ... 5 very good"],
        ["Briefly give a reason or suggestion (do not write anyone's name). 0 to skip."],
        ["Done. Combined results will be discussed at the joint meeting. Thank you!"],
    ]
    assert outcomes[-1].results["group"]["value"] == "undisclosed"
    assert outcomes[-1].results["round"]["value"] == "fhc7" and "reason" not in outcomes[-1].results


def test_scorecard_ussd_cyrillic_screens_fit(flow_set, make_ctx):
    ctx = make_ctx("ussd", rounds=[ROUND_KG, ROUND_FHC])
    outcomes = converse(flow_set.get("scorecard"), ctx, ["1", "1", "5", "4", "0"])
    assert all(len(outcome.replies) == 1 and len(outcome.replies[0]) <= 80 for outcome in outcomes)
    assert outcomes[0].replies[0].startswith("Нэргүй үнэлгээ, дүнг нэгтгэнэ.\nТа аль бүлэгт хамаарах вэ?\n1. Эмэгтэй")
    assert outcomes[-1].replies == ["Баярлалаа! Дүнг 6/20-ны уулзалтаар хэлэлцэнэ."]


# ---- complaint ------------------------------------------------------------------------------------------

class CountingRef:
    """Like the gateway's lazy reference: allocates a number only when printed."""

    def __init__(self):
        self.calls = 0

    def __str__(self):
        self.calls += 1
        return "G-0412"


def test_complaint_sms_english_gets_a_reference_once(flow_set, make_ctx):
    ref = CountingRef()
    ctx = make_ctx(language="en", ref=ref)
    outcomes = converse(flow_set.get("complaint"), ctx,
                        ["water", "Songinokhairkhan", "7", "near school 12", "Kiosk closed 3 days", "2"])
    assert replies(outcomes)[1:3] == [["Which district or soum? Reply with its name."],
                                      ["Which khoroo or bag? Reply with its number, or 98 if you don't know."]]
    assert outcomes[-1].replies == ["Complaint registered, ref G-0412. Forwarded to the khoroo; answer within 30 days. "
                                    "Your number is not shown to officials."]
    assert {name: result["value"] for name, result in outcomes[-1].results.items()} == {
        "category": "water", "unit": "SKhD-07", "landmark": "near school 12",
        "description": "Kiosk closed 3 days", "anonymous": "no"}
    assert ref.calls == 1


def test_complaint_ref_is_never_made_for_an_abandoned_complaint(flow_set, make_ctx):
    ref = CountingRef()
    converse(flow_set.get("complaint"), make_ctx(ref=ref), ["x", "y", "z"])
    assert ref.calls == 0


@pytest.mark.parametrize(("inputs", "unit"), [
    (["Баянгол", "98"], "BGD"),            # "don't know" keeps the district
    (["bayangol", "мэдэхгүй"], "BGD"),
    (["Тэс"], "ZA-TES"),                   # a soum without bags in the data needs no second question
    (["songino", "1", "32"], "SKhD-32"),   # a loose name is picked from a list (of one here)
])
def test_complaint_location_levels(flow_set, make_ctx, inputs, unit):
    outcomes = converse(flow_set.get("complaint"), make_ctx(ref="G-1"), ["1", *inputs, "0", "Ус алга", "1"])
    assert outcomes[-1].status == "completed"
    assert outcomes[-1].results["unit"]["value"] == unit and "landmark" not in outcomes[-1].results


def test_admin_question_is_skipped_without_unit_data(flow_set):
    ctx = Context("sms", "mn", "cyrl", NOW, {"ref": "G-1"}, units=None)
    outcomes = converse(flow_set.get("complaint"), ctx, ["1"])
    assert outcomes[-1].replies == ["Ойролцоох газар, хэсгийн дугаар? Алгасах бол 0."]


# ---- meeting RSVP and join ------------------------------------------------------------------------------

MEETING = {"title": {"mn": "7-р хорооны ИНХ", "en": "Khoroo 7 general meeting"}, "date": "2026-06-20",
           "time": "18:00", "place": {"mn": "хорооны байранд", "en": "at the khoroo office"}}


def test_rsvp_notice_renders_the_meeting(flow_set, make_ctx):
    assert start(flow_set.get("meeting_rsvp"), make_ctx(script="latn", meeting=MEETING)).replies == [
        "Sanuulga: 7-r horoonii INH 6/20 18:00, horoonii bairand. 1-Irne 2-Irehgui 3-Magadgui"]
    assert start(flow_set.get("meeting_rsvp"), make_ctx(language="en", meeting=MEETING)).replies == [
        "Reminder: Khoroo 7 general meeting, 20 June 18:00, at the khoroo office. 1-Coming 2-Not coming 3-Maybe"]
    assert start(flow_set.get("meeting_rsvp"), make_ctx(meeting=MEETING)).wait_until == NOW + timedelta(days=14)


@pytest.mark.parametrize(("reply", "rsvp"), [
    ("1", "yes"), ("тийм", "yes"), ("tiim", "yes"), ("Ирнэ", "yes"), ("2", "no"), ("үгүй", "no"), ("ugui", "no"),
])
def test_rsvp_yes_and_no(flow_set, make_ctx, reply, rsvp):
    outcome = converse(flow_set.get("meeting_rsvp"), make_ctx(meeting=MEETING), [reply])[-1]
    assert outcome.status == "completed" and outcome.results == {"rsvp": {"value": rsvp, "category": rsvp}}


def test_rsvp_anything_else_is_a_question_for_staff(flow_set, make_ctx):
    outcome = converse(flow_set.get("meeting_rsvp"), make_ctx(meeting=MEETING), ["Хэдэн цагт эхлэх вэ?"])[-1]
    assert outcome.results == {"question": {"value": "Хэдэн цагт эхлэх вэ?", "category": "text"},
                               "rsvp": {"value": "question", "category": "question"}}
    assert outcome.replies == ["Асуултыг тань хүлээн авлаа, ажилтан хариулна."]


def test_join_saves_the_unit(flow_set, make_ctx):
    outcome = converse(flow_set.get("join"), make_ctx(), ["Сонгинохайрхан", "7"])[-1]
    assert outcome.results == {"unit": {"value": "SKhD-07", "category": "khoroo"}}
    assert outcome.replies == ["Сонгинохайрхан, 7-р хороо. Бүртгэгдлээ. Зогсоох бол ЗОГС гэж бичнэ үү."]


# ---- language features ----------------------------------------------------------------------------------

FEATURES = """
id: features
version: 1
name: {mn: "Туршилт", en: "Test"}
settings: {max_retries: 0}
start: when
steps:
  when:
    ask: {mn: "Хэзээ?", en: "When?"}
    date: true
    save: when
    next: agree
  agree:
    ask: {mn: "Зөвшөөрөх үү?", en: "Agree?"}
    yes_no: true
    save: agree
    next:
      - if: {agree: "no"}
        goto: bye
      - if: {when: {set: true}, agree: {in: ["yes"]}}
        goto: count
      - goto: bye
  count:
    ask: {mn: "Хэд?", en: "How many?"}
    number: {min: 0, max: 100}
    save: count
    next:
      - if: {count: {gt: 10}}
        goto: many
      - if: {count: {lt: 1}}
        goto: elsewhere
      - goto: bye
  many:
    say: {mn: "Олон байна: {{count}}", en: "Many: {{count}} on {{when}}"}
  elsewhere:
    say: {mn: "Өөр урсгал руу", en: "Moving on"}
    goto_flow: join
  bye:
    say: {mn: "Баяртай", en: "Bye"}
"""


@pytest.fixture(scope="module")
def features():
    return load_flow_text(FEATURES, "features.yaml")


@pytest.mark.parametrize(("when", "saved"), [
    ("6/20", "2026-06-20"), ("2026-07-01", "2026-07-01"), ("20/6", "2026-06-20"), ("өнөөдөр", "2026-06-01"),
    ("yesterday", "2026-05-31"), ("2026.06.05", "2026-06-05"),
])
def test_dates_as_people_write_them(features, make_ctx, when, saved):
    outcome = converse(features, make_ctx(language="en"), [when])[-1]
    assert outcome.results["when"]["value"] == saved


def test_branches_on_data_conditions(features, make_ctx):
    ctx = make_ctx(language="en")
    many = converse(features, ctx, ["6/20", "tiim", "42"])[-1]
    assert many.replies == ["Many: 42 on 2026-06-20"] and many.status == "completed"
    assert converse(features, ctx, ["6/20", "no"])[-1].replies == ["Bye"]
    redirected = converse(features, ctx, ["6/20", "1", "0"])[-1]
    assert (redirected.status, redirected.goto, redirected.replies) == ("goto", "join", ["Moving on"])


def test_max_retries_zero_fails_on_the_first_invalid_answer(features, make_ctx):
    assert converse(features, make_ctx(), ["not a date"])[-1].status == "failed"


class Allocator:
    """An object with a method a template must not be able to call."""

    def __init__(self):
        self.allocated = 0

    def allocate(self):
        self.allocated += 1
        return "X"

    def __str__(self):
        return "G-0001"


def test_templates_only_print_gateway_objects():
    allocator = Allocator()
    values = {"ref": localize(allocator, "mn", "cyrl")}
    assert render("{{ ref }}", values) == "G-0001"
    with pytest.raises(SecurityError):
        render("{{ ref._value.allocate() }}", values)
    assert render("{{ ref.allocate }}", values) == ""  # not an attribute of the wrapper
    assert allocator.allocated == 0


def test_flows_that_call_into_gateway_objects_refuse_to_load():
    text = FEATURES.replace("Many: {{count}} on {{when}}", "{{ ref.allocate() }}")
    with pytest.raises(FlowError):
        load_flow_text(text, "features.yaml")


def test_labels_from_data_are_shown_as_written_not_run_as_templates(flow_set, make_ctx):
    odd = dict(ROUND_FHC, key="odd", mn="{{ 7*7 }} {% if %}", en="{{ 7*7 }}")
    outcome = start(flow_set.get("scorecard"), make_ctx(language="en", rounds=[ROUND_KG, odd]))
    resumed = resume(flow_set.get("scorecard"), outcome.state, "1", make_ctx(language="en", rounds=[ROUND_KG, odd]))
    assert resumed.replies == ["Which service will you rate? 1-Kindergarten 16 2-{{ 7*7 }}"]


def test_a_question_can_hand_over_to_another_flow_after_its_answer(make_ctx):
    flow = load_flow_text("""
id: handover
version: 1
name: {mn: "Шилжих", en: "Hand over"}
start: pick
steps:
  pick:
    ask: {mn: "Гомдол уу?", en: "A complaint?"}
    yes_no: true
    save: wants_complaint
    goto_flow: join
""", "handover.yaml")
    outcome = converse(flow, make_ctx(language="en"), ["yes"])[-1]
    assert (outcome.status, outcome.goto) == ("goto", "join")
    assert outcome.results == {"wants_complaint": {"value": "yes", "category": "yes"}}
