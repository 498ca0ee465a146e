"""/api/v1/broadcasts (role staff): preview (dry_run), send now or later, and follow progress."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from gateway import broadcasts as bc
from gateway.api import schemas
from gateway.api.auth import audit, current_principal, require_role
from gateway.api.meetings import BadBody, audience_field, bad_request, pair, require_audience_in_scope, time_field
from gateway.api.validation import accepts, request_body, responds
from storage import meetings as store
from storage.access import audience_within, scope_unit_ids

bp = Blueprint("broadcasts", __name__)


@bp.post("/broadcasts")
@require_role("staff")
@accepts(body=schemas.BroadcastIn)
@responds(201, schemas.BroadcastOut)
@responds(200, schemas.PreviewOut, description="the preview of a dry run: nothing is queued")
def create_broadcast():
    """Send a message to an audience now or at send_at; {"dry_run": true} returns the preview and queues nothing."""
    try:
        body = request_body()
        text_mn, text_en = pair(body, "text")
        if not text_mn:
            raise BadBody("'text' is required: a string, or {\"mn\": …, \"en\": …}")
        audience, send_at = audience_field(body), time_field(body, "send_at")
        require_audience_in_scope(audience)
        latin = bool(body.get("latin"))
        cleaned, texts, when = bc.plan_broadcast(current_app, audience, text_mn, text_en, send_at, latin)
        if body.get("dry_run"):
            return jsonify(dry_run=True, **bc.preview(current_app, cleaned, texts, latin, when).as_dict(current_app))
        broadcast = bc.send_plain_broadcast(current_app, cleaned, text_mn, text_en, when, latin, g.api_token.name)
    except (BadBody, bc.BroadcastError) as exc:
        return bad_request(exc)
    audit("broadcast.create", broadcast.origin)
    return jsonify(bc.broadcast_summary(current_app, broadcast)), 201


@bp.get("/broadcasts/<int:broadcast_id>")
@require_role("staff")
@responds(200, schemas.BroadcastOut)
def show_broadcast(broadcast_id: int):
    """A broadcast's status and progress: messages queued, sending, sent, delivered, failed, cancelled."""
    broadcast = store.get_broadcast(broadcast_id)
    if broadcast is None or not audience_within(broadcast.audience, scope_unit_ids(current_principal().scope)):
        return jsonify(error="not_found", detail=f"no broadcast {broadcast_id} in this token's scope"), 404
    return jsonify(bc.broadcast_summary(current_app, broadcast))
