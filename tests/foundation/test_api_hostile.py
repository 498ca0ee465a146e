"""Authenticated but hostile or broken input to /api/v1: a clear 400 (or 404), never a 500, nothing stored."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.db import database
from storage.tokens import create_token
from tests.meetings.helpers import add_contacts

NOON = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)
MEETING = {"title": "7-р хорооны ИНХ", "place": "хорооны байр", "starts_at": "2026-11-26 18:00",
           "audience": ["khoroo:BGD-07"]}


@pytest.fixture
def api(app):
    with app.app_context(), database.connection_context():
        add_contacts(6, "BGD-07")
        _, token = create_token("hostile admin", "admin")
    client = app.test_client()

    def call(method: str, path: str, **kwargs):
        return client.open(path, method=method, headers={"Authorization": f"Bearer {token}"}, **kwargs)
    return call


def rows(app) -> dict[str, int]:
    """How many rows each table holds (the audit log aside: reads are audited on purpose)."""
    with app.app_context(), database.connection_context():
        tables = [t for t in database.get_tables() if t not in ("audit_log", "schema_migration", "lease", "job_run")]
        return {t: database.execute_sql(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/api/v1/meetings", {**MEETING, "starts_at": "0001-01-01 00:00"}),
    ("POST", "/api/v1/meetings", {**MEETING, "starts_at": "9999-12-31 23:59"}),
    ("POST", "/api/v1/meetings", {**MEETING, "notice_at": "9999-12-31T23:59:59-12:00"}),
    ("POST", "/api/v1/broadcasts", {"text": "Sain uu", "audience": "all", "send_at": "0001-01-01T00:00:00+14:00"}),
    ("POST", "/api/v1/broadcasts", {"text": "Sain uu", "audience": "all", "send_at": "9999-12-31 23:59"}),
    ("POST", "/api/v1/rounds", {"service_point": "KG1", "indicators": [{"code": "A", "mn": "a", "en": "a"}],
                                "meeting_at": "9999-12-31T23:00"}),
    ("POST", "/api/v1/rounds", {"service_point": "KG1", "indicators": [{"code": "A", "mn": "a", "en": "a"}],
                                "opens_on": "0001-01-01"}),
    ("GET", "/api/v1/digests/9999-W52", None), ("GET", "/api/v1/digests/0001-W01", None),
    ("GET", "/api/v1/exports/flows/complaint.csv?to=9999-12-31", None),
    ("GET", "/api/v1/exports/flows/complaint.csv?from=0001-01-01", None),
    ("GET", "/api/v1/complaints?limit=²", None), ("GET", "/api/v1/complaints?offset=" + "9" * 5000, None),
    ("GET", "/api/v1/complaints?status=%00", None), ("GET", "/api/v1/complaints/AB%00C", None),
    ("POST", "/api/v1/meetings", {**MEETING, "title": "ИНХ \ud83d"}),
    ("POST", "/api/v1/broadcasts", {"text": {"mn": "x", "en": "\udc00"}, "audience": "all"}),
    ("POST", "/api/v1/meetings", {**MEETING, "title": "ИНХ\x00"}),
    ("POST", "/api/v1/meetings", {**MEETING, "templates": {"notice": {"mn": 5}}}),
    ("POST", "/api/v1/meetings", {**MEETING, "templates": {"notice": ["{title}"]}}),
    ("POST", "/api/v1/meetings", {**MEETING, "templates": "{title}"}),
    ("POST", "/api/v1/meetings", {**MEETING, "templates": {"notice": {"mn": "{title:>20000000}"}}}),
    ("POST", "/api/v1/meetings", {**MEETING, "templates": {"notice": {"mn": "{title!r:{place}}"}}}),
    ("PATCH", "/api/v1/meetings/99999999999999999999", {"status": "cancelled"}),
    ("POST", "/api/v1/rounds", {"service_point": ["KG1"], "indicators": "A"}),
    ("POST", "/api/v1/rounds", {"service_point": "KG1", "indicators": [{"code": 1, "mn": "a", "en": "a"}]}),
])
def test_each_known_cause_of_a_500_is_a_clear_answer(app, api, method, path, body):
    before = rows(app)
    with time_machine.travel(NOON, tick=False):
        raw = None if body is None else json.dumps(body).encode()  # json.dumps keeps lone surrogates escaped
        response = api(method, path, data=raw, content_type="application/json")
    assert response.status_code in (400, 404, 405), response.get_data(as_text=True)[:300]
    assert response.get_json()["detail"]
    assert rows(app) == before  # a huge format width is refused before anything is filled in


def test_json_nested_5000_deep_is_400(app, api):
    for raw in ("[" * 5000 + "]" * 5000, '{"title":' * 5000 + "1" + "}" * 5000):
        response = api("POST", "/api/v1/meetings", data=raw, content_type="application/json")
        assert response.status_code == 400 and "deeper" in response.get_json()["detail"]


def test_unknown_query_parameters_are_named(api):
    response = api("GET", "/api/v1/complaints?limt=5")
    assert response.status_code == 400 and "limt" in response.get_json()["detail"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=30) | st.sampled_from(["\x00", "\ud83d", "' OR 1=1 --", "{title:>999999}", "$(rm -rf /)",
                                              "\u202e\u200b", "🙂" * 40, "9999-12-31 23:59", "0001-01-01"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12)
FIELDS = ["title", "place", "starts_at", "notice_at", "audience", "templates", "reminder_minutes", "text",
          "send_at", "status", "note", "sensitive", "service_point", "indicators", "min_cell", "meeting_at",
          "opens_on", "action", "owner_role", "owner_org", "due_on", "dry_run", "latin", "kind"]
BODIES = st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6) | JSON


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_json_to_any_operation_never_500s(app, api, data):
    document = api("GET", "/api/v1/openapi.json").get_json()
    operations = [(method.upper(), path) for path, methods in document["paths"].items() for method in methods]
    method, template = data.draw(st.sampled_from(operations))
    path = template.replace("{", "").replace("}", "")  # e.g. /api/v1/meetings/meeting_id: a 404
    path = data.draw(st.sampled_from([path, template.split("{")[0] + "1", template.split("{")[0] + "AB-1"]))
    query = data.draw(st.dictionaries(st.sampled_from(["limit", "offset", "status", "all", "unit", "from", "to"]),
                                      st.text(max_size=12), max_size=3))
    before = rows(app)
    with time_machine.travel(NOON, tick=False):
        response = api(method, path, query_string=query, data=json.dumps(data.draw(BODIES)),
                       content_type="application/json")
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        assert rows(app) == before
