"""The database handle, its connection settings and the migration runner."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import peewee
from playhouse.db_url import connect
from playhouse.migrations import Runner

# Models bind to this proxy; `open_database` points it at a real database.
database = peewee.DatabaseProxy()

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_PRAGMAS = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10000, "synchronous": "normal"}
POSTGRES_CONNECT_TIMEOUT = 3  # seconds: a server that does not answer fails the request fast (503), never hangs it

# Errors that may mean the database went away (see `is_unavailable`): the request gets 503, the next one reconnects.
DATABASE_ERRORS = (peewee.OperationalError, peewee.InterfaceError)
SQLITE_AWAY = ("database is locked", "database table is locked", "unable to open", "disk i/o error")


def utcnow() -> dt.datetime:
    """Naive UTC: every stored datetime is UTC without tzinfo, so SQLite and PostgreSQL agree."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def open_database(url: str) -> peewee.Database:
    """Connect `database` to `url` (sqlite:///… or postgresql://…) with the settings both engines need."""
    if url.startswith("sqlite"):
        db = connect(url, pragmas=SQLITE_PRAGMAS, check_same_thread=False, timeout=10)
    else:
        timeout = {} if "connect_timeout=" in url else {"connect_timeout": POSTGRES_CONNECT_TIMEOUT}
        db = connect(url, autoconnect=True, **timeout)
    database.initialize(db)
    return db


def connection_is_usable() -> bool:
    """False when the open connection is known to be dead (a PostgreSQL restart closes it under us)."""
    connection = database.connection() if not database.is_closed() else None
    return connection is None or not getattr(connection, "closed", 0)


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached or is too busy now (PostgreSQL restarting: refused,
    terminated, "starting up"; SQLite locked past its timeout), not that a query is wrong (SQLite's "no such table"
    is an OperationalError too)."""
    if not isinstance(exc, DATABASE_ERRORS):
        return False
    if isinstance(exc, peewee.InterfaceError) or is_postgres():
        return True
    return any(words in str(exc).lower() for words in SQLITE_AWAY)


def drop_connection() -> None:
    """Forget this thread's connection after the database failed under it; never raises (it may be half dead)."""
    try:
        if database.in_transaction():
            database.rollback()
    except DATABASE_ERRORS:
        pass
    try:
        database.close()
    except DATABASE_ERRORS:
        database._state.reset()  # peewee refuses to close inside a transaction: the connection is gone anyway


def ping() -> None:
    """Raise unless the database answers."""
    database.execute_sql("SELECT 1")


def is_postgres(db: peewee.Database | None = None) -> bool:
    return isinstance(db or database.obj, peewee.PostgresqlDatabase)


def migration_runner(db: peewee.Database | None = None) -> Runner:
    return Runner(db or database.obj, directory=str(MIGRATIONS_DIR))


def pending_migrations(db: peewee.Database | None = None) -> list[str]:
    return [m.name for m in migration_runner(db).status() if m.path and not m.applied]


def upgrade(db: peewee.Database | None = None) -> list[str]:
    """Apply pending migrations; returns their names."""
    return migration_runner(db).up()


class JSONField(peewee.TextField):
    """JSON stored as text, so the same column works on SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False
