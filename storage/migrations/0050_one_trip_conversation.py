"""0050: the conversation is handled under the per-contact lock, so the optimistic version columns go; the main
menu is a flow run now, so the USSD session keeps no stage or page of its own."""
from __future__ import annotations

DROPPED = [("ussd_session", "stage"), ("ussd_session", "page"), ("ussd_session", "version"), ("flow_run", "version")]


def up(migrator, db):
    for table, column in DROPPED:
        db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')


def down(migrator, db):
    defaults = {"stage": "VARCHAR(255) NOT NULL DEFAULT 'menu'", "page": "INTEGER NOT NULL DEFAULT 0",
                "version": "INTEGER NOT NULL DEFAULT 0"}
    for table, column in DROPPED:
        db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {defaults[column]}')
