"""CVA scorecard rounds: indicators, respondent groups, scores, provider self-scores and action items.

A score is stored against the pseudonymous contact, never a number, and is unique per round × indicator ×
respondent: scoring again replaces the earlier score, so every person counts once.
"""
from __future__ import annotations

import datetime as dt

import peewee as pw

from storage.db import BaseModel, database, utcnow
from storage.models import AdminUnit, Contact, ServicePoint

ROUND_STATUSES = ("draft", "open", "closed")
GROUPS = ("women", "men", "youth", "elderly", "unspecified")  # self-declared, optional
ACTION_STATUSES = ("planned", "in_progress", "done", "dropped")


class Round(BaseModel):
    service_point = pw.ForeignKeyField(ServicePoint, backref="rounds", on_delete="RESTRICT")
    number = pw.IntegerField()
    previous = pw.ForeignKeyField("self", null=True, backref="next_rounds", on_delete="SET NULL")
    status = pw.CharField(default="draft", index=True)  # draft | open | closed
    scale_min = pw.SmallIntegerField(default=1)
    scale_max = pw.SmallIntegerField(default=5)
    min_cell = pw.IntegerField(default=5)  # cells with fewer respondents are suppressed in every report
    opens_on = pw.DateField(null=True)
    closes_on = pw.DateField(null=True)
    opened_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True)
    meeting_at = pw.DateTimeField(null=True)  # the interface meeting, naive UTC
    meeting_place_mn = pw.CharField(null=True)
    meeting_place_en = pw.CharField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("service_point", "number"), True),)


class Indicator(BaseModel):
    round = pw.ForeignKeyField(Round, backref="indicators", on_delete="CASCADE", index=False)
    code = pw.CharField()  # A, B, C…: stable across rounds so they can be compared
    position = pw.IntegerField(default=0)
    text_mn = pw.TextField()
    text_en = pw.TextField()
    text_latn = pw.TextField(null=True)  # overrides the automatic transliteration

    class Meta:
        indexes = ((("round", "code"), True),)


class ProviderSelfScore(BaseModel):
    round = pw.ForeignKeyField(Round, backref="self_scores", on_delete="CASCADE")
    indicator = pw.ForeignKeyField(Indicator, backref="self_scores", on_delete="CASCADE")
    score = pw.FloatField()
    note = pw.TextField(null=True)

    class Meta:
        indexes = ((("round", "indicator"), True),)


class Respondent(BaseModel):
    """A contact's self-declared group in one round (the latest answer wins)."""

    round = pw.ForeignKeyField(Round, backref="respondents", on_delete="CASCADE", index=False)
    contact = pw.ForeignKeyField(Contact, backref="rounds", on_delete="CASCADE")
    group = pw.CharField(default="unspecified")
    created_at = pw.DateTimeField(default=utcnow)  # first scores: counts respondents "as of" a date
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("round", "contact"), True),)


class Score(BaseModel):
    round = pw.ForeignKeyField(Round, backref="scores", on_delete="CASCADE", index=False)  # leads the unique index
    indicator = pw.ForeignKeyField(Indicator, backref="scores", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, backref="scores", on_delete="CASCADE")
    score = pw.SmallIntegerField()
    channel = pw.CharField(default="sms")  # sms | ussd | paper
    scored_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("round", "indicator", "contact"), True),)


class Reason(BaseModel):
    """An optional free-text reason; only `redacted_text` (set by staff) ever leaves the system."""

    round = pw.ForeignKeyField(Round, backref="reasons", on_delete="CASCADE")
    contact = pw.ForeignKeyField(Contact, backref="reasons", on_delete="CASCADE")
    text = pw.TextField()
    redacted_text = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


class ActionItem(BaseModel):
    round = pw.ForeignKeyField(Round, backref="action_items", on_delete="CASCADE")
    indicator = pw.ForeignKeyField(Indicator, null=True, backref="action_items", on_delete="SET NULL")
    action = pw.TextField()
    owner_role = pw.CharField()
    owner_org = pw.CharField()
    due_on = pw.DateField(index=True)
    status = pw.CharField(default="planned")
    created_at = pw.DateTimeField(default=utcnow)


class ActionUpdate(BaseModel):
    item = pw.ForeignKeyField(ActionItem, backref="updates", on_delete="CASCADE")
    status = pw.CharField()
    note = pw.TextField(null=True)
    actor = pw.CharField()
    at = pw.DateTimeField(default=utcnow)


MODELS = [Round, Indicator, ProviderSelfScore, Respondent, Score, Reason, ActionItem, ActionUpdate]


class RoundError(ValueError):
    """A round operation that cannot be done; the message says why."""


def create_round(service_point: ServicePoint, indicators: list[dict], *, min_cell: int = 5,
                 opens_on: dt.date | None = None, closes_on: dt.date | None = None,
                 meeting_at: dt.datetime | None = None, meeting_place_mn: str | None = None,
                 meeting_place_en: str | None = None) -> Round:
    """A draft round numbered after the service point's latest round, which becomes its `previous`."""
    indicators = [_checked_indicator(number, item) for number, item in enumerate(indicators or [], 1)]
    if not indicators:
        raise RoundError("a round needs at least one indicator")
    codes = [item["code"] for item in indicators]
    if len(set(codes)) != len(codes):
        raise RoundError(f"indicator codes must be unique: {', '.join(codes)}")
    if not isinstance(min_cell, int) or isinstance(min_cell, bool) or not 1 <= min_cell <= MAX_MIN_CELL:
        raise RoundError(f"min_cell must be a whole number from 1 to {MAX_MIN_CELL}")
    previous = (Round.select().where(Round.service_point == service_point)
                .order_by(Round.number.desc()).first())
    with database.atomic():
        round_ = Round.create(service_point=service_point, number=(previous.number + 1) if previous else 1,
                              previous=previous, min_cell=min_cell, opens_on=opens_on, closes_on=closes_on,
                              meeting_at=meeting_at, meeting_place_mn=meeting_place_mn,
                              meeting_place_en=meeting_place_en)
        for position, item in enumerate(indicators):
            indicator = Indicator.create(round=round_, code=item["code"], position=position, text_mn=item["mn"],
                                         text_en=item["en"], text_latn=item["latn"])
            if item["provider_score"] is not None:
                ProviderSelfScore.create(round=round_, indicator=indicator, score=item["provider_score"])
    return round_


MAX_MIN_CELL = 1000
MAX_TEXT = 500


def _checked_indicator(number: int, item: object) -> dict:
    """{code, mn, en, latn, provider_score} with the types checked, or RoundError saying what is wrong."""
    if not isinstance(item, dict):
        raise RoundError(f"indicator {number} must be a mapping with code, mn and en")
    texts = {}
    for name in ("code", "mn", "en", "latn"):
        value = item.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and name == "code":
            value = str(value)
        if value is None or value == "":
            if name != "latn":
                raise RoundError(f"indicator {number} is missing '{name}'")
            value = None
        elif not isinstance(value, str) or len(value) > MAX_TEXT:
            raise RoundError(f"indicator {number}: '{name}' must be text of at most {MAX_TEXT} characters")
        texts[name] = value.strip() if value else None
    texts["code"] = texts["code"].upper()
    if len(texts["code"]) > 8:
        raise RoundError(f"indicator {number}: the code must be short, like A, B or C")
    return {**texts, "provider_score": _provider_score(number, item.get("provider_score"))}


def _provider_score(number: int, value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        score = float(value) if not isinstance(value, bool) and isinstance(value, int | float | str) else None
    except ValueError:
        score = None
    if score is None or not 1 <= score <= 5:
        raise RoundError(f"indicator {number}: provider_score must be a number from 1 to 5")
    return score


def set_status(round_: Round, status: str) -> Round:
    """draft → open → closed (a closed round may be reopened)."""
    allowed = {"open": ("draft", "closed"), "closed": ("open",)}
    if status not in allowed or round_.status not in allowed[status]:
        raise RoundError(f"round {round_.id} is {round_.status}; it cannot become {status}")
    round_.status = status
    if status == "open":
        round_.opened_at = round_.opened_at or utcnow()
        round_.closed_at = None
    else:
        round_.closed_at = utcnow()
    round_.save()
    return round_


def open_rounds_near(admin_unit_id: int | None) -> list[Round]:
    """Open rounds whose service point lies in the contact's admin unit subtree (or ancestors' own units);
    all open rounds when the contact's unit is unknown or nothing is open there."""
    query = (Round.select(Round, ServicePoint).join(ServicePoint)
             .where(Round.status == "open").order_by(Round.id))
    if admin_unit_id is not None:
        near = list(query.where(ServicePoint.admin_unit.in_(_unit_subtree_ids(admin_unit_id))))
        if near:
            return near
    return list(query)


def _unit_subtree_ids(admin_unit_id: int):
    sub = (AdminUnit.select(AdminUnit.id).where(AdminUnit.id == admin_unit_id).cte("sub", recursive=True))
    child = AdminUnit.alias()
    recursive = child.select(child.id).join(sub, on=(child.parent == sub.c.id))
    cte = sub.union_all(recursive)
    return cte.select_from(cte.c.id)


def record_scores(round_: Round, contact: Contact, group: str | None, scores: dict[str, int],
                  channel: str = "sms", reason: str | None = None) -> int:
    """Store one respondent's answers; a repeated indicator replaces the earlier score. Returns scores stored."""
    group = group if group in GROUPS else "unspecified"
    by_code = {ind.code: ind for ind in round_.indicators}
    valid = {code: int(value) for code, value in scores.items()
             if code in by_code and round_.scale_min <= int(value) <= round_.scale_max}
    now = utcnow()
    with database.atomic():
        (Respondent.insert(round=round_, contact=contact, group=group, created_at=now, updated_at=now)
         .on_conflict(conflict_target=[Respondent.round, Respondent.contact],
                      update={Respondent.group: group, Respondent.updated_at: now}).execute())
        for code, value in valid.items():
            (Score.insert(round=round_, indicator=by_code[code], contact=contact, score=value, channel=channel,
                          scored_at=now)
             .on_conflict(conflict_target=[Score.round, Score.indicator, Score.contact],
                          update={Score.score: value, Score.channel: channel, Score.scored_at: now}).execute())
        if reason:
            Reason.create(round=round_, contact=contact, text=reason)
    return len(valid)


def add_action_item(round_: Round, action: str, owner_role: str, owner_org: str, due_on: dt.date,
                    indicator_code: str | None = None) -> ActionItem:
    for name, value in (("action", action), ("owner_role", owner_role), ("owner_org", owner_org)):
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            raise RoundError(f"{name} must be text of at most {MAX_TEXT} characters")
    if indicator_code is not None and not isinstance(indicator_code, str):
        raise RoundError("indicator must be an indicator code such as A")
    indicator = Indicator.get_or_none((Indicator.round == round_) & (Indicator.code == indicator_code)) \
        if indicator_code else None
    return ActionItem.create(round=round_, indicator=indicator, action=action, owner_role=owner_role,
                             owner_org=owner_org, due_on=due_on)


def update_action_item(item: ActionItem, status: str, note: str | None, actor: str) -> ActionItem:
    if status not in ACTION_STATUSES:
        raise RoundError(f"status must be one of {', '.join(ACTION_STATUSES)}")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_TEXT):
        raise RoundError(f"note must be text of at most {MAX_TEXT} characters")
    with database.atomic():
        item.status = status
        item.save()
        ActionUpdate.create(item=item, status=status, note=note, actor=actor)
    return item


def round_summary(round_: Round) -> dict:
    """Plain data describing a round (no respondent ever appears)."""
    sp = round_.service_point
    self_scores = {s.indicator_id: s.score for s in round_.self_scores}
    return {
        "id": round_.id, "number": round_.number, "status": round_.status, "min_cell": round_.min_cell,
        "previous_round": round_.previous_id,
        "service_point": {"code": sp.code, "name_mn": sp.name_mn, "name_en": sp.name_en},
        "opens_on": _iso(round_.opens_on), "closes_on": _iso(round_.closes_on),
        "meeting": {"at": _iso(round_.meeting_at), "place_mn": round_.meeting_place_mn,
                    "place_en": round_.meeting_place_en},
        "indicators": [{"code": i.code, "mn": i.text_mn, "en": i.text_en, "latn": i.text_latn,
                        "provider_score": self_scores.get(i.id)}
                       for i in round_.indicators.order_by(Indicator.position)],
        "respondents": Respondent.select().where(Respondent.round == round_).count(),
        "action_items": [{"id": a.id, "action": a.action, "owner_role": a.owner_role, "owner_org": a.owner_org,
                          "due_on": _iso(a.due_on), "status": a.status} for a in round_.action_items],
    }


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def service_point(code: str, *, admin_unit_code: str | None = None, kind: str | None = None,
                  name_mn: str | None = None, name_en: str | None = None) -> ServicePoint:
    """The service point `code`, created when the unit, kind and names are given and it does not exist yet."""
    found = ServicePoint.get_or_none(ServicePoint.code == code)
    if found is not None:
        return found
    if not (admin_unit_code and kind and name_mn):
        raise RoundError(f"no service point {code!r}: give its admin unit, kind and Mongolian name to create it")
    unit = (AdminUnit.select().where((AdminUnit.code == admin_unit_code) & AdminUnit.valid_to.is_null()).first())
    if unit is None:
        raise RoundError(f"no admin unit with code {admin_unit_code!r}")
    return ServicePoint.create(code=code, kind=kind, name_mn=name_mn, name_en=name_en or name_mn, admin_unit=unit)


EDITABLE = ("min_cell", "opens_on", "closes_on", "meeting_at", "meeting_place_mn", "meeting_place_en")


def update_round(round_: Round, **changes) -> Round:
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise RoundError(f"cannot change {', '.join(sorted(unknown))}; editable: {', '.join(EDITABLE)}")
    value = changes.get("min_cell", 1)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_MIN_CELL:
        raise RoundError(f"min_cell must be a whole number from 1 to {MAX_MIN_CELL}")
    for name in ("meeting_place_mn", "meeting_place_en"):
        if changes.get(name) is not None and (not isinstance(changes[name], str) or len(changes[name]) > MAX_TEXT):
            raise RoundError(f"{name} must be text of at most {MAX_TEXT} characters")
    for name, value in changes.items():
        setattr(round_, name, value)
    round_.save()
    return round_


def delete_round(round_: Round) -> None:
    if round_.status != "draft":
        raise RoundError(f"round {round_.id} is {round_.status}; only a draft round can be deleted")
    round_.delete_instance(recursive=True)


def list_rounds(status: str | None = None) -> list[Round]:
    query = Round.select(Round, ServicePoint).join(ServicePoint).order_by(Round.id)
    return list(query.where(Round.status == status) if status else query)


def set_self_score(round_: Round, code: str, score: float | None, note: str | None) -> None:
    """The provider's own score for one indicator (None removes it), as entered at the interface meeting."""
    indicator = Indicator.get_or_none((Indicator.round == round_) & (Indicator.code == code))
    if indicator is None:
        raise RoundError(f"round {round_.id} has no indicator {code!r}")
    with database.atomic():
        ProviderSelfScore.delete().where((ProviderSelfScore.round == round_)
                                         & (ProviderSelfScore.indicator == indicator)).execute()
        if score is not None:
            ProviderSelfScore.create(round=round_, indicator=indicator, score=_provider_score(1, score),
                                     note=(note or "").strip()[:MAX_TEXT] or None)


def service_points_in(unit_ids: list[int] | None) -> list[ServicePoint]:
    query = ServicePoint.select().order_by(ServicePoint.code)
    return list(query if unit_ids is None else query.where(ServicePoint.admin_unit.in_(unit_ids)))
