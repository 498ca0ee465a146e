"""The flow examples in docs/flows.md are real: the tutorial flow loads and behaves as the transcript says."""
import re
from pathlib import Path

import pytest

from flows import load_flow_text
from flows.loader import load_flow_text_with_issues
from tests.flows.flows_support import converse

DOC = Path(__file__).resolve().parents[2] / "docs" / "flows.md"


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_tutorial_flow_loads_without_issues():
    tutorial = next(block for block in yaml_blocks() if block.startswith("id: street_lights"))
    flow, issues = load_flow_text_with_issues(tutorial, "street_lights.yaml")
    assert flow is not None and issues == []


def test_the_tutorial_transcript_is_what_the_engine_says(make_ctx):
    tutorial = next(block for block in yaml_blocks() if block.startswith("id: street_lights"))
    flow = load_flow_text(tutorial, "street_lights.yaml")
    outcomes = converse(flow, make_ctx(script="latn"), ["zarimdaa", "3"])
    transcript = DOC.read_text(encoding="utf-8")
    for outcome in outcomes:
        assert f"< {outcome.replies[0]}" in transcript
    assert {name: result["value"] for name, result in outcomes[-1].results.items()} == {"working": "some",
                                                                                       "nights_off": 3}


@pytest.mark.parametrize("code", ["yaml_syntax", "schema", "unknown_step", "unreachable_step", "dead_end",
                                  "endless_loop", "missing_translation", "choice_clash", "unsaved_result",
                                  "not_gsm7", "ussd_too_long", "duplicate_keyword", "sms_too_long"])
def test_every_issue_code_is_documented(code):
    assert f"`{code}`" in DOC.read_text(encoding="utf-8")
