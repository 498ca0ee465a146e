"""Shared fixtures: an app on a fresh database, parametrised over SQLite and (when configured) PostgreSQL.

PostgreSQL: set GATEWAY_TEST_POSTGRES_URL (CI does). Each test session works in its own scratch database, and
each test starts from an empty schema, so parallel runs never meet. In CI a missing URL is an error, not a skip.
"""
from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import peewee
import pytest

from storage.db import database

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
TEST_SECRET = "test-secret-key-0123456789abcdef"
PROVIDER_ENV = ["GATEWAY_DATABASE_URL", "GATEWAY_SECRET_KEY", "GATEWAY_PSEUDONYM_KEY", "GATEWAY_INSTANCE_PATH",
                "GATEWAY_PUBLIC_URL", "GATEWAY_FLOWS_PATH", "GATEWAY_CONFIG", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                "AT_USERNAME", "AT_API_KEY", "AT_WEBHOOK_TOKEN", "ANDROID_GATEWAY_URL", "ANDROID_GATEWAY_LOGIN",
                "ANDROID_GATEWAY_PASSWORD", "ANDROID_GATEWAY_SIGNING_KEY"]


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CI") and not POSTGRES_URL and any("postgres" in item.keywords for item in items):
        raise pytest.UsageError("CI must set GATEWAY_TEST_POSTGRES_URL: PostgreSQL tests are never skipped in CI")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No developer's or CI's variables leak into a test's configuration. Contacts are keyed with TEST_SECRET
    (tests build some directly with `contact_for_number(number, TEST_SECRET)`); tests of the key itself unset it."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GATEWAY_PSEUDONYM_KEY", TEST_SECRET)


@pytest.fixture(scope="session")
def postgres_scratch_url():
    """A scratch database of this session's own, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip("GATEWAY_TEST_POSTGRES_URL is not set")
    name = f"gw_test_{uuid.uuid4().hex[:10]}"
    admin = peewee.PostgresqlDatabase(None)
    admin.init(**_pg_params(POSTGRES_URL))
    admin.connect()
    admin.connection().autocommit = True
    admin.execute_sql(f'CREATE DATABASE "{name}"')
    parts = urlsplit(POSTGRES_URL)
    yield urlunsplit(parts._replace(path="/" + name))
    if not database.is_closed():
        database.close()
    admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _pg_params(url: str) -> dict:
    parts = urlsplit(url)
    return {"database": parts.path.lstrip("/") or "test", "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 5432, "user": parts.username or os.environ.get("USER", "postgres"),
            "password": parts.password}


_MIGRATED_POSTGRES: set[str] = set()


def _reset_postgres(url: str) -> None:
    """Empty every table and re-seed, which is much faster than rebuilding the schema for each test.
    The first test of a session builds the schema from nothing, so migrations are exercised too."""
    scratch = peewee.PostgresqlDatabase(None)
    scratch.init(**_pg_params(url))
    with scratch.connection_context():
        if url not in _MIGRATED_POSTGRES:
            scratch.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            _MIGRATED_POSTGRES.add(url)
            return
        tables = [row[0] for row in scratch.execute_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migration'")]
        if tables:
            scratch.execute_sql(f"TRUNCATE {', '.join(f'{chr(34)}{t}{chr(34)}' for t in tables)} "
                                "RESTART IDENTITY CASCADE")
            _seed_migration().up(None, scratch)


def _seed_migration():
    from playhouse.migrations import Migration

    from storage.db import MIGRATIONS_DIR

    return next(m for m in Migration.load_directory(str(MIGRATIONS_DIR)) if m.name.endswith("seed_admin_units")).load()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A URL to an empty database, once per engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    url = request.getfixturevalue("postgres_scratch_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build an app on the fresh database; keyword arguments are config overrides."""
    created = []

    def factory(**overrides):
        settings = {"instance_path": str(tmp_path / "instance"), "database_url": database_url,
                    "secret_key": TEST_SECRET, "scheduler": {"enabled": False}, "testing": True}
        settings.update(overrides)
        app = _create(settings)
        created.append(app)
        return app

    yield factory
    if not database.is_closed():
        database.close()


def _create(settings: dict):
    from gateway.app import create_app

    return create_app(None, **settings)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """A connection for the test body (the app closes its own at the end of each request)."""
    with app.app_context(), database.connection_context():
        yield database
