"""Benchmark: enqueue a broadcast to 100,000 contacts on SQLite, against a raw executemany of the same rows.

    python bench/broadcast_enqueue.py [--contacts 100000]

Prints both rates (recipients per second) and their ratio. Target: at least 20,000 recipients/s for the
broadcast path. Nothing is asserted: the numbers are for reading.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from flask import Flask

from flows.text import sms_size
from gateway import broadcasts as bc
from gateway.app import create_app
from storage import meetings as store
from storage.db import database, utcnow
from storage.models import AdminUnit

TEXT = "Сануулга: 7-р хорооны Иргэдийн Нийтийн Хурал 11/26 (Пүрэв) 18:00, хорооны байранд. Ирэх бол 1, ирэхгүй бол 2."


def make_app(folder: Path) -> Flask:
    return create_app(None, instance_path=str(folder), database_url=f"sqlite:///{folder / 'bench.db'}",
                      secret_key="bench-secret-key-0123456789", scheduler={"enabled": False}, log_level="WARNING")


def seed_contacts(count: int) -> None:
    """`count` consented contacts in one khoroo, a third of them reading Latin and a tenth English."""
    unit = AdminUnit.get(AdminUnit.code == "BGD-07").id
    now = utcnow()
    contacts = [(f"bench-{i}", "en" if i % 10 == 0 else "mn", "latn" if i % 3 == 0 else "cyrl", unit, now, "bench",
                 "import", now) for i in range(count)]
    with database.atomic():
        database.cursor().executemany(
            "INSERT INTO contact (key, language, script, admin_unit_id, consent_at, consent_version, consent_source, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", contacts)
        ids = [row[0] for row in database.execute_sql("SELECT id FROM contact ORDER BY id")]
        database.cursor().executemany("INSERT INTO phone_number (contact_id, e164) VALUES (?, ?)",
                                      [(cid, f"+9768{cid:07d}") for cid in ids])


def raw_executemany(count: int) -> float:
    """The baseline: the same outbox rows, built in Python and written with one executemany."""
    size = sms_size(TEXT)
    now = utcnow()
    started = time.perf_counter()
    ids = [row[0] for row in database.execute_sql(
        "SELECT c.id FROM contact c JOIN phone_number p ON p.contact_id = c.id "
        "WHERE c.consent_at IS NOT NULL AND c.opted_out_at IS NULL")]
    rows = [("out", cid, "android", "sms", TEXT, "queued", 10, "broadcast", "raw", f"raw:{cid}", size.encoding,
             size.segments, 0, now, now) for cid in ids]
    with database.atomic():
        database.cursor().executemany(
            "INSERT INTO message (direction, contact_id, channel, kind, text, status, priority, purpose, origin, "
            "idempotency_key, encoding, segments, attempts, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    elapsed = time.perf_counter() - started
    assert len(rows) == count
    return elapsed


def broadcast_path(app: Flask, count: int) -> float:
    """The real path: validate, render the variants, and enqueue with INSERT … SELECT in chunks."""
    started = time.perf_counter()
    audience, texts, when = bc.plan_broadcast(app, ["khoroo:BGD-07"], TEXT, None)
    broadcast = bc.create_broadcast(audience, texts, when, False, "bench")
    queued = bc.enqueue(app, broadcast)
    elapsed = time.perf_counter() - started
    assert queued == count, queued
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    args = parser.parse_args()
    # Each side gets its own fresh database with the same contacts, so neither inherits the other's pages.
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(Path(folder))
        with app.app_context(), database.connection_context():
            seed_contacts(args.contacts)
            raw = raw_executemany(args.contacts)
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(Path(folder))
        with app.app_context(), database.connection_context():
            seed_contacts(args.contacts)
            ours = broadcast_path(app, args.contacts)
            total = store.Message.select().count()
    raw_rate, our_rate = args.contacts / raw, args.contacts / ours
    print(f"contacts: {args.contacts:,} on SQLite (rows queued by the broadcast: {total:,})")
    print(f"raw executemany:  {raw:6.2f} s  {raw_rate:10,.0f} recipients/s")
    print(f"broadcast enqueue:{ours:6.2f} s  {our_rate:10,.0f} recipients/s  (target >= 20,000/s: "
          f"{'met' if our_rate >= 20_000 else 'NOT met'})")
    print(f"ratio broadcast/raw: {our_rate / raw_rate:.2f}x")


if __name__ == "__main__":
    main()
