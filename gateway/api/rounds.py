"""Scorecard rounds (role admin): create, list, show, change, delete drafts, open, close, action items."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, g, jsonify

from gateway import clock
from gateway.api import schemas
from gateway.api.auth import audit, current_principal, require_role
from gateway.api.validation import accepts, request_body, request_query, responds
from storage import scorecards as store

bp = Blueprint("rounds", __name__)
DATE_FIELDS = ("opens_on", "closes_on")


@bp.errorhandler(store.RoundError)
def _round_error(exc: store.RoundError):
    return jsonify(error="bad_request", detail=str(exc)), 400


@bp.get("/rounds")
@require_role("admin")
@accepts(query=schemas.RoundListQuery)
@responds(200, schemas.RoundList)
def list_rounds():
    """Rounds, optionally ?status=draft|open|closed."""
    principal = current_principal()
    return jsonify(rounds=[store.round_summary(r) for r in store.list_rounds(request_query().status)
                           if principal.covers(r.service_point.admin_unit_id)])


@bp.post("/rounds")
@require_role("admin")
@accepts(body=schemas.RoundIn)
@responds(201, schemas.RoundOut)
def create_round():
    """Create a draft round: {service_point, indicators: [{code, mn, en, latn?, provider_score?}], min_cell?, …}."""
    body = _body()
    sp = body.get("service_point")
    if isinstance(sp, dict):
        fields = {k: sp.get(k) for k in ("code", "admin_unit", "kind", "name_mn", "name_en")}
        if not all(isinstance(v, str) for k, v in fields.items() if v is not None or k == "code"):
            abort(400, description="'service_point' fields must be text")
        point = store.service_point(fields["code"], admin_unit_code=fields["admin_unit"], kind=fields["kind"],
                                    name_mn=fields["name_mn"], name_en=fields["name_en"])
    elif isinstance(sp, str) and sp:
        point = store.service_point(sp)
    else:
        abort(400, description="'service_point' is required: a code, or {code, admin_unit, kind, name_mn, name_en}")
    if not current_principal().covers(point.admin_unit_id):
        abort(404, description="no such service point in this token's scope")
    indicators = body.get("indicators")
    if not isinstance(indicators, list):
        abort(400, description="'indicators' must be a list of {code, mn, en, latn?, provider_score?}")
    round_ = store.create_round(point, indicators, min_cell=_min_cell(body.get("min_cell", 5)),
                                **_round_fields(body, exclude=("min_cell",)))
    audit("round.create", f"round:{round_.id}")
    return jsonify(store.round_summary(round_)), 201


@bp.get("/rounds/<int:round_id>")
@require_role("admin")
@responds(200, schemas.RoundOut)
def show_round(round_id: int):
    """One round with its indicators, provider self-scores and action items."""
    return jsonify(store.round_summary(_round(round_id)))


@bp.patch("/rounds/<int:round_id>")
@require_role("admin")
@accepts(body=schemas.RoundChange)
@responds(200, schemas.RoundOut)
def change_round(round_id: int):
    """Change min_cell, dates or the interface meeting of a round."""
    round_ = store.update_round(_round(round_id), **_round_fields(_body()))
    return jsonify(store.round_summary(round_))


@bp.delete("/rounds/<int:round_id>")
@require_role("admin")
@responds(204, description="deleted")
def delete_round(round_id: int):
    """Delete a draft round."""
    store.delete_round(_round(round_id))
    audit("round.delete", f"round:{round_id}")
    return "", 204


@bp.post("/rounds/<int:round_id>/open")
@require_role("admin")
@responds(200, schemas.RoundOut)
def open_round(round_id: int):
    """Open a round for scoring."""
    round_ = store.set_status(_round(round_id), "open")
    audit("round.status", f"round:{round_id}", "open")
    return jsonify(store.round_summary(round_))


@bp.post("/rounds/<int:round_id>/close")
@require_role("admin")
@responds(200, schemas.RoundOut)
def close_round(round_id: int):
    """Close a round: no more scores are accepted."""
    round_ = store.set_status(_round(round_id), "closed")
    audit("round.status", f"round:{round_id}", "closed")
    return jsonify(store.round_summary(round_))


@bp.post("/rounds/<int:round_id>/action-items")
@require_role("admin")
@accepts(body=schemas.ActionItemIn)
@responds(201, schemas.ActionItemOut)
def add_action_item(round_id: int):
    """Add an interface-meeting action item: {action, owner_role, owner_org, due_on, indicator?}."""
    body = _body()
    missing = [k for k in ("action", "owner_role", "owner_org", "due_on") if not body.get(k)]
    if missing:
        abort(400, description=f"missing: {', '.join(missing)}")
    item = store.add_action_item(_round(round_id), body["action"], body["owner_role"], body["owner_org"],
                                 _date("due_on", body["due_on"]), body.get("indicator"))
    return jsonify(id=item.id, status=item.status, due_on=item.due_on.isoformat()), 201


@bp.patch("/action-items/<int:item_id>")
@require_role("admin")
@accepts(body=schemas.ActionItemChange)
@responds(200, schemas.ActionItemOut)
def update_action_item(item_id: int):
    """Record progress on an action item: {status, note?}."""
    item = store.ActionItem.get_or_none(store.ActionItem.id == item_id) or abort(404, description="no such item")
    _round(item.round_id)
    body = _body()
    store.update_action_item(item, str(body.get("status", "")), body.get("note"), g.api_token.name)
    audit("action_item.status", f"action_item:{item.id}", item.status)
    return jsonify(id=item.id, status=item.status)


def _round(round_id: int) -> store.Round:
    """The round if its service point is inside the caller's scope; else the same 404 as for no round."""
    round_ = store.Round.get_or_none(store.Round.id == round_id)
    if round_ is None or not current_principal().covers(round_.service_point.admin_unit_id):
        abort(404, description=f"no round {round_id} in this token's scope")
    return round_


def _body() -> dict:
    return request_body()


def _min_cell(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= store.MAX_MIN_CELL:
        abort(400, description=f"'min_cell' must be a whole number from 1 to {store.MAX_MIN_CELL}")
    return value


def _date(name: str, value) -> dt.date:
    try:
        return clock.parse_date(str(value))
    except clock.LocalTimeError as exc:
        abort(400, description=f"'{name}' must be a date YYYY-MM-DD: {exc}")


def _round_fields(body: dict, exclude: tuple = ()) -> dict:
    fields: dict = {}
    for name in store.EDITABLE:
        if name in exclude or name not in body:
            continue
        value = body[name]
        if name == "min_cell":
            value = _min_cell(value)
        elif name in DATE_FIELDS and value is not None:
            value = _date(name, value)
        elif name == "meeting_at" and value is not None:
            value = _local_datetime(value)
        fields[name] = value
    return fields


def _local_datetime(value) -> dt.datetime:
    """A local 'YYYY-MM-DDTHH:MM' (or with an offset) as naive UTC."""
    try:
        return clock.parse_local_time(current_app, str(value))
    except clock.LocalTimeError as exc:
        abort(400, description=f"'meeting_at' must be a date and time YYYY-MM-DDTHH:MM (local time): {exc}")
