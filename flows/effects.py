"""Typed effects: what a conversation decision asks the gateway to do. Plain data, applied in one transaction.

The decision never writes anything; it returns these in order and `gateway.conversation` applies them. A run the
decision starts has no id yet, so effects name it with a `NewRun` placeholder that the applier resolves.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class NewRun:
    """A run started by this decision; `number` tells several apart."""

    number: int


RunRef = int | NewRun  # a stored run's id, or one started by this decision


@dataclass(frozen=True)
class NoteInbound:
    """The person was heard from now; `script` is what their text was written in, when it told us."""

    script: str | None


@dataclass(frozen=True)
class SetLanguage:
    language: str


@dataclass(frozen=True)
class SetScript:
    script: str


@dataclass(frozen=True)
class OptIn:
    version: str  # the consent notice version the person saw
    source: str  # sms | ussd


@dataclass(frozen=True)
class OptOut:
    """STOP: no more messages; queued bulk to the person is cancelled."""


@dataclass(frozen=True)
class EndSmsRuns:
    """End every active SMS run of the person (STOP)."""

    status: str


@dataclass(frozen=True)
class StartRun:
    run: NewRun
    flow_id: str
    flow_version: int
    channel: str
    session_key: str | None = None


@dataclass(frozen=True)
class SaveRun:
    run: RunRef
    state: dict
    status: str  # active | completed | interrupted | expired | failed
    expires_at: datetime | None = None


@dataclass(frozen=True)
class SaveResults:
    """Only the results this decision saved or changed."""

    run: RunRef
    results: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class ReserveReference:
    """A complaint reference for the run; the applier puts it where the replies hold `placeholder`."""

    run: RunRef
    placeholder: str


@dataclass(frozen=True)
class SaveSession:
    """The USSD session after this hop: how many inputs are handled, the screen shown, and the waiting run."""

    key: str
    consumed: int
    screen: str
    end: bool
    run: RunRef | None
    new: bool


# ---- what finished runs mean (flows declare `records: …`) ------------------------------------------------

@dataclass(frozen=True)
class RecordComplaint:
    run: RunRef
    category: str
    unit: str | None
    landmark: str | None
    description: str
    anonymous: bool


@dataclass(frozen=True)
class RecordScores:
    run: RunRef
    round_key: str | None
    group: str | None
    scores: dict[str, int]
    reason: str | None


@dataclass(frozen=True)
class RecordRsvp:
    run: RunRef
    answer: str | None  # yes | no | maybe, or None for a question only
    question: str | None


@dataclass(frozen=True)
class RecordFollowup:
    run: RunRef
    solved: bool


@dataclass(frozen=True)
class RecordCitizenReply:
    """The citizen's answer to staff's message about their complaint, for the complaint's thread."""

    run: RunRef
    text: str


@dataclass(frozen=True)
class RecordVote:
    """A Local Development Fund vote: it replaces the person's earlier vote in the same round."""

    run: RunRef
    vote_key: str
    choices: tuple[str, ...]  # project numbers, as chosen
    group: str | None


@dataclass(frozen=True)
class JoinUnit:
    """Put the person in an admin unit's audience; only `replace` moves someone already placed."""

    unit: str
    replace: bool


RECORD_EFFECTS = (RecordComplaint, RecordScores, RecordRsvp, RecordFollowup, RecordCitizenReply, RecordVote,
                  JoinUnit)
Effect = (NoteInbound | SetLanguage | SetScript | OptIn | OptOut | EndSmsRuns | StartRun | SaveRun | SaveResults
          | ReserveReference | SaveSession | RecordComplaint | RecordScores | RecordRsvp | RecordFollowup
          | RecordCitizenReply | RecordVote | JoinUnit)
