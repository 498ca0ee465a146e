"""Fixtures for the meeting and broadcast tests: a connection that survives run_job, and a khoroo of contacts."""
from __future__ import annotations

import pytest

from storage.db import database
from tests.meetings.helpers import add_contacts


@pytest.fixture
def db(app):
    """Like the root `db` fixture, but it survives `run_job`, whose app context closes the connection on exit
    (queries reconnect by themselves; the root fixture's nested connection_context would fail at teardown)."""
    with app.app_context():
        database.connect(reuse_if_open=True)
        yield database
        if not database.is_closed():
            database.close()


@pytest.fixture
def khoroo(db):
    """Bayangol khoroo 7 with 6 consented contacts: 3 Cyrillic readers, 2 Latin readers, 1 English reader."""
    people = (add_contacts(3, "BGD-07", script="cyrl") + add_contacts(2, "BGD-07", start=3, script="latn")
              + add_contacts(1, "BGD-07", start=5, language="en"))
    return people


@pytest.fixture
def fake_android(monkeypatch):
    """The Android phone's API on loopback, with the gateway's credentials for it in the environment."""
    from tests.fakes import FakeAndroid
    from tests.fakes.signing import ANDROID_KEY, ANDROID_LOGIN, ANDROID_PASSWORD

    for name, value in {"ANDROID_GATEWAY_LOGIN": ANDROID_LOGIN, "ANDROID_GATEWAY_PASSWORD": ANDROID_PASSWORD,
                        "ANDROID_GATEWAY_SIGNING_KEY": ANDROID_KEY}.items():
        monkeypatch.setenv(name, value)
    fake = FakeAndroid(ANDROID_LOGIN, ANDROID_PASSWORD).start()
    yield fake
    fake.stop()


@pytest.fixture
def phone_app(make_app, fake_android):
    """An app whose only channel is the (fake) Android phone, sending fast enough for tests."""
    return make_app(channels={"android": {"enabled": True, "base_url": fake_android.url, "rate_per_second": 200}},
                    routing={"sms": ["android"], "bulk": ["android"]},
                    outbox={"send_timeout_seconds": 2, "backoff_seconds": 1, "dispatch_seconds": 5})
