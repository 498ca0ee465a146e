import json

import jsonschema
import pytest

from flows.conditions import matches
from flows.loader import SCHEMA_PATH

RESULTS = {"rating": 4, "open_today": "closed", "category": "water", "empty": "", "when": "2026-06-20"}


@pytest.mark.parametrize(("condition", "expected"), [
    ({"open_today": "closed"}, True),
    ({"open_today": "CLOSED"}, True),
    ({"open_today": "open"}, False),
    ({"rating": 4}, True),
    ({"rating": "4"}, True),
    ({"rating": {"equals": 4.0}}, True),
    ({"rating": {"lt": 5}}, True),
    ({"rating": {"gt": 4}}, False),
    ({"rating": {"gt": 1, "lt": 5}}, True),
    ({"category": {"in": ["water", "waste"]}}, True),
    ({"category": {"in": ["roads"]}}, False),
    ({"when": {"set": True}}, True),
    ({"empty": {"set": True}}, False),
    ({"missing": {"set": False}}, True),
    ({"missing": "x"}, False),
    ({"category": {"lt": 3}}, False),  # text is never less than a number
    ({"rating": 4, "category": "roads"}, False),  # every test must hold
])
def test_conditions_are_data(condition, expected):
    assert matches(condition, RESULTS.get) is expected


def test_published_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
