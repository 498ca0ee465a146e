"""The engine understands people as they really type: colloquial yes/no, RSVP words, number words, places."""
import json
from pathlib import Path

import pytest

from flows import AdminCatalog, Context, load_flow_text, resume, start
from flows.catalog import SECOND_LEVEL_KINDS, TOP_LEVEL_KINDS
from flows.screens import ussd_fits
from flows.templates import render
from tests.flows.flows_support import NOW, ROUND_KG, converse

REAL_UNITS = AdminCatalog.from_csv(Path(__file__).resolve().parents[2] / "storage" / "data" / "admin_units.csv")
RENDERINGS = [("mn", "cyrl"), ("mn", "latn"), ("en", "latn")]
MEETING = {"title": {"mn": "7-р хорооны ИНХ", "en": "Khoroo 7 general meeting"}, "date": "2026-06-20",
           "time": "18:00", "place": {"mn": "хорооны байранд", "en": "at the khoroo office"}}


def real_ctx(channel="sms", language="mn", script="cyrl", **vars):
    return Context(channel, language, script, NOW, vars, REAL_UNITS)


# ---- RSVP: yes, no and maybe in all three forms; only the rest is a question ---------------------------

@pytest.mark.parametrize(("reply", "rsvp"), [
    ("за", "yes"), ("тиймээ", "yes"), ("очно", "yes"), ("irne ee", "yes"), ("yes please", "yes"), ("1", "yes"),
    ("Ирнэ", "yes"), ("ирж чадахгүй", "no"), ("үгүй ээ", "no"), ("ugui ee", "no"), ("can't come", "no"),
    ("2", "no"), ("магадгүй", "maybe"), ("magadgui", "maybe"), ("maybe", "maybe"), ("3", "maybe"),
])
def test_rsvp_words_are_answers_not_questions(flow_set, make_ctx, reply, rsvp):
    outcome = converse(flow_set.get("meeting_rsvp"), make_ctx(meeting=MEETING), [reply])[-1]
    assert outcome.status == "completed" and outcome.results == {"rsvp": {"value": rsvp, "category": rsvp}}


def test_rsvp_maybe_is_thanked_in_each_rendering(flow_set, make_ctx):
    said = [converse(flow_set.get("meeting_rsvp"), make_ctx(language=language, script=script, meeting=MEETING),
                     ["maybe"])[-1].replies for language, script in RENDERINGS]
    assert said == [["Баярлалаа, боломж гарвал ирээрэй!"], ["Bayarlalaa, bolomj garval ireerei!"],
                    ["Thank you, do come if you can!"]]


# ---- yes/no questions -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("reply", "value"), [
    ("тийм ээ", "yes"), ("тиймээ", "yes"), ("за", "yes"), ("zaa", "yes"), ("ok", "yes"), ("yes please", "yes"),
    ("tiimee", "yes"), ("ugui ee", "no"), ("үгүй ээ", "no"), ("ҮГҮЙ", "no"),
])
def test_colloquial_yes_and_no_answer_a_yes_no_question(flow_set, make_ctx, reply, value):
    ctx = make_ctx(ref="G-1")
    outcome = converse(flow_set.get("complaint"), ctx, ["1", "Баянгол", "98", "0", "Ус алга", reply])[-1]
    assert outcome.status == "completed" and outcome.results["anonymous"]["value"] == value


@pytest.mark.parametrize(("reply", "value"), [("za", "yes"), ("тийм ээ", "yes"), ("шийдсэн", "yes"),
                                              ("ugui ee", "no"), ("шийдээгүй", "no")])
def test_complaint_follow_up_understands_yes_and_no(flow_set, make_ctx, reply, value):
    outcome = converse(flow_set.get("complaint_followup"), make_ctx(ref="G-1", note="Зассан."), [reply])[-1]
    assert outcome.results["solved"]["value"] == value


# ---- numbers ------------------------------------------------------------------------------------------------

def test_number_words_are_taken(flow_set, make_ctx):
    outcome = converse(flow_set.get("water_kiosk_check"), make_ctx(), ["үгүй", "гурав", "five"])[-1]
    assert outcome.results["hours_closed"]["value"] == 3 and outcome.results["rating"]["value"] == 5


@pytest.mark.parametrize(("language", "script", "hint"), [
    ("mn", "cyrl", "Ганц тоо бичнэ үү (0-24). Хэдэн цаг хаалттай байсан бэ? (0-24)"),
    ("mn", "latn", "Gants too bichne uu (0-24). Heden tsag haalttai baisan be? (0-24)"),
    ("en", "latn", "Please send one number (0-24). How many hours was it closed? (0-24)"),
])
def test_an_ambiguous_number_is_asked_again_with_the_reason(flow_set, make_ctx, language, script, hint):
    outcomes = converse(flow_set.get("water_kiosk_check"), make_ctx(language=language, script=script),
                        ["2", "3-4", "4"])
    assert outcomes[2].replies == [hint] and "hours_closed" not in outcomes[2].results
    assert outcomes[2].events == [{"type": "answer_rejected", "at": NOW.isoformat(), "step": "hours_closed",
                                   "retries": 1, "reason": "several_numbers"}]
    assert outcomes[3].results["hours_closed"]["value"] == 4


def test_out_of_range_says_the_range_and_the_author_hint_wins_there(flow_set, make_ctx):
    outcomes = converse(flow_set.get("scorecard"), make_ctx(rounds=[ROUND_KG]), ["1", "7", "4,5"])
    assert outcomes[2].replies[0].startswith("1-5 хооронд тоо бичнэ үү. 1/2:")  # the flow's own hint
    assert outcomes[3].replies[0].startswith("Ганц тоо бичнэ үү (1-5). 1/2:")  # the reason beats it


def test_ussd_shows_the_reason_on_the_re_asked_screen_and_after_paging(flow_set, make_ctx):
    outcomes = converse(flow_set.get("water_kiosk_check"), make_ctx("ussd", "en"), ["2", "3 or 4"])
    assert outcomes[-1].replies == ["Please send one number (0-24)\nHow many hours was it closed? (0-24)"]


# ---- places -------------------------------------------------------------------------------------------------

def test_zavkhan_is_not_silently_saved_as_zavkhanmandal(flow_set):
    outcomes = converse(flow_set.get("complaint"), real_ctx(ref="G-1"), ["1", "Завхан"])
    assert outcomes[-1].replies == ["Аль нь вэ? 1-Завханмандал сум (Завхан)"] and "unit" not in outcomes[-1].results
    picked = resume(flow_set.get("complaint"), outcomes[-1].state, "1", real_ctx(ref="G-1"))
    assert picked.results["unit"] == {"value": "ZAV-ZAVKHANMANDAL", "category": "soum"}
    assert picked.replies == ["Завханмандал сум (Завхан). Ойролцоох газар, хэсгийн дугаар? Алгасах бол 0."]


@pytest.mark.parametrize(("language", "script", "listed"), [
    ("mn", "cyrl", "Аль нь вэ? 1-Сонгинохайрхан дүүрэг 2-Сонгино сум (Завхан)"),
    ("mn", "latn", "Ali ni ve? 1-Songinohairhan duureg 2-Songino sum (Zavhan)"),
    ("en", "latn", "Which one? 1-Songinokhairkhan district 2-Songino soum (Zavkhan)"),
])
def test_songino_offers_the_district_and_the_soum(flow_set, language, script, listed):
    ctx = real_ctx(language=language, script=script, ref="G-1")
    outcomes = converse(flow_set.get("complaint"), ctx, ["1", "Сонгино", "2"])
    assert outcomes[2].replies == [listed]
    assert outcomes[3].results["unit"] == {"value": "ZAV-SONGINO", "category": "soum"}


def test_the_list_can_be_left_by_typing_a_name_or_going_back(flow_set):
    flow = flow_set.get("join")
    listed = converse(flow, real_ctx(), ["Баян"])[-1]
    assert listed.replies == ["Аль нь вэ? 1-Баянгол дүүрэг 2-Баянзүрх дүүрэг 3-Баянхайрхан сум (Завхан) "
                              "4-Баянтэс сум (Завхан)"]
    stored = json.loads(json.dumps(listed.state))
    typed = resume(flow, stored, "Баянзүрх", real_ctx())
    assert typed.replies == ["Аль хороо/баг вэ? Дугаарыг нь бичнэ үү, мэдэхгүй бол 98."]
    unknown = resume(flow, stored, "Ховд", real_ctx())
    assert unknown.replies == ["Нэрийг нь дахин бичнэ үү, жишээ нь Сонгинохайрхан. "
                               "Аль дүүрэг/суманд амьдардаг вэ? Нэрийг нь бичнэ үү."]
    wrong_number = resume(flow, stored, "7", real_ctx())
    assert wrong_number.replies[0].startswith("Дугаараа сонгоно уу. Аль нь вэ? 1-Баянгол дүүрэг")
    ussd = real_ctx("ussd")
    on_ussd = converse(flow, ussd, ["Сонгино"])
    assert on_ussd[-1].replies == ["Аль нь вэ?\n1. Сонгинохайрхан дүүрэг\n2. Сонгино сум (Завхан)"]
    assert resume(flow, on_ussd[-1].state, "0", ussd).replies == on_ussd[0].replies


@pytest.mark.parametrize(("typed", "code"), [("Сонгино сум", "ZAV-SONGINO"), ("Songinokhairkhan", "SKhD"),
                                             ("Улиастай", "ZAV-ULIASTAI"), ("dorvoljin", "ZAV-DORVOLJIN"),
                                             ("Хан-Уул", "KhUD"), ("Баянгол сум", "BGD")])
def test_exact_names_are_taken_at_once(typed, code):
    found = REAL_UNITS.search(typed, REAL_UNITS.top_level())
    assert found.sure and found.units[0].code == code


@pytest.mark.parametrize(("typed", "codes"), [
    ("Сонгино", ["SKhD", "ZAV-SONGINO"]), ("Завхан", ["ZAV-ZAVKHANMANDAL"]), ("zavhanmandl", ["ZAV-ZAVKHANMANDAL"]),
    ("Баян", ["BGD", "BZD", "ZAV-BAYANKHAIRKHAN", "ZAV-BAYANTES"]), ("Ховд", []), ("сум", []),
])
def test_loose_names_give_candidates(typed, codes):
    found = REAL_UNITS.search(typed, REAL_UNITS.top_level())
    assert not found.sure and [unit.code for unit in found.units] == codes


@pytest.mark.parametrize(("language", "script", "confirmation"), [
    ("mn", "cyrl", "Сонгинохайрхан, 7-р хороо."), ("mn", "latn", "Songinohairhan, 7-r horoo."),
    ("en", "latn", "Songinokhairkhan, khoroo 7."),
])
def test_the_reply_names_the_saved_unit(flow_set, language, script, confirmation):
    for channel, joiner in (("sms", " "), ("ussd", "\n")):
        ctx = real_ctx(channel, language, script)
        done = converse(flow_set.get("join"), ctx, ["Сонгинохайрхан", "7"])[-1]
        assert done.results["unit"]["value"] == "SKhD-07"
        assert done.replies[0].startswith(confirmation + joiner)


def test_the_confirmation_fits_the_next_ussd_screen_for_every_real_unit(flow_set):
    flows_with_places = {flow.id for flow in flow_set.flows.values()
                         if any(step.answer and step.answer.kind == "admin_unit" for step in flow.steps.values())}
    assert flows_with_places == {"complaint", "join", "ldf_vote"}  # a new flow with a place question: add it here
    before_place = {"complaint": ["1"], "join": [], "ldf_vote": []}
    for language, script in RENDERINGS:
        for kinds in (SECOND_LEVEL_KINDS, TOP_LEVEL_KINDS):
            longest = max((unit for unit in REAL_UNITS._units.values() if unit.kind in kinds),
                          key=lambda unit: len(REAL_UNITS.confirmation(unit, language, script)))
            if longest.kind in SECOND_LEVEL_KINDS:
                typed = [REAL_UNITS.get(longest.parent).name_mn, longest.code.rsplit("-", 1)[1].lstrip("0")]
            else:
                typed = [longest.name_mn]
            projects = [{"key": "1", "mn": "Гудамжны гэрэл", "en": "Street lights"},
                        {"key": "2", "mn": "Хүүхдийн тоглоомын талбай", "en": "Children's playground"}]
            vote = {"key": "1", "unit": longest.code, "near": [longest.code], "mn": "-", "en": "-", "most": 2,
                    "projects": projects}  # the vote flow's next screen after the place is a menu
            ctx = real_ctx("ussd", language, script, ref="G-0412", votes=[vote])
            for flow_id, answers in before_place.items():
                screens = converse(flow_set.get(flow_id), ctx, [*answers, *typed])
                assert screens[-1].results["unit"]["value"] == longest.code
                assert ussd_fits(screens[-1].replies[0]), screens[-1].replies[0]


# ---- flow files: means ----------------------------------------------------------------------------------------

MEANS = """
id: means_check
version: 1
name: {mn: "Шалгах", en: "Check"}
start: ask
steps:
  ask:
    ask: {mn: "Ирэх үү?", en: "Coming?"}
    choices:
      - {key: "yes", mn: "Тийм", en: "Yes", means: rsvp_yes}
      - {key: "no", mn: "Үгүй", en: "No", means: MEANS_NO}
    save: answer
    next: done
  done:
    say: {mn: "Баярлалаа", en: "Thanks"}
"""


def test_means_must_name_a_lexicon_class():
    from flows.loader import load_flow_text_with_issues
    flow, issues = load_flow_text_with_issues(MEANS.replace("MEANS_NO", "rsvp_nope"), "means.yaml")
    assert flow is None and [issue.code for issue in issues] == ["unknown_lexicon_class"]
    assert "rsvp_nope" in issues[0].message and "rsvp_no" in issues[0].message and issues[0].line == 11


def test_two_choices_cannot_mean_the_same():
    from flows.loader import load_flow_text_with_issues
    flow, issues = load_flow_text_with_issues(MEANS.replace("MEANS_NO", "rsvp_yes"), "means.yaml")
    assert flow is None and [issue.code for issue in issues] == ["choice_clash"]


def test_a_flow_with_means_takes_the_lexicon_words(make_ctx):
    flow = load_flow_text(MEANS.replace("MEANS_NO", "rsvp_no"), "means.yaml")
    assert converse(flow, make_ctx(), ["очноо"])[-1].results["answer"]["value"] == "yes"
    assert converse(flow, make_ctx(), ["irj chadahgui"])[-1].results["answer"]["value"] == "no"


def test_a_staff_lexicon_reaches_the_engine(tmp_path, flow_set):
    from flows.lexicon import load_lexicon
    extra = tmp_path / "words.yaml"
    extra.write_text("classes:\n  rsvp_yes: [заавал ирнэ]\n", encoding="utf-8")
    ctx = Context("sms", "mn", "cyrl", NOW, {"meeting": MEETING}, None, load_lexicon([extra]))
    outcome = resume(flow_set.get("meeting_rsvp"), start(flow_set.get("meeting_rsvp"), ctx).state, "заавал ирнэ",
                     ctx)
    assert outcome.results == {"rsvp": {"value": "yes", "category": "yes"}}


# ---- dates: the genitive -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "cyrillic", "latin"), [
    (1, "12/1-ний", "12/1-nii"), (2, "12/2-ын", "12/2-iin"), (3, "12/3-ын", "12/3-iin"), (4, "12/4-ийн", "12/4-iin"),
    (5, "12/5-ны", "12/5-nii"), (6, "12/6-ны", "12/6-nii"), (7, "12/7-гийн", "12/7-giin"), (8, "12/8-ны", "12/8-nii"),
    (9, "12/9-ний", "12/9-nii"), (10, "12/10-ны", "12/10-nii"), (11, "12/11-ний", "12/11-nii"),
    (14, "12/14-ийн", "12/14-iin"), (17, "12/17-гийн", "12/17-giin"), (20, "12/20-ны", "12/20-nii"),
    (22, "12/22-ын", "12/22-iin"), (30, "12/30-ны", "12/30-nii"), (31, "12/31-ний", "12/31-nii"),
])
def test_dates_take_the_genitive_of_the_last_number_word(day, cyrillic, latin):
    values = {"day": f"2026-12-{day:02d}"}
    assert render("{{ day|day_genitive }}", {"lang": "mn", "script": "cyrl", **values}) == cyrillic
    assert render("{{ day|day_genitive }}", {"lang": "mn", "script": "latn", **values}) == latin
    assert render("on {{ day|day_genitive }}", {"lang": "en", **values}) == f"on {day} December"


def test_the_scorecard_meeting_date_reads_right(flow_set, make_ctx):
    meeting = {"date": "2026-06-22", "place": "хорооны байр"}
    said = []
    for language, script in RENDERINGS:
        ctx = make_ctx(language=language, script=script, rounds=[dict(ROUND_KG, meeting=meeting)])
        said.append(converse(flow_set.get("scorecard"), ctx, ["1", "4", "4", "0"])[-1].replies[0])
    assert said == ["Баярлалаа! Дүнг 6/22-ын уулзалтаар хэлэлцэнэ.",
                    "Unelgee duuslaa. Negdsen dung 6/22-iin hamtarsan uulzaltaar heleltsene. Bayarlalaa!",
                    "Done. Combined results will be discussed at the joint meeting on 22 June. Thank you!"]


def test_a_wrong_khoroo_keeps_the_district_and_asks_for_the_number(flow_set):
    outcomes = converse(flow_set.get("join"), real_ctx(), ["Баянгол", "хороо"])
    assert outcomes[-1].replies == ["Дугаараа сонгоно уу. Аль хороо/баг вэ? Дугаарыг нь бичнэ үү, мэдэхгүй бол 98."]
    assert outcomes[-1].state["unit"] == {"parent": "BGD"}
