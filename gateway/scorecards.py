"""The scorecard flow's data (`rounds`) and what its finished runs mean (scores, replacing earlier ones).

Flows with `records: scorecard` get `rounds`: the open rounds near the contact (their admin unit's subtree,
else every open round), each `{key, mn, en, latn?, indicators: [{code, mn, en, latn?}], meeting: {date, place}}`.
A finished run saves `group`, `round` (a key), `score.<CODE>` and `reason`.
"""
from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from flask import Flask

from gateway.logs import log_event
from gateway.records import completion_handler, context_provider
from storage import scorecards as store
from storage.models import Contact, FlowRun

GROUP_ALIASES = {"undisclosed": "unspecified", "none": "unspecified", "": "unspecified"}


@context_provider("scorecard")
def rounds_near(app: Flask, contact: Contact, run: FlowRun | None) -> dict:
    zone = ZoneInfo(app.config["GATEWAY"]["timezone"])
    return {"rounds": [_round_item(round_, zone) for round_ in store.open_rounds_near(contact.admin_unit_id)]}


def _round_item(round_: store.Round, zone: ZoneInfo) -> dict:
    sp = round_.service_point
    item = {"key": str(round_.id), "mn": sp.name_mn, "en": sp.name_en,
            "indicators": [_text_item(ind) for ind in round_.indicators.order_by(store.Indicator.position)],
            "meeting": {}}
    if round_.meeting_at:
        local = round_.meeting_at.replace(tzinfo=dt.UTC).astimezone(zone)
        item["meeting"] = {"date": local.date().isoformat(), "time": local.strftime("%H:%M"),
                           "place": {"mn": round_.meeting_place_mn or "", "en": round_.meeting_place_en
                                     or round_.meeting_place_mn or ""}}
    return item


def _text_item(indicator: store.Indicator) -> dict:
    item = {"code": indicator.code, "key": indicator.code, "mn": indicator.text_mn, "en": indicator.text_en}
    if indicator.text_latn:
        item["latn"] = indicator.text_latn
    return item


@completion_handler("scorecard")
def save_scores(app: Flask, contact: Contact, run: FlowRun, results: dict) -> list[str] | None:
    """Store the run's scores; a round that closed meanwhile (or an unknown key) stores nothing."""
    values = {name: _value(result) for name, result in results.items()}
    round_ = store.Round.get_or_none(store.Round.id == _int(values.get("round")))
    if round_ is None or round_.status != "open":
        log_event("scorecard.round_unavailable", logging.WARNING, run=run.id, round=values.get("round"))
        return None
    scores = {name.split(".", 1)[1].upper(): _int(value) for name, value in values.items()
              if name.startswith("score.") and _int(value) is not None}
    group = GROUP_ALIASES.get(str(values.get("group") or ""), values.get("group"))
    reason = values.get("reason")
    stored = store.record_scores(round_, contact, group, scores, channel=run.channel,
                                 reason=reason if reason and reason != "0" else None)
    log_event("scorecard.scored", run=run.id, round=round_.id, scores=stored)
    return None


def _value(result: object) -> object:
    return result.get("value") if isinstance(result, dict) else result


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
