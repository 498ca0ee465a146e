"""People and places: how many people each area can reach (counts, never numbers), contact groups, importing a
consented list (CSV, previewed with the errors by line before anything is saved), and the admin-unit tree, where an
admin adds the bags of a soum or loads a CSV of units."""
from __future__ import annotations

import csv
import io
import secrets
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from flows.text import to_latin
from gateway import contact_import
from gateway.clock import local_today
from gateway.console import scope
from gateway.console.audience import KIND_NAMES, unit_choices
from gateway.console.auth import audit, current_language, role
from gateway.console.forms import ConsoleForm
from storage import console as queries
from storage import meetings as meeting_store
from storage.db import utcnow

bp = Blueprint("people", __name__, url_prefix="/people")
UNIT_COLUMNS = ("code", "kind", "parent", "name_mn", "name_latn", "name_en")
CHILD_KIND = {"capital": "district", "aimag": "soum", "district": "khoroo", "soum": "bag", "khoroo": "kheseg",
              "bag": "kheseg"}
GROUP_NAME = Regexp(r"^[\w .-]{1,60}$", message=_l("Letters, digits, spaces, dots and dashes only."))
STAGED_HOURS = 2


class ImportForm(ConsoleForm):
    file = FileField(_l("CSV file (columns: phone, language, script, unit, consent)"))
    staged = HiddenField()
    default_unit = SelectField(_l("Area for rows without a unit"), choices=[], validate_choice=False)
    group = StringField(_l("Also add everyone to this contact group (optional)"),
                        validators=[Optional(), GROUP_NAME])
    consented = BooleanField(_l("Everyone on this list agreed to get messages"))


class BagsForm(ConsoleForm):
    parent = SelectField(_l("Soum or district"), choices=[], validate_choice=False)
    lines = TextAreaField(_l("One unit per line: code, name in Mongolian, name in English"),
                          validators=[DataRequired(), Length(max=20_000)])


class UnitsCsvForm(ConsoleForm):
    file = FileField(_l("CSV of units (code, kind, parent, name_mn, name_latn, name_en)"),
                     validators=[FileRequired()])


def unit_tree() -> list[dict]:
    """The units of the user's area in tree order, each with its depth and the people reachable in its subtree."""
    area = scope.ids()
    units = queries.current_units()
    counts = queries.contact_counts_by_unit(area)
    children: dict[int | None, list] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    rows: list[dict] = []

    def walk(unit, depth: int) -> dict[str, int]:
        row = {"unit": unit, "depth": depth, "reachable": 0, "opted_out": 0}
        if area is None or unit.id in area:
            rows.append(row)
        own = counts.get(unit.id, {"reachable": 0, "opted_out": 0})
        total = dict(own)
        for child in children.get(unit.id, []):
            below = walk(child, depth + 1)
            total = {key: total[key] + below[key] for key in total}
        row.update(total)
        return total

    for root in children.get(None, []):
        walk(root, 0)
    return rows


@bp.get("/")
@role("cso")
def index():
    return _people_page()


# ---- importing contacts ---------------------------------------------------------------------------------


def _import_form() -> ImportForm:
    form = ImportForm(prefix="import")
    choices = [(value.split(":", 1)[1], label) for value, label in unit_choices(current_language())]
    form.default_unit.choices = ([("", _("— none: every row names its unit —"))] if scope.ids() is None else []) \
        + choices
    return form


def _staging_dir() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):  # a preview nobody imported: numbers do not stay on disk
        if old.stat().st_mtime < utcnow().timestamp() - STAGED_HOURS * 3600:
            old.unlink(missing_ok=True)
    return folder


def _staged_path(token: str) -> Path:
    if not token or not all(c.isalnum() or c in "-_" for c in token):
        abort(400)
    return _staging_dir() / f"{g.principal.id}-{token}.csv"


@bp.post("/import")
@role("staff")
def import_contacts():
    form = _import_form()
    if not form.validate_on_submit():
        return _people_page(import_form=form, code=400)
    allowed = set(scope.ids()) if scope.ids() is not None else None
    default_unit = form.default_unit.data or None
    if default_unit and default_unit not in dict(form.default_unit.choices):
        abort(400)
    if request.form.get("action") == "import" and form.staged.data:
        path = _staged_path(form.staged.data)
        if not path.exists():
            form.file.errors = [_("The preview expired. Choose the file again.")]
            return _people_page(import_form=form, code=400)
        text = path.read_text(encoding="utf-8")
    else:
        upload = form.file.data
        if upload is None or not getattr(upload, "filename", ""):
            form.file.errors = [_("Choose a CSV file.")]
            return _people_page(import_form=form, code=400)
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            form.file.errors = [_("The file is not UTF-8 text. Save it as \"CSV UTF-8\" and try again.")]
            return _people_page(import_form=form, code=400)
        path = None
    try:
        rows = contact_import.read_rows(text)
    except contact_import.ImportProblem as exc:
        form.file.errors = [str(exc)]
        return _people_page(import_form=form, code=400)
    checked = contact_import.plan(current_app, rows, bool(form.consented.data), allowed, default_unit)
    if path is None:  # a preview: keep the file for the import button, show counts and errors only
        token = secrets.token_urlsafe(12)
        _staged_path(token).write_text(text, encoding="utf-8")
        form.staged.data = token
        return _people_page(import_form=form, preview=checked)
    outcomes = contact_import.apply(current_app, checked, (form.group.data or "").strip() or None)
    path.unlink(missing_ok=True)
    audit("contacts.import", f"rows={checked.rows} created={outcomes['created']} "
                 f"updated={outcomes['updated']} rejected={len(checked.rejected)}")
    flash(_("Imported: %(created)d new, %(updated)d already known, %(opted)d left alone (they said STOP), "
            "%(rejected)d lines rejected.", created=outcomes["created"], updated=outcomes["updated"],
            opted=outcomes["opted_out"], rejected=len(checked.rejected)))
    return redirect(url_for(".index"))


def _people_page(import_form=None, bags_form=None, units_form=None, preview=None, unit_errors=None, code=200):
    area = scope.ids()
    counts = queries.contact_counts_by_unit(area)
    return render_template("console/people.html", tree=unit_tree(), groups=queries.contact_groups(area),
                           unplaced=counts.get(None) if area is None else None, kind_names=KIND_NAMES,
                           import_form=import_form or _import_form(), bags_form=bags_form or _bags_form(),
                           units_form=units_form or UnitsCsvForm(prefix="units"), preview=preview,
                           unit_errors=unit_errors), code


# ---- the admin-unit tree (admins) ------------------------------------------------------------------------


def _bags_form() -> BagsForm:
    form = BagsForm(prefix="bags")
    language = current_language()
    form.parent.choices = [(u.code, f"{u.name_en if language == 'en' else u.name_mn} ({KIND_NAMES[u.kind]})")
                           for u in queries.current_units() if u.kind in ("soum", "district", "aimag", "capital")]
    return form


def check_units(rows: list[tuple[int, dict]]) -> tuple[list[dict], list[tuple[int, str]]]:
    """Rows ready for storage, and the errors by line. A parent may be an existing unit or an earlier row."""
    known = {u.code: u.kind for u in queries.current_units()}
    good, errors = [], []
    for line, row in rows:
        code, kind, parent = row.get("code", ""), row.get("kind", ""), row.get("parent", "")
        problem = None
        if not code or len(code) > 40 or not all(c.isalnum() or c in "-_" for c in code):
            problem = _("the code must be letters, digits and dashes")
        elif code in known:
            problem = _("the code %(code)s is already used", code=code)
        elif kind not in meeting_store.UNIT_KINDS:
            problem = _("the kind must be one of %(kinds)s", kinds=", ".join(meeting_store.UNIT_KINDS))
        elif parent not in known:
            problem = _("the parent %(code)s is not a known unit", code=parent[:40])
        elif not row.get("name_mn"):
            problem = _("the Mongolian name is missing")
        if problem:
            errors.append((line, problem))
            continue
        known[code] = kind
        good.append({"code": code, "kind": kind, "parent": parent, "name_mn": row["name_mn"][:120],
                     "name_latn": (row.get("name_latn") or to_latin(row["name_mn"]))[:120],
                     "name_en": (row.get("name_en") or to_latin(row["name_mn"]))[:120]})
    return good, errors


def _save_units(rows: list[tuple[int, dict]], form_name: str, form):
    good, errors = check_units(rows)
    if errors or not good:
        return _people_page(unit_errors=errors or [(0, _("Nothing to add."))], code=400,
                            **{form_name: form})
    queries.add_admin_units(good, local_today(current_app))
    audit("admin_units.add", ", ".join(row["code"] for row in good)[:200])
    flash(_("Added %(n)d units.", n=len(good)))
    return redirect(url_for(".index") + "#tree")


@bp.post("/units/bags")
@role("admin")
def add_bags():
    form = _bags_form()
    if not form.validate_on_submit() or form.parent.data not in dict(form.parent.choices):
        return _people_page(bags_form=form, code=400)
    parent_kind = {u.code: u.kind for u in queries.current_units()}[form.parent.data]
    rows = []
    for number, line in enumerate(form.lines.data.splitlines(), 1):
        if not line.strip():
            continue
        parts = [part.strip() for part in next(csv.reader([line]))] + ["", "", ""]
        rows.append((number, {"code": parts[0], "kind": CHILD_KIND.get(parent_kind, "bag"),
                              "parent": form.parent.data, "name_mn": parts[1], "name_en": parts[2]}))
    return _save_units(rows, "bags_form", form)


@bp.post("/units/csv")
@role("admin")
def load_units():
    form = UnitsCsvForm(prefix="units")
    if not form.validate_on_submit():
        return _people_page(units_form=form, code=400)
    try:
        reader = csv.DictReader(io.StringIO(form.file.data.read().decode("utf-8-sig"), newline=""))
        if not reader.fieldnames or not set(UNIT_COLUMNS[:4]) <= {f.strip().lower() for f in reader.fieldnames}:
            raise ValueError
        rows = [(reader.line_num, {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()
                                   if isinstance(v, str)}) for row in reader]
    except (UnicodeDecodeError, ValueError, csv.Error):
        form.file.errors = [_("The file must be UTF-8 CSV with the columns %(columns)s.",
                              columns=", ".join(UNIT_COLUMNS))]
        return _people_page(units_form=form, code=400)
    return _save_units(rows, "units_form", form)
