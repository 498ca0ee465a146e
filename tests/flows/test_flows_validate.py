import json
from pathlib import Path

import pytest

from flows.validate import check_flows, run_check, size_report

FIXTURES = Path(__file__).parent / "fixtures"
BROKEN = FIXTURES / "broken"

# One broken fixture per error class: (file, code, "line:column: start of the message").
CASES = [
    ("yaml_syntax.yaml", "yaml_syntax", "4:1: YAML syntax"),
    ("schema_error.yaml", "schema", "8:14: steps.rating.number.min: 'one' is not of type 'integer'"),
    ("misspelt_key.yaml", "schema", "7:5: steps.rating: unknown key 'aks' (did you mean 'ask'?)"),
    ("unknown_step.yaml", "unknown_step", "10:5: step 'rating' goes to unknown step 'thank_you'"),
    ("unreachable_step.yaml", "unreachable_step", "11:3: step 'forgotten' can never be reached"),
    ("dead_end.yaml", "dead_end", "6:3: step 'rating' asks a question but has no 'next'"),
    ("missing_translation.yaml", "missing_translation", "7:5: step 'rating' ask has no 'en' text"),
    ("choice_clash.yaml", "choice_clash", "10:9: step 'open': choices 'open' and 'closed' share number 1"),
    ("choice_key_clash.yaml", "choice_clash", "10:9: step 'open': choices 'yes' and 'YES' are both picked"),
    ("unsaved_result.yaml", "unsaved_result", "11:14: step 'rating' tests 'score', but no step saves it"),
    ("endless_loop.yaml", "endless_loop", "6:3: step 'first' is in a loop with no way out"),
    ("silent_loop.yaml", "endless_loop", "11:3: step 'check' loops back to itself without asking anything"),
    ("reserved_keyword.yaml", "reserved_keyword", "4:23: keyword 'tuslamj' is reserved"),
    ("ussd_too_long.yaml", "ussd_too_long", "7:3: step 'rating' ask [ussd mn/cyrl]: USSD screen has 114 characters"),
    ("not_gsm7.yaml", "not_gsm7", "7:5: step 'thanks' say: Latin text is not GSM-7"),
    ("invalid_template.yaml", "invalid_template", "11:3: step 'thanks' say (mn): template error"),
    ("unknown_flow.yaml", "unknown_flow", "7:5: step 'onwards' goes to flow 'no_such_flow'"),
    ("missing_result.yaml", "missing_result", "4:1: records: complaint needs a step that saves 'category'"),
]


@pytest.mark.parametrize(("name", "code", "where_and_what"), CASES, ids=[case[0] for case in CASES])
def test_each_error_class_is_reported_with_its_location(name, code, where_and_what):
    issues = [issue for issue in check_flows([BROKEN / name]) if issue.code == code and issue.severity == "error"]
    assert issues, f"no {code} error"
    assert str(issues[0]).startswith(f"{BROKEN / name}:{where_and_what}")


def test_duplicate_keywords_across_flows_are_an_error():
    issues = check_flows([FIXTURES / "duplicate_keyword"])
    assert [(issue.code, Path(issue.file).name, issue.line, issue.column) for issue in issues] == [
        ("duplicate_keyword", "second.yaml", 4, 23)]
    assert "'ГОМДЛ' clashes with 'gomdol' of flow 'first'" in issues[0].message


def test_long_sms_is_a_warning_per_language_and_script():
    issues = check_flows([BROKEN / "sms_too_long.yaml"])
    assert [(issue.severity, issue.code) for issue in issues] == [("warning", "sms_too_long")]
    assert "[sms mn/cyrl]: SMS is 3 segments (UCS-2" in issues[0].message


def test_long_ussd_menus_are_paged_not_rejected(tmp_path):
    choices = "\n".join(f"      - {{key: c{n}, mn: \"Сонголт {n}\", en: \"Option {n}\"}}" for n in range(1, 31))
    (tmp_path / "long_menu.yaml").write_text(f"""
id: long_menu
version: 1
name: {{mn: "Урт", en: "Long"}}
triggers: {{ussd: true}}
start: pick
steps:
  pick:
    ask: {{mn: "Сонгоно уу", en: "Pick one"}}
    choices:
{choices}
    save: pick
    next: done
  done:
    say: {{mn: "Баярлалаа", en: "Thanks"}}
""", encoding="utf-8")
    issues = check_flows([tmp_path])
    assert issues == []  # SMS pages a long menu too ("99-Цааш"), so no part runs past two segments
    pages = [row for row in size_report([tmp_path]) if row["channel"] == "ussd" and row["step"] == "pick"
             and row["language"] == "mn" and row["script"] == "cyrl" and not row["part"].startswith("re-ask")]
    assert len(pages) > 3
    assert all(row["units"] <= 80 for row in pages)
    assert pages[0]["text"].endswith("99 Цааш")


def test_size_report_has_every_message_per_language_and_script():
    rows = [row for row in size_report([]) if row["flow"] == "complaint" and row["step"] == "registered"]
    renderings = {(row["channel"], row["language"], row["script"]) for row in rows}
    assert renderings == {(channel, language, script) for channel in ("sms", "ussd")
                          for language, script in (("mn", "cyrl"), ("mn", "latn"), ("en", "latn"))}
    latin = next(row for row in rows if row["channel"] == "sms" and row["script"] == "latn" and row["language"] == "mn")
    assert latin["encoding"] == "GSM-7" and latin["segments"] == 1 and "G-0412" in latin["text"]


def test_run_check_on_bundled_flows_passes():
    exit_code, output = run_check([], as_json=False)
    assert exit_code == 0
    assert "0 error(s)" in output and "complaint.registered say" in output


def test_run_check_fails_on_errors_and_prints_locations():
    exit_code, output = run_check([str(BROKEN / "dead_end.yaml")], as_json=False)
    assert exit_code == 1
    assert f"{BROKEN / 'dead_end.yaml'}:6:3: step 'rating' asks a question" in output


def test_run_check_json_is_machine_readable():
    exit_code, output = run_check([str(BROKEN / "sms_too_long.yaml")], as_json=True)
    report = json.loads(output)
    assert exit_code == 0 and report["ok"] is True and "sms_too_long" in report["flows"]
    assert report["issues"][0]["code"] == "sms_too_long" and report["issues"][0]["severity"] == "warning"
    expected_fields = {"flow", "step", "channel", "language", "script", "encoding", "chars", "segments"}
    assert expected_fields <= set(report["messages"][0])
