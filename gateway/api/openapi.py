"""GET /api/v1/openapi.json: the OpenAPI 3.1 document of the routes actually registered, with request and answer
schemas generated from the pydantic models that validate the requests (gateway.api.schemas)."""
from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.api import schemas
from gateway.api.auth import require_role
from gateway.health import package_version

bp = Blueprint("openapi", __name__)

_CONVERTER = re.compile(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-zA-Z_]+)>")
REF = "#/components/schemas/{model}"
ERRORS = {400: "bad input: the detail says what to fix", 401: "missing or bad token",
          403: "the token's role or scope is too low", 404: "no such thing",
          405: "the method is not allowed here (the Allow header lists those that are)",
          409: "not possible in this state", 413: "body over 64 kB"}


@bp.get("/openapi.json")
@require_role("cso")
def openapi_document():
    """The OpenAPI description of this API (any valid token: only the webhooks and /healthz are open)."""
    operations = []
    for rule in current_app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and not rule.endpoint.endswith("openapi_document"):
            view = current_app.view_functions[rule.endpoint]
            operations += [(rule, method, view) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    refs, definitions = _schemas(operations)
    paths: dict = {}
    for rule, method, view in operations:
        paths.setdefault(_CONVERTER.sub(r"{\2}", rule.rule), {})[method.lower()] = _operation(rule, view, refs)
    return jsonify({
        "openapi": "3.1.0",
        "info": {"title": "Mongolia feedback gateway API", "version": package_version()},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": definitions},
        "security": [{"bearer": []}],
        "paths": paths,
    })


def _schemas(operations) -> tuple[dict, dict]:
    """Every model the operations name, as components; returns ({(model, mode): schema}, components)."""
    wanted = {(schemas.Error, "serialization")}
    for _, _, view in operations:
        if getattr(view, "request_body", None):
            wanted.add((view.request_body, "validation"))
        for model, _, _, alternatives in getattr(view, "responses", {}).values():
            wanted.update((m, "serialization") for m in (model, *alternatives) if m is not None)
    refs, definitions = models_json_schema(sorted(wanted, key=lambda pair: (pair[0].__name__, pair[1])),
                                           ref_template=REF)
    return refs, definitions.get("$defs", {})


def _operation(rule, view, refs: dict) -> dict:
    doc = (view.__doc__ or rule.endpoint).strip()
    operation: dict = {"summary": doc.splitlines()[0], "operationId": rule.endpoint.replace(".", "_"),
                       "parameters": _path_parameters(rule) + _query_parameters(getattr(view, "request_query", None)),
                       "responses": _responses(view, refs)}
    body = getattr(view, "request_body", None)
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": refs[(body, "validation")]}}}
    role = getattr(view, "required_role", None)
    if role:
        operation["x-required-role"] = role
    return operation


def _path_parameters(rule) -> list[dict]:
    converters = {name: kind for kind, name in _CONVERTER.findall(rule.rule)}
    parameters = []
    for name in sorted(rule.arguments):
        schema = ({"type": "integer", "minimum": 0, "maximum": 2**31 - 1} if converters.get(name) == "int"
                  else {"type": "string", "minLength": 1})
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _query_parameters(model: type[BaseModel] | None) -> list[dict]:
    if model is None:
        return []
    schema = model.model_json_schema(by_alias=True, ref_template=REF)
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required, "schema": field}
            for name, field in schema["properties"].items()]


def _responses(view, refs: dict) -> dict:
    answers: dict = {}
    for status, (model, content_type, description, alternatives) in getattr(view, "responses", {}).items():
        answer: dict = {"description": description or (model.__doc__ or "OK").strip().splitlines()[0]}
        if model is not None and content_type == "application/json":
            shapes = [refs[(m, "serialization")] for m in (model, *alternatives)]
            answer["content"] = {content_type: {"schema": shapes[0] if len(shapes) == 1 else {"anyOf": shapes}}}
        elif content_type != "application/json":
            answer["content"] = {kind.strip(): {"schema": {"type": "string"}} for kind in content_type.split(",")}
            if model is not None:
                answer["content"]["application/json"] = {"schema": refs[(model, "serialization")]}
        answers[str(status)] = answer
    error = {"content": {"application/json": {"schema": refs[(schemas.Error, "serialization")]}}}
    for status, description in ERRORS.items():
        answers.setdefault(str(status), {"description": description, **error})
    return answers
