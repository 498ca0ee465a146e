"""Streaming CSV exports (role cso): a round's scores or a flow's results, with a date range; audited."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, current_app, request, stream_with_context

from gateway import clock
from gateway.api import schemas
from gateway.api.auth import audit, require_role
from gateway.api.validation import accepts, responds
from gateway.digests import csv_lines
from storage import exports
from storage.models import FlowRun
from storage.scorecards import Round

bp = Blueprint("exports", __name__)


@bp.get("/exports/rounds/<int:round_id>.csv")
@require_role("cso")
@accepts(query=schemas.ExportQuery)
@responds(200, content_type="text/csv")
def export_round(round_id: int):
    """A round's scores as CSV (no numbers, no contact ids; small groups merged); ?from=&to= local dates."""
    if Round.get_or_none(Round.id == round_id) is None:
        abort(404, description=f"no round {round_id}")
    since, until = date_range()
    audit("export.round", f"round:{round_id} {request.query_string.decode()[:200]}")
    rows = exports.round_rows(round_id, since, until, _local_date())
    return _csv(f"round-{round_id}.csv", exports.ROUND_COLUMNS, rows)


@bp.get("/exports/flows/<flow_id>.csv")
@require_role("cso")
@accepts(query=schemas.ExportQuery)
@responds(200, content_type="text/csv")
def export_flow(flow_id: str):
    """A flow's saved results as CSV (phone numbers in free text masked); ?from=&to= local dates."""
    known = flow_id in current_app.extensions["gateway.flows"].flows or FlowRun.select().where(
        FlowRun.flow_id == flow_id).exists()
    if not known:
        abort(404, description=f"no flow {flow_id!r}")
    since, until = date_range()
    audit("export.flow", f"flow:{flow_id} {request.query_string.decode()[:200]}")
    rows = exports.flow_rows(flow_id, since, until, _local_date())
    return _csv(f"flow-{flow_id}.csv", exports.FLOW_COLUMNS, rows)


def _csv(filename: str, columns: list[str], rows) -> Response:
    response = Response(stream_with_context(csv_lines(columns, rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _local_date():
    return clock.local_date_function(current_app.config["GATEWAY"]["timezone"])


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
