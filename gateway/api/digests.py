"""GET /api/v1/digests/<YYYY-Www>[.csv|.html|.txt]: the weekly CSO digest (role cso) of the token's scope, every
read audited. Aggregates only, suppressed by `storage.suppression`."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify

from gateway import digests
from gateway.api import schemas
from gateway.api.auth import audit, current_principal, require_role
from gateway.api.validation import accepts, request_query, responds
from storage.access import unit_in_scope

bp = Blueprint("digests", __name__)
FORMATS = {"json": None, "csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8",
           "txt": "text/plain; charset=utf-8"}


@bp.get("/digests/<week>")
@require_role("cso")
@accepts(query=schemas.DigestQuery)
@responds(200, schemas.DigestOut, content_type="text/csv, text/html, text/plain")
def weekly_digest(week: str):
    """The digest of one ISO week (2026-W47): JSON, or add .csv, .html or .txt (the SMS summary); ?unit=CODE."""
    label, _, fmt = week.partition(".")
    fmt = fmt or "json"
    if fmt not in FORMATS:
        abort(404, description=f"unknown format '.{fmt}': use .csv, .html, .txt or none for JSON")
    try:
        the_week = digests.week_of(current_app, label)
    except ValueError as exc:
        return jsonify(error="bad_request", detail=str(exc)), 400
    unit = request_query().unit or None
    principal = current_principal()
    if unit and not unit_in_scope(unit, principal.scope):
        abort(404, description=f"no admin unit {unit[:20]!r} in this token's scope ({principal.scope})")
    digest = digests.build(current_app, the_week, unit, principal.scope)
    audit("digest.read", f"{the_week.label}.{fmt}" + (f" unit={unit}" if unit else ""))
    if fmt == "json":
        return jsonify(digest)
    body = {"csv": digests.render_csv, "txt": digests.render_sms}[fmt](digest) if fmt != "html" \
        else digests.render_html(current_app, digest)
    response = Response(body, mimetype=FORMATS[fmt].split(";")[0], content_type=FORMATS[fmt])
    if fmt == "csv":
        response.headers["Content-Disposition"] = f'attachment; filename="digest-{the_week.label}.csv"'
    return response
