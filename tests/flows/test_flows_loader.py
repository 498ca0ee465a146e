from datetime import timedelta
from pathlib import Path

import pytest

from flows import FlowError, load_flow_text, load_flows
from flows.loader import BUNDLED_DIR

ISSUE_EXAMPLE = (BUNDLED_DIR / "water_kiosk_check.yaml").read_text(encoding="utf-8")


def test_issue_example_is_accepted_as_written():
    flow = load_flow_text(ISSUE_EXAMPLE, "water_kiosk_check.yaml")
    assert flow.id == "water_kiosk_check" and flow.version == 1
    assert flow.name == {"mn": "Усны үйлчилгээ", "en": "Water service"}
    assert flow.keywords == ("us", "ус", "water") and flow.ussd
    assert flow.max_retries == 2 and flow.sms_wait == timedelta(days=3)
    assert flow.records is None and flow.uses == frozenset()
    assert list(flow.steps) == ["open_today", "hours_closed", "rating", "thanks"]


def test_bundled_flows_load_without_issues(flow_set):
    assert {"scorecard", "complaint", "meeting_rsvp", "join", "water_kiosk_check"} <= set(flow_set.flows)
    assert flow_set.issues == []


def test_bundled_flows_declare_what_they_record_and_read(flow_set):
    records = {flow.id: flow.records for flow in flow_set.flows.values()}
    assert records.items() >= {"scorecard": "scorecard", "complaint": "complaint", "meeting_rsvp": "rsvp",
                               "join": "join", "water_kiosk_check": None}.items()
    assert flow_set.get("scorecard").uses == {"rounds"}
    assert flow_set.get("complaint").uses == {"ref"}
    assert flow_set.get("meeting_rsvp").uses == {"meeting"}
    assert not flow_set.get("meeting_rsvp").ussd and flow_set.get("meeting_rsvp").keywords == ()


@pytest.mark.parametrize(("word", "flow_id"), [
    ("gomdol", "complaint"), ("ГОМДОЛ", "complaint"), ("Гомдол!", "complaint"), ("gomdl", "complaint"),
    ("гомдол", "complaint"), ("complaint", "complaint"), ("US", "water_kiosk_check"), ("ус", "water_kiosk_check"),
    ("negdeh", "join"), ("НЭГДЭХ", "join"), ("unelgee", "scorecard"), ("үнэлгээ", "scorecard"),
])
def test_keywords_match_across_case_script_and_spelling(flow_set, word, flow_id):
    assert flow_set.by_keyword(word).id == flow_id


@pytest.mark.parametrize("word", ["", "hello", "1", "😀", "STOP"])
def test_unknown_words_match_no_flow(flow_set, word):
    assert flow_set.by_keyword(word) is None


def test_ussd_menu_is_ordered(flow_set):
    menu = [flow.id for flow in flow_set.ussd_flows()]
    assert menu[:5] == ["scorecard", "complaint", "join", "ldf_vote", "water_kiosk_check"]


YES_NO_KEYS = """
id: switches
version: 1
name: {mn: "Асаах", en: "Switch"}
start: pick
steps:
  pick:
    ask: {mn: "Сонго", en: "Pick"}
    choices:
      - {key: yes, mn: "Тийм", en: "Yes"}
      - {key: no, mn: "Үгүй", en: "No"}
      - {key: on, mn: "Асаах", en: "On"}
      - {key: off, mn: "Унтраах", en: "Off"}
    save: pick
    next:
      - if: {pick: no}
        goto: done
      - goto: done
  done:
    say: {mn: "Болсон", en: "Done"}
"""


def test_unquoted_yes_no_on_off_stay_strings():
    flow = load_flow_text(YES_NO_KEYS, "switches.yaml")
    assert [choice.key for choice in flow.steps["pick"].answer.choices] == ["yes", "no", "on", "off"]
    assert flow.steps["pick"].next[0].condition == {"pick": "no"}


def test_load_flow_text_raises_with_located_issues():
    broken = ISSUE_EXAMPLE.replace("next: thanks", "next: thank_you")
    with pytest.raises(FlowError) as raised:
        load_flow_text(broken, "kiosk.yaml")
    messages = [str(issue) for issue in raised.value.issues]
    assert "kiosk.yaml:28:5: step 'rating' goes to unknown step 'thank_you'" in messages


def test_a_broken_flow_is_left_out_and_the_others_keep_working(tmp_path: Path):
    (tmp_path / "good.yaml").write_text(ISSUE_EXAMPLE.replace("water_kiosk_check", "kiosk_copy")
                                        .replace("[us, ус, water]", "[kiosk]"), encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("id: [", encoding="utf-8")
    loaded = load_flows([tmp_path], bundled=True)
    assert "kiosk_copy" in loaded.flows and "complaint" in loaded.flows
    assert [(issue.code, Path(issue.file).name) for issue in loaded.issues] == [("yaml_syntax", "bad.yaml")]


def test_settings_change_retries_and_wait():
    text = ISSUE_EXAMPLE.replace("start: open_today", "settings: {max_retries: 0, sms_wait: 12h}\nstart: open_today")
    flow = load_flow_text(text, "kiosk.yaml")
    assert flow.max_retries == 0 and flow.sms_wait == timedelta(hours=12)


@pytest.mark.parametrize("template", ["{{ rating.__class__.__mro__ }}", "{{ ''.__class__.__subclasses__() }}"])
def test_templates_that_reach_for_python_internals_refuse_to_load(template):
    text = ISSUE_EXAMPLE.replace("Таны үнэлгээ: {{rating}}", template)
    with pytest.raises(FlowError) as raised:
        load_flow_text(text, "kiosk.yaml")
    assert {issue.code for issue in raised.value.issues} == {"invalid_template"}
