"""0002: seed Ulaanbaatar's districts and khoroos and Zavkhan's soums (valid from 2020-01-01)."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

SEED_FILE = Path(__file__).resolve().parent.parent / "data" / "admin_units.csv"
VALID_FROM = dt.date(2020, 1, 1)


def up(migrator, db):
    table = "admin_unit"
    ids: dict[str, int] = {}
    with SEED_FILE.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cursor = db.execute_sql(
                f"INSERT INTO {table} (code, kind, parent_id, name_mn, name_latn, name_en, valid_from) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)" % ((db.param,) * 7),
                (row["code"], row["kind"], ids.get(row["parent"]), row["name_mn"], row["name_latn"],
                 row["name_en"], VALID_FROM),
            )
            ids[row["code"]] = _last_id(db, cursor, table, row["code"])


def _last_id(db, cursor, table, code):  # portable: no RETURNING on old SQLite
    found = db.execute_sql(f"SELECT id FROM {table} WHERE code = {db.param}", (code,)).fetchone()
    return found[0]


def down(migrator, db):
    db.execute_sql("DELETE FROM admin_unit")
