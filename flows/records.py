"""What a finished run means: its results, read according to the flow's `records`, as typed effects."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flows.effects import (
    Effect,
    JoinUnit,
    RecordCitizenReply,
    RecordComplaint,
    RecordFollowup,
    RecordRsvp,
    RecordScores,
    RecordVote,
    RunRef,
)

UNIT_RESULT = "unit"  # any flow's location answer puts the person in that area's audience
SKIPPED = ("", "0")  # what an optional text holds when the person skipped it


def record_effects(records: str | None, run: RunRef, results: Mapping[str, Mapping[str, Any]]) -> list[Effect]:
    """The effects of a completed run (possibly none), in the order they should be applied."""
    values = {name: (result or {}).get("value") for name, result in results.items()}
    effects = [_READERS[records](run, values)] if records in _READERS else []
    unit = values.get(UNIT_RESULT)
    if unit:
        effects.append(JoinUnit(str(unit), replace=records == "join"))
    return [effect for effect in effects if effect is not None]


def _complaint(run: RunRef, values: dict) -> RecordComplaint:
    landmark = _text(values.get("landmark"))
    return RecordComplaint(
        run, category=str(values.get("category") or "other"), unit=_text(values.get(UNIT_RESULT)),
        landmark=landmark, description=str(values.get("description") or "").strip(),
        anonymous=str(values.get("anonymous") or "yes").lower() not in ("no", "false", "0"))


def _scores(run: RunRef, values: dict) -> RecordScores:
    scores = {name.split(".", 1)[1].upper(): number for name, value in values.items()
              if name.startswith("score.") and (number := _int(value)) is not None}
    return RecordScores(run, round_key=_text(values.get("round")), group=_text(values.get("group")), scores=scores,
                        reason=_text(values.get("reason")))


def _rsvp(run: RunRef, values: dict) -> RecordRsvp:
    answer = str(values.get("rsvp") or "").lower()
    return RecordRsvp(run, answer=answer if answer in ("yes", "no", "maybe") else None,
                      question=_text(values.get("question")))


def _followup(run: RunRef, values: dict) -> RecordFollowup | None:
    solved = str(values.get("solved") or "").lower()
    return RecordFollowup(run, solved=solved == "yes") if solved in ("yes", "no") else None


def _citizen_reply(run: RunRef, values: dict) -> RecordCitizenReply | None:
    text = str(values.get("answer") or "").strip()
    return RecordCitizenReply(run, text) if text else None


def _vote(run: RunRef, values: dict) -> RecordVote | None:
    vote, choices = _text(values.get("vote")), str(values.get("choice") or "").split()
    return RecordVote(run, vote, tuple(choices), _text(values.get("group"))) if vote and choices else None


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return None if text in SKIPPED else text


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


_READERS: dict[str, Callable[[RunRef, dict], Effect | None]] = {
    "complaint": _complaint, "scorecard": _scores, "rsvp": _rsvp, "complaint_followup": _followup,
    "complaint_reply": _citizen_reply,
    "ldf_vote": _vote,
}
