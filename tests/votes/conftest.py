"""Helpers for vote tests: a vote round for a khoroo, contacts, and votes stored the way the flow stores them."""
from __future__ import annotations

import datetime as dt

import pytest

from gateway.simulate import InProcessTransport, Phone
from storage import votes
from storage.contacts import contact_for_number, opt_in
from storage.db import database
from storage.models import AdminUnit, Contact
from storage.tokens import create_token

AT_TOKEN = "test-at-webhook-token"
UNIT = "BGD-07"
PROJECTS = [
    {"mn": "Гудамжны гэрэл", "en": "Street lights", "description": {"mn": "10 шон", "en": "10 lamp posts"}},
    {"mn": "Усны цэг", "en": "Water kiosk"},
    {"mn": "Цэцэрлэгийн хашаа", "en": "Kindergarten fence", "latn": "Tsetserlegiin hashaa"},
    {"mn": "Замын засвар", "en": "Road repair"},
]


@pytest.fixture
def at_app(make_app, monkeypatch):
    """The app with Africa's Talking enabled under a known webhook token."""
    monkeypatch.setenv("AT_WEBHOOK_TOKEN", AT_TOKEN)
    return make_app(channels={"africastalking": {"enabled": True}})


def phone(app, number: str) -> Phone:
    return Phone(app, InProcessTransport(app, AT_TOKEN), number)


def bearer(app, role: str, name: str | None = None, scope: str = "UB,ZAV") -> dict:
    """A token of `role`; by default it reads both of the bundled top-level units (all of the test data)."""
    with app.app_context(), database.connection_context():
        _, plain = create_token(name or f"test {role}", role, scope)
    return {"Authorization": f"Bearer {plain}"}


def new_vote(app, unit: str = UNIT, projects=PROJECTS, open_it: bool = True, **fields) -> int:
    with app.app_context(), database.connection_context():
        admin_unit = AdminUnit.get(AdminUnit.code == unit)
        round_ = votes.create_round(admin_unit, projects, **fields)
        if open_it:
            votes.set_status(round_, "open")
        return round_.id


def person(app, number: str, unit: str | None = UNIT, consented: bool = True, language: str = "mn") -> int:
    """A contact (registered in `unit`), as if they had texted us before."""
    with app.app_context(), database.connection_context():
        contact, _ = contact_for_number(number, app.config["SECRET_KEY"], language=language)
        if consented:
            opt_in(contact, "test", "sms")
        if unit:
            Contact.update(admin_unit=AdminUnit.get(AdminUnit.code == unit)).where(Contact.id == contact.id).execute()
        return contact.id


def cast(app, vote_id: int, contact_id: int, *numbers: int, group: str = "unspecified", out_of_area: bool = False,
         new_contact: bool = False, at: dt.datetime | None = None) -> None:
    with app.app_context(), database.connection_context():
        votes.record_vote(contact_id, votes.CastVote(vote_id, numbers, group=group, out_of_area=out_of_area,
                                                     new_contact=new_contact), now=at)
