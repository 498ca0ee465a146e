"""Scorecards (CVA): rounds with indicators in Mongolian and English, opened and closed; the provider's
self-scores and the interface meeting's action items; live results with small cells suppressed. Everyone sees
the rounds of their area; staff and up run them. Storage does the work (storage.scorecards, storage.digests)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    DateTimeLocalField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from gateway import broadcasts as bc
from gateway import clock, digests
from gateway.console import scope
from gateway.console.audience import unit_choices
from gateway.console.auth import audit, current_language, role
from gateway.console.forms import ConsoleForm
from storage import digests as digest_store
from storage import scorecards as store

bp = Blueprint("scorecards", __name__, url_prefix="/scorecards")
STATUS_NAMES = {"draft": _l("draft"), "open": _l("open"), "closed": _l("closed")}
ACTION_NAMES = {"planned": _l("planned"), "in_progress": _l("in progress"), "done": _l("done"),
                "dropped": _l("dropped")}
GROUP_NAMES = {"women": _l("Women"), "men": _l("Men"), "youth": _l("Youth"), "elderly": _l("Elderly"),
               "unspecified": _l("Not stated")}
SP_KINDS = ("kindergarten", "school", "health_centre", "water_kiosk", "waste_route", "hospital", "other")


class IndicatorRow(Form):
    code = StringField(_l("Code"), validators=[Optional(), Length(max=8)])
    mn = StringField(_l("Indicator in Mongolian"), validators=[Optional(), Length(max=store.MAX_TEXT)])
    en = StringField(_l("Indicator in English"), validators=[Optional(), Length(max=store.MAX_TEXT)])


class RoundForm(ConsoleForm):
    service_point = SelectField(_l("Service point"), choices=[], validate_choice=False)
    new_code = StringField(_l("New service point: code"), validators=[Optional(), Length(max=40)])
    new_kind = SelectField(_l("New service point: kind"), choices=[(k, k) for k in SP_KINDS], default="other",
                           validate_choice=False)
    new_name_mn = StringField(_l("New service point: name in Mongolian"), validators=[Optional(), Length(max=120)])
    new_name_en = StringField(_l("New service point: name in English"), validators=[Optional(), Length(max=120)])
    new_unit = SelectField(_l("New service point: area"), choices=[], validate_choice=False)
    indicators = FieldList(FormField(IndicatorRow), min_entries=6, max_entries=12)
    min_cell = IntegerField(_l("Hide groups smaller than"), default=5,
                            validators=[DataRequired(), NumberRange(min=1, max=store.MAX_MIN_CELL)])
    opens_on = DateField(_l("Opens on"), validators=[Optional()])
    closes_on = DateField(_l("Closes on"), validators=[Optional()])
    meeting_at = DateTimeLocalField(_l("Interface meeting (Ulaanbaatar time)"), format="%Y-%m-%dT%H:%M",
                                    validators=[Optional()])
    meeting_place_mn = StringField(_l("Meeting place in Mongolian"), validators=[Optional(), Length(max=120)])
    meeting_place_en = StringField(_l("Meeting place in English"), validators=[Optional(), Length(max=120)])


class SelfScoreForm(ConsoleForm):
    indicator = SelectField(_l("Indicator"), choices=[], validate_choice=False)
    score = DecimalField(_l("Provider's own score (1-5; empty removes it)"), places=1,
                         validators=[Optional(), NumberRange(min=1, max=5)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=store.MAX_TEXT)])


class ActionForm(ConsoleForm):
    action = TextAreaField(_l("Action agreed"), validators=[DataRequired(), Length(max=store.MAX_TEXT)])
    owner_role = StringField(_l("Who does it (role)"), validators=[DataRequired(), Length(max=store.MAX_TEXT)])
    owner_org = StringField(_l("Organisation"), validators=[DataRequired(), Length(max=store.MAX_TEXT)])
    due_on = DateField(_l("Due on"), validators=[DataRequired()])
    indicator = SelectField(_l("Indicator"), choices=[], validate_choice=False)


class ActionUpdateForm(ConsoleForm):
    item = IntegerField(validators=[DataRequired()])
    status = SelectField(_l("Status"), choices=[(k, v) for k, v in ACTION_NAMES.items()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=store.MAX_TEXT)])


def _rounds() -> list[store.Round]:
    return [r for r in store.list_rounds() if scope.includes_unit(r.service_point.admin_unit_id)]


def _round(round_id: int) -> store.Round:
    round_ = store.Round.get_or_none(store.Round.id == round_id)
    if round_ is None or not scope.includes_unit(round_.service_point.admin_unit_id):
        abort(404)
    return round_


@bp.get("/")
@role("cso")
def index():
    rows = _rounds()
    counts = {r.id: store.Respondent.select().where(store.Respondent.round == r).count() for r in rows}
    return render_template("console/scorecards.html", rows=rows, counts=counts, status_names=STATUS_NAMES)


def _round_form() -> RoundForm:
    form = RoundForm()
    language = current_language()
    points = store.service_points_in(scope.id_list())
    form.service_point.choices = [("", _("— a new service point (below) —"))] + [
        (p.code, f"{p.name_en if language == 'en' else p.name_mn} ({p.code})") for p in points]
    form.new_unit.choices = [(value.split(":", 1)[1], label) for value, label in unit_choices(language)]
    return form


@bp.route("/new", methods=["GET", "POST"])
@role("staff")
def create():
    form = _round_form()
    if request.method == "GET":
        return render_template("console/scorecard_new.html", form=form)
    if form.validate_on_submit():
        try:
            round_ = _create_round(form)
        except store.RoundError as exc:
            return render_template("console/scorecard_new.html", form=form, error=str(exc)), 400
        audit("round.create", f"round:{round_.id}")
        flash(_("The round is saved as a draft. Open it when scoring should start."))
        return redirect(url_for(".show", round_id=round_.id))
    return render_template("console/scorecard_new.html", form=form), 400


def _create_round(form: RoundForm) -> store.Round:
    allowed_points = {value for value, _label in form.service_point.choices if value}
    if form.service_point.data:
        if form.service_point.data not in allowed_points:
            raise store.RoundError(_("That service point is outside your area."))
        point = store.service_point(form.service_point.data)
    else:
        allowed_units = {value for value, _label in form.new_unit.choices}
        if form.new_unit.data not in allowed_units or not (form.new_code.data or "").strip() \
                or form.new_kind.data not in SP_KINDS:
            raise store.RoundError(_("Choose a service point, or give the new one's code, name and area."))
        point = store.service_point(form.new_code.data.strip(), admin_unit_code=form.new_unit.data,
                                    kind=form.new_kind.data, name_mn=(form.new_name_mn.data or "").strip() or None,
                                    name_en=(form.new_name_en.data or "").strip() or None)
    indicators = [{"code": row.code.data, "mn": row.mn.data, "en": row.en.data}
                  for row in form.indicators if (row.code.data or row.mn.data or row.en.data)]
    meeting_at = bc.to_utc(current_app, form.meeting_at.data) if form.meeting_at.data else None
    return store.create_round(point, indicators, min_cell=form.min_cell.data, opens_on=form.opens_on.data,
                              closes_on=form.closes_on.data, meeting_at=meeting_at,
                              meeting_place_mn=form.meeting_place_mn.data or None,
                              meeting_place_en=form.meeting_place_en.data or None)


def live_results(round_: store.Round) -> dict | None:
    """This round's block of the digest of the week it is in (or closed in): the same suppression as digests."""
    zone = current_app.config["GATEWAY"]["timezone"]
    when = round_.closed_at if round_.status == "closed" and round_.closed_at else None
    week = clock.week_of(bc.to_local(current_app, when).date(), zone) if when \
        else digests.current_week(current_app)
    for section in digest_store.scorecard_section(week, [round_.service_point.admin_unit_id]):
        if section["round"]["id"] == round_.id:
            return section
    return None


def _show(round_: store.Round, code: int = 200, **forms):
    summary = store.round_summary(round_)
    choices = [(i["code"], f"{i['code']}: {i['en'] if current_language() == 'en' else i['mn']}")
               for i in summary["indicators"]]
    self_form = forms.get("self_form") or SelfScoreForm(prefix="self")
    self_form.indicator.choices = choices
    action_form = forms.get("action_form") or ActionForm(prefix="action")
    action_form.indicator.choices = [("", "—")] + choices
    return render_template("console/scorecard.html", r=round_, summary=summary, results=live_results(round_),
                           status_names=STATUS_NAMES, action_names=ACTION_NAMES, group_names=GROUP_NAMES,
                           self_form=self_form, action_form=action_form,
                           update_form=forms.get("update_form") or ActionUpdateForm(prefix="update")), code


@bp.get("/<int:round_id>")
@role("cso")
def show(round_id: int):
    return _show(_round(round_id))


@bp.post("/<int:round_id>/status")
@role("staff")
def change_status(round_id: int):
    round_ = _round(round_id)
    target = request.form.get("status")
    try:
        store.set_status(round_, target if target in ("open", "closed") else "")
    except store.RoundError:
        flash(_("This round cannot change to that status."), "error")
        return redirect(url_for(".show", round_id=round_.id)), 409
    audit(f"round.{target}", f"round:{round_.id}")
    flash(_("The round is open: people can score it now.") if target == "open" else _("The round is closed."))
    return redirect(url_for(".show", round_id=round_.id))


@bp.post("/<int:round_id>/self-score")
@role("staff")
def self_score(round_id: int):
    round_ = _round(round_id)
    form = SelfScoreForm(prefix="self")
    form.indicator.choices = [(i.code, i.code) for i in round_.indicators]
    if not form.validate_on_submit() or form.indicator.data not in dict(form.indicator.choices):
        return _show(round_, 400, self_form=form)
    store.set_self_score(round_, form.indicator.data, float(form.score.data) if form.score.data else None,
                         form.note.data)
    audit("round.self_score", f"round:{round_.id} {form.indicator.data}")
    flash(_("The provider's score is saved."))
    return redirect(url_for(".show", round_id=round_.id))


@bp.post("/<int:round_id>/actions")
@role("staff")
def add_action(round_id: int):
    round_ = _round(round_id)
    form = ActionForm(prefix="action")
    form.indicator.choices = [("", "—")] + [(i.code, i.code) for i in round_.indicators]
    if not form.validate_on_submit():
        return _show(round_, 400, action_form=form)
    store.add_action_item(round_, form.action.data.strip(), form.owner_role.data.strip(), form.owner_org.data.strip(),
                          form.due_on.data, form.indicator.data or None)
    audit("round.action_item", f"round:{round_.id}")
    flash(_("The action item is added."))
    return redirect(url_for(".show", round_id=round_.id) + "#actions")


@bp.post("/<int:round_id>/actions/update")
@role("staff")
def update_action(round_id: int):
    round_ = _round(round_id)
    form = ActionUpdateForm(prefix="update")
    item = store.ActionItem.get_or_none((store.ActionItem.id == (form.item.data or 0))
                                        & (store.ActionItem.round == round_)) if form.validate_on_submit() else None
    if item is None:
        return _show(round_, 400, update_form=form)
    store.update_action_item(item, form.status.data, form.note.data or None, g.principal.name)
    audit("round.action_update", f"action:{item.id} {form.status.data}")
    flash(_("The action item is updated."))
    return redirect(url_for(".show", round_id=round_.id) + "#actions")

