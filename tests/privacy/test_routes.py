"""Every route but the webhooks and /healthz needs a token of the right role, and its scope holds.

The table below is the access model of the API. A route added without a role, or with a role other than the one
written here, fails the first test: add it to ROUTE_ROLES on purpose (the console extends this for its routes).
"""
from __future__ import annotations

import pytest

from storage.access import ROLES
from storage.models import AdminUnit, ApiToken
from storage.tokens import create_token, revoke

# The console signs people in with cookie sessions, not bearer tokens: tests/console/test_url_map.py walks its routes.
OPEN_PREFIXES = ("/webhooks/", "/console/")
OPEN_RULES = {"/healthz", "/readyz"}
ROUTE_ROLES = {
    ("GET", "/api/v1/openapi.json"): "cso",
    ("GET", "/api/v1/digests/<week>"): "cso",
    ("GET", "/api/v1/exports/rounds/<int:round_id>.csv"): "cso",
    ("GET", "/api/v1/exports/flows/<flow_id>.csv"): "cso",
    ("GET", "/api/v1/exports/rounds/<int:round_id>/responses.csv"): "admin",
    ("GET", "/api/v1/exports/flows/<flow_id>/runs.csv"): "admin",
    ("GET", "/api/v1/complaints/<ref>"): "cso",  # designated CSOs read the restricted queue
    ("GET", "/api/v1/complaints/restricted"): "cso",
    ("GET", "/api/v1/complaints"): "staff",
    ("POST", "/api/v1/complaints/<ref>/status"): "staff",
    ("POST", "/api/v1/complaints/<ref>/redact"): "staff",
    ("POST", "/api/v1/complaints/<ref>/sensitive"): "staff",
    ("GET", "/api/v1/meetings"): "staff",
    ("POST", "/api/v1/meetings"): "staff",
    ("GET", "/api/v1/meetings/<int:meeting_id>"): "staff",
    ("PATCH", "/api/v1/meetings/<int:meeting_id>"): "staff",
    ("POST", "/api/v1/broadcasts"): "staff",
    ("GET", "/api/v1/broadcasts/<int:broadcast_id>"): "staff",
    ("GET", "/api/v1/rounds"): "admin",
    ("POST", "/api/v1/rounds"): "admin",
    ("GET", "/api/v1/rounds/<int:round_id>"): "admin",
    ("PATCH", "/api/v1/rounds/<int:round_id>"): "admin",
    ("DELETE", "/api/v1/rounds/<int:round_id>"): "admin",
    ("POST", "/api/v1/rounds/<int:round_id>/open"): "admin",
    ("POST", "/api/v1/rounds/<int:round_id>/close"): "admin",
    ("POST", "/api/v1/rounds/<int:round_id>/action-items"): "admin",
    ("PATCH", "/api/v1/action-items/<int:item_id>"): "admin",
    ("GET", "/api/v1/votes"): "cso",
    ("POST", "/api/v1/votes"): "admin",
    ("GET", "/api/v1/votes/<int:vote_id>"): "cso",
    ("PATCH", "/api/v1/votes/<int:vote_id>"): "admin",
    ("DELETE", "/api/v1/votes/<int:vote_id>"): "admin",
    ("POST", "/api/v1/votes/<int:vote_id>/open"): "admin",
    ("POST", "/api/v1/votes/<int:vote_id>/close"): "admin",
    ("GET", "/api/v1/votes/<int:vote_id>/results"): "cso",
    ("GET", "/api/v1/votes/<int:vote_id>/results.csv"): "cso",
    ("GET", "/api/v1/votes/<int:vote_id>/fairness"): "staff",
}
# The restricted queue is read by admins and designated CSOs only: staff above them in role are still refused.
RESTRICTED = {("GET", "/api/v1/complaints/restricted"): {"staff"}}
SAMPLES = {"week": "2026-W47", "ref": "G-0001", "flow_id": "complaint"}


def guarded_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule in OPEN_RULES or rule.rule.startswith(OPEN_PREFIXES):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = rule.rule
            for name in rule.arguments:
                url = url.replace(f"<int:{name}>", "1").replace(f"<{name}>", SAMPLES.get(name, "x"))
            yield method, rule.rule, url, app.view_functions[rule.endpoint]


def bearer(role: str, scope: str | None = None, days: int = 30) -> dict:
    """A token named after its role ("cso" is a designated reader of the restricted queue in these tests)."""
    _, plain = create_token(role, role, scope or ("national" if role == "admin" else "UB,ZAV"), days=days)
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def app(make_app):
    return make_app(complaints={"restricted_readers": ["cso"]})


def call(client, method: str, url: str, headers: dict):
    response = client.open(url, method=method, headers=headers, json={})
    response.get_data()
    response.close()  # a streamed export must not outlive its request
    return response


def test_every_route_has_the_role_written_in_the_access_model(app, db):
    client = app.test_client()
    tokens = {role: bearer(role) for role in ROLES}
    revoked = bearer("admin", "national")
    revoke(ApiToken.select().order_by(ApiToken.id.desc()).first().id)
    seen = set()
    for method, rule, url, view in guarded_routes(app):
        seen.add((method, rule))
        expected = ROUTE_ROLES.get((method, rule))
        assert expected is not None, f"{method} {rule} is not in the access model (tests/privacy/test_routes.py)"
        assert getattr(view, "required_role", None) == expected, f"{method} {rule} must need '{expected}'"
        for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}, revoked):
            assert call(client, method, url, headers).status_code == 401, (method, url, headers)
        for role in ROLES[:ROLES.index(expected)]:
            response = call(client, method, url, tokens[role])
            assert response.status_code == 403 and response.json["error"] == "forbidden", (method, url, role)
        for role in ROLES[ROLES.index(expected):]:
            response = call(client, method, url, tokens[role])
            if role in RESTRICTED.get((method, rule), ()):
                assert response.status_code == 403 and "restricted" in response.json["detail"]
                continue
            assert response.status_code not in (401, 403, 500), (method, url, role)
    assert seen == set(ROUTE_ROLES), f"routes gone from the app: {set(ROUTE_ROLES) - seen}"


def test_the_open_routes_are_only_the_webhooks_and_health(app):
    open_rules = {rule.rule for rule in app.url_map.iter_rules()
                  if getattr(app.view_functions[rule.endpoint], "required_role", None) is None}
    assert open_rules and all(r in OPEN_RULES or r.startswith(OPEN_PREFIXES) for r in open_rules), open_rules


def test_an_expired_token_is_refused_everywhere(app, db):
    import datetime as dt

    import time_machine

    client = app.test_client()
    with time_machine.travel(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), tick=False):
        old = bearer("admin", "national", days=1)
    for method, _, url, _ in guarded_routes(app):
        assert call(client, method, url, old).status_code == 401, (method, url)


@pytest.mark.parametrize("ref", ["G-0001", "G-0002", "G-0003", "G-0999"])
def test_a_cso_cannot_tell_whether_a_complaint_exists(app, db, ref):
    """Missing, in another unit, not for a cso, in the restricted queue: one answer, word for word."""
    from storage.complaints import create_complaint

    bgd07, zav = (AdminUnit.get(AdminUnit.code == code) for code in ("BGD-07", "ZAV"))
    create_complaint(category="water", text="kiosk", contact=None, anonymous=True, due_days=30, admin_unit=bgd07)
    create_complaint(category="water", text="kiosk", contact=None, anonymous=True, due_days=30, admin_unit=zav)
    create_complaint(category="other", text="авлига", contact=None, anonymous=True, due_days=30, admin_unit=bgd07,
                     sensitive=True)
    plain_cso = {"Authorization": f"Bearer {create_token('another cso', 'cso', 'BGD')[1]}"}
    for token in (bearer("cso", "BGD"), plain_cso):
        response = call(app.test_client(), "GET", f"/api/v1/complaints/{ref}", token)
        if ref == "G-0003" and token is not plain_cso:
            assert response.status_code == 200  # the designated reader sees the restricted one, and only that
            continue
        assert response.status_code == 404
        assert response.json == {"error": "Not Found", "detail": f"no complaint '{ref}' that this token can see"}
