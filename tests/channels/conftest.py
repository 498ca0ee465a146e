"""Channel test fixtures: fake providers on loopback, an app with all three channels pointed at them, signers."""
from __future__ import annotations

import pytest

from tests.fakes import FakeAfricasTalking, FakeAndroid, FakeTwilio
from tests.fakes.signing import (
    ANDROID_KEY,
    ANDROID_LOGIN,
    ANDROID_PASSWORD,
    AT_KEY,
    AT_TOKEN,
    AT_USER,
    TWILIO_SID,
    TWILIO_TOKEN,
)


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio(TWILIO_SID, TWILIO_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_at():
    fake = FakeAfricasTalking(AT_USER, AT_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_android():
    fake = FakeAndroid(ANDROID_LOGIN, ANDROID_PASSWORD).start()
    yield fake
    fake.stop()


@pytest.fixture
def provider_env(monkeypatch):
    for name, value in {"TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "AT_USERNAME": AT_USER,
                        "AT_API_KEY": AT_KEY, "AT_WEBHOOK_TOKEN": AT_TOKEN, "ANDROID_GATEWAY_LOGIN": ANDROID_LOGIN,
                        "ANDROID_GATEWAY_PASSWORD": ANDROID_PASSWORD,
                        "ANDROID_GATEWAY_SIGNING_KEY": ANDROID_KEY}.items():
        monkeypatch.setenv(name, value)


def channel_settings(fake_twilio, fake_at, fake_android) -> dict:
    return {
        "twilio": {"enabled": True, "from_number": "+15005550006", "base_url": fake_twilio.url,
                   "rate_per_second": 100},
        "africastalking": {"enabled": True, "base_url": fake_at.url, "rate_per_second": 100},
        "android": {"enabled": True, "base_url": fake_android.url, "rate_per_second": 100},
    }


@pytest.fixture
def make_channel_app(make_app, provider_env, fake_twilio, fake_at, fake_android):
    """An app with every channel enabled against the fakes; keyword arguments are more config overrides."""
    def factory(**overrides):
        settings = {"channels": channel_settings(fake_twilio, fake_at, fake_android),
                    "public_url": "http://localhost",  # what the test client calls, so Twilio signatures match
                    "outbox": {"send_timeout_seconds": 1, "backoff_seconds": 1}}
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(settings.get(key), dict):
                for inner, inner_value in value.items():
                    if isinstance(inner_value, dict) and isinstance(settings[key].get(inner), dict):
                        settings[key][inner].update(inner_value)
                    else:
                        settings[key][inner] = inner_value
            else:
                settings[key] = value
        return make_app(**settings)
    return factory


@pytest.fixture
def channel_app(make_channel_app):
    return make_channel_app()
