"""A phone whose conversation lives in memory: the real decision, with effects applied to plain data.

Nothing is stored and nothing is sent, so staff can try a flow (the console's web phone), tests can read the
conversation as a transcript (tests/conversation/golden), and a trainer can show citizens what to press. The
state round-trips through JSON (`as_data` / `from_data`) so a web session can carry it.
"""
from __future__ import annotations

import itertools
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from flows.decision import (
    REFERENCE,
    Assets,
    Decision,
    Person,
    Run,
    Screen,
    Session,
    Settings,
    World,
    decide_sms,
    decide_ussd,
)
from flows.effects import (
    EndSmsRuns,
    JoinUnit,
    NewRun,
    NoteInbound,
    OptIn,
    OptOut,
    RecordComplaint,
    RecordFollowup,
    RecordRsvp,
    RecordScores,
    RecordVote,
    ReserveReference,
    SaveResults,
    SaveRun,
    SaveSession,
    SetLanguage,
    SetScript,
    StartRun,
)
from flows.lexicon import Lexicon
from flows.loader import FlowSet

SAMPLE_REFERENCE = "G-TEST"  # what a sandbox shows where a real complaint reference would be


@dataclass
class SandboxState:
    person: Person = field(default_factory=lambda: Person(id=0))
    runs: dict[int, dict] = field(default_factory=dict)  # id → {flow_id, state, status, channel, session_key}
    results: dict[int, dict] = field(default_factory=dict)
    sessions: dict[str, dict] = field(default_factory=dict)
    records: list[dict] = field(default_factory=list)  # what real traffic would have recorded
    session_key: str | None = None
    inputs: list[str] = field(default_factory=list)


class Sandbox:
    def __init__(self, flows: FlowSet, assets: Assets, settings: Settings, now: datetime,
                 state: SandboxState | None = None, lexicon: Lexicon | None = None) -> None:
        self.flows, self.assets, self.settings, self.now, self.lexicon = flows, assets, settings, now, lexicon
        self.state = state or SandboxState()

    # ---- the phone ----------------------------------------------------------------------------------------

    def sms(self, text: str) -> list[str]:
        decision = decide_sms(self.world(), text, self._active_sms_run())
        return self.apply(decision).replies

    def dial(self) -> Screen:
        self.state.session_key, self.state.inputs = f"sandbox-{uuid.uuid4().hex[:12]}", []
        return self._hop()

    def press(self, value: str) -> Screen:
        if self.state.session_key is None:
            return self.dial()
        self.state.inputs.append(value)
        return self._hop()

    def world(self) -> World:
        return World(self.state.person, self.now, self.flows, self.assets, self.settings, self.lexicon)

    def _hop(self) -> Screen:
        key = self.state.session_key
        decision = decide_ussd(self.world(), key, list(self.state.inputs), self._session(key))
        screen = self.apply(decision).screen
        if screen.end:
            self.state.session_key = None
        return screen

    def _active_sms_run(self) -> Run | None:
        active = [run_id for run_id, run in self.state.runs.items()
                  if run["channel"] == "sms" and run["status"] == "active"]
        return self._run(max(active)) if active else None

    def _run(self, run_id: int | None) -> Run | None:
        run = self.state.runs.get(run_id) if run_id is not None else None
        if run is None:
            return None
        return Run(run_id, run["flow_id"], run["state"], run["channel"], run.get("session_key"))

    def _session(self, key: str) -> Session | None:
        session = self.state.sessions.get(key)
        if session is None:
            return None
        return Session(key, session["consumed"], session["screen"], session["end"], self._run(session["run"]))

    # ---- applying effects in memory --------------------------------------------------------------------

    def apply(self, decision: Decision) -> Decision:
        if decision.replayed:
            return decision
        new_ids: dict[NewRun, int] = {}
        counter = itertools.count(max(self.state.runs, default=0) + 1)
        for effect in decision.effects:
            run_id = self._resolve(getattr(effect, "run", None), new_ids, counter)
            self._apply_one(effect, run_id)
        if any(isinstance(effect, ReserveReference) for effect in decision.effects):
            decision = _with_reference(decision)
        return decision

    @staticmethod
    def _resolve(ref: Any, new_ids: dict, counter) -> int | None:
        if isinstance(ref, NewRun):
            if ref not in new_ids:
                new_ids[ref] = next(counter)
            return new_ids[ref]
        return ref

    def _apply_one(self, effect: Any, run_id: int | None) -> None:
        state, person = self.state, self.state.person
        if isinstance(effect, NoteInbound):
            state.person = replace(person, last_script=effect.script or person.last_script)
        elif isinstance(effect, SetLanguage):
            state.person = replace(person, language=effect.language)
        elif isinstance(effect, SetScript):
            state.person = replace(person, script=effect.script)
        elif isinstance(effect, OptIn):
            state.person = replace(person, consented=True, opted_out=False)
        elif isinstance(effect, OptOut):
            state.person = replace(person, opted_out=True)
        elif isinstance(effect, EndSmsRuns):
            for run in state.runs.values():
                if run["channel"] == "sms" and run["status"] == "active":
                    run["status"] = effect.status
        elif isinstance(effect, StartRun):
            state.runs[run_id] = {"flow_id": effect.flow_id, "state": {}, "status": "active",
                                  "channel": effect.channel, "session_key": effect.session_key}
        elif isinstance(effect, SaveRun):
            state.runs.setdefault(run_id, {"flow_id": effect.state.get("flow"), "channel": "sms"})
            state.runs[run_id].update(state=effect.state, status=effect.status)
        elif isinstance(effect, SaveResults):
            state.results.setdefault(run_id, {}).update(effect.results)
        elif isinstance(effect, SaveSession):
            state.sessions[effect.key] = {"consumed": effect.consumed, "end": effect.end, "run": run_id,
                                          "screen": effect.screen.replace(REFERENCE, SAMPLE_REFERENCE)}
        elif isinstance(effect, JoinUnit):
            if effect.replace or person.unit is None:
                state.person = replace(person, unit=effect.unit)
        elif isinstance(effect, RecordComplaint | RecordScores | RecordRsvp | RecordFollowup | RecordVote):
            state.records.append({"type": type(effect).__name__, **asdict(effect), "run": run_id})

    # ---- JSON round trip -----------------------------------------------------------------------------------

    def as_data(self) -> dict:
        data = asdict(self.state)
        data["runs"] = {str(key): value for key, value in data["runs"].items()}
        data["results"] = {str(key): value for key, value in data["results"].items()}
        return data

    @staticmethod
    def state_from(data: dict) -> SandboxState:
        return SandboxState(
            person=Person(**data["person"]), runs={int(k): v for k, v in data["runs"].items()},
            results={int(k): v for k, v in data["results"].items()}, sessions=dict(data["sessions"]),
            records=list(data["records"]), session_key=data.get("session_key"), inputs=list(data.get("inputs", [])))


def _with_reference(decision: Decision) -> Decision:
    replies = [reply.replace(REFERENCE, SAMPLE_REFERENCE) for reply in decision.replies]
    screen = decision.screen
    if screen is not None:
        screen = Screen(screen.text.replace(REFERENCE, SAMPLE_REFERENCE), screen.end)
    return replace(decision, replies=replies, screen=screen)
