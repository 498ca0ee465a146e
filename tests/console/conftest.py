"""Console fixtures: users of each role and area, a signed-in test client, and a little seeded data.

Time is frozen for the whole test (a Wednesday morning in Ulaanbaatar, outside quiet hours), so "upcoming" and
"overdue" never depend on the day the suite runs.
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from flask import has_app_context
from werkzeug.security import generate_password_hash

from storage import console as users
from storage.db import database
from tests.meetings.helpers import at_local

PASSWORD = "correct horse battery staple"
_HASH: list[str] = []  # scrypt is slow by design: hash the shared test password once per session
NOW = at_local(2026, 11, 18, 11, 0)  # Wednesday 11:00 in Ulaanbaatar
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
# name -> (role, units)
USERS = {"admin": ("admin", []), "staff": ("staff", ["BGD-07"]), "cso": ("cso", ["BGD-07"]),
         "district": ("staff", ["BGD"]), "zavkhan": ("staff", ["ZAV-IDER"])}


def password_hash() -> str:
    if not _HASH:
        _HASH.append(generate_password_hash(PASSWORD))
    return _HASH[0]


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def db(app):
    """A connection for the test body. No app context is held open: a test-client request would reuse it, and
    with it `g` (signed-in user, CSRF token) across requests and clients, which a real server never does."""
    database.connect(reuse_if_open=True)
    yield database
    if not database.is_closed():
        database.close()


@pytest.fixture
def people(db):
    """The console users of USERS, by name."""
    return {name: users.create_user(name, name.title(), role, units, "Test org", password_hash(), "test")
            for name, (role, units) in USERS.items()}


class Console:
    """A test client that signs in through the login form and sends the CSRF token the way a browser does."""

    def __init__(self, app):
        self.client = app.test_client()

    def token(self, path: str = "/console/login") -> str:
        """The CSRF token a page carries (the sign-in page, or any page once signed in)."""
        response = self.client.get(path)
        if response.status_code == 302:
            response = self.client.get("/console/account")
        match = CSRF.search(response.get_data(as_text=True))
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, name: str, password: str = PASSWORD):
        return self.client.post("/console/login", data={"csrf_token": self.token(), "username": name,
                                                        "password": password})

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, token_from: str = "/console/account", **kwargs):
        body = {"csrf_token": self.token(token_from), **(data or {})}
        return self.client.post(path, data=body, **kwargs)


@pytest.fixture
def console(app, people):
    """Sign in as someone: `console("staff")` returns a Console signed in as that user."""
    def signed_in(name: str) -> Console:
        browser = Console(app)
        response = browser.login(name)
        assert not has_app_context(), "a held app context would share `g` between requests"
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return browser
    return signed_in


@pytest.fixture
def gateway_cli(database_url, tmp_path, monkeypatch):
    """`gateway …` on the test's database, as an operator would type it."""
    from click.testing import CliRunner

    from gateway.cli import cli
    from tests.conftest import TEST_SECRET

    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), input=input)
    return invoke


def local_input(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")
