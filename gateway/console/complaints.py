"""Complaints: the inbox (status, category, unit, overdue), a detail page with its history, status changes with a
note, redaction before sharing, and the reply-to-the-citizen thread. Staff and up, within their units; the
restricted (sensitive) queue is for admins only, and every read of a complaint's text is audited."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from gateway import complaint_thread
from gateway import complaints as service
from gateway.console import scope
from gateway.console.auth import audit, current_language, role
from gateway.console.forms import ConsoleForm, FilterForm, page_number
from storage import complaints as store
from storage import console as queries
from storage.db import utcnow
from storage.models import AdminUnit
from storage.phones import mask_phones_in

bp = Blueprint("complaints", __name__, url_prefix="/complaints")
PER_PAGE = 50
STATUS_NAMES = {"new": _l("new"), "routed": _l("routed"), "answered": _l("answered"), "resolved": _l("resolved"),
                "closed": _l("closed"), "open": _l("open (not resolved)")}


MESSAGE_NAMES = {"queued": _l("waiting"), "sending": _l("sending"), "sent": _l("sent"), "delivered": _l("delivered"),
                 "failed": _l("failed"), "cancelled": _l("cancelled")}


class InboxFilter(FilterForm):
    status = SelectField(_l("Status"), choices=[], validators=[Optional()])
    category = SelectField(_l("Category"), choices=[], validators=[Optional()])
    unit = StringField(_l("Admin unit code"), validators=[Optional(), Length(max=40)])
    overdue = BooleanField(_l("Only overdue"))
    restricted = BooleanField(_l("Restricted queue (sensitive)"))


class StatusForm(ConsoleForm):
    status = SelectField(_l("New status"), choices=[], validators=[DataRequired()])
    note = TextAreaField(_l("Note (what was done)"), validators=[Optional(), Length(max=500)])


class RedactForm(ConsoleForm):
    text = TextAreaField(_l("Text to share (names and numbers removed)"), validators=[DataRequired(), Length(max=2000)])


class ReplyForm(ConsoleForm):
    text = TextAreaField(_l("Message to the citizen"),
                         validators=[DataRequired(), Length(max=complaint_thread.MAX_REPLY)])


class SensitiveForm(ConsoleForm):
    sensitive = BooleanField(_l("Sensitive: move to the restricted queue"))


def category_names(language: str) -> dict[str, str]:
    """The complaint flow's own names for its categories (water → "Ус түгээх байр"), in the reader's language."""
    flow = current_app.extensions["gateway.flows"].get("complaint")
    step = flow.steps.get("category") if flow else None
    choices = step.answer.choices if step and step.answer else ()
    return {c.key: (c.label.en or c.label.mn) if language == "en" else (c.label.mn or c.label.en) for c in choices}


def _is_admin() -> bool:
    return g.principal.role == "admin"


@bp.get("/")
@role("staff")
def index():
    form = InboxFilter()
    form.status.choices = [("", _("any"))] + [(key, STATUS_NAMES[key]) for key in ("open",) + store.STATUSES]
    names = category_names(current_language())
    form.category.choices = [("", _("any"))] + [(c, names.get(c, c)) for c in queries.complaint_categories()]
    status = form.status.data if form.status.data in STATUS_NAMES else None
    category = form.category.data or None
    unit_ids = None
    if form.unit.data:
        try:
            unit_ids = scope_filtered(form.unit.data.strip())
        except LookupError:
            form.unit.errors = [_("No admin unit with this code in your area.")]
            unit_ids = []
    restricted = bool(form.restricted.data) and _is_admin()
    page = page_number(request.args.get("page"))
    statuses = store.OPEN_STATUSES if status == "open" else (status,) if status else None
    rows, total = queries.complaint_inbox(
        scope.ids(), statuses=statuses, category=category, unit_ids=unit_ids,
        overdue=bool(form.overdue.data), now=utcnow(), sensitive="only" if restricted else "exclude",
        limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    if restricted:
        audit("complaints.restricted_list", None)

    def page_args(number: int) -> str:
        return urlencode({**request.args.to_dict(), "page": number})
    return render_template("console/complaints.html", form=form, rows=rows, total=total, page=page,
                           per_page=PER_PAGE, page_args=page_args, now=utcnow(), status_names=STATUS_NAMES,
                           open_statuses=store.OPEN_STATUSES, category_names=names)


def scope_filtered(code: str) -> list[int]:
    from storage.meetings import UnknownAudience, unit_subtree_ids

    try:
        ids = unit_subtree_ids("unit", code)
    except UnknownAudience:
        raise LookupError(code) from None
    area = scope.ids()
    if area is not None and ids[0] not in area and not set(ids) & area:
        raise LookupError(code)
    return ids if area is None else [i for i in ids if i in area]


def load(ref: str) -> store.Complaint:
    """The complaint, if the user may see it; 404 otherwise (the same answer as for one that does not exist)."""
    complaint = store.find(ref[:20])
    if complaint is None or not scope.includes_unit(complaint.admin_unit_id):
        abort(404)
    if complaint.sensitive and not _is_admin():
        abort(404)
    audit("complaint.restricted_read" if complaint.sensitive else "complaint.read", complaint.ref)
    return complaint


def _forms(complaint: store.Complaint) -> dict:
    status = StatusForm(prefix="status")
    status.status.choices = [(s, STATUS_NAMES[s]) for s in store.TRANSITIONS.get(complaint.status, ())]
    redact = RedactForm(prefix="redact")
    if not redact.text.data:
        redact.text.data = complaint.redacted_text or mask_phones_in(complaint.text)
    sensitive = SensitiveForm(prefix="sensitive")
    if request.method == "GET":
        sensitive.sensitive.data = complaint.sensitive
    return {"status_form": status, "redact_form": redact, "reply_form": ReplyForm(prefix="reply"),
            "sensitive_form": sensitive}


def _detail(complaint: store.Complaint, forms: dict, code: int = 200):
    unit = AdminUnit.get_or_none(AdminUnit.id == complaint.admin_unit_id) if complaint.admin_unit_id else None
    return render_template(
        "console/complaint.html", c=complaint, view=store.complaint_view(complaint), unit=unit,
        events=list(complaint.events.order_by(store.ComplaintEvent.at, store.ComplaintEvent.id)),
        thread=queries.thread_of(complaint.id), can_reply=complaint_thread.can_reply(complaint),
        status_names=STATUS_NAMES, now=utcnow(), category_names=category_names(current_language()),
        message_names=MESSAGE_NAMES, **forms), code


@bp.get("/<ref>")
@role("staff")
def show(ref: str):
    complaint = load(ref)
    return _detail(complaint, _forms(complaint))


@bp.post("/<ref>/status")
@role("staff")
def change_status(ref: str):
    complaint = load(ref)
    forms = _forms(complaint)
    form = forms["status_form"]
    if not form.validate_on_submit():
        return _detail(complaint, forms, 400)
    try:
        asked = service.change_status(current_app, complaint, form.status.data, form.note.data or None,
                                      g.principal.name)
    except store.ComplaintError as exc:
        form.status.errors = [str(exc)]
        return _detail(complaint, forms, 409)
    audit("complaint.status", f"{complaint.ref} → {form.status.data}")
    flash(_("Status changed.") + (" " + _("The citizen was asked whether it is solved.") if asked else ""))
    return redirect(url_for(".show", ref=complaint.ref))


@bp.post("/<ref>/redact")
@role("staff")
def redact(ref: str):
    complaint = load(ref)
    forms = _forms(complaint)
    form = forms["redact_form"]
    if not form.validate_on_submit() or not form.text.data.strip():
        if not form.errors:
            form.text.errors = [_("Write the text to share.")]
        return _detail(complaint, forms, 400)
    store.redact(complaint, mask_phones_in(form.text.data.strip()), g.principal.name)
    audit("complaint.redact", complaint.ref)
    flash(_("The shareable text is saved. Only this text appears in reports."))
    return redirect(url_for(".show", ref=complaint.ref))


@bp.post("/<ref>/reply")
@role("staff")
def reply(ref: str):
    complaint = load(ref)
    forms = _forms(complaint)
    form = forms["reply_form"]
    if not form.validate_on_submit():
        return _detail(complaint, forms, 400)
    try:
        complaint_thread.reply_to_complaint(current_app, complaint, form.text.data, g.principal.name)
    except complaint_thread.ThreadError:
        form.text.errors = [_("The citizen cannot be reached: the complaint has no contact, or they said STOP.")]
        return _detail(complaint, forms, 409)
    audit("complaint.reply", complaint.ref)
    flash(_("Your message is queued. The citizen's answer will appear here."))
    return redirect(url_for(".show", ref=complaint.ref) + "#thread")


@bp.post("/<ref>/sensitive")
@role("staff")
def sensitive(ref: str):
    complaint = load(ref)
    forms = _forms(complaint)
    form = forms["sensitive_form"]
    if not form.validate_on_submit():
        return _detail(complaint, forms, 400)
    flag = bool(form.sensitive.data)
    if flag == complaint.sensitive:
        return redirect(url_for(".show", ref=complaint.ref))
    if not flag and not _is_admin():
        abort(403)
    store.set_sensitive(complaint, flag, g.principal.name)
    audit("complaint.sensitive", f"{complaint.ref} {flag}")
    flash(_("Moved to the restricted queue: only admins see it now.") if flag else _("Moved back to the inbox."))
    return redirect(url_for(".show", ref=complaint.ref) if _is_admin() else url_for(".index"))
