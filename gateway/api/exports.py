"""Streaming CSV exports, within the token's scope, every one audited.

- `/exports/rounds/<id>.csv` and `/exports/flows/<flow_id>.csv` (role cso): released aggregates, cumulative up to
  `?to=` (a local date): the same small-cell rule as the digests, no free text.
- `/exports/rounds/<id>/responses.csv` and `/exports/flows/<flow_id>/runs.csv` (role admin): one row per
  respondent or saved result, `?from=&to=`; free text only as staff-redacted text, never from the restricted queue.
"""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, current_app, request, stream_with_context

from gateway import clock
from gateway.api import schemas
from gateway.api.auth import audit, current_principal, require_role
from gateway.api.validation import accepts, responds
from gateway.digests import csv_lines
from storage import exports
from storage.access import scope_unit_ids
from storage.models import FlowRun
from storage.scorecards import Round

bp = Blueprint("exports", __name__)


@bp.get("/exports/rounds/<int:round_id>.csv")
@require_role("cso")
@accepts(query=schemas.ExportQuery)
@responds(200, content_type="text/csv")
def export_round(round_id: int):
    """A round's released cells (indicator × group) as CSV, cumulative up to ?to= (a local date)."""
    _round_in_scope(round_id)
    until = _until_only()
    audit("export.round", f"round:{round_id}", _filters())
    return _csv(f"round-{round_id}.csv", exports.ROUND_AGGREGATE_COLUMNS, exports.round_aggregate_rows(round_id, until))


@bp.get("/exports/rounds/<int:round_id>/responses.csv")
@require_role("admin")
def export_round_responses(round_id: int):
    """One row per score of a round (admin; audited): no numbers, no contact ids; ?from=&to= local dates."""
    _round_in_scope(round_id)
    since, until = date_range()
    audit("export.rows", f"round:{round_id}", _filters())
    rows = exports.round_rows(round_id, since, until, _local_date())
    return _csv(f"round-{round_id}-responses.csv", exports.ROUND_COLUMNS, rows)


@bp.get("/exports/flows/<flow_id>.csv")
@require_role("cso")
@accepts(query=schemas.ExportQuery)
@responds(200, content_type="text/csv")
def export_flow(flow_id: str):
    """How many gave each answer in a flow (choices and places, never free text), up to ?to= (a local date)."""
    _known_flow(flow_id)
    until = _until_only()
    audit("export.flow", f"flow:{flow_id}", _filters())
    rows = exports.flow_aggregate_rows(flow_id, until, scope_unit_ids(current_principal().scope))
    return _csv(f"flow-{flow_id}.csv", exports.FLOW_AGGREGATE_COLUMNS, rows)


@bp.get("/exports/flows/<flow_id>/runs.csv")
@require_role("admin")
def export_flow_runs(flow_id: str):
    """One row per saved result of a flow (admin; audited); free text only as redacted text; ?from=&to=."""
    _known_flow(flow_id)
    since, until = date_range()
    audit("export.rows", f"flow:{flow_id}", _filters())
    rows = exports.flow_rows(flow_id, since, until, _local_date(), scope_unit_ids(current_principal().scope))
    return _csv(f"flow-{flow_id}-runs.csv", exports.FLOW_COLUMNS, rows)


def _round_in_scope(round_id: int) -> None:
    round_ = Round.get_or_none(Round.id == round_id)
    if round_ is None or not current_principal().covers(round_.service_point.admin_unit_id):
        abort(404, description=f"no round {round_id} in this token's scope")


def _known_flow(flow_id: str) -> None:
    known = flow_id in current_app.extensions["gateway.flows"].flows or FlowRun.select().where(
        FlowRun.flow_id == flow_id).exists()
    if not known:
        abort(404, description=f"no flow {flow_id[:40]!r}")


def _filters() -> str | None:
    return request.query_string.decode()[:200] or None


def _csv(filename: str, columns: list[str], rows) -> Response:
    response = Response(stream_with_context(csv_lines(columns, rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _local_date():
    return clock.local_date_function(current_app.config["GATEWAY"]["timezone"])


def _until_only() -> dt.datetime | None:
    """Aggregates are cumulative: two overlapping windows could be subtracted to single out a few people."""
    if request.args.get("from"):
        abort(400, description="aggregate exports are cumulative: give only 'to' (YYYY-MM-DD), not 'from'")
    return date_range()[1]


def date_range() -> tuple[dt.datetime | None, dt.datetime | None]:
    """`from` and `to` (inclusive local dates, YYYY-MM-DD) as naive UTC bounds [since, until)."""
    zone = clock.local_zone(current_app)
    bounds = []
    for name, extra in (("from", 0), ("to", 1)):
        raw = request.args.get(name)
        if not raw:
            bounds.append(None)
            continue
        try:
            day = clock.parse_date(raw) + dt.timedelta(days=extra)
        except clock.LocalTimeError as exc:
            abort(400, description=f"'{name}' must be a date YYYY-MM-DD: {exc}")
        bounds.append(clock.day_start_utc(zone, day))
    return bounds[0], bounds[1]
