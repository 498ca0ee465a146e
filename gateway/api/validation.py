"""Request input for /api/v1, checked in one place against the same pydantic models that the OpenAPI document
publishes. A view says what it takes and answers:

    @bp.post("/meetings")
    @require_role("staff")
    @accepts(body=schemas.MeetingIn)
    @responds(201, schemas.MeetingOut, dry_run=schemas.PreviewOut)
    def create_meeting(): body = request_body() …

Anything else — malformed or wrongly typed JSON, JSON nested too deep, NUL characters, half surrogate pairs,
query values such as `?limit=²`, numbers in the path too large for the database — is a 400 (or 404) that says
what is wrong, before the view runs. Nothing is stored.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, g, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.routing import IntegerConverter

from gateway.inputs import MAX_JSON_DEPTH, BadInput, has_lone_surrogate, nesting_depth

MAX_ID = 2**31 - 1  # ids in the path beyond what the databases store are simply not found
FIELD_PART = re.compile(r"[a-z_][a-z0-9_]*|\d+")  # pydantic also puts union members ('Pair', 'list[str]') in paths


class IdConverter(IntegerConverter):
    """`<int:…>` in API paths: at most 2**31 - 1, so a huge number is a 404, never a database overflow."""

    def __init__(self, url_map, **kwargs):
        super().__init__(url_map, max=MAX_ID, **kwargs)


def accepts(body: type[BaseModel] | None = None, query: type[BaseModel] | None = None) -> Callable:
    """Validate the JSON body and/or the query string; the view reads them with request_body()/request_query()."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def checked(*args, **kwargs):
            if query is not None:
                g.api_query = _validated(query, dict(request.args), "query")
            if body is not None:
                g.api_body = _validated_json(body)
            return view(*args, **kwargs)
        checked.request_body, checked.request_query = body, query  # read by the OpenAPI document
        return checked
    return decorate


def responds(status: int, model: type[BaseModel] | None = None, *, content_type: str = "application/json",
             description: str | None = None, **alternatives: type[BaseModel]) -> Callable:
    """Document a success answer (and `alternatives`, other shapes of the same answer, e.g. a dry run)."""
    def decorate(view: Callable) -> Callable:
        answers = dict(getattr(view, "responses", {}))
        answers[status] = (model, content_type, description, tuple(alternatives.values()))
        view.responses = answers
        return view
    return decorate


def request_body() -> dict[str, Any]:
    """The validated body as plain data: only the fields the client sent (so 'absent' differs from 'null')."""
    return g.api_body.model_dump(exclude_unset=True)


def request_query() -> BaseModel:
    return g.api_query


def init_api(app: Flask, api: Blueprint) -> None:
    app.url_map.converters["int"] = IdConverter

    @api.before_request
    def _refuse_unstorable_query() -> Any:
        for name, value in request.args.items(multi=True):
            if "\x00" in name or "\x00" in value:
                return bad_request("the query string contains a NUL character")
        if "\x00" in request.path:
            return bad_request("the path contains a NUL character")
        return None

    @api.errorhandler(BadInput)
    def _bad_input(exc: BadInput):
        return bad_request(str(exc))


def bad_request(detail: str, fields: list | None = None):
    body: dict[str, Any] = {"error": "bad_request", "detail": detail}
    if fields:
        body["fields"] = fields
    return jsonify(body), 400


def _validated_json(model: type[BaseModel]) -> BaseModel:
    raw = request.get_data(cache=True)
    if request.mimetype != "application/json":
        raise BadInput("the body must be JSON (Content-Type: application/json)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("the body is not valid UTF-8") from None
    if nesting_depth(text) > MAX_JSON_DEPTH:
        raise BadInput(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
    return _validated(model, text, "body", json=True)


def _validated(model: type[BaseModel], data: Any, where: str, json: bool = False) -> BaseModel:
    try:
        value = model.model_validate_json(data) if json else model.model_validate(data)
    except ValidationError as exc:
        raise BadInput(_describe(model, exc, where)) from None
    _refuse_unstorable(value.model_dump())
    return value


def _describe(model: type[BaseModel], exc: ValidationError, where: str) -> str:
    """One line per wrong field. A field that may take several shapes says what it takes (its description)
    rather than why each shape failed."""
    by_field: dict[str, list[dict]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        by_field.setdefault(str(error["loc"][0]) if error["loc"] else where, []).append(error)
    problems = []
    for name, errors in list(by_field.items())[:5]:
        field = model.model_fields.get(name)
        if len(errors) > 1 and field is not None and field.description:
            problems.append(f"'{name}' must be {field.description}")
            continue
        path = ".".join(str(part) for part in errors[0]["loc"] if FIELD_PART.fullmatch(str(part))) or name
        problems.append(f"'{path}': {errors[0]['msg']}")
    return "; ".join(problems)


def _refuse_unstorable(value: Any, place: str = "body") -> None:
    """Text no database can hold exactly: NUL (PostgreSQL) and half surrogate pairs (neither)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadInput(f"'{place}' contains a NUL character")
        if has_lone_surrogate(value):
            raise BadInput(f"'{place}' contains half of a surrogate pair (a broken emoji)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_unstorable(key, place)
            _refuse_unstorable(item, f"{place}.{key}" if place != "body" else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_unstorable(item, f"{place}.{index}")
