"""Local Development Fund (ОНХС) votes: the votes of the user's area with their turnout; an admin creates one
(2–12 projects in Mongolian and English), changes a draft, opens it and closes it (which texts the ranking to the
voters); everyone sees the ranking, the turnout and the group split as storage releases it, staff and up the
fairness flags. The counting, the small-cell rule and the results SMS are gateway.votes' and storage.votes',
the same code as the CLI and the API."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, FieldList, Form, FormField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from gateway import clock, votes
from gateway.console.audience import unit_choices
from gateway.console.auth import audit, current_language, role
from gateway.console.forms import ConsoleForm
from gateway.console.scorecards import GROUP_NAMES, STATUS_NAMES
from gateway.digests import vote_results_csv
from storage import votes as store
from storage.runs import admin_unit_by_code

bp = Blueprint("votes", __name__, url_prefix="/votes")
SHOWN_PROJECT_ROWS = 4  # the rest of the 12 wait behind "more projects"
LIST_ORDER = {"open": 0, "draft": 1, "closed": 2}
REQUIRED = _l("Fill this in.")
WHOLE = _l("A whole number from %(min)s to %(max)s.")
TOO_LONG = _l("At most %(max)d characters.")
FLAG_NAMES = {"busy_hour": _l("Busy hour"), "new_numbers": _l("Many new numbers"),
              "project_jump": _l("Sudden jump")}


def _text(label, limit: int) -> StringField:
    """An optional one-line text field of at most `limit` characters."""
    return StringField(label, validators=[Optional(), Length(max=limit, message=TOO_LONG)])


class ProjectRow(Form):
    mn = _text(_l("Name in Mongolian"), store.MAX_NAME)
    en = _text(_l("Name in English"), store.MAX_NAME)
    latn = _text(_l("Name in Latin letters (empty: written out for you)"), store.MAX_NAME)
    about_mn = _text(_l("One line about it in Mongolian"), store.MAX_DESCRIPTION)
    about_en = _text(_l("One line about it in English"), store.MAX_DESCRIPTION)
    about_latn = _text(_l("The line in Latin letters (empty: written out for you)"), store.MAX_DESCRIPTION)

    def filled(self) -> bool:
        return any((field.data or "").strip() for field in self)

    def validate(self, extra_validators=None) -> bool:
        """A project row that is used needs both names; a line about it, both languages."""
        valid = super().validate(extra_validators)
        pairs = [(self.mn, self.en)] if self.filled() else []
        if (self.about_mn.data or "").strip() or (self.about_en.data or "").strip():
            pairs.append((self.about_mn, self.about_en))
        for pair in pairs:
            for field in pair:
                if not (field.data or "").strip():
                    field.errors.append(_("Write it in both Mongolian and English."))
                    valid = False
        return valid

    def project(self) -> dict:
        text = {name: (field.data or "").strip() or None for name, field in self._fields.items()}
        project = {"mn": text["mn"], "en": text["en"], "latn": text["latn"]}
        if text["about_mn"]:
            project["description"] = {"mn": text["about_mn"], "en": text["about_en"], "latn": text["about_latn"]}
        return project


class ChangeForm(ConsoleForm):
    """What may change while a vote is open (storage.votes.EDITABLE_WHILE_OPEN)."""

    fund_amount = IntegerField(_l("Fund amount in tögrög (for information)"),
                               validators=[Optional(), NumberRange(0, 10**15, _l("A whole number, 0 or more."))])
    closes_on = DateField(_l("Last day of voting (Ulaanbaatar time)"), validators=[Optional()])
    next_steps_mn = _text(_l("What happens next, in Mongolian (ends the results SMS)"), store.MAX_TEXT)
    next_steps_en = _text(_l("What happens next, in English"), store.MAX_TEXT)
    next_steps_latn = _text(_l("What happens next, in Latin letters (empty: written out for you)"), store.MAX_TEXT)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.closes_on.data and self.closes_on.data < clock.local_today(current_app):
            self.closes_on.errors.append(_("The last day of voting has passed: choose today or later."))
            valid = False
        return valid

    def changes(self) -> dict:
        return {"fund_amount": self.fund_amount.data, "closes_on": self.closes_on.data,
                "next_steps": {"mn": self.next_steps_mn.data, "en": self.next_steps_en.data,
                               "latn": self.next_steps_latn.data}}


class DraftForm(ChangeForm):
    """Everything of a draft but its unit."""

    projects = FieldList(FormField(ProjectRow), min_entries=store.MAX_PROJECTS, max_entries=store.MAX_PROJECTS)
    max_choices = IntegerField(_l("Each person chooses up to (1 = one project)"), default=1,
                               validators=[InputRequired(REQUIRED), NumberRange(1, store.MAX_PROJECTS, WHOLE)])
    opens_on = DateField(_l("Planned first day (Ulaanbaatar time)"), validators=[Optional()])
    min_cell = IntegerField(_l("Hide groups smaller than"), default=5,
                            validators=[InputRequired(REQUIRED), NumberRange(1, store.MAX_MIN_CELL, WHOLE)])

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        count = len(self.project_list())
        if not store.MIN_PROJECTS <= count <= store.MAX_PROJECTS:
            self.form_errors.append(_("A vote needs %(least)d to %(most)d projects; this one has %(n)d.",
                                      least=store.MIN_PROJECTS, most=store.MAX_PROJECTS, n=count))
            valid = False
        elif self.max_choices.data and self.max_choices.data > count:
            self.max_choices.errors.append(_("At most the number of projects (%(n)d).", n=count))
            valid = False
        if self.opens_on.data and self.closes_on.data and self.closes_on.data < self.opens_on.data:
            self.closes_on.errors.append(_("The last day cannot come before the first."))
            valid = False
        return valid

    def project_list(self) -> list[dict]:
        return [row.form.project() for row in self.projects if row.form.filled()]

    def changes(self) -> dict:
        return {**super().changes(), "max_choices": self.max_choices.data, "opens_on": self.opens_on.data,
                "min_cell": self.min_cell.data}


class NewVoteForm(DraftForm):
    admin_unit = SelectField(_l("Khoroo or bag"), choices=[], validate_choice=False)

    def validate_admin_unit(self, field) -> None:
        if not field.data or field.data not in dict(field.choices):
            raise ValidationError(_("Choose a khoroo or bag of your area."))


class CloseForm(ConsoleForm):
    confirm = BooleanField(_l("Yes, close the vote: nobody can vote after this, and the results SMS goes out"),
                           validators=[DataRequired(_l("Tick the box to close the vote."))])


# ---- reading ------------------------------------------------------------------------------------------------


def _round(vote_id: int) -> store.VoteRound:
    round_ = store.get_round(vote_id)
    if round_ is None or not votes.can_see(g.principal, round_):
        abort(404)
    return round_


def open_in_area() -> list[dict]:
    """The votes open in the signed-in user's area, with their turnout (the dashboard's list)."""
    found = []
    for round_ in store.list_rounds("open", votes.visible_unit_ids(g.principal)):
        turnout = store.tally(round_)["turnout"]
        found.append({"round": round_, "turnout": turnout, "share": _share(turnout)})
    return found


def _share(turnout: dict) -> float | None:
    registered = turnout["registered_in_unit"]
    return turnout["voters"] / registered if registered else None


@bp.get("/")
@role("cso")
def index():
    status = request.args.get("status")
    rounds = store.list_rounds(status if status in store.ROUND_STATUSES else None,
                               votes.visible_unit_ids(g.principal))
    rounds.sort(key=lambda r: (LIST_ORDER[r.status], -r.id))
    return render_template("console/votes.html", rows=rounds, turnouts=store.turnouts([r.id for r in rounds]),
                           status=status, status_names=STATUS_NAMES)


def project_name(project: dict) -> str:
    return project["en"] if current_language() == "en" else project["mn"]


def chart_bars(ranked: list[dict]) -> list[dict]:
    """Bar lengths in percent of the longest bar: residents' votes, then the votes from other units after them."""
    longest = max([p["votes"] + p["out_of_area_votes"] for p in ranked] + [1])
    return [{**p, "name": project_name(p), "width": round(100 * p["votes"] / longest, 1),
             "away_width": round(100 * p["out_of_area_votes"] / longest, 1)} for p in ranked]


def fairness_rows(fairness: dict, names: dict[int, str]) -> list[dict]:
    """Each flag with its local time and what it means, in the reader's language."""
    rows = []
    for flag in fairness["flags"]:
        if flag["kind"] == "busy_hour":
            text = _("%(votes)d votes in one hour; a usual hour has %(median)s.", votes=flag["votes"],
                     median=flag["median_hour"])
        elif flag["kind"] == "new_numbers":
            text = _("%(new)d of the hour's %(votes)d votes came from numbers first seen less than a day before.",
                     new=flag["from_new_numbers"], votes=flag["votes"])
        else:
            text = _("%(project)s got %(votes)d votes in %(minutes)d minutes; usually %(usual)s.",
                     project=names.get(flag["project"], flag["project"]), votes=flag["votes"],
                     minutes=flag["minutes"], usual=flag["usual_per_window"])
        rows.append({"kind": FLAG_NAMES.get(flag["kind"], flag["kind"]), "from": local_text(flag["from"]),
                     "text": text})
    return rows


def local_text(iso: str) -> str:
    """"2026-11-18T11:00+08:00" (gateway.votes' local time) as "2026-11-18 11:00"."""
    return dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")


@bp.get("/<int:vote_id>")
@role("cso")
def show(vote_id: int):
    return _show(_round(vote_id))


def _show(round_: store.VoteRound, close_form: CloseForm | None = None, code: int = 200):
    view = votes.results(current_app, round_, with_fairness=g.principal.at_least("staff"))
    audit("vote.results", f"vote:{round_.id}.page")
    ranked = sorted(view["projects"], key=lambda p: (p["rank"], p["number"]))
    names = {p["number"]: project_name(p) for p in view["projects"]}
    fairness = view.get("fairness")
    closing = round_.status == "open" and g.principal.at_least("admin")
    return render_template(
        "console/vote.html", r=round_, view=view, summary=view["vote"], ranked=ranked, bars=chart_bars(ranked),
        names=names, turnout_share=_share(view["turnout"]), group_names=GROUP_NAMES, status_names=STATUS_NAMES,
        flags=fairness_rows(fairness, names) if fairness else None,
        hourly=[{**row, "from": local_text(row["from"])} for row in fairness["hourly"]] if fairness else None,
        close_form=close_form or CloseForm(prefix="close"), recipients=store.reachable_voters(round_) if closing else 0,
    ), code


@bp.get("/<int:vote_id>/results.csv")
@role("cso")
def results_csv(vote_id: int):
    """The results as the API's results.csv: one row per project × (all, each group, out of area)."""
    round_ = _round(vote_id)
    audit("vote.results", f"vote:{vote_id}.csv")
    return vote_results_csv(current_app, round_)


# ---- creating and changing ------------------------------------------------------------------------------


def _unit_choices() -> list[tuple[str, str]]:
    """The khoroos and bags (and soums without bags) of the user's area, from the admin-unit tree."""
    units = [(value.split(":", 1)[1], label.lstrip("— ")) for value, label in unit_choices(current_language())
             if value.split(":", 1)[0] in store.UNIT_KINDS]
    return [("", _("— choose —"))] + units


@bp.route("/new", methods=["GET", "POST"])
@role("admin")
def create():
    form = NewVoteForm()
    form.admin_unit.choices = _unit_choices()
    if request.method == "GET":
        return _form_page(form, None)
    if form.validate_on_submit():
        unit = admin_unit_by_code(form.admin_unit.data, clock.local_today(current_app))
        if unit is None or not g.principal.covers(unit.id):
            abort(404)
        try:
            round_ = store.create_round(unit, form.project_list(), **form.changes())
        except store.VoteError as exc:
            form.form_errors.append(str(exc))
        else:
            audit("vote.create", f"vote:{round_.id}")
            flash(_("The vote is saved as a draft. Check it, then open it when voting should start."))
            return redirect(url_for(".show", vote_id=round_.id))
    return _form_page(form, None, 400)


def _form_page(form: ChangeForm, round_: store.VoteRound | None, code: int = 200):
    """The form; the project rows past the first few stay folded unless they hold something."""
    later = list(form.projects)[SHOWN_PROJECT_ROWS:] if isinstance(form, DraftForm) else []
    more_open = any(row.form.filled() or row.form.errors for row in later)
    return render_template("console/vote_form.html", form=form, round=round_, shown_rows=SHOWN_PROJECT_ROWS,
                           more_open=more_open), code


def _filled(form: ChangeForm, round_: store.VoteRound) -> ChangeForm:
    """The form showing the vote as it is now."""
    form.fund_amount.data, form.closes_on.data = round_.fund_amount, round_.closes_on
    form.next_steps_mn.data, form.next_steps_en.data = round_.next_steps_mn, round_.next_steps_en
    form.next_steps_latn.data = round_.next_steps_latn
    if isinstance(form, DraftForm):
        form.max_choices.data, form.opens_on.data, form.min_cell.data = (round_.max_choices, round_.opens_on,
                                                                         round_.min_cell)
        for row, project in zip(form.projects, store.projects_of(round_), strict=False):
            row.form.mn.data, row.form.en.data, row.form.latn.data = project.name_mn, project.name_en, project.name_latn
            row.form.about_mn.data, row.form.about_en.data = project.description_mn, project.description_en
            row.form.about_latn.data = project.description_latn
    return form


@bp.route("/<int:vote_id>/edit", methods=["GET", "POST"])
@role("admin")
def edit(vote_id: int):
    """A draft changes in full (but for its unit); an open vote only its last day, fund and next steps."""
    round_ = _round(vote_id)
    if round_.status == "closed":
        return _refused(round_, _("A closed vote cannot change: its results have been sent."))
    draft = round_.status == "draft"
    form = DraftForm() if draft else ChangeForm()
    if request.method == "GET":
        return _form_page(_filled(form, round_), round_)
    if form.validate_on_submit():
        try:
            store.update_round(round_, **form.changes(), **({"projects": form.project_list()} if draft else {}))
        except store.VoteError as exc:
            form.form_errors.append(str(exc))
        else:
            audit("vote.change", f"vote:{round_.id}")
            flash(_("The vote is saved."))
            return redirect(url_for(".show", vote_id=round_.id))
    return _form_page(form, round_, 400)


def _refused(round_: store.VoteRound, reason: str):
    """Back to the vote's page, which says why (a browser follows a redirect, not a 409)."""
    flash(reason, "error")
    return redirect(url_for(".show", vote_id=round_.id))


@bp.post("/<int:vote_id>/open")
@role("admin")
def open_vote(vote_id: int):
    round_ = _round(vote_id)
    if round_.closes_on and round_.closes_on < clock.local_today(current_app):
        return _refused(round_, _("The last day of voting has passed: change it before opening the vote."))
    try:
        store.set_status(round_, "open")
    except store.AlreadyOpen as exc:
        return _refused(round_, _("Vote %(n)d is already open in this khoroo or bag: close it first.", n=exc.other_id))
    except store.VoteError as exc:
        return _refused(round_, _("This vote cannot be opened: %(reason)s", reason=str(exc)))
    audit("vote.open", f"vote:{round_.id}")
    flash(_("The vote is open: people can vote by SMS and USSD, and change their vote until it closes."))
    return redirect(url_for(".show", vote_id=round_.id))


@bp.post("/<int:vote_id>/close")
@role("admin")
def close(vote_id: int):
    round_ = _round(vote_id)
    form = CloseForm(prefix="close")
    if round_.status != "open":
        return _refused(round_, _("Only an open vote can be closed."))
    if not form.validate_on_submit():
        return _show(round_, close_form=form, code=400)
    queued = votes.close(current_app, round_)
    audit("vote.close", f"vote:{round_.id}", f"results_sms_queued={queued}")
    flash(_("The vote is closed. The results SMS is queued for %(n)d voters.", n=queued))
    return redirect(url_for(".show", vote_id=round_.id))


@bp.post("/<int:vote_id>/delete")
@role("admin")
def delete(vote_id: int):
    round_ = _round(vote_id)
    try:
        store.delete_round(round_)
    except store.VoteError:
        return _refused(round_, _("Only a draft can be deleted."))
    audit("vote.delete", f"vote:{vote_id}")
    flash(_("The draft is deleted."))
    return redirect(url_for(".index"))
