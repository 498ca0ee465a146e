"""Helpers for scorecard, complaint and digest tests: rounds, tokens and phones on the Africa's Talking webhooks."""
from __future__ import annotations

import pytest

from gateway.simulate import InProcessTransport, Phone
from storage import scorecards
from storage.db import database
from storage.models import AdminUnit
from storage.tokens import create_token

AT_TOKEN = "test-at-webhook-token"
INDICATORS = [
    {"code": "A", "mn": "Багш нар хүүхдэд эелдэг хандадаг уу?", "en": "Are teachers courteous to children?",
     "provider_score": 4.5},
    {"code": "B", "mn": "Хоол хангалттай юу?", "en": "Is the food sufficient?"},
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


def new_round(app, code: str = "KG16", unit: str = "BKhD-01", indicators=INDICATORS, min_cell: int = 5,
              open_it: bool = True) -> int:
    """A round at a (new or existing) service point; returns its id."""
    with app.app_context(), database.connection_context():
        assert AdminUnit.select().where(AdminUnit.code == unit).exists()
        point = scorecards.service_point(code, admin_unit_code=unit, kind="kindergarten",
                                         name_mn=f"{code} цэцэрлэг", name_en=f"Kindergarten {code}")
        round_ = scorecards.create_round(point, indicators, min_cell=min_cell)
        if open_it:
            scorecards.set_status(round_, "open")
        return round_.id
