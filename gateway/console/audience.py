"""The audience picker shared by meetings and broadcasts: units from the admin-unit tree, or contact groups,
limited to the user's area. Values are the audience specs the feature modules take ("khoroo:BGD-07", "group:x")."""
from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField
from wtforms.validators import ValidationError

from gateway import broadcasts as bc
from gateway import phone_pool
from gateway.console import scope
from storage import console as queries
from storage.db import utcnow

KIND_NAMES = {"capital": _l("capital"), "aimag": _l("aimag"), "district": _l("district"), "soum": _l("soum"),
              "khoroo": _l("khoroo"), "bag": _l("bag"), "kheseg": _l("kheseg")}


def unit_choices(language: str) -> list[tuple[str, str]]:
    """Every unit in the user's area, indented by depth so the tree reads in a plain <select>."""
    units = queries.current_units(scope.ids())
    by_id = {u.id: u for u in queries.current_units()}
    choices = []
    for unit in sorted(units, key=lambda u: _path(u, by_id)):
        depth = len(_path(unit, by_id)) - 1
        name = (unit.name_en if language == "en" else unit.name_mn) or unit.name_mn
        choices.append((f"{unit.kind}:{unit.code}", f"{'— ' * depth}{name} ({KIND_NAMES.get(unit.kind, unit.kind)})"))
    return choices


def _path(unit, by_id: dict) -> tuple[str, ...]:
    path, seen = [], set()
    while unit is not None and unit.id not in seen:
        seen.add(unit.id)
        path.append(unit.code)
        unit = by_id.get(unit.parent_id)
    return tuple(reversed(path))


def group_choices() -> list[tuple[str, str]]:
    return [(f"group:{g.name}", f"{g.name} ({g.member_count})") for g in queries.contact_groups(scope.ids())]


class AudienceMixin:
    """Adds `units` and `groups` pickers; `audience()` joins them into specs."""

    units = SelectMultipleField(_l("Areas (admin-unit tree)"), choices=[], validate_choice=False)
    groups = SelectMultipleField(_l("Contact groups"), choices=[], validate_choice=False)

    def fill_audience_choices(self, language: str) -> None:
        self.units.choices = unit_choices(language)
        self.groups.choices = group_choices()

    def audience(self) -> list[str]:
        return list(self.units.data or []) + list(self.groups.data or [])

    def validate_groups(self, field) -> None:
        specs = self.audience()
        if not specs:
            raise ValidationError(_l("Choose at least one area or contact group."))
        allowed = {value for value, _ in self.units.choices} | {value for value, _ in self.groups.choices}
        if any(spec not in allowed for spec in specs) or not scope.audience_allowed(specs):
            raise ValidationError(_l("Some of the chosen audience is outside your area."))



def sms_preview(render_texts, audience: list[str], latin: bool, send_at) -> dict:
    """What a send would look like, per script, with characters and segments; people and cost once the audience
    is valid (bc.preview, as the CLI's and API's dry runs). Never raises: a problem comes back as `error`."""
    app = current_app
    result: dict = {"error": None, "variants": {}, "recipients": None, "latin": latin}
    try:
        texts = render_texts()
        sizes = bc.variant_texts(texts)
    except (bc.BroadcastError, KeyError, ValueError) as exc:
        result["error"] = str(exc)
        return result
    result["variants"] = {v.variant: {"text": v.text, "encoding": v.encoding, "segments": v.segments,
                                      "chars": len(v.text)} for v in sizes}
    if not audience or not scope.audience_allowed(audience):
        result["error"] = _("Choose who gets it to see the number of people and the cost.")
        return result
    try:
        # as each person prefers ("as_is" without forcing) beside everyone in Latin, so both costs show
        view = bc.preview(app, bc.check_audience(audience), texts, False, send_at or utcnow())
    except bc.BroadcastError as exc:
        result["error"] = str(exc)
        return result
    option = view.options["latin" if latin else "as_is"]
    result.update(recipients=view.recipients, segments=option["segments"], cost=option["cost"],
                  costs={"cyrl": view.options["as_is"]["cost"], "latn": view.options["latin"]["cost"]},
                  held_until=view.held_until and bc.to_local(app, view.held_until).strftime("%Y-%m-%d %H:%M"))
    if view.sending:  # an Android pool: how long the phones take, and each phone's share (no numbers shown)
        result["sending"] = {"eta": phone_pool.duration(view.sending["eta_seconds"]),
                             "phones": ", ".join(f"{p['name']} ({p['operator']}) {p['messages']}"
                                                 for p in view.sending["phones"])}
    return result
