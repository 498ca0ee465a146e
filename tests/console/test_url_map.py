"""No console route is reachable without the right role: walks Flask's URL map, so a page added later without a
role (or with a lower one than its neighbours expect) fails here."""
from __future__ import annotations

import pytest
from flask import Flask

from gateway.console.auth import PUBLIC_ENDPOINTS
from storage.tokens import ROLES
from tests.console.conftest import Console

ARGUMENTS = {"meeting_id": 1, "broadcast_id": 1, "ref": "G-0001", "round_id": 1, "label": "2026-W47", "fmt": "csv",
             "kind": "groups", "user_id": 1, "token_id": 1, "action": "unlock", "token": "x", "filename": "console.css",
             "vote_id": 1}


def console_routes(app: Flask) -> list[tuple[str, str, str | None]]:
    """(method, path, required role) of every console route; public ones have role None."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console."):
            continue
        view = app.view_functions[rule.endpoint]
        needed = getattr(view, "required_role", None)
        if needed is None:
            assert rule.endpoint in PUBLIC_ENDPOINTS, f"{rule.endpoint} declares no role and is not public"
        path = rule.build({arg: ARGUMENTS[arg] for arg in rule.arguments}, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, path, needed))
    return routes


def test_every_console_route_declares_a_role_or_is_public(app):
    routes = console_routes(app)
    assert len(routes) > 40
    public = {path for _m, path, needed in routes if needed is None}
    assert public == {"/console/login", "/console/invite/x", "/console/language", "/console/static/console.css"}


def test_nobody_signed_out_gets_past_the_door(app, people):
    browser = Console(app)
    token = browser.token()
    for method, path, needed in console_routes(app):
        if needed is None:
            continue
        response = browser.client.open(path, method=method, data={"csrf_token": token})
        if method == "GET":
            assert response.status_code == 302 and "/console/login" in response.headers["Location"], path
        else:
            assert response.status_code == 401, f"{method} {path}: {response.status_code}"


@pytest.mark.parametrize("name", ["cso", "staff"])
def test_each_role_is_refused_what_is_above_it(app, people, console, name):
    browser = console(name)
    token = browser.token()
    held = ROLES.index(people[name].role)
    refused = 0
    for method, path, needed in console_routes(app):
        if needed is None or ROLES.index(needed) <= held:
            continue
        response = browser.client.open(path, method=method, data={"csrf_token": token})
        assert response.status_code == 403, f"{name}: {method} {path} answered {response.status_code}"
        refused += 1
    assert refused > 5

