"""Broadcasts: compose (Mongolian, optional English), preview (people, segments, cost, Cyrillic or Latin),
schedule, follow progress and delivery counts, and cancel what is still pending. Staff and up, within their
units; sending goes through gateway.broadcasts like the CLI and the API."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateTimeLocalField, RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from gateway import broadcasts as bc
from gateway.console import scope
from gateway.console.audience import AudienceMixin, sms_preview
from gateway.console.auth import audit, current_language, role
from gateway.console.forms import ConsoleForm
from storage import meetings as store

bp = Blueprint("broadcasts", __name__, url_prefix="/broadcasts")
LISTED = 100
STATUS_NAMES = {"scheduled": _l("scheduled"), "enqueuing": _l("queueing"), "queued": _l("sending"),
                "cancelled": _l("cancelled"), "dropped": _l("dropped (too late)")}
MESSAGE_STATUSES = ("queued", "sending", "sent", "delivered", "failed", "cancelled")


class BroadcastForm(AudienceMixin, ConsoleForm):
    text_mn = TextAreaField(_l("Message in Mongolian"), validators=[DataRequired(), Length(max=bc.MAX_TEXT_CHARS)])
    text_en = TextAreaField(_l("Message in English (optional)"), validators=[Optional(),
                                                                             Length(max=bc.MAX_TEXT_CHARS)])
    send_at = DateTimeLocalField(_l("Send at (Ulaanbaatar time; empty: now)"), format="%Y-%m-%dT%H:%M",
                                 validators=[Optional()])
    script = RadioField(_l("Mongolian text in"), choices=[("cyrl", _l("Cyrillic (as each person prefers)")),
                                                          ("latn", _l("Latin letters for everyone (cheaper)"))],
                        default="cyrl")


class CancelForm(ConsoleForm):
    confirm = BooleanField(_l("Yes, cancel everything not sent yet"), validators=[DataRequired()])


def _fields(form: BroadcastForm) -> dict:
    return {"text_mn": form.text_mn.data or "", "text_en": (form.text_en.data or "").strip() or None,
            "send_at": bc.to_utc(current_app, form.send_at.data) if form.send_at.data else None,
            "audience": form.audience(), "latin": form.script.data == "latn"}


def broadcast_preview(fields: dict) -> dict:
    def texts():
        bc.check_template(fields["text_mn"], (), "Mongolian")
        if fields["text_en"]:
            bc.check_template(fields["text_en"], (), "English")
        return bc.render_variants({"mn": fields["text_mn"], "en": fields["text_en"]}, None)

    if not fields["text_mn"].strip():
        return {"error": _("Write the message to see the SMS."), "variants": {}, "recipients": None,
                "latin": fields["latin"]}
    return sms_preview(texts, fields["audience"], fields["latin"], fields["send_at"])


def _form() -> BroadcastForm:
    form = BroadcastForm()
    form.fill_audience_choices(current_language())
    return form


@bp.get("/")
@role("staff")
def index():
    rows = [b for b in store.latest_broadcasts(LISTED) if scope.audience_allowed(b.audience)]
    from gateway.console.meetings import PURPOSE_NAMES

    return render_template("console/broadcasts.html", rows=[(b, store.status_counts([b.origin])) for b in rows],
                           status_names=STATUS_NAMES, purpose_names=PURPOSE_NAMES)


@bp.route("/new", methods=["GET", "POST"])
@role("staff")
def create():
    form = _form()
    if request.method == "GET":
        return render_template("console/broadcast_new.html", form=form, preview=None)
    if not form.validate_on_submit():
        return render_template("console/broadcast_new.html", form=form, preview=None), 400
    fields = _fields(form)
    if request.form.get("action") == "preview":
        return render_template("console/broadcast_new.html", form=form, preview=broadcast_preview(fields))
    try:
        broadcast = bc.send_plain_broadcast(current_app, fields["audience"], fields["text_mn"], fields["text_en"],
                                            fields["send_at"], fields["latin"], g.principal.name)
    except bc.BroadcastError as exc:
        form.text_mn.errors = list(form.text_mn.errors) + [str(exc)]
        return render_template("console/broadcast_new.html", form=form, preview=broadcast_preview(fields)), 400
    audit("broadcast.create", broadcast.origin)
    flash(_("The broadcast is saved.") + " " + (_("Sending has started.") if broadcast.status == "queued"
                                                 else _("It will go at the chosen time.")))
    return redirect(url_for(".show", broadcast_id=broadcast.id))


@bp.get("/preview")
@role("staff")
def preview_json():
    form = BroadcastForm(formdata=request.args, meta={"csrf": False})
    form.fill_audience_choices(current_language())
    form.validate()
    fields = _fields(form)
    known = dict(form.units.choices + form.groups.choices)
    fields["audience"] = [spec for spec in fields["audience"] if spec in known]
    return jsonify(html=render_template("console/_sms_preview.html", preview=broadcast_preview(fields)))


def _broadcast(broadcast_id: int) -> store.Broadcast:
    broadcast = store.get_broadcast(broadcast_id)
    if broadcast is None or not scope.audience_allowed(broadcast.audience):
        abort(404)
    return broadcast


def _show(broadcast: store.Broadcast, cancel: CancelForm | None = None, code: int = 200):
    counts = store.status_counts([broadcast.origin])
    return render_template("console/broadcast.html", b=broadcast, counts=counts, total=sum(counts.values()),
                           message_statuses=MESSAGE_STATUSES, status_names=STATUS_NAMES,
                           pending=broadcast.status == "scheduled" or counts.get("queued", 0) > 0,
                           cancel_form=cancel or CancelForm()), code


@bp.get("/<int:broadcast_id>")
@role("staff")
def show(broadcast_id: int):
    return _show(_broadcast(broadcast_id))


@bp.post("/<int:broadcast_id>/cancel")
@role("staff")
def cancel(broadcast_id: int):
    broadcast = _broadcast(broadcast_id)
    form = CancelForm()
    if not form.validate_on_submit():
        return _show(broadcast, form, 400)
    cancelled = bc.cancel_broadcast(current_app, broadcast, f"cancelled by {g.principal.name}")
    audit("broadcast.cancel", broadcast.origin)
    flash(_("Cancelled: %(n)d messages will not be sent.", n=cancelled))
    return redirect(url_for(".show", broadcast_id=broadcast.id))
