"""Privacy fixtures: apps with Africa's Talking on, phones on its webhooks, the CLI against the test database."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from gateway.cli import cli
from gateway.simulate import InProcessTransport, Phone
from storage.db import database

AT_TOKEN = "privacy-at-webhook-token"
SECRET_A, SECRET_B = "secret-key-A-0123456789abcdef", "secret-key-B-0123456789abcdef"


@pytest.fixture
def at_env(monkeypatch):
    """Africa's Talking webhooks on, and no pseudonymisation key in the environment: it comes from the instance
    folder, as in the quick start."""
    monkeypatch.setenv("AT_WEBHOOK_TOKEN", AT_TOKEN)
    monkeypatch.delenv("GATEWAY_PSEUDONYM_KEY", raising=False)


@pytest.fixture
def start(make_app, at_env):
    """start(secret_key=…) builds the app on the same database and instance folder each time: a restart."""
    def factory(secret_key: str = SECRET_A, **overrides):
        return make_app(secret_key=secret_key, channels={"africastalking": {"enabled": True}}, **overrides)
    return factory


def phone(app, number: str) -> Phone:
    return Phone(app, InProcessTransport(app, AT_TOKEN), number)


@pytest.fixture
def run(database_url, tmp_path, monkeypatch, at_env):
    """`gateway …` against the test database and instance folder; returns the click Result."""
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", SECRET_A)
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, input: str | None = None):
        result = CliRunner().invoke(cli, list(args), input=input)
        if not database.is_closed():
            database.close()
        return result
    return invoke
