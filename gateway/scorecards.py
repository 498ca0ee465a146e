"""The scorecard flow's data (`rounds`) and what its finished runs mean (scores, replacing earlier ones).

Flows with `records: scorecard` get `rounds`: the open rounds near the contact (their admin unit's subtree,
else every open round), each `{key, mn, en, latn?, indicators: [{code, mn, en, latn?}], meeting: {date, place}}`.
A finished run saves `group`, `round` (a key), `score.<CODE>` and `reason`.
"""
from __future__ import annotations

import datetime as dt
import logging

from flask import Flask

from flows.decision import Person
from flows.effects import RecordScores
from gateway import clock
from gateway.conversation import AppliedRun
from gateway.logs import log_event
from storage import scorecards as store

GROUP_ALIASES = {"undisclosed": "unspecified", "none": "unspecified", "": "unspecified"}


def rounds_near(app: Flask, person: Person) -> dict:
    zone = clock.local_zone(app)
    return {"rounds": [_round_item(round_, zone) for round_ in store.open_rounds_near(person.unit_id)]}


def _round_item(round_: store.Round, zone: dt.tzinfo) -> dict:
    sp = round_.service_point
    item = {"key": str(round_.id), "mn": sp.name_mn, "en": sp.name_en,
            "indicators": [_text_item(ind) for ind in round_.indicators.order_by(store.Indicator.position)],
            "meeting": {}}
    if round_.meeting_at:
        local = clock.in_zone(zone, round_.meeting_at)
        item["meeting"] = {"date": local.date().isoformat(), "time": local.strftime("%H:%M"),
                           "place": {"mn": round_.meeting_place_mn or "", "en": round_.meeting_place_en
                                     or round_.meeting_place_mn or ""}}
    return item


def _text_item(indicator: store.Indicator) -> dict:
    item = {"code": indicator.code, "key": indicator.code, "mn": indicator.text_mn, "en": indicator.text_en}
    if indicator.text_latn:
        item["latn"] = indicator.text_latn
    return item


def record_scores(app: Flask, source: AppliedRun, effect: RecordScores) -> None:
    """Store the run's scores; a round that closed meanwhile (or an unknown key) stores nothing."""
    round_ = store.Round.get_or_none(store.Round.id == _int(effect.round_key))
    if round_ is None or round_.status != "open":
        log_event("scorecard.round_unavailable", logging.WARNING, run=source.run_id, round=effect.round_key)
        return
    group = GROUP_ALIASES.get(effect.group or "", effect.group)
    stored = store.record_scores(round_, source.contact_id, group, effect.scores, channel=source.channel,
                                 reason=effect.reason)
    log_event("scorecard.scored", run=source.run_id, round=round_.id, scores=stored)


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
