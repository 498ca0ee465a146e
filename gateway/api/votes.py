"""Local Development Fund votes: admin creates, opens and closes them; CSOs read results; staff see fairness."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, current_app, g, jsonify, request

from gateway import votes
from gateway.api.auth import audit, require_role
from gateway.clock import local_today
from gateway.digests import csv_lines
from storage import votes as store
from storage.runs import admin_unit_by_code

bp = Blueprint("votes", __name__)
DATE_FIELDS = ("opens_on", "closes_on")


@bp.errorhandler(store.VoteError)
def _vote_error(exc: store.VoteError):
    return jsonify(error="bad_request", detail=str(exc)), 400


@bp.get("/votes")
@require_role("cso")
def list_votes():
    """Votes, optionally ?status=draft|open|closed."""
    status = request.args.get("status")
    if status and status not in store.ROUND_STATUSES:
        abort(400, description=f"status must be one of {', '.join(store.ROUND_STATUSES)}")
    rounds = store.list_rounds(status, votes.visible_unit_ids(g.principal))
    return jsonify(votes=[votes.results(current_app, r, with_fairness=False)["vote"] for r in rounds])


@bp.post("/votes")
@require_role("admin")
def create_vote():
    """Create a draft vote: {admin_unit, projects: [{mn, en, latn?, description?}], max_choices?, fund_amount?,
    opens_on?, closes_on?, min_cell?, next_steps?: {mn, en, latn?}}."""
    body = _body()
    code = body.get("admin_unit")
    if not isinstance(code, str) or not code:
        abort(400, description="'admin_unit' is required: a khoroo or bag code such as BGD-07")
    unit = admin_unit_by_code(code, local_today(current_app)) or abort(400, description=f"no admin unit {code!r}")
    if not g.principal.covers(unit.id):
        abort(403, description=f"{code} is outside this token's scope ({g.principal.scope})")
    if not isinstance(body.get("projects"), list):
        abort(400, description="'projects' must be a list of {mn, en, latn?, description?}")
    round_ = store.create_round(unit, body["projects"], **_fields(body, defaults={"max_choices": 1, "min_cell": 5}))
    return jsonify(_view(round_)), 201


@bp.get("/votes/<int:vote_id>")
@require_role("cso")
def show_vote(vote_id: int):
    """One vote with its projects."""
    return jsonify(_view(_round(vote_id)))


@bp.patch("/votes/<int:vote_id>")
@require_role("admin")
def change_vote(vote_id: int):
    """Change a draft (anything but the projects), or an open vote's close date, fund amount and next steps."""
    return jsonify(_view(store.update_round(_round(vote_id), **_fields(_body()))))


@bp.delete("/votes/<int:vote_id>")
@require_role("admin")
def delete_vote(vote_id: int):
    """Delete a draft vote."""
    store.delete_round(_round(vote_id))
    return "", 204


@bp.post("/votes/<int:vote_id>/open")
@require_role("admin")
def open_vote(vote_id: int):
    """Open a vote: people can vote, and change their vote, until it closes."""
    return jsonify(_view(store.set_status(_round(vote_id), "open")))


@bp.post("/votes/<int:vote_id>/close")
@require_role("admin")
def close_vote(vote_id: int):
    """Close a vote for good and text the ranking to everyone who voted (opt-outs excepted)."""
    round_ = _round(vote_id)
    queued = votes.close(current_app, round_)
    return jsonify({**_view(round_), "results_sms_queued": queued})


@bp.get("/votes/<int:vote_id>/results")
@require_role("cso")
def vote_results(vote_id: int):
    """Counts and rank per project, turnout, out-of-area votes apart, the group split with small cells hidden."""
    round_ = _round(vote_id)
    audit("vote.results", f"vote:{vote_id}.json")
    return jsonify(votes.results(current_app, round_, with_fairness=False))


@bp.get("/votes/<int:vote_id>/results.csv")
@require_role("cso")
def vote_results_csv(vote_id: int):
    """The results as tidy CSV: one row per project × (all, each group, out of area)."""
    round_ = _round(vote_id)
    audit("vote.results", f"vote:{vote_id}.csv")
    view = votes.results(current_app, round_, with_fairness=False)
    response = Response("".join(csv_lines(votes.RESULT_COLUMNS, votes.result_rows(view))),
                        content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="vote-{vote_id}.csv"'
    return response


@bp.get("/votes/<int:vote_id>/fairness")
@require_role("staff")
def vote_fairness(vote_id: int):
    """Votes per hour and the flags staff should look at (busy hours, new numbers, jumps); counts never change."""
    return jsonify(votes.fairness(current_app, _round(vote_id)))


def _round(vote_id: int) -> store.VoteRound:
    round_ = store.get_round(vote_id)
    if round_ is None or not votes.can_see(g.principal, round_):
        abort(404, description=f"no vote {vote_id}")
    return round_


def _view(round_: store.VoteRound) -> dict:
    return votes.results(current_app, round_, with_fairness=False)["vote"]


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    return body


def _fields(body: dict, defaults: dict | None = None) -> dict:
    fields = dict(defaults or {})
    for name in store.EDITABLE:
        if name not in body:
            continue
        value = body[name]
        if name in DATE_FIELDS and value is not None:
            value = _date(name, value)
        if name == "next_steps" and value is not None and not isinstance(value, dict):
            abort(400, description="'next_steps' must be {mn, en, latn?}")
        fields[name] = value
    return fields


def _date(name: str, value) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        abort(400, description=f"'{name}' must be a date YYYY-MM-DD")
