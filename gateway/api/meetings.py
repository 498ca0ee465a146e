"""/api/v1/meetings (role staff): create, list, show with the tally, and PATCH to move or cancel."""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from gateway import broadcasts as bc
from gateway import meetings
from gateway.api import schemas
from gateway.api.auth import audit, current_principal, require_role
from gateway.api.validation import accepts, request_body, request_query, responds
from storage import meetings as store
from storage.access import audience_within, scope_unit_ids
from storage.db import utcnow
from storage.phones import mask_free_text

bp = Blueprint("meetings", __name__)


class BadBody(ValueError):
    """A request body that is not what the endpoint takes."""


def pair(body: dict, name: str) -> tuple[str | None, str | None]:
    """`{"title": {"mn": …, "en": …}}`, `{"title": "…"}` (Mongolian) or `{"title_mn": …, "title_en": …}`."""
    value = body.get(name)
    if isinstance(value, dict):
        mn, en = value.get("mn"), value.get("en")
    elif value is None or isinstance(value, str):
        mn, en = value or body.get(f"{name}_mn"), body.get(f"{name}_en")
    else:
        raise BadBody(f"'{name}' must be a string or an object with mn and en")
    for text in (mn, en):
        if text is not None and not isinstance(text, str):
            raise BadBody(f"'{name}' texts must be strings")
    return mn, en


def time_field(body: dict, name: str, required: bool = False):
    value = body.get(name)
    if value is None:
        if required:
            raise BadBody(f"'{name}' is required: a time like 2026-11-26T18:00:00+08:00 (no offset = local time)")
        return None
    if not isinstance(value, str):
        raise BadBody(f"'{name}' must be a string time")
    return bc.parse_time(current_app, value)


def audience_field(body: dict) -> list[str]:
    audience = body.get("audience")
    if isinstance(audience, str):
        audience = [audience]
    if not isinstance(audience, list) or not all(isinstance(a, str) for a in audience):
        raise BadBody("'audience' must be a list like [\"khoroo:BGD-07\", \"group:volunteers\"]")
    return audience


def bad_request(exc: Exception):
    return jsonify(error="bad_request", detail=str(exc)), 400


def _meeting_fields(body: dict) -> dict:
    title_mn, title_en = pair(body, "title")
    place_mn, place_en = pair(body, "place")
    minutes = body.get("reminder_minutes")
    if minutes is not None and not isinstance(minutes, list):
        raise BadBody("'reminder_minutes' must be a list of whole minutes, e.g. [4320, 120]")
    templates = body.get("templates")
    if templates is not None and not isinstance(templates, dict):
        raise BadBody("'templates' must be an object: {\"notice\": {\"mn\": …, \"en\": …}, …}")
    return {"kind": body.get("kind", "inh"), "title_mn": title_mn, "title_en": title_en, "place_mn": place_mn,
            "place_en": place_en, "starts_at": time_field(body, "starts_at", required=True),
            "notice_at": time_field(body, "notice_at"), "audience": audience_field(body),
            "reminder_minutes": minutes, "templates": templates, "latin": bool(body.get("latin"))}


@bp.post("/meetings")
@require_role("staff")
@accepts(body=schemas.MeetingIn)
@responds(201, schemas.MeetingOut)
@responds(200, schemas.PreviewOut, description="the preview of a dry run: nothing is queued")
def create_meeting():
    """Create a meeting: its notice goes now (or at notice_at), reminders are planned; dry_run previews."""
    try:
        body = request_body()
        fields = _meeting_fields(body)
        require_audience_in_scope(fields["audience"])
        if body.get("dry_run"):
            clean = meetings.check_meeting(current_app, fields)
            texts = meetings.preview_texts(current_app, clean, "notice")
            view = bc.preview(current_app, clean["audience"], texts, clean["latin"], fields["notice_at"] or utcnow())
            return jsonify(dry_run=True, notice=view.as_dict(current_app))
        meeting = meetings.create_meeting(current_app, created_by=g.api_token.name, **fields)
    except (BadBody, bc.BroadcastError) as exc:
        return bad_request(exc)
    audit("meeting.create", f"meeting:{meeting.id}")
    return jsonify(meetings.meeting_summary(current_app, meeting)), 201


@bp.get("/meetings")
@require_role("staff")
@accepts(query=schemas.MeetingListQuery)
@responds(200, schemas.MeetingList)
def list_meetings():
    """Upcoming meetings (?all=1 for every meeting), newest start last, with tallies."""
    include_past = request_query().all in ("1", "true", "yes")
    unit_ids = scope_unit_ids(current_principal().scope)
    return jsonify(meetings=[meetings.meeting_summary(current_app, m)
                             for m in store.meetings_list(utcnow(), include_past)
                             if audience_within(m.audience, unit_ids)])


def _meeting_or_404(meeting_id: int):
    """The meeting if its whole audience is inside the caller's scope; else the same 404 as for no meeting."""
    meeting = store.get_meeting(meeting_id)
    if meeting is None or not audience_within(meeting.audience, scope_unit_ids(current_principal().scope)):
        return None, (jsonify(error="not_found", detail=f"no meeting {meeting_id} in this token's scope"), 404)
    return meeting, None


def require_audience_in_scope(audience: list[str]) -> None:
    """Staff send only to people inside their scope."""
    try:
        store.validate_audience(audience)
    except store.UnknownAudience as exc:
        raise BadBody(str(exc)) from None
    if not audience_within(audience, scope_unit_ids(current_principal().scope)):
        raise BadBody(f"the audience must lie inside this token's scope ({current_principal().scope})")


@bp.get("/meetings/<int:meeting_id>")
@require_role("staff")
@responds(200, schemas.MeetingOut)
def show_meeting(meeting_id: int):
    """One meeting with its sends and tally: yes, no, questions, sent, delivered, failed."""
    meeting, error = _meeting_or_404(meeting_id)
    if error:
        return error
    summary = meetings.meeting_summary(current_app, meeting)
    questions = store.questions_of(meeting)
    summary["questions"] = [{"text": mask_free_text(q.text), "at": bc.to_local(current_app, q.created_at).isoformat()}
                            for q in questions]
    if questions:
        audit("meeting.questions_read", f"meeting:{meeting.id}", f"{len(questions)} questions")
    return jsonify(summary)


@bp.patch("/meetings/<int:meeting_id>")
@require_role("staff")
@accepts(body=schemas.MeetingChange)
@responds(200, schemas.MeetingOut)
def change_meeting(meeting_id: int):
    """Move ({"starts_at": …, "place": …}) or cancel ({"status": "cancelled"}) a meeting."""
    meeting, error = _meeting_or_404(meeting_id)
    if error:
        return error
    try:
        body = request_body()
        if body.get("status") == "cancelled":
            meetings.cancel_meeting(current_app, meeting, created_by=g.api_token.name)
            action = "meeting.cancel"
        elif body.get("starts_at") or body.get("place") or body.get("place_mn"):
            place_mn, place_en = pair(body, "place")
            starts_at = time_field(body, "starts_at") or meeting.starts_at
            meetings.move_meeting(current_app, meeting, starts_at, place_mn, place_en, created_by=g.api_token.name)
            action = "meeting.move"
        else:
            raise BadBody("send {\"starts_at\": …} and/or {\"place\": …} to move, or {\"status\": \"cancelled\"}")
    except (BadBody, bc.BroadcastError) as exc:
        return bad_request(exc)
    audit(action, f"meeting:{meeting.id}")
    return jsonify(meetings.meeting_summary(current_app, store.get_meeting(meeting.id)))
