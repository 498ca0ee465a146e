"""Helpers for conversation tests: a person texting or dialling, either into the conversation applier (the
real decision and storage, without HTTP) or through the Africa's Talking webhooks (the simulator's `Phone`)."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gateway.conversation import receive_sms, receive_ussd
from gateway.messages import InboundSms, UssdHop, UssdScreen
from gateway.simulate import InProcessTransport, Phone
from storage.contacts import contact_for_number
from storage.db import database, utcnow
from storage.models import Contact

AT_TOKEN = "test-at-webhook-token"
FLOWS_DIR = Path(__file__).parent / "flows"


class Person:
    """Hands messages to the conversation applier, as the webhooks do after a channel has parsed them."""

    def __init__(self, app, number: str = "+97699112233") -> None:
        self.app, self.number = app, number
        self.session: str | None = None
        self.inputs: list[str] = []
        self.sent = 0
        with app.app_context(), database.connection_context():
            self.contact_id = contact_for_number(number, app.config["SECRET_KEY"])[0].id

    @property
    def contact(self) -> Contact:
        with self.app.app_context(), database.connection_context():
            return Contact.get_by_id(self.contact_id)

    def sms(self, text: str) -> list[str]:
        self.sent += 1
        sms = InboundSms("africastalking", f"sms-{uuid.uuid4().hex}", self.number, text, utcnow())
        with self.app.app_context(), database.connection_context():
            return receive_sms(self.app, sms, lambda replies: "").replies

    def dial(self) -> UssdScreen:
        self.session, self.inputs = f"ATUid_{uuid.uuid4().hex}", []
        return self._hop()

    def press(self, value: str) -> UssdScreen:
        self.inputs.append(value)
        return self._hop()

    def _hop(self) -> UssdScreen:
        hop = UssdHop("africastalking", self.session, "*1411#", self.number, "*".join(self.inputs))
        screens: list[UssdScreen] = []

        def respond(text: str, end: bool) -> str:
            screens.append(UssdScreen(text, end))
            return text

        with self.app.app_context(), database.connection_context():
            receive_ussd(self.app, hop, respond)
        return screens[-1]


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


def render_text(text, language: str, script: str, **values) -> str:
    """A flows.definition.Text as a reader gets it (Latin Mongolian machine-made unless written by hand)."""
    from flows.templates import render
    from flows.text import to_latin

    rendered = render(text.source(language, script), {"lang": language, **values})
    return to_latin(rendered) if language == "mn" and script == "latn" else rendered


def say(app, key: str, language: str = "mn", script: str = "latn", **values) -> str:
    """One of the gateway's own texts (flows/system/messages.yaml)."""
    return render_text(app.extensions["gateway.flows"].messages[key], language, script, **values)


def system_text(app, flow_id: str, step: str, part: str = "say", language: str = "mn", script: str = "latn",
                **values) -> str:
    """What a system flow's step says or asks (the notice, help…), rendered as the gateway renders it."""
    flow = app.extensions["gateway.flows"].get(flow_id)
    return render_text(getattr(flow.steps[step], part), language, script, **values)


def notice(app, language: str = "mn", script: str = "latn", channel: str = "sms") -> str:
    step, part = ("sms_notice", "say") if channel == "sms" else ("ussd_notice", "ask")
    return system_text(app, "consent", step, part, language, script, months=12)
