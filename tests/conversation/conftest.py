"""Helpers for conversation tests: a person texting or dialling, either straight into the conversation layer
or through the Africa's Talking webhooks (the same `Phone` the simulator uses)."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gateway.conversation import handle_sms, handle_ussd
from gateway.messages import InboundSms, UssdHop, UssdScreen
from gateway.simulate import InProcessTransport, Phone
from storage.contacts import contact_for_number
from storage.db import database, utcnow
from storage.models import Contact

AT_TOKEN = "test-at-webhook-token"
FLOWS_DIR = Path(__file__).parent / "flows"


class Person:
    """Calls handle_sms / handle_ussd directly, as a channel would after storing the inbound message."""

    def __init__(self, app, number: str = "+97699112233") -> None:
        self.app, self.number = app, number
        self.session: str | None = None
        self.inputs: list[str] = []
        with app.app_context(), database.connection_context():
            self.contact_id = contact_for_number(number, app.config["SECRET_KEY"])[0].id

    @property
    def contact(self) -> Contact:
        with self.app.app_context(), database.connection_context():
            return Contact.get_by_id(self.contact_id)

    def sms(self, text: str) -> list[str]:
        with self.app.app_context(), database.connection_context():
            contact = Contact.get_by_id(self.contact_id)
            return handle_sms(self.app, contact, None, InboundSms("africastalking", None, self.number, text, utcnow()))

    def dial(self) -> UssdScreen:
        self.session, self.inputs = f"ATUid_{uuid.uuid4().hex}", []
        return self._hop()

    def press(self, value: str) -> UssdScreen:
        self.inputs.append(value)
        return self._hop()

    def _hop(self) -> UssdScreen:
        hop = UssdHop("africastalking", self.session, "*1411#", self.number, "*".join(self.inputs))
        with self.app.app_context(), database.connection_context():
            contact = Contact.get_by_id(self.contact_id)
            return handle_ussd(self.app, contact, None, hop)


def consented(person: Person) -> Person:
    """Get the first-contact notice out of the way (START records consent like any first message)."""
    person.sms("START")
    return person


@pytest.fixture
def at_app(make_app, monkeypatch):
    """The app with Africa's Talking enabled under a known webhook token."""
    monkeypatch.setenv("AT_WEBHOOK_TOKEN", AT_TOKEN)
    return make_app(channels={"africastalking": {"enabled": True}})


@pytest.fixture
def person(app) -> Person:
    return Person(app)


@pytest.fixture
def phone(at_app) -> Phone:
    """A handset talking to the AT webhooks through the test client; SMS replies come from the outbox."""
    return Phone(at_app, InProcessTransport(at_app, AT_TOKEN), "+97688110001")


def asked(app, flow_id: str, step: str, language: str = "mn", script: str = "latn") -> str:
    """The question a step asks, rendered from the flow file itself (no templates in these questions)."""
    flow = app.extensions["gateway.flows"].get(flow_id)
    return flow.steps[step].ask.source(language, script)
