"""Participatory budgeting: Local Development Fund (ОНХС / ONHS) votes for one khoroo or bag.

A *vote round* belongs to an admin unit and lists 2–12 candidate projects, numbered 1… in the order people see
them. A person's vote is one `Ballot` row per round and pseudonymous contact: voting again replaces it (the last
vote counts), so a person counts once however often they vote. The chosen projects are kept as bits of one integer
(bit n-1 = project n), which makes a vote one upsert and the tally one scan with a SUM per project.

Every vote as it arrived, replaced ones included, is also appended to `VoteCast` (no contact id): the fairness
checks read that log. Ballots from people registered in another admin unit are kept, marked `out_of_area` and
counted apart. Nothing here ever drops a vote.
"""
from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import peewee as pw
from peewee import Value, fn

from storage.db import BaseModel, database, is_postgres, utcnow
from storage.meetings import BULK_PRIORITY, variant_of
from storage.models import AdminUnit, Contact, Message, PhoneNumber
from storage.suppression import REASONS, WITH_SMALL_CELL, release_counts

ROUND_STATUSES = ("draft", "open", "closed")
UNIT_KINDS = ("khoroo", "bag", "soum")  # a soum stands in where the reference data has no bags yet
GROUPS = ("women", "men", "youth", "elderly", "unspecified")  # self-declared, optional (as in scorecards)
MIN_PROJECTS, MAX_PROJECTS = 2, 12
MAX_NAME, MAX_DESCRIPTION, MAX_TEXT = 60, 160, 500
MAX_MIN_CELL = 1000
NEW_CONTACT_AGE = dt.timedelta(days=1)  # "a number registered in the last day"


class VoteRound(BaseModel):
    admin_unit = pw.ForeignKeyField(AdminUnit, backref="vote_rounds", on_delete="RESTRICT")
    status = pw.CharField(default="draft", index=True)  # draft → open → closed (final)
    max_choices = pw.SmallIntegerField(default=1)  # 1 = one choice; K = up to K choices
    fund_amount = pw.BigIntegerField(null=True)  # MNT, shown for information only
    opens_on = pw.DateField(null=True)  # local dates
    closes_on = pw.DateField(null=True)  # votes are taken until the end of this local day
    opened_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True)
    min_cell = pw.IntegerField(default=5)  # group cells with fewer voters are suppressed in every report
    next_steps_mn = pw.TextField(null=True)  # "what happens next", ending the results SMS
    next_steps_en = pw.TextField(null=True)
    next_steps_latn = pw.TextField(null=True)
    results_sent_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


class VoteProject(BaseModel):
    round = pw.ForeignKeyField(VoteRound, backref="projects", on_delete="CASCADE", index=False)
    number = pw.SmallIntegerField()  # 1…12: what people type, and bit number-1 of Ballot.choice_bits
    name_mn = pw.CharField()
    name_en = pw.CharField()
    name_latn = pw.CharField(null=True)  # overrides the automatic transliteration
    description_mn = pw.CharField(null=True)
    description_en = pw.CharField(null=True)
    description_latn = pw.CharField(null=True)

    class Meta:
        indexes = ((("round", "number"), True),)


class Ballot(BaseModel):
    """One person's current vote in one round; voting again replaces it."""

    round = pw.ForeignKeyField(VoteRound, backref="ballots", on_delete="CASCADE", index=False)  # leads the index
    contact = pw.ForeignKeyField(Contact, backref="ballots", on_delete="CASCADE")
    choice_bits = pw.IntegerField()  # bit n-1 set = project n chosen
    out_of_area = pw.BooleanField(default=False)  # registered in another admin unit: counted apart
    group = pw.CharField(default="unspecified")
    channel = pw.CharField(default="sms")  # sms | ussd
    changes = pw.IntegerField(default=0)  # how often the vote was replaced
    first_voted_at = pw.DateTimeField(default=utcnow)
    voted_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("round", "contact"), True),)


class VoteCast(BaseModel):
    """Every vote as it arrived, replaced ones too, for the fairness checks. Never counted, never linked to a
    person: it says only when, what, and whether the number was new to us."""

    round = pw.ForeignKeyField(VoteRound, backref="casts", on_delete="CASCADE", index=False)
    choice_bits = pw.IntegerField()
    new_contact = pw.BooleanField(default=False)  # the number first wrote to us less than a day before
    replaced = pw.BooleanField(default=False)  # this vote replaced an earlier one
    cast_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("round", "cast_at"), False),)


MODELS = [VoteRound, VoteProject, Ballot, VoteCast]


class VoteError(ValueError):
    """A vote-round operation that cannot be done; the message says why."""


class AlreadyOpen(VoteError):
    """Another vote of the same admin unit is open: people name their khoroo, not a vote, so one at a time."""

    def __init__(self, other_id: int):
        super().__init__(f"vote {other_id} is already open for this unit; close it first")
        self.other_id = other_id


# --- projects as bits ---------------------------------------------------------------------------------------


def choice_bits(numbers: Sequence[int]) -> int:
    """{1, 3} → 0b101."""
    return sum(1 << (number - 1) for number in set(numbers))


def chosen_numbers(bits: int) -> list[int]:
    """0b101 → [1, 3]."""
    return [number for number in range(1, MAX_PROJECTS + 1) if bits >> (number - 1) & 1]


# --- creating and changing rounds ------------------------------------------------------------------------


def create_round(admin_unit: AdminUnit, projects: list[dict], *, max_choices: int = 1,
                 fund_amount: int | None = None, opens_on: dt.date | None = None, closes_on: dt.date | None = None,
                 min_cell: int = 5, next_steps: dict | None = None) -> VoteRound:
    """A draft round for a khoroo, bag (or soum) with projects `[{mn, en, latn?, description?: {mn, en, latn?}}]`,
    numbered in the order given."""
    if admin_unit.kind not in UNIT_KINDS:
        raise VoteError(f"a vote is held in a khoroo or bag; {admin_unit.code} is a {admin_unit.kind}")
    checked = _checked_projects(projects)
    fields = _checked_fields({"max_choices": max_choices, "fund_amount": fund_amount, "opens_on": opens_on,
                              "closes_on": closes_on, "min_cell": min_cell, "next_steps": next_steps},
                             project_count=len(checked))
    with database.atomic():
        round_ = VoteRound.create(admin_unit=admin_unit, **fields)
        VoteProject.insert_many([{"round": round_, "number": number, **item}
                                 for number, item in enumerate(checked, 1)]).execute()
    return round_


EDITABLE = ("max_choices", "fund_amount", "opens_on", "closes_on", "min_cell", "next_steps")
EDITABLE_WHILE_OPEN = ("closes_on", "fund_amount", "next_steps")  # what people were shown stays as it was


def update_round(round_: VoteRound, *, projects: list[dict] | None = None, **changes) -> VoteRound:
    """Change a draft (its whole shortlist too: nobody has seen it yet), or what may change while it is open."""
    allowed = {"draft": (*EDITABLE, "projects"), "open": EDITABLE_WHILE_OPEN}.get(round_.status, ())
    refused = sorted({*changes, *(["projects"] if projects is not None else [])} - set(allowed))
    if refused:
        raise VoteError(f"vote {round_.id} is {round_.status}: cannot change {', '.join(refused)}"
                        + (f"; editable: {', '.join(allowed)}" if allowed else ""))
    checked = _checked_projects(projects) if projects is not None else None
    count = len(checked) if checked is not None else len(projects_of(round_))
    fields = _checked_fields({**_current(round_), **changes}, project_count=count)
    for name in changes:
        for column in ("next_steps_mn", "next_steps_en", "next_steps_latn") if name == "next_steps" else (name,):
            setattr(round_, column, fields[column])
    with database.atomic():
        round_.save()
        if checked is not None:
            VoteProject.delete().where(VoteProject.round == round_).execute()
            VoteProject.insert_many([{"round": round_, "number": number, **item}
                                     for number, item in enumerate(checked, 1)]).execute()
    return round_


def _current(round_: VoteRound) -> dict:
    return {"max_choices": round_.max_choices, "fund_amount": round_.fund_amount, "opens_on": round_.opens_on,
            "closes_on": round_.closes_on, "min_cell": round_.min_cell,
            "next_steps": {"mn": round_.next_steps_mn, "en": round_.next_steps_en, "latn": round_.next_steps_latn}}


def _checked_fields(values: dict, project_count: int) -> dict:
    max_choices, fund, min_cell = values["max_choices"], values["fund_amount"], values["min_cell"]
    if not _whole(max_choices) or not 1 <= max_choices <= project_count:
        raise VoteError(f"max_choices must be a whole number from 1 to the number of projects ({project_count})")
    if fund is not None and (not _whole(fund) or fund < 0):
        raise VoteError("fund_amount must be a whole number of tögrög, 0 or more")
    if not _whole(min_cell) or not 1 <= min_cell <= MAX_MIN_CELL:
        raise VoteError(f"min_cell must be a whole number from 1 to {MAX_MIN_CELL}")
    opens_on, closes_on = values["opens_on"], values["closes_on"]
    for name, day in (("opens_on", opens_on), ("closes_on", closes_on)):
        if day is not None and (not isinstance(day, dt.date) or isinstance(day, dt.datetime)):
            raise VoteError(f"{name} must be a date")
    if opens_on and closes_on and closes_on < opens_on:
        raise VoteError("closes_on must not be before opens_on")
    steps = _texts("next_steps", values.get("next_steps") or {}, MAX_TEXT, required=False)
    return {"max_choices": max_choices, "fund_amount": fund, "opens_on": opens_on, "closes_on": closes_on,
            "min_cell": min_cell, "next_steps_mn": steps["mn"], "next_steps_en": steps["en"],
            "next_steps_latn": steps["latn"]}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _checked_projects(projects: list[dict] | None) -> list[dict]:
    checked = [_checked_project(number, item) for number, item in enumerate(projects or [], 1)]
    if not MIN_PROJECTS <= len(checked) <= MAX_PROJECTS:
        raise VoteError(f"a vote needs {MIN_PROJECTS} to {MAX_PROJECTS} projects, not {len(checked)}")
    return checked


def _checked_project(number: int, item: object) -> dict:
    if not isinstance(item, dict):
        raise VoteError(f"project {number} must be a mapping with mn and en")
    names = _texts(f"project {number}", item, MAX_NAME, required=True)
    description = item.get("description") or {}
    if not isinstance(description, dict):
        raise VoteError(f"project {number}: description must be a mapping with mn and en")
    about = _texts(f"project {number} description", description, MAX_DESCRIPTION, required=bool(description))
    return {"name_mn": names["mn"], "name_en": names["en"], "name_latn": names["latn"],
            "description_mn": about["mn"], "description_en": about["en"], "description_latn": about["latn"]}


def _texts(what: str, item: dict, limit: int, required: bool) -> dict:
    """{mn, en, latn} as stripped text (latn optional, all optional unless `required`), or VoteError."""
    texts = {}
    for key in ("mn", "en", "latn"):
        value = item.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required and key != "latn":
                raise VoteError(f"{what} is missing '{key}'")
            texts[key] = None
            continue
        if not isinstance(value, str) or len(value.strip()) > limit or "\n" in value.strip():
            raise VoteError(f"{what}: '{key}' must be one line of at most {limit} characters")
        texts[key] = value.strip()
    return texts


def set_status(round_: VoteRound, status: str) -> VoteRound:
    """draft → open → closed. A closed vote stays closed: its results have been announced."""
    allowed = {"open": ("draft",), "closed": ("open",)}
    if status not in allowed or round_.status not in allowed[status]:
        raise VoteError(f"vote {round_.id} is {round_.status}; it cannot become {status}")
    other = VoteRound.get_or_none((VoteRound.admin_unit == round_.admin_unit_id) & (VoteRound.status == "open")
                                  & (VoteRound.id != round_.id))
    if status == "open" and other is not None:
        raise AlreadyOpen(other.id)
    now = utcnow()
    round_.status = status
    if status == "open":
        round_.opened_at = now
    else:
        round_.closed_at = now
    round_.save()
    return round_


def delete_round(round_: VoteRound) -> None:
    if round_.status != "draft":
        raise VoteError(f"vote {round_.id} is {round_.status}; only a draft can be deleted")
    round_.delete_instance(recursive=True)


def get_round(round_id: int) -> VoteRound | None:
    return (VoteRound.select(VoteRound, AdminUnit).join(AdminUnit)
            .where(VoteRound.id == round_id).first())


def list_rounds(status: str | None = None, unit_ids: list[int] | None = None) -> list[VoteRound]:
    query = VoteRound.select(VoteRound, AdminUnit).join(AdminUnit).order_by(VoteRound.id)
    if status:
        query = query.where(VoteRound.status == status)
    if unit_ids is not None:
        query = query.where(VoteRound.admin_unit.in_(unit_ids))
    return list(query)


def projects_of(round_: VoteRound | int) -> list[VoteProject]:
    return list(VoteProject.select().where(VoteProject.round == round_).order_by(VoteProject.number))


def due_to_close(today: dt.date) -> list[VoteRound]:
    """Open rounds whose last day (local) is before `today`."""
    return list(VoteRound.select().where((VoteRound.status == "open") & (VoteRound.closes_on < today))
                .order_by(VoteRound.id))


@dataclass(frozen=True)
class Paper:
    """A vote as the vote flow shows it to one person: the round, its unit, the shortlist and the person's
    current choices (empty when they have not voted in it)."""

    round_id: int
    status: str  # open, or closed (only the person's own unit's latest, to tell them it closed)
    unit_code: str
    max_choices: int
    closes_on: dt.date | None
    closed_at: dt.datetime | None
    fund_amount: int | None
    projects: tuple[dict, ...]
    voted: tuple[int, ...]


# Written out rather than built by peewee: the vote flow reads it on every message, and building the query
# cost more than running it.
PAPERS_SQL = """
SELECT r.id, r.status, u.code, r.max_choices, r.closes_on, r.closed_at, r.fund_amount, b.choice_bits,
       p.number, p.name_mn, p.name_en, p.name_latn, p.description_mn, p.description_en, p.description_latn
FROM vote_round r
JOIN admin_unit u ON u.id = r.admin_unit_id
JOIN vote_project p ON p.round_id = r.id
LEFT JOIN ballot b ON b.round_id = r.id AND b.contact_id = ?
WHERE r.status = 'open' OR (r.status = 'closed' AND r.admin_unit_id = ? AND r.closed_at >= ?)
ORDER BY r.id, p.number
"""


def papers_for(contact_id: int | None, unit_id: int | None, closed_since: dt.datetime) -> list[Paper]:
    """Every open round with its shortlist and this person's vote in it, and their own unit's rounds closed
    since `closed_since`: one query (the vote flow reads it on every message)."""
    papers: dict[int, tuple[list, list]] = {}
    for rid, status, code, most, closes_on, closed_at, fund, bits, number, *texts in _rows(
            PAPERS_SQL, (contact_id, unit_id, closed_since)):
        head, projects = papers.setdefault(
            rid, ([rid, status, code, most, _as_date(closes_on), _as_datetime(closed_at), fund, bits], []))
        projects.append(_project_item(number, *texts))
    return [Paper(*head[:7], tuple(projects), tuple(chosen_numbers(head[7] or 0)))
            for head, projects in papers.values()]


def _project_item(number: int, mn: str, en: str, latn: str | None, about_mn: str | None, about_en: str | None,
                  about_latn: str | None) -> dict:
    project = {"key": str(number), "mn": mn, "en": en, "latn": latn}
    if about_mn:
        project["about"] = {"mn": about_mn, "en": about_en or about_mn, "latn": about_latn}
    return project


@dataclass(frozen=True)
class VoteContext:
    """What recording one vote must check, read in one query: the round and where the voter is registered."""

    status: str
    closes_on: dt.date | None
    max_choices: int
    projects: int
    unit_code: str
    voter_unit_code: str | None
    voter_since: dt.datetime | None


def vote_context(round_id: int, contact_id: int) -> VoteContext | None:
    voter_unit = AdminUnit.alias()
    projects = VoteProject.select(fn.COUNT(VoteProject.id)).where(VoteProject.round == VoteRound.id)
    row = (VoteRound.select(VoteRound.status, VoteRound.closes_on, VoteRound.max_choices, projects, AdminUnit.code,
                            voter_unit.code, Contact.created_at)
           .join(AdminUnit)
           .join(Contact, on=(Contact.id == contact_id))
           .join(voter_unit, pw.JOIN.LEFT_OUTER, on=(voter_unit.id == Contact.admin_unit))
           .where(VoteRound.id == round_id).tuples().first())
    if row is None:
        return None
    status, closes_on, most, count, unit, voter_unit_code, since = row
    return VoteContext(status, _as_date(closes_on), most, int(count), unit, voter_unit_code, _as_datetime(since))


def _as_date(value) -> dt.date | None:
    return value if isinstance(value, dt.date) or value is None else dt.date.fromisoformat(str(value))


def _as_datetime(value) -> dt.datetime | None:
    return value if isinstance(value, dt.datetime) or value is None else dt.datetime.fromisoformat(str(value))


# --- voting -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CastVote:
    round_id: int
    numbers: tuple[int, ...]
    group: str = "unspecified"
    channel: str = "sms"
    out_of_area: bool = False
    new_contact: bool = False


def record_vote(contact: Contact | int, vote: CastVote, now: dt.datetime | None = None) -> None:
    """Store a person's vote, replacing their earlier one in the round: two statements. Call it inside a
    transaction (the conversation's); the caller has checked that the round is open and the numbers are valid."""
    now = now or utcnow()
    bits = choice_bits(vote.numbers)
    group = vote.group if vote.group in GROUPS else "unspecified"
    earlier = Ballot.select(Value(1)).where((Ballot.round == vote.round_id) & (Ballot.contact == contact))
    VoteCast.insert(round=vote.round_id, choice_bits=bits, new_contact=vote.new_contact,
                    replaced=fn.EXISTS(earlier), cast_at=now).execute()
    (Ballot.insert(round=vote.round_id, contact=contact, choice_bits=bits, out_of_area=vote.out_of_area,
                   group=group, channel=vote.channel, changes=0, first_voted_at=now, voted_at=now)
     .on_conflict(conflict_target=[Ballot.round, Ballot.contact],
                  update={Ballot.choice_bits: bits, Ballot.out_of_area: vote.out_of_area, Ballot.group: group,
                          Ballot.channel: vote.channel, Ballot.changes: Ballot.changes + 1, Ballot.voted_at: now})
     .execute())


# --- the tally --------------------------------------------------------------------------------------------

def _project_sums(column: str, count: int) -> str:
    return ", ".join(f"SUM(({column} >> {bit}) & 1)" for bit in range(count))


def _params(sql: str) -> str:
    return sql.replace("?", database.param) if database.param != "?" else sql


def _rows(sql: str, params: Sequence = ()) -> list[tuple]:
    return list(database.execute_sql(_params(sql), tuple(params)).fetchall())


def tally(round_: VoteRound, *, counted_before: dt.datetime | None = None) -> dict:
    """Counts and rank per project, turnout, the out-of-area votes apart, and the split by respondent group with
    small cells suppressed. One scan groups the round's ballots by choice set, area and group (a few thousand
    cells at most); Python only spreads those cells over the projects. `counted_before` limits it to ballots first
    cast before that time (a digest "as of" the end of its week; a changed vote counts with its latest choices)."""
    projects = projects_of(round_)
    sql = ('SELECT choice_bits, out_of_area, "group", COUNT(*), SUM(CASE WHEN changes > 0 THEN 1 ELSE 0 END) '
           "FROM ballot WHERE round_id = ?")
    params: list = [round_.id]
    if counted_before is not None:
        sql += " AND first_voted_at < ?"
        params.append(counted_before)
    cells: dict[tuple[bool, str], list[int]] = {}  # (out of area, group) → [voters, changed, votes per project…]
    for bits, out_of_area, group, voters, changed in _rows(sql + ' GROUP BY choice_bits, out_of_area, "group"',
                                                           params):
        cell = cells.setdefault((bool(out_of_area), group), [0] * (2 + len(projects)))
        cell[0] += int(voters)
        cell[1] += int(changed or 0)
        for i in range(len(projects)):
            cell[2 + i] += int(voters) * (int(bits) >> i & 1)
    inside = {group: cell for (away, group), cell in cells.items() if not away}
    outside = [cell for (away, _), cell in cells.items() if away]
    voters = sum(cell[0] for cell in inside.values())
    counts = [sum(cell[2 + i] for cell in inside.values()) for i in range(len(projects))]
    away_counts = [sum(cell[2 + i] for cell in outside) for i in range(len(projects))]
    ranks = competition_ranks(counts)
    return {
        "turnout": {"voters": voters, "changed_their_vote": sum(cell[1] for cell in cells.values()),
                    "out_of_area": sum(cell[0] for cell in outside),
                    "registered_in_unit": registered_in_unit(round_.admin_unit_id)},
        "projects": [{"number": p.number, "mn": p.name_mn, "en": p.name_en, "latn": p.name_latn,
                      "votes": counts[i], "rank": ranks[i],
                      "share": round(counts[i] / voters, 3) if voters else None,
                      "out_of_area_votes": away_counts[i]} for i, p in enumerate(projects)],
        "by_group": group_split({group: (cell[0], cell[2:]) for group, cell in inside.items()},
                                [p.number for p in projects], round_.min_cell),
    }


def turnouts(round_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Voters (residents) and votes from other units per round, for lists of many rounds: one query, the same
    counts as `tally`'s turnout."""
    counts = {round_id: {"voters": 0, "out_of_area": 0} for round_id in round_ids}
    if counts:
        query = (Ballot.select(Ballot.round, Ballot.out_of_area, fn.COUNT(Ballot.id))
                 .where(Ballot.round.in_(list(counts))).group_by(Ballot.round, Ballot.out_of_area).tuples())
        for round_id, away, voters in query:
            counts[round_id]["out_of_area" if away else "voters"] += int(voters)
    return counts


def competition_ranks(counts: list[int]) -> list[int]:
    """1 for the most votes; ties share a rank and the next rank skips (1, 2, 2, 4)."""
    return [1 + sum(other > count for other in counts) for count in counts]


def group_split(groups: dict[str, tuple[int, list[int]]], numbers: list[int], min_cell: int) -> dict:
    """Voters and votes per project for each self-declared group: the whole table, or, when any of its cells is
    under `min_cell`, none of it. The turnout and each project's votes are published exactly, so hiding only the
    small cells would let them be worked out from the others (storage.suppression explains the rule)."""
    table = {group: n for group, (n, _) in groups.items()}
    table |= {f"{group}:{number}": counts[i] for group, (_, counts) in groups.items()
              for i, number in enumerate(numbers)}
    released = release_counts(table, min_cell, exact_total=sum(table[group] for group in groups), blocks=False)
    if all(cell.shown for cell in released.values()):
        return {group: {"voters": n, "votes": {str(number): counts[i] for i, number in enumerate(numbers)}}
                for group, (n, counts) in sorted(groups.items())}
    why = {"mn": REASONS[WITH_SMALL_CELL][0], "en": REASONS[WITH_SMALL_CELL][1]}
    return {group: {"voters": "hidden", "suppressed": True, "hidden_why": why} for group in sorted(groups)}


def registered_in_unit(admin_unit_id: int) -> int:
    """Contacts who told us they live in this unit (or below it): the people who could be expected to vote."""
    return Contact.select().where(Contact.admin_unit.in_(unit_subtree_ids(admin_unit_id))).count()


def unit_subtree_ids(admin_unit_id: int) -> list[int]:
    return [row[0] for row in _rows(
        "WITH RECURSIVE sub(id) AS (SELECT id FROM admin_unit WHERE id = ? "
        "UNION SELECT a.id FROM admin_unit a JOIN sub ON a.parent_id = sub.id) SELECT id FROM sub",
        (admin_unit_id,))]


# --- fairness ----------------------------------------------------------------------------------------------

MIN_FLAG_VOTES = 20  # below this many votes in an hour or window nothing is flagged
BUSY_HOUR_FACTOR = 5  # an hour with this many times the median hour's votes
NEW_NUMBER_SHARE = 0.8  # an hour whose votes come this much from numbers first seen in the last day
JUMP_WINDOW_MINUTES = 10
JUMP_FACTOR = 5  # a project getting this many times its usual votes per window


def _epoch_minutes(column: str) -> str:
    if is_postgres():
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column}) / 60) AS BIGINT)"
    return f"(CAST(strftime('%s', {column}) AS INTEGER) / 60)"


def fairness(round_: VoteRound) -> dict:
    """Votes per hour (and how many came from new numbers), and flags for what staff should look at: a busy hour,
    an hour of mostly new numbers, a jump in one project's votes within minutes. Flags never change a count.
    One scan of the round's votes cast, in windows of JUMP_WINDOW_MINUTES; hours are made of whole windows."""
    numbers = [p.number for p in projects_of(round_)]
    windows = [(int(w), int(votes), int(new or 0), [int(c or 0) for c in per_project]) for w, votes, new, *per_project
               in _rows(f"SELECT {_epoch_minutes('cast_at')} / {JUMP_WINDOW_MINUTES} AS w, COUNT(*), "
                        f"SUM(CASE WHEN new_contact THEN 1 ELSE 0 END), {_project_sums('choice_bits', len(numbers))} "
                        "FROM vote_cast WHERE round_id = ? GROUP BY w ORDER BY w", (round_.id,))]
    hours: dict[int, list[int]] = {}
    for window, votes, new, _ in windows:
        hour = hours.setdefault(window * JUMP_WINDOW_MINUTES // 60, [0, 0])
        hour[0] += votes
        hour[1] += new
    median = statistics.median([votes for votes, _ in hours.values()]) if hours else 0
    flags = []
    for hour, (votes, new) in hours.items():
        if votes >= MIN_FLAG_VOTES and votes > BUSY_HOUR_FACTOR * median:
            flags.append({"kind": "busy_hour", "from": _moment(hour * 60), "minutes": 60, "votes": votes,
                          "median_hour": median})
        if new >= MIN_FLAG_VOTES and new >= NEW_NUMBER_SHARE * votes:
            flags.append({"kind": "new_numbers", "from": _moment(hour * 60), "minutes": 60, "votes": votes,
                          "from_new_numbers": new})
    flags += _jumps(numbers, [(window, per_project) for window, _, _, per_project in windows])
    return {"hourly": [{"from": _moment(hour * 60), "votes": votes, "from_new_numbers": new}
                       for hour, (votes, new) in hours.items()],
            "casts": sum(votes for votes, _ in hours.values()), "flags": flags}


def _jumps(numbers: list[int], windows: list[tuple[int, list[int]]]) -> list[dict]:
    """Windows in which one project got JUMP_FACTOR times its usual votes per window (its average elsewhere)."""
    flags = []
    for i, number in enumerate(numbers):
        total = sum(per_project[i] for _, per_project in windows)
        for window, per_project in windows:
            count = per_project[i]
            usual = (total - count) / max(1, len(windows) - 1)
            if count >= MIN_FLAG_VOTES and count >= JUMP_FACTOR * max(usual, 1):
                flags.append({"kind": "project_jump", "project": number,
                              "from": _moment(window * JUMP_WINDOW_MINUTES), "minutes": JUMP_WINDOW_MINUTES,
                              "votes": count, "usual_per_window": round(usual, 1)})
    return flags


def _moment(epoch_minute: int) -> dt.datetime:
    """Naive UTC."""
    return dt.datetime(1970, 1, 1) + dt.timedelta(minutes=epoch_minute)


# --- the results SMS -------------------------------------------------------------------------------------


def enqueue_results(round_: VoteRound, texts: dict[str, tuple[str, str, int]], default_script: str,
                    channel: str, not_before: dt.datetime | None) -> int:
    """Queue one results SMS to every voter of the round who can still be reached (consented, not opted out),
    in their language and script: `texts` maps 'mn-cyrl' | 'mn-latn' | 'en' to (text, encoding, segments).
    One INSERT … SELECT per variant; the idempotency key `vote:<id>:results:<contact>` makes it safe to repeat."""
    origin = f"vote:{round_.id}:results"
    variant = variant_of(default_script, force_latin=False)
    now = utcnow()
    inserted = 0
    fields = [Message.direction, Message.contact, Message.channel, Message.kind, Message.text, Message.status,
              Message.priority, Message.purpose, Message.origin, Message.idempotency_key, Message.encoding,
              Message.segments, Message.attempts, Message.next_attempt_at, Message.created_at, Message.updated_at]
    with database.atomic():
        for name, (text, encoding, segments) in texts.items():
            select = (Ballot.select(Value("out"), Contact.id, Value(channel), Value("sms"), Value(text),
                                    Value("queued"), Value(BULK_PRIORITY), Value("notice"), Value(origin),
                                    Value(f"{origin}:").concat(Contact.id.cast("text")), Value(encoding),
                                    Value(segments), Value(0), Value(not_before), Value(now), Value(now))
                      .join(Contact, on=(Ballot.contact == Contact.id))
                      .join(PhoneNumber, on=(PhoneNumber.contact == Contact.id))
                      .where(_reachable_voter(round_) & (variant == name)))
            inserted += Message.insert_from(select, fields).on_conflict_ignore().as_rowcount().execute()
        VoteRound.update(results_sent_at=now).where(VoteRound.id == round_.id).execute()
    round_.results_sent_at = now
    return inserted


def _reachable_voter(round_: VoteRound):
    """A voter of the round the results SMS goes to: consented and not opted out (joined to Contact and
    PhoneNumber: a number we can still text)."""
    return (Ballot.round == round_.id) & Contact.consent_at.is_null(False) & Contact.opted_out_at.is_null()


def reachable_voters(round_: VoteRound) -> int:
    """How many people the results SMS would go to if the round closed now."""
    return (Ballot.select().join(Contact, on=(Ballot.contact == Contact.id))
            .join(PhoneNumber, on=(PhoneNumber.contact == Contact.id)).where(_reachable_voter(round_)).count())


# --- the weekly digest --------------------------------------------------------------------------------------


def active_in(start: dt.datetime, end: dt.datetime, unit_ids: list[int] | None) -> list[VoteRound]:
    """Rounds open at some time between `start` and `end` (naive UTC), optionally inside some admin units."""
    query = (VoteRound.select(VoteRound, AdminUnit).join(AdminUnit)
             .where(VoteRound.opened_at.is_null(False) & (VoteRound.opened_at < end)
                    & (VoteRound.closed_at.is_null() | (VoteRound.closed_at >= start)))
             .order_by(AdminUnit.code, VoteRound.id))
    if unit_ids is not None:
        query = query.where(VoteRound.admin_unit.in_(unit_ids))
    return list(query)


def new_voters(round_: VoteRound, start: dt.datetime, end: dt.datetime) -> int:
    return Ballot.select().where((Ballot.round == round_) & (Ballot.first_voted_at >= start)
                                 & (Ballot.first_voted_at < end) & ~Ballot.out_of_area).count()


def round_summary(round_: VoteRound) -> dict:
    """Plain data describing a round and its projects (no voter ever appears)."""
    unit = round_.admin_unit
    return {
        "id": round_.id, "status": round_.status, "max_choices": round_.max_choices,
        "fund_amount": round_.fund_amount, "min_cell": round_.min_cell,
        "admin_unit": {"code": unit.code, "kind": unit.kind, "name_mn": unit.name_mn, "name_en": unit.name_en},
        "opens_on": _iso(round_.opens_on), "closes_on": _iso(round_.closes_on),
        "opened_at": _iso(round_.opened_at), "closed_at": _iso(round_.closed_at),
        "results_sent_at": _iso(round_.results_sent_at),
        "next_steps": {"mn": round_.next_steps_mn, "en": round_.next_steps_en, "latn": round_.next_steps_latn},
        "projects": [project_view(p) for p in projects_of(round_)],
    }


def project_view(project: VoteProject) -> dict:
    view = {"number": project.number, "mn": project.name_mn, "en": project.name_en, "latn": project.name_latn,
            "description": None}
    if project.description_mn:
        view["description"] = {"mn": project.description_mn, "en": project.description_en,
                               "latn": project.description_latn}
    return view


def _iso(value) -> str | None:
    return value.isoformat() if value else None
