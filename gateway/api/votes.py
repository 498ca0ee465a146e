"""Local Development Fund votes: admin creates, opens and closes them; CSOs read results; staff see fairness."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from flask import Blueprint, abort, current_app, g, jsonify
from pydantic import Field, StringConstraints

from gateway import clock, digests, votes
from gateway.api.auth import audit, require_role
from gateway.api.schemas import QUERY, Code, LocalDate, Open, Strict
from gateway.api.validation import accepts, request_body, request_query, responds
from storage import votes as store
from storage.runs import admin_unit_by_code

bp = Blueprint("votes", __name__)
DATE_FIELDS = ("opens_on", "closes_on")
Name = Annotated[str, StringConstraints(min_length=1, max_length=store.MAX_NAME)]
Line = Annotated[str, StringConstraints(max_length=store.MAX_DESCRIPTION)]


class DescriptionIn(Strict):
    mn: Line
    en: Line
    latn: Line | None = None


class ProjectIn(Strict):
    mn: Name
    en: Name
    latn: Name | None = None
    description: DescriptionIn | None = None


class NextStepsIn(Strict):
    mn: Annotated[str, StringConstraints(max_length=store.MAX_TEXT)] | None = None
    en: Annotated[str, StringConstraints(max_length=store.MAX_TEXT)] | None = None
    latn: Annotated[str, StringConstraints(max_length=store.MAX_TEXT)] | None = None


class VoteChange(Strict):
    max_choices: Annotated[int, Field(ge=1, le=store.MAX_PROJECTS)] | None = None
    fund_amount: Annotated[int, Field(ge=0, le=10**15, description="tögrög, for information")] | None = None
    opens_on: LocalDate | None = None
    closes_on: LocalDate | None = None
    min_cell: Annotated[int, Field(ge=1, le=store.MAX_MIN_CELL)] | None = None
    next_steps: NextStepsIn | None = Field(None, description="what happens next, ending the results SMS")


class VoteIn(VoteChange):
    admin_unit: Code = Field(description="a khoroo or bag code such as BGD-07")
    projects: Annotated[list[ProjectIn], Field(min_length=store.MIN_PROJECTS, max_length=store.MAX_PROJECTS)]
    max_choices: Annotated[int, Field(ge=1, le=store.MAX_PROJECTS)] = 1
    min_cell: Annotated[int, Field(ge=1, le=store.MAX_MIN_CELL)] = 5


class VoteListQuery(Strict):
    model_config = QUERY
    status: Literal[store.ROUND_STATUSES] | None = None  # type: ignore[valid-type]


class ProjectOut(Open):
    number: int
    mn: str
    en: str


class VoteOut(Open):
    id: int
    status: str
    max_choices: int
    admin_unit: dict[str, Any]
    projects: list[ProjectOut]


class VoteClosed(VoteOut):
    results_sms_queued: int


class VoteList(Open):
    votes: list[VoteOut]


class VoteResults(Open):
    vote: VoteOut
    turnout: dict[str, Any]
    projects: list[dict[str, Any]]
    by_group: dict[str, Any]


class FairnessOut(Open):
    hourly: list[dict[str, Any]]
    casts: int
    flags: list[dict[str, Any]]


@bp.errorhandler(store.VoteError)
def _vote_error(exc: store.VoteError):
    return jsonify(error="bad_request", detail=str(exc)), 400


@bp.get("/votes")
@require_role("cso")
@accepts(query=VoteListQuery)
@responds(200, VoteList)
def list_votes():
    """Votes in the reader's area, optionally ?status=draft|open|closed."""
    rounds = store.list_rounds(request_query().status, votes.visible_unit_ids(g.principal))
    return jsonify(votes=[votes.results(current_app, r, with_fairness=False)["vote"] for r in rounds])


@bp.post("/votes")
@require_role("admin")
@accepts(body=VoteIn)
@responds(201, VoteOut)
def create_vote():
    """Create a draft vote: {admin_unit, projects: [{mn, en, latn?, description?}], max_choices?, fund_amount?,
    opens_on?, closes_on?, min_cell?, next_steps?: {mn, en, latn?}}."""
    body = request_body()
    code = body["admin_unit"]
    unit = admin_unit_by_code(code, clock.local_today(current_app)) \
        or abort(400, description=f"no admin unit {code!r}")
    if not g.principal.covers(unit.id):
        abort(403, description=f"{code} is outside this token's scope ({g.principal.scope})")
    round_ = store.create_round(unit, body["projects"], **_fields(body, defaults={"max_choices": 1, "min_cell": 5}))
    return jsonify(_view(round_)), 201


@bp.get("/votes/<int:vote_id>")
@require_role("cso")
@responds(200, VoteOut)
def show_vote(vote_id: int):
    """One vote with its projects."""
    return jsonify(_view(_round(vote_id)))


@bp.patch("/votes/<int:vote_id>")
@require_role("admin")
@accepts(body=VoteChange)
@responds(200, VoteOut)
def change_vote(vote_id: int):
    """Change a draft (anything but the projects), or an open vote's close date, fund amount and next steps."""
    return jsonify(_view(store.update_round(_round(vote_id), **_fields(request_body()))))


@bp.delete("/votes/<int:vote_id>")
@require_role("admin")
@responds(204, description="deleted")
def delete_vote(vote_id: int):
    """Delete a draft vote."""
    store.delete_round(_round(vote_id))
    return "", 204


@bp.post("/votes/<int:vote_id>/open")
@require_role("admin")
@responds(200, VoteOut)
def open_vote(vote_id: int):
    """Open a vote: people can vote, and change their vote, until it closes."""
    return jsonify(_view(store.set_status(_round(vote_id), "open")))


@bp.post("/votes/<int:vote_id>/close")
@require_role("admin")
@responds(200, VoteClosed)
def close_vote(vote_id: int):
    """Close a vote for good and text the ranking to everyone who voted (opt-outs excepted)."""
    round_ = _round(vote_id)
    queued = votes.close(current_app, round_)
    return jsonify({**_view(round_), "results_sms_queued": queued})


@bp.get("/votes/<int:vote_id>/results")
@require_role("cso")
@responds(200, VoteResults)
def vote_results(vote_id: int):
    """Counts and rank per project, turnout, out-of-area votes apart, the group split with small cells hidden."""
    round_ = _round(vote_id)
    audit("vote.results", f"vote:{vote_id}.json")
    return jsonify(votes.results(current_app, round_, with_fairness=False))


@bp.get("/votes/<int:vote_id>/results.csv")
@require_role("cso")
@responds(200, content_type="text/csv")
def vote_results_csv(vote_id: int):
    """The results as tidy CSV: one row per project × (all, each group, out of area)."""
    round_ = _round(vote_id)
    audit("vote.results", f"vote:{vote_id}.csv")
    return digests.vote_results_csv(current_app, round_)


@bp.get("/votes/<int:vote_id>/fairness")
@require_role("staff")
@responds(200, FairnessOut)
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


def _fields(body: dict, defaults: dict | None = None) -> dict:
    fields = dict(defaults or {})
    for name in store.EDITABLE:
        if name not in body:
            continue
        value = body[name]
        if name in DATE_FIELDS and value is not None:
            value = _date(name, value)
        fields[name] = value
    return fields


def _date(name: str, value) -> dt.date:
    try:
        return clock.parse_date(str(value))
    except clock.LocalTimeError as exc:
        abort(400, description=f"'{name}' must be a date YYYY-MM-DD: {exc}")
