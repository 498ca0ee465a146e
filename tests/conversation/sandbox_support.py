"""A sandbox phone on the bundled flows with fixed data: the pure decision, no Flask and no database."""
from __future__ import annotations

from datetime import UTC, datetime

from flows.catalog import AdminCatalog
from flows.decision import Person, Settings
from flows.loader import load_flows
from flows.sandbox import Sandbox, SandboxState
from tests.flows.flows_support import ROUND_FHC, ROUND_KG, UNITS

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Ulaanbaatar
MEETING = {"id": 1, "date": "2026-12-10", "time": "18:00", "status": "scheduled",
           "title": {"mn": "7-р хорооны ИНХ", "en": "Khoroo 7 general meeting"},
           "place": {"mn": "хорооны байр", "en": "the khoroo office"}, "weekday": {"mn": "Пүрэв", "en": "Thu"}}
FOLLOWUP = {"ref": "G-0412", "note": {"mn": "Ус түгээх байрыг засав.", "en": "The water kiosk was repaired."}}
PROJECTS = [{"key": "1", "mn": "Гудамжны гэрэл", "en": "Street lights"},
            {"key": "2", "mn": "Усны цэг", "en": "Water kiosk"},
            {"key": "3", "mn": "Цэцэрлэгийн хашаа", "en": "Kindergarten fence", "latn": "Tsetserlegiin hashaa"},
            {"key": "4", "mn": "Замын засвар", "en": "Road repair"}]
VOTES = [  # Local Development Fund votes in Bayangol khoroos 3 (up to 2 choices) and 4 (one choice)
    {"key": "5", "unit": "BGD-03", "near": ["BGD-01", "BGD-02", "BGD-03", "BGD-04"], "mn": "Баянгол, 3-р хороо",
     "latn": "Bayangol, 3-r horoo", "en": "Bayangol, khoroo 3", "short": {"mn": "3-р хороо", "en": "khoroo 3"},
     "most": 2, "closes": "2026-12-20", "fund": {"mn": "150 сая ₮", "en": "MNT 150 million", "latn": "150 saya tug"},
     "projects": PROJECTS, "voted": []},
    {"key": "6", "unit": "BGD-04", "near": ["BGD-01", "BGD-02", "BGD-03", "BGD-04"], "mn": "Баянгол, 4-р хороо",
     "latn": "Bayangol, 4-r horoo", "en": "Bayangol, khoroo 4", "short": {"mn": "4-р хороо", "en": "khoroo 4"},
     "most": 1, "closes": "2026-12-20", "fund": None, "projects": PROJECTS[:3], "voted": []},
]


def vote_data(person) -> dict:
    """What gateway.votes.vote_data gives: the open votes, and the one of the person's own unit."""
    home = next((vote for vote in VOTES if vote["unit"] == person.unit), None)
    return {"votes": VOTES, **({"home": home} if home else {})}


class FixedAssets:
    """What the gateway would look up, as constants: two open rounds, one meeting, one complaint follow-up."""

    def __init__(self, rounds: list | None = None) -> None:
        self.rounds = [ROUND_KG, ROUND_FHC] if rounds is None else rounds
        self.catalog = AdminCatalog(UNITS)

    def flow_data(self, flow, person):
        return {"scorecard": {"rounds": self.rounds}, "rsvp": {"meeting": MEETING}, "complaint_followup": FOLLOWUP,
                "ldf_vote": vote_data(person)}.get(flow.records or "", {})

    def units(self):
        return self.catalog


def sandbox_phone(language: str = "mn", script: str | None = None, consented: bool = False, flows=None,
                  rounds: list | None = None, settings: Settings | None = None) -> Sandbox:
    person = Person(id=1, language=language, script=script, consented=consented)
    return Sandbox(flows or load_flows([], bundled=True), FixedAssets(rounds), settings or Settings(), NOW,
                   SandboxState(person=person))
