"""0002: seed Ulaanbaatar's districts and khoroos and Zavkhan's soums (valid from 2020-01-01)."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

SEED_FILE = Path(__file__).resolve().parent.parent / "data" / "admin_units.csv"
VALID_FROM = dt.date(2020, 1, 1)
COLUMNS = "code, kind, parent_id, name_mn, name_latn, name_en, valid_from"


def up(migrator, db):
    with SEED_FILE.open(encoding="utf-8") as fh:
        pending = list(csv.DictReader(fh))
    ids: dict[str, int] = {}
    while pending:  # one level of the tree per pass: parents get their ids before their children need them
        level = [row for row in pending if not row["parent"] or row["parent"] in ids]
        if not level:
            raise ValueError(f"admin units with unknown parents: {[row['code'] for row in pending][:5]}")
        insert = f"INSERT INTO admin_unit ({COLUMNS}) VALUES ({', '.join([db.param] * 7)})"
        db.cursor().executemany(insert, [
            (row["code"], row["kind"], ids.get(row["parent"]), row["name_mn"], row["name_latn"], row["name_en"],
             VALID_FROM) for row in level])
        codes = [row["code"] for row in level]
        found = db.execute_sql(f"SELECT code, id FROM admin_unit WHERE code IN ({', '.join([db.param] * len(codes))})",
                               codes)
        ids.update(found.fetchall())
        pending = [row for row in pending if row["code"] not in ids]


def down(migrator, db):
    db.execute_sql("DELETE FROM admin_unit")
