"""Benchmark: enqueue a broadcast to 100,000 contacts on SQLite, against the same rows written by hand.

    python -m bench.broadcast_enqueue [--contacts 100000] [--runs 3] [--json]

Two baselines, each on a fresh database with the same contacts: one raw `INSERT … SELECT` of the same rows (the
target: the broadcast path at least 0.8× its rate), and the rows built in Python and written with `executemany`.
Runs are interleaved and the best of each kept. Prints the rates (recipients per second) and the ratios.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows.text import sms_size  # noqa: E402
from gateway import broadcasts as bc  # noqa: E402
from gateway.app import create_app  # noqa: E402
from storage.db import database, utcnow  # noqa: E402
from storage.models import AdminUnit  # noqa: E402

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


def raw_insert_select(app: Flask, count: int) -> float:
    """The target's baseline: the same rows (the same three text variants) in one hand-written INSERT … SELECT."""
    _, texts, _ = bc.plan_broadcast(app, ["khoroo:BGD-07"], TEXT, None)
    by_variant = {v.variant: v for v in bc.variant_texts(texts)}
    unit = AdminUnit.get(AdminUnit.code == "BGD-07").id
    now = utcnow()
    script = "COALESCE(c.script, c.last_script, 'latn')"
    variant = f"CASE WHEN c.language = 'en' THEN 'en' WHEN {script} = 'latn' THEN 'mn-latn' ELSE 'mn-cyrl' END"

    def pick(column: str) -> str:
        return f"CASE {variant} " + " ".join(f"WHEN '{name}' THEN ?" for name in by_variant) + " END"

    params = [getattr(v, column) for column in ("text", "encoding", "segments") for v in by_variant.values()]
    started = time.perf_counter()
    with database.atomic():
        cursor = database.execute_sql(
            "INSERT INTO message (direction, contact_id, channel, kind, text, status, priority, purpose, origin, "
            "idempotency_key, encoding, segments, attempts, next_attempt_at, created_at, updated_at) "
            f"SELECT 'out', c.id, 'android', 'sms', {pick('text')}, 'queued', 10, 'broadcast', 'raw', "
            f"'raw:' || c.id, {pick('encoding')}, {pick('segments')}, 0, NULL, ?, ? "
            "FROM contact c JOIN phone_number p ON p.contact_id = c.id "
            "WHERE c.admin_unit_id = ? AND c.consent_at IS NOT NULL AND c.opted_out_at IS NULL "
            "ON CONFLICT DO NOTHING", [*params, now, now, unit])
    elapsed = time.perf_counter() - started
    assert cursor.rowcount == count, cursor.rowcount
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


def one_run(path, count: int) -> float:
    """`path` on a fresh database seeded with the same contacts."""
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(Path(folder))
        with app.app_context(), database.connection_context():
            seed_contacts(count)
            if path is raw_executemany:
                return raw_executemany(count)
            return path(app, count)


PATHS = {"broadcast enqueue": broadcast_path, "raw INSERT … SELECT": raw_insert_select,
         "raw executemany": raw_executemany}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    best = dict.fromkeys(PATHS, float("inf"))
    for _ in range(args.runs):
        for name, path in PATHS.items():
            best[name] = min(best[name], one_run(path, args.contacts))
    paths = {name: {"seconds": seconds, "per_second": args.contacts / seconds} for name, seconds in best.items()}
    result = {"contacts": args.contacts, "runs": args.runs, "paths": paths,
              "ratio_insert_select": best["raw INSERT … SELECT"] / best["broadcast enqueue"],
              "ratio_executemany": best["raw executemany"] / best["broadcast enqueue"]}
    if args.json:
        print(json.dumps(result))
        return
    print(f"contacts: {args.contacts:,} on SQLite, best of {args.runs} interleaved runs")
    for name, row in paths.items():
        print(f"{name:22} {row['seconds']:6.2f} s {row['per_second']:10,.0f} recipients/s")
    print(f"broadcast ÷ raw INSERT … SELECT: {result['ratio_insert_select']:.2f}x (target >= 0.8)")
    print(f"broadcast ÷ raw executemany:     {result['ratio_executemany']:.2f}x")


if __name__ == "__main__":
    main()
