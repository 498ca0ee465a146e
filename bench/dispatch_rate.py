"""Benchmark: does dispatch to the (fake) Android phone keep the configured rate? Target: within ±5%.

    python bench/dispatch_rate.py [--rates 1,5,20,50] [--seconds 6]

For each configured rate, a broadcast to rate × seconds contacts is queued and the outbox dispatch job runs until
it is sent; the rate is measured at the fake phone (first to last request). Prints both and the deviation.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake providers live with the tests

from gateway import broadcasts as bc  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.scheduler import run_job  # noqa: E402
from storage.db import database, utcnow  # noqa: E402
from storage.models import AdminUnit, Message  # noqa: E402
from tests.fakes import FakeAndroid  # noqa: E402
from tests.fakes.signing import ANDROID_KEY, ANDROID_LOGIN, ANDROID_PASSWORD  # noqa: E402


def make_app(folder: Path, fake: FakeAndroid, rate: float) -> Flask:
    os.environ.update(ANDROID_GATEWAY_LOGIN=ANDROID_LOGIN, ANDROID_GATEWAY_PASSWORD=ANDROID_PASSWORD,
                      ANDROID_GATEWAY_SIGNING_KEY=ANDROID_KEY)
    return create_app(None, instance_path=str(folder), database_url=f"sqlite:///{folder / 'bench.db'}",
                      secret_key="bench-secret-key-0123456789", scheduler={"enabled": False}, log_level="WARNING",
                      channels={"android": {"enabled": True, "base_url": fake.url, "rate_per_second": rate}},
                      routing={"sms": ["android"], "bulk": ["android"]}, flows={"bundled": False, "paths": []},
                      quiet_hours={"start": "00:00", "end": "00:00"}, outbox={"dispatch_seconds": 5})


def seed(count: int) -> None:
    unit = AdminUnit.get(AdminUnit.code == "BGD-07").id
    now = utcnow()
    with database.atomic():
        database.cursor().executemany(
            "INSERT INTO contact (key, language, script, admin_unit_id, consent_at, created_at) "
            "VALUES (?, 'mn', 'latn', ?, ?, ?)", [(f"bench-{i}", unit, now, now) for i in range(count)])
        ids = [row[0] for row in database.execute_sql("SELECT id FROM contact")]
        database.cursor().executemany("INSERT INTO phone_number (contact_id, e164) VALUES (?, ?)",
                                      [(cid, f"+9769911{cid:04d}") for cid in ids])


def measure(rate: float, seconds: float) -> tuple[int, float]:
    count = max(2, round(rate * seconds))
    fake = FakeAndroid(ANDROID_LOGIN, ANDROID_PASSWORD).start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            app = make_app(Path(folder), fake, rate)
            with app.app_context(), database.connection_context():
                seed(count)
                bc.send_plain_broadcast(app, ["khoroo:BGD-07"], "Margaash us tasarna.", None, None, False, "bench")
            while True:
                run_job(app, "outbox.dispatch")
                with app.app_context(), database.connection_context():
                    if not Message.select().where(Message.status.in_(("queued", "sending"))).exists():
                        break
        stamps = sorted(r.at for r in fake.requests if r.path == "/messages")
    finally:
        fake.stop()
    # n requests span n - 1 intervals: the measured rate is intervals per second.
    return len(stamps), (len(stamps) - 1) / (stamps[-1] - stamps[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1,5,20,50")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for rate in (float(r) for r in args.rates.split(",")):
        sent, measured = measure(rate, args.seconds)
        rows.append({"rate": rate, "sent": sent, "measured": measured, "deviation": (measured - rate) / rate * 100})
        time.sleep(0.1)
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'configured/s':>12} {'sent':>6} {'measured/s':>11} {'deviation':>10}  within ±5%")
    for row in rows:
        print(f"{row['rate']:12.1f} {row['sent']:6d} {row['measured']:11.2f} {row['deviation']:+9.1f}%  "
              f"{'yes' if abs(row['deviation']) <= 5 else 'NO'}")


if __name__ == "__main__":
    main()
