"""Weekly digests: a week picker, the charts, and downloads in CSV, HTML and JSON. CSOs and up, for their own
area (an admin may also pick the whole country). The numbers and files come from gateway.digests, the same code as
the API and the Monday SMS; every read is audited."""
from __future__ import annotations

import base64

from flask import Blueprint, Response, abort, current_app, g, jsonify, render_template, request

from gateway import clock, digests
from gateway.console import scope
from gateway.console.audience import unit_choices
from gateway.console.auth import audit, current_language, role
from storage.digests import Week

bp = Blueprint("digests", __name__, url_prefix="/digests")
WEEKS_OFFERED = 12
DOWNLOADS = {"csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8",
             "json": "application/json"}


def _week(label: str | None) -> Week:
    try:
        return digests.week_of(current_app, label or None)
    except ValueError:
        abort(404)


def _unit(code: str | None) -> str | None:
    """The unit asked for, if it is in the user's area; a user with a limited area always gets one of theirs."""
    principal = g.principal
    if code:
        allowed = {value.split(":", 1)[1] for value, _label in unit_choices(current_language())}
        if code not in allowed:
            abort(404)
        return code
    if scope.ids() is None:
        return None
    return principal.scope.codes[0]


def weeks_offered() -> list[Week]:
    zone = current_app.config["GATEWAY"]["timezone"]
    week, found = digests.current_week(current_app), []
    for _ in range(WEEKS_OFFERED):
        found.append(week)
        week = clock.previous_week(week, zone)
    return found


@bp.get("/")
@role("cso")
def index():
    week = _week(request.args.get("week"))
    unit = _unit(request.args.get("unit"))
    digest = digests.build(current_app, week, unit)
    audit("digest.read", f"{week.label}.page" + (f" unit={unit}" if unit else ""))
    units = unit_choices(current_language())
    return render_template("console/digests.html", digest=digest, week=week, unit=unit, weeks=weeks_offered(),
                           units=[(value.split(":", 1)[1], label) for value, label in units],
                           group_names=digests.GROUP_LABELS)


@bp.get("/<label>.<fmt>")
@role("cso")
def download(label: str, fmt: str):
    if fmt not in DOWNLOADS:
        abort(404)
    week = _week(label)
    unit = _unit(request.args.get("unit"))
    digest = digests.build(current_app, week, unit)
    audit("digest.read", f"{week.label}.{fmt}" + (f" unit={unit}" if unit else ""))
    if fmt == "json":
        response = jsonify(digest)
    else:
        body = digests.render_csv(digest) if fmt == "csv" else digests.render_html(current_app, digest)
        response = Response(body, content_type=DOWNLOADS[fmt])
    name = f"digest-{week.label}" + (f"-{unit}" if unit else "")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@bp.get("/<label>/chart/<int:round_id>-<kind>.png")
@role("cso")
def chart(label: str, round_id: int, kind: str):
    if kind not in ("groups", "trend"):
        abort(404)
    week = _week(label)
    digest = digests.build(current_app, week, _unit(request.args.get("unit")))
    image = digests.round_charts(current_app, digest, only=round_id).get(round_id, {}).get(kind)
    if not image:
        abort(404)
    response = Response(base64.b64decode(image.split(",", 1)[1]), content_type="image/png")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response

