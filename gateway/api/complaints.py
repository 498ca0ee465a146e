"""Complaints (role staff): list, show, change status, redact, flag sensitive; always within the token's scope.

Sensitive complaints form a restricted queue: only admins and the CSO tokens named in
`complaints.restricted_readers` see them (GET /complaints/restricted). Every read of a complaint's text and every
change is audited. A complaint the caller may not see gets the same 404 as one that does not exist, so a
reference cannot be probed. Nobody sees a phone number: complaints carry no contact, numbers in text are masked.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, g, jsonify

from gateway import complaints as service
from gateway.api import schemas
from gateway.api.auth import audit, current_principal, require_role
from gateway.api.validation import accepts, request_body, request_query, responds
from storage import complaints as store

bp = Blueprint("complaints", __name__)


@bp.errorhandler(store.ComplaintError)
def _complaint_error(exc: store.ComplaintError):
    return jsonify(error="conflict", detail=str(exc)), 409


@bp.get("/complaints")
@require_role("staff")
@accepts(query=schemas.ComplaintListQuery)
@responds(200, schemas.ComplaintList)
def list_complaints():
    """Complaints, newest first; ?status=, ?limit=, ?offset=. Admins also see sensitive ones."""
    query = request_query()
    rows = store.list_complaints(status=query.status, include_sensitive=_is_admin(), limit=query.limit,
                                 offset=query.offset, scope=current_principal().scope)
    audit("complaints.list", None, f"{len(rows)} complaints with landmarks")  # landmarks are free text too
    return jsonify(complaints=[store.complaint_view(c, with_text=False) for c in rows])


@bp.get("/complaints/restricted")
@require_role("cso")
@accepts(query=schemas.ComplaintListQuery)
@responds(200, schemas.ComplaintList)
def restricted_queue():
    """The restricted queue (sensitive complaints): admins and designated CSO tokens only."""
    if not _restricted_reader():
        abort(403, description="restricted queue: admins and designated CSO accounts only")
    query = request_query()
    rows = store.list_complaints(status=query.status, sensitive_only=True, limit=query.limit, offset=query.offset,
                                 scope=current_principal().scope)
    audit("complaints.restricted_list", None, f"{len(rows)} complaints with text")
    return jsonify(complaints=[store.complaint_view(c) for c in rows])


@bp.get("/complaints/<ref>")
@require_role("cso")
@responds(200, schemas.ComplaintOut)
def show_complaint(ref: str):
    """One complaint with its history (staff; sensitive ones admins and designated CSO tokens only)."""
    complaint = _complaint(ref)
    audit("complaint.restricted_read" if complaint.sensitive else "complaint.read", f"complaint:{complaint.ref}")
    return jsonify(store.complaint_view(complaint))


@bp.post("/complaints/<ref>/status")
@require_role("staff")
@accepts(body=schemas.ComplaintStatusIn)
@responds(200, schemas.ComplaintOut)
def set_status(ref: str):
    """Change the status with a note: {status, note}. "resolved" texts the citizen "Is it solved? 1 yes 2 no"."""
    complaint = _complaint(ref)
    body = _body()
    status, note = body.get("status"), body.get("note")
    if status not in store.STATUSES:
        abort(400, description=f"'status' must be one of {', '.join(store.STATUSES)}")
    if note is not None and not isinstance(note, str):
        abort(400, description="'note' must be text")
    previous = complaint.status
    asked = service.change_status(current_app, complaint, status, note, g.api_token.name)
    audit("complaint.status", f"complaint:{complaint.ref}", f"{previous} -> {status}")
    return jsonify({**store.complaint_view(complaint), "citizen_asked": asked})


@bp.post("/complaints/<ref>/redact")
@require_role("staff")
@accepts(body=schemas.RedactionIn)
@responds(200, schemas.ComplaintOut)
def redact(ref: str):
    """Store the redacted text (names removed), the only text that reaches reports: {text}."""
    complaint = _complaint(ref)
    text = _body().get("text")
    if not isinstance(text, str) or not text.strip():
        abort(400, description="'text' must be the redacted text")
    store.redact(complaint, text.strip(), g.api_token.name)
    audit("complaint.redact", f"complaint:{complaint.ref}")
    return jsonify(store.complaint_view(complaint))


@bp.post("/complaints/<ref>/sensitive")
@require_role("staff")
@accepts(body=schemas.SensitiveIn)
@responds(200, schemas.ComplaintOut)
def mark_sensitive(ref: str):
    """Move a complaint to the restricted queue ({sensitive: true}); only admins can take it out."""
    complaint = _complaint(ref)
    flag = _body().get("sensitive")
    if not isinstance(flag, bool):
        abort(400, description="'sensitive' must be true or false")
    if not flag and not _is_admin():
        abort(403, description="only an admin can take a complaint out of the restricted queue")
    store.set_sensitive(complaint, flag, g.api_token.name)
    audit("complaint.sensitive", f"complaint:{complaint.ref}", f"sensitive={flag}")
    return jsonify(store.complaint_view(complaint, with_text=False))


def _complaint(ref: str) -> store.Complaint:
    """The complaint `ref` if the caller may see it; otherwise the same 404 whether it exists or not."""
    complaint = store.find(ref)
    if not store.visible_to(complaint, current_principal(), _readers()):
        abort(404, description=f"no complaint {ref[:20]!r} that this token can see")
    return complaint


def _is_admin() -> bool:
    return current_principal().at_least("admin")


def _restricted_reader() -> bool:
    return store.reads_restricted(current_principal(), _readers())


def _readers() -> list[str]:
    return current_app.config["GATEWAY"]["complaints"]["restricted_readers"]


def _body() -> dict:
    return request_body()
