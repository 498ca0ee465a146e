"""0060: organisations; token scope, organisation and expiry; who-what detail in the audit log.

Existing tokens: an admin keeps national scope; any other token gets an empty scope (it sees nothing until
`gateway tokens scope` gives it units) so no CSO silently keeps the whole country. Every token expires 90 days on.
"""
from __future__ import annotations

import datetime as dt

import peewee as pw

from storage.db import BaseModel, utcnow

DAYS_FOR_EXISTING_TOKENS = 90


class Organisation(BaseModel):
    name = pw.CharField(unique=True)
    created_at = pw.DateTimeField(default=utcnow)


def up(migrator, db):
    db.create_tables([Organisation])
    migrator.migrate(
        migrator.add_column("api_token", "scope", pw.TextField(default="")),
        migrator.add_column("api_token", "organisation_id", pw.ForeignKeyField(
            Organisation, null=True, field=Organisation.id, on_delete="SET NULL")),
        migrator.add_column("api_token", "expires_at", pw.DateTimeField(null=True)),
        migrator.add_column("audit_log", "actor_kind", pw.CharField(null=True)),
        migrator.add_column("audit_log", "role", pw.CharField(null=True)),
        migrator.add_column("audit_log", "organisation", pw.CharField(null=True)),
        migrator.add_column("audit_log", "detail", pw.TextField(null=True)),
        migrator.add_index("audit_log", ("action",)),
        migrator.add_index("audit_log", ("at",)),
    )
    expiry = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=DAYS_FOR_EXISTING_TOKENS)
    db.execute_sql("UPDATE api_token SET scope = 'national' WHERE role = 'admin'")
    db.execute_sql(f"UPDATE api_token SET expires_at = {db.param} WHERE expires_at IS NULL", (expiry,))


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("audit_log", "audit_log_at"),
        migrator.drop_index("audit_log", "audit_log_action"),
        *[migrator.drop_column("audit_log", c) for c in ("detail", "organisation", "role", "actor_kind")],
        *[migrator.drop_column("api_token", c) for c in ("expires_at", "organisation_id", "scope")],
    )
    db.drop_tables([Organisation])
