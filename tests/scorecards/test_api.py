"""The API: tokens and roles on every route, the four digest formats, CSV escaping, exports, the audit log."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gateway.digests import FORMULA_STARTS, escape_cell, render_sms
from storage import complaints, scorecards
from storage.db import database
from storage.models import AdminUnit, ApiToken, AuditLog, Contact, FlowResult, FlowRun
from storage.tokens import ROLES, revoke
from tests.scorecards.conftest import bearer, new_round
from tests.scorecards.test_digest import THIS_WEEK, score

PUBLIC: set[str] = set()
SAMPLE_ARGS = {"week": "2026-W47", "ref": "G-0001", "flow_id": "scorecard"}


def api_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.rule not in PUBLIC:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                url = rule.rule
                for name in rule.arguments:
                    url = url.replace(f"<int:{name}>", "1").replace(f"<{name}>", SAMPLE_ARGS.get(name, "x"))
                yield method, url, app.view_functions[rule.endpoint]


class ClosingClient:
    """Reads and closes every response, so a streamed export never outlives its request."""

    def __init__(self, app):
        self.client = app.test_client()

    def open(self, *args, **kwargs):
        response = self.client.open(*args, **kwargs)
        response.get_data()
        response.close()
        return response


def test_every_api_route_needs_a_token_and_the_right_role(app):
    client = ClosingClient(app)
    tokens = {role: bearer(app, role) for role in ROLES}
    revoked = bearer(app, "admin", "revoked admin")
    with app.app_context(), database.connection_context():
        revoke(ApiToken.get(ApiToken.name == "revoked admin").id)
    routes = list(api_routes(app))
    assert len(routes) >= 17
    for method, url, view in routes:
        required = getattr(view, "required_role", None)
        assert required in ROLES, f"{method} {url} is not guarded by require_role"
        for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}, revoked):
            response = client.open(url, method=method, headers=headers, json={})
            assert response.status_code == 401, (method, url, headers)
            assert response.json["error"] == "unauthorized"
        for role in ROLES[:ROLES.index(required)]:
            response = client.open(url, method=method, headers=tokens[role], json={})
            assert response.status_code == 403, (method, url, role)
            assert response.json["error"] == "forbidden" and required in response.json["detail"]
        for role in ROLES[ROLES.index(required):]:  # the restricted queue may still say 403 to a plain cso
            assert client.open(url, method=method, headers=tokens[role], json={}).status_code not in (401, 500)
        allowed = client.open(url, method=method, headers=tokens["admin"], json={})
        assert allowed.status_code not in (401, 403, 500), (method, url, allowed.status_code)


def test_token_use_is_recorded_and_openapi_lists_roles(app):
    client = app.test_client()
    headers = bearer(app, "cso", "CSO Khoroo 7")
    assert client.get("/api/v1/digests/2026-W47", headers=headers).status_code == 200
    with app.app_context(), database.connection_context():
        token = ApiToken.get(ApiToken.name == "CSO Khoroo 7")
        assert token.last_used_at is not None and len(token.token_hash) == 64
        assert headers["Authorization"].split()[1] not in token.token_hash
        assert [(a.actor, a.action, a.target) for a in AuditLog.select()] == [
            ("token:1 CSO Khoroo 7", "digest.read", "2026-W47.json")]
    assert client.get("/api/v1/openapi.json").status_code == 401
    spec = client.get("/api/v1/openapi.json", headers=headers).json
    assert spec["paths"]["/api/v1/digests/{week}"]["get"]["x-required-role"] == "cso"
    assert spec["paths"]["/api/v1/rounds/{round_id}/open"]["post"]["x-required-role"] == "admin"


@pytest.fixture
def busy_week(app):
    """A round with published and suppressed cells, an indicator text built to inject a formula, complaints."""
    with time_machine.travel(THIS_WEEK, tick=False):
        round_id = new_round(app, indicators=[{"code": "A", "mn": "=HYPERLINK(\"x\")", "en": "@SUM(1)"},
                                              {"code": "B", "mn": "Хоол", "en": "+Food"}])
        for n in range(6):
            score(app, f"w{n}", round_id, "women", A=1 + n % 2, B=3)
        score(app, "m0", round_id, "men", A=5, B=5)
        with app.app_context(), database.connection_context():
            unit = AdminUnit.get(AdminUnit.code == "BKhD-01")
            for _ in range(3):
                complaints.create_complaint(category="water", text="-closed kiosk", contact=None, anonymous=True,
                                            due_days=30, admin_unit=unit)
            complaints.redact(complaints.find("G-0001"), "=cmd|' /C calc'!A0", "staff")
            scorecards.add_action_item(scorecards.Round.get_by_id(round_id), "Fix the tap", "director", "KG16",
                                       dt.date(2026, 11, 20), "A")
    return round_id


def test_digest_json_csv_html_and_sms(app, busy_week):
    client, cso = app.test_client(), bearer(app, "cso")
    data = client.get("/api/v1/digests/2026-W47", headers=cso).json
    assert data["complaints"]["totals"] == {"new": 0, "resolved": 0, "overdue": 0}  # 3 is not yet a block of 5
    assert data["complaints"]["by_category_and_unit"][0]["new"] == "<5"
    assert data["complaints"]["oldest_open"][0]["text"] == "=cmd|' /C calc'!A0"  # redacted text only
    assert data["complaints"]["oldest_open"][1]["text"] is None  # not redacted yet: no free text
    assert data["action_items"][0]["action"] == "Fix the tap" and data["action_items"][0]["overdue"] is False

    response = client.get("/api/v1/digests/2026-W47.csv", headers=cso)
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["indicator"], r["group"], r["n"]) for r in rows] == [  # 6 women count 5; the lone man none
        ("A", "men", "<5"), ("A", "women", "5"), ("A", "all", "5"),
        ("B", "men", "<5"), ("B", "women", "5"), ("B", "all", "5")]
    assert rows[0]["hidden_why"] == "5-аас цөөн хүн / fewer than 5 people" and rows[1]["hidden_why"] == ""
    assert rows[2]["mean"] == "1.4" and rows[2]["gap"] == "" and rows[5]["mean"] == "3.0"
    assert rows[0]["indicator_mn"] == "'=HYPERLINK(\"x\")" and rows[0]["indicator_en"] == "'@SUM(1)"
    assert rows[3]["indicator_en"] == "'+Food"
    assert all(not value.startswith(FORMULA_STARTS) for row in rows for value in row.values()
               if not value.lstrip("-").replace(".", "").isdigit())

    html = client.get("/api/v1/digests/2026-W47.html", headers=cso)
    page = html.get_data(as_text=True)
    assert html.mimetype == "text/html"
    assert page.count("data:image/png;base64,") == 2 and "Weekly digest" in page and "Fix the tap" in page
    assert "=cmd" in page and "-closed kiosk" not in page  # unredacted text never reaches the report

    sms = client.get("/api/v1/digests/2026-W47.txt", headers=cso).get_data(as_text=True)
    assert sms == render_sms(data)
    assert sms.startswith("Doloo honogiin dun 2026-W47: 1 unelgee, 5 oroltsogch.")
    assert "Gomdol: shine 0, shiidsen 0, hugatsaa hetersen 0." in sms
    with app.app_context(), database.connection_context():
        assert [a.target for a in AuditLog.select().order_by(AuditLog.id)] == [
            "2026-W47.json", "2026-W47.csv", "2026-W47.html", "2026-W47.txt"]


def test_bad_week_and_format_are_clear_errors(app):
    client, cso = app.test_client(), bearer(app, "cso")
    bad = client.get("/api/v1/digests/2026-W99", headers=cso)
    assert bad.status_code == 400 and "week" in bad.json["detail"]
    assert client.get("/api/v1/digests/2026-W47.xlsx", headers=cso).status_code == 404
    assert client.get("/api/v1/digests/2026-W47?unit=NOPE", headers=cso).status_code == 404


def test_sms_summary_fits_two_segments_however_long_the_agenda(app):
    from flows.text import sms_size

    sections = [{"service_point": {"code": f"KINDERGARTEN-{n:03}"}, "respondents": {"total": 40},
                 "indicators": [{"code": c, "agenda": True, "overall": {"mean_pooled": 1.5}} for c in "ABCDEF"]}
                for n in range(30)]
    digest = {"week": "2026-W47", "scorecards": sections,
              "complaints": {"totals": {"new": 120, "resolved": 33, "overdue": 9}}}
    for language in ("mn", "en"):
        text = render_sms(digest, language)
        assert sms_size(text).encoding == "GSM-7" and sms_size(text).segments <= 2
        assert "more" in text or "busad" in text


@given(st.text(max_size=30))
def test_csv_cells_never_start_a_formula(value):
    escaped = escape_cell(value)
    assert not escaped.startswith(FORMULA_STARTS)
    assert escaped in (value, "'" + value)


def test_round_export_releases_aggregates_and_rows_only_to_admins(app, busy_week):
    client, cso, admin = app.test_client(), bearer(app, "cso"), bearer(app, "admin")
    response = client.get(f"/api/v1/exports/rounds/{busy_week}.csv?to=2026-11-22", headers=cso)
    assert response.status_code == 200 and response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["indicator"], r["group"], r["n"]) for r in rows] == [
        ("A", "men", "<5"), ("A", "women", "5"), ("A", "all", "5"),
        ("B", "men", "<5"), ("B", "women", "5"), ("B", "all", "5")]
    assert rows[2]["mean"] == "1.4" and rows[0]["hidden_why"].endswith("fewer than 5 people")
    windowed = client.get(f"/api/v1/exports/rounds/{busy_week}.csv?from=2026-11-16", headers=cso)
    assert windowed.status_code == 400 and "cumulative" in windowed.json["detail"]
    assert client.get(f"/api/v1/exports/rounds/{busy_week}/responses.csv", headers=cso).status_code == 403
    assert client.get("/api/v1/exports/rounds/999.csv", headers=cso).status_code == 404
    assert client.get(f"/api/v1/exports/rounds/{busy_week}.csv", headers=bearer(app, "cso", "far", "ZAV")
                      ).status_code == 404  # out of scope: the same answer as no round

    responses = client.get(f"/api/v1/exports/rounds/{busy_week}/responses.csv?from=2026-11-16&to=2026-11-22",
                           headers=admin)
    rows = list(csv.DictReader(io.StringIO(responses.get_data(as_text=True))))
    assert len(rows) == 14 and set(rows[0]) == {"service_point", "admin_unit", "round", "indicator", "group", "score",
                                                "channel", "scored_on"}
    assert {r["group"] for r in rows} == {"merged", "women"}  # the lone man is merged even for an admin
    empty = client.get(f"/api/v1/exports/rounds/{busy_week}/responses.csv?from=2026-11-23", headers=admin)
    assert empty.get_data(as_text=True).strip().count("\n") == 0
    assert client.get(f"/api/v1/exports/rounds/{busy_week}/responses.csv?from=yesterday",
                      headers=admin).status_code == 400
    with app.app_context(), database.connection_context():
        assert AuditLog.select().where(AuditLog.action == "export.round").count() == 1
        assert AuditLog.select().where(AuditLog.action == "export.rows").count() == 2  # the 400 read nothing


def test_flow_exports_never_carry_free_text_or_numbers(app):
    with app.app_context(), database.connection_context():
        for n in range(6):
            run = FlowRun.create(contact=Contact.create(key=f"k{n}"), flow_id="complaint", channel="sms")
            FlowResult.create(run=run, name="category", value="water", category="water")
            FlowResult.create(run=run, name="description", value="call me on 99112233 =1+1", category="text")
    # these people have no admin unit: only a national (admin) token sees them, in aggregates like anyone else
    national = bearer(app, "admin", scope="national")
    aggregate = app.test_client().get("/api/v1/exports/flows/complaint.csv", headers=national)
    text = aggregate.get_data(as_text=True)
    assert "complaint,category,water,5," in text and "call me" not in text and "k1" not in text
    runs = app.test_client().get("/api/v1/exports/flows/complaint/runs.csv", headers=national)
    text = runs.get_data(as_text=True)
    assert "99112233" not in text and "call me" not in text and "free text withheld" in text


scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
round_bodies = st.fixed_dictionaries({}, optional={
    "service_point": st.sampled_from(["KG16", "NOPE"]) | json_values,
    "indicators": st.lists(st.fixed_dictionaries({"code": json_values, "mn": json_values, "en": json_values},
                                                 optional={"provider_score": json_values, "latn": json_values}),
                           max_size=3) | json_values,
    "min_cell": json_values, "opens_on": json_values, "meeting_at": json_values, "meeting_place_mn": json_values})


@pytest.fixture
def admin_setup(app):
    new_round(app, open_it=False)
    with app.app_context(), database.connection_context():
        complaints.create_complaint(category="water", text="x", contact=None, anonymous=True, due_days=30)
    return app, bearer(app, "admin")


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60, deadline=None)
@given(body=round_bodies | json_values)
@example(body={"service_point": "KG16", "indicators": [{"code": "A", "mn": "a", "en": "b", "provider_score": "x"}]})
@example(body={"service_point": "KG16", "indicators": [{"code": "A", "mn": {"x": 1}, "en": "b"}]})
@example(body={"service_point": "KG16", "indicators": [{"code": None, "mn": "a", "en": "b"}]})
@example(body={"service_point": {"code": 5, "admin_unit": [], "kind": "x", "name_mn": 1}, "indicators": []})
@example(body={"status": "done", "note": {"a": 1}, "meeting_place_mn": ["x"], "meeting_at": "2026-13-01T10:00"})
@example(body={"action": ["x"], "owner_role": 1, "owner_org": {"a": 1}, "due_on": "2026-12-01", "indicator": 5})
@example(body={"min_cell": 10**30, "opens_on": 20261201, "closes_on": "2026-02-30"})
def test_malformed_bodies_get_a_clear_error_never_a_500(admin_setup, body):
    app, admin = admin_setup
    client = app.test_client()
    for method, url in (("POST", "/api/v1/rounds"), ("PATCH", "/api/v1/rounds/1"),
                        ("POST", "/api/v1/rounds/1/action-items"), ("POST", "/api/v1/complaints/G-0001/status"),
                        ("PATCH", "/api/v1/action-items/1"), ("POST", "/api/v1/complaints/G-0001/redact"),
                        ("POST", "/api/v1/complaints/G-0001/sensitive")):
        response = client.open(url, method=method, json=body, headers=admin)
        assert response.status_code < 500, (method, url, body, response.get_data(as_text=True))
        if response.status_code >= 400:
            assert response.json["detail"]
