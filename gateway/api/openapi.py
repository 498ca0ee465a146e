"""GET /api/v1/openapi.json: an OpenAPI 3.1 document built from the routes actually registered."""
from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify

from gateway.api.auth import require_role
from gateway.health import package_version

bp = Blueprint("openapi", __name__)

_CONVERTER = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")


@bp.get("/openapi.json")
@require_role("cso")
def openapi_document():
    """The OpenAPI description of this API (any valid token: only the webhooks and /healthz are open)."""
    paths: dict = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.endswith("openapi_document"):
            continue
        view = current_app.view_functions[rule.endpoint]
        path = _CONVERTER.sub(r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule, view)
    return jsonify({
        "openapi": "3.1.0",
        "info": {"title": "Mongolia feedback gateway API", "version": package_version()},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    })


def _operation(rule, view) -> dict:
    doc = (view.__doc__ or rule.endpoint).strip()
    role = getattr(view, "required_role", None)
    operation = {
        "summary": doc.splitlines()[0],
        "operationId": rule.endpoint.replace(".", "_"),
        "parameters": [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                       for name in sorted(rule.arguments)],
        "responses": {"200": {"description": "OK"}, "401": {"description": "missing or bad token"},
                      "403": {"description": "the token's role is too low"}},
    }
    if role:
        operation["x-required-role"] = role
    return operation
