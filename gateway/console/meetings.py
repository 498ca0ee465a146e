"""Meetings: create one (audience from the admin-unit tree or a contact group), with a live SMS preview
(characters, segments, cost, Cyrillic or Latin); then the RSVP tally, the questions people sent, move or cancel.
Staff and up, within their units. Everything goes through gateway.meetings, as the CLI and API do."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateTimeLocalField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from gateway import broadcasts as bc
from gateway import meetings
from gateway.console import scope
from gateway.console.audience import AudienceMixin, sms_preview
from gateway.console.auth import audit, current_language, role
from gateway.console.forms import ConsoleForm
from storage import meetings as store
from storage.db import utcnow
from storage.phones import mask_phones_in

bp = Blueprint("meetings", __name__, url_prefix="/meetings")
PURPOSE_NAMES = {"notice": _l("notice"), "reminder": _l("reminder"), "correction": _l("correction"),
                 "cancellation": _l("cancellation"), "broadcast": _l("broadcast")}
KIND_NAMES = {"inh": _l("Citizens' public meeting (ИНХ)"), "interface": _l("Interface meeting (scorecard)"),
              "consultation": _l("Consultation"), "ldf": _l("Local development fund")}
TIME_FORMAT = "%Y-%m-%dT%H:%M"


SEND_NAMES = {"scheduled": _l("scheduled"), "enqueuing": _l("queueing"), "queued": _l("sent out"),
              "cancelled": _l("cancelled"), "dropped": _l("dropped (too late)")}


class MeetingForm(AudienceMixin, ConsoleForm):
    kind = SelectField(_l("Kind"), choices=[(k, KIND_NAMES[k]) for k in meetings.KINDS])
    title_mn = StringField(_l("Title in Mongolian"), validators=[DataRequired(), Length(max=120)])
    title_en = StringField(_l("Title in English"), validators=[Optional(), Length(max=120)])
    place_mn = StringField(_l("Place in Mongolian"), validators=[DataRequired(), Length(max=120)])
    place_en = StringField(_l("Place in English"), validators=[Optional(), Length(max=120)])
    starts_at = DateTimeLocalField(_l("Starts (Ulaanbaatar time)"), format=TIME_FORMAT, validators=[DataRequired()])
    notice_at = DateTimeLocalField(_l("Send the notice at (empty: now)"), format=TIME_FORMAT,
                                   validators=[Optional()])
    script = RadioField(_l("Mongolian text in"), choices=[("cyrl", _l("Cyrillic (as each person prefers)")),
                                                          ("latn", _l("Latin letters for everyone (cheaper)"))],
                        default="cyrl")
    remind_3d = BooleanField(_l("Reminder 3 days before"), default=True)
    remind_2h = BooleanField(_l("Reminder 2 hours before"), default=True)


class MoveForm(ConsoleForm):
    starts_at = DateTimeLocalField(_l("New start (Ulaanbaatar time)"), format=TIME_FORMAT,
                                   validators=[DataRequired()])
    place_mn = StringField(_l("Place in Mongolian"), validators=[Optional(), Length(max=120)])
    place_en = StringField(_l("Place in English"), validators=[Optional(), Length(max=120)])


class CancelForm(ConsoleForm):
    confirm = BooleanField(_l("Yes, cancel this meeting and tell everyone who was told"),
                           validators=[DataRequired()])


def _fields(form: MeetingForm) -> dict:
    minutes = [m for m, on in ((4320, form.remind_3d.data), (120, form.remind_2h.data)) if on]
    return {"kind": form.kind.data, "title_mn": form.title_mn.data or "", "title_en": form.title_en.data or None,
            "place_mn": form.place_mn.data or "", "place_en": form.place_en.data or None,
            "starts_at": bc.to_utc(current_app, form.starts_at.data) if form.starts_at.data else None,
            "notice_at": bc.to_utc(current_app, form.notice_at.data) if form.notice_at.data else None,
            "audience": form.audience(), "reminder_minutes": minutes, "latin": form.script.data == "latn"}


def notice_preview(fields: dict) -> dict:
    """The notice as it will look; never raises (a problem comes back as `error`)."""
    if not (fields["title_mn"].strip() and fields["place_mn"].strip() and fields["starts_at"]):
        return {"error": _("Fill in the title, the place and the start to see the SMS."), "variants": {},
                "recipients": None, "latin": fields["latin"]}
    return sms_preview(lambda: meetings.preview_texts(current_app, fields, "notice"), fields["audience"],
                       fields["latin"], fields["notice_at"])


def _meeting_form() -> MeetingForm:
    form = MeetingForm()
    form.fill_audience_choices(current_language())
    return form


@bp.get("/")
@role("staff")
def index():
    include_past = request.args.get("all") == "1"
    rows = [m for m in store.meetings_list(utcnow(), include_past) if scope.audience_allowed(m.audience)]
    return render_template("console/meetings.html", rows=[(m, store.meeting_tally(m)) for m in rows],
                           include_past=include_past, kind_names=KIND_NAMES)


@bp.route("/new", methods=["GET", "POST"])
@role("staff")
def create():
    form = _meeting_form()
    preview = None
    if request.method == "POST" and form.validate_on_submit():
        fields = _fields(form)
        if request.form.get("action") == "preview":
            preview = notice_preview(fields)
        else:
            try:
                meeting = meetings.create_meeting(current_app, created_by=g.principal.name, **fields)
            except bc.BroadcastError as exc:
                form.title_mn.errors = list(form.title_mn.errors) + [str(exc)]
                return render_template("console/meeting_new.html", form=form,
                                       preview=notice_preview(fields)), 400
            audit("meeting.create", f"meeting:{meeting.id}")
            flash(_("The meeting is saved. The notice and reminders are planned."))
            return redirect(url_for(".show", meeting_id=meeting.id))
    elif request.method == "POST":
        return render_template("console/meeting_new.html", form=form, preview=None), 400
    return render_template("console/meeting_new.html", form=form, preview=preview)


@bp.get("/preview")
@role("staff")
def preview_json():
    """The live preview (JSON) for the form's script: the same function as the server-rendered preview."""
    form = MeetingForm(formdata=request.args, meta={"csrf": False})
    form.fill_audience_choices(current_language())
    form.validate()
    fields = _fields(form)
    fields["audience"] = [spec for spec in fields["audience"] if spec in dict(form.units.choices + form.groups.choices)]
    return jsonify(html=render_template("console/_sms_preview.html", preview=notice_preview(fields)))


def _meeting(meeting_id: int) -> store.Meeting:
    meeting = store.get_meeting(meeting_id)
    if meeting is None or not scope.audience_allowed(meeting.audience):
        abort(404)
    return meeting


def _show(meeting: store.Meeting, move: MoveForm | None = None, cancel: CancelForm | None = None, code: int = 200):
    if move is None:
        move = MoveForm()
        move.starts_at.data = bc.to_local(current_app, meeting.starts_at).replace(tzinfo=None)
    questions = [(q.created_at, mask_phones_in(q.text)) for q in store.questions_of(meeting)]
    return render_template("console/meeting.html", m=meeting, summary=meetings.meeting_summary(current_app, meeting),
                           tally=store.meeting_tally(meeting), questions=questions, sends=store.meeting_sends(meeting),
                           move_form=move, cancel_form=cancel or CancelForm(), kind_names=KIND_NAMES,
                           purpose_names=PURPOSE_NAMES, send_names=SEND_NAMES), code


@bp.get("/<int:meeting_id>")
@role("staff")
def show(meeting_id: int):
    return _show(_meeting(meeting_id))


@bp.post("/<int:meeting_id>/move")
@role("staff")
def move(meeting_id: int):
    meeting = _meeting(meeting_id)
    form = MoveForm()
    if not form.validate_on_submit():
        return _show(meeting, move=form, code=400)
    try:
        meetings.move_meeting(current_app, meeting, bc.to_utc(current_app, form.starts_at.data),
                              form.place_mn.data or None, form.place_en.data or None, created_by=g.principal.name)
    except bc.BroadcastError as exc:
        form.starts_at.errors = [str(exc)]
        return _show(meeting, move=form, code=400)
    audit("meeting.move", f"meeting:{meeting.id}")
    flash(_("The meeting is moved. A correction goes out and the reminders are planned again."))
    return redirect(url_for(".show", meeting_id=meeting.id))


@bp.post("/<int:meeting_id>/cancel")
@role("staff")
def cancel(meeting_id: int):
    meeting = _meeting(meeting_id)
    form = CancelForm()
    if not form.validate_on_submit():
        return _show(meeting, cancel=form, code=400)
    meetings.cancel_meeting(current_app, meeting, created_by=g.principal.name)
    audit("meeting.cancel", f"meeting:{meeting.id}")
    flash(_("The meeting is cancelled. Everyone who was told gets a cancellation."))
    return redirect(url_for(".show", meeting_id=meeting.id))

