"""Benchmark: the Android phone pool. Three fake phones (Mobicom, Unitel, Skytel) send one broadcast; recipients
are 1/3 Mobicom, 1/3 Unitel, 7/30 Skytel and 1/10 G-Mobile (no phone of its own), interleaved.

    python bench/phone_pool.py [--count 3000] [--rate 1000] [--kill-at 0.5] [--real-rate 0.5]

Prints the preview's expected time to send at `--real-rate` per phone (the phones' default), then sends the
broadcast at `--rate` per phone, killing the Skytel phone when `--kill-at` of the messages are out (0: never),
and reports per phone what it sent by operator, duplicates, the on-net share, the time taken and, for each phone,
the rate measured at the fake (first to last request) beside the predicted time to send.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fake providers live with the tests

from gateway import broadcasts as bc  # noqa: E402
from gateway import phone_pool  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.outbox import dispatch  # noqa: E402
from storage.db import database, utcnow  # noqa: E402
from storage.models import AdminUnit, Message  # noqa: E402
from tests.fakes import FakeAndroid  # noqa: E402

PHONES = {"m": "Mobicom", "u": "Unitel", "s": "Skytel"}
MIX = [("Mobicom", "9911", 10), ("Unitel", "8811", 10), ("Skytel", "9111", 7), ("G-Mobile", "9811", 3)]  # per 30


def make_app(folder: Path, fakes: dict, rate: float) -> Flask:
    for name in fakes:
        os.environ.update({f"ANDROID_{name.upper()}_LOGIN": name, f"ANDROID_{name.upper()}_PASSWORD": name,
                           f"ANDROID_{name.upper()}_SIGNING_KEY": name})
    phones = [{"name": name, "operator": PHONES[name], "base_url": fake.url, "rate_per_second": rate}
              for name, fake in fakes.items()]
    return create_app(None, instance_path=str(folder), database_url=f"sqlite:///{folder / 'bench.db'}",
                      secret_key="bench-secret-key-0123456789",
                      pseudonym_key="bench-pseudonym-key-0123456789", scheduler={"enabled": False}, log_level="ERROR",
                      channels={"android": {"enabled": True, "phones": phones}},
                      routing={"sms": ["android"], "bulk": ["android"]}, flows={"bundled": False, "paths": []},
                      quiet_hours={"start": "00:00", "end": "00:00"},
                      outbox={"dispatch_seconds": 5, "send_timeout_seconds": 2, "backoff_seconds": 1})


def seed(count: int) -> dict[str, str]:
    """`count` consented contacts in one khoroo; returns number → operator."""
    unit = AdminUnit.get(AdminUnit.code == "BGD-07").id
    now, numbers = utcnow(), {}
    for i in range(count):
        slot = i % 30
        for operator, prefix, share in MIX:
            if slot < share:
                numbers[f"+976{prefix}{i:04d}"] = operator
                break
            slot -= share
    with database.atomic():
        database.cursor().executemany(
            "INSERT INTO contact (key, language, script, admin_unit_id, consent_at, created_at) "
            "VALUES (?, 'mn', 'latn', ?, ?, ?)", [(f"bench-{i}", unit, now, now) for i in range(count)])
        ids = [row[0] for row in database.execute_sql("SELECT id FROM contact ORDER BY id")]
        database.cursor().executemany("INSERT INTO phone_number (contact_id, e164) VALUES (?, ?)",
                                      list(zip(ids, numbers, strict=True)))
    return numbers


def preview(app: Flask, label: str) -> float:
    sending = bc.preview(app, ["khoroo:BGD-07"], {"mn-cyrl": "x", "mn-latn": "x", "en": "x"}, True,
                         utcnow()).sending
    print(f"{label}: recipients by operator {sending['recipients_by_operator']}")
    for phone in sending["phones"]:
        print(f"  {phone['name']} ({phone['operator']}): {phone['messages']} at {phone['rate_per_second']:g}/s "
              f"= {phone_pool.duration(phone['seconds'])}")
    print(f"  expected time to send: {phone_pool.duration(sending['eta_seconds'])}")
    return sending["eta_seconds"]


def run(count: int, rate: float, kill_at: float, real_rate: float) -> None:
    fakes = {name: FakeAndroid(name, name).start() for name in PHONES}
    try:
        with tempfile.TemporaryDirectory() as folder:
            app = make_app(Path(folder), fakes, real_rate)
            with app.app_context(), database.connection_context():
                numbers = seed(count)
                preview(app, f"preview at {real_rate:g}/s per phone")
                for phone in app.config["GATEWAY"]["channels"]["android"]["phones"]:
                    phone["rate_per_second"] = rate
                app.extensions.pop("gateway.channels")  # built again with the new rates
                predicted = preview(app, f"preview at {rate:g}/s per phone")
                send(app, fakes, count, kill_at)
                report(fakes, numbers, predicted)
    finally:
        for fake in fakes.values():
            if fake.thread.is_alive():
                fake.stop()


def send(app: Flask, fakes: dict, count: int, kill_at: float) -> None:
    def killer():
        while sum(len(fake.accepted) for fake in fakes.values()) < kill_at * count:
            time.sleep(0.005)
        fakes["s"].kill()
        print(f"killed phone s (Skytel) after {sum(len(f.accepted) for f in fakes.values())} messages")

    if kill_at:
        threading.Thread(target=killer, daemon=True).start()
    started = time.monotonic()
    bc.send_plain_broadcast(app, ["khoroo:BGD-07"], "Hural margaash 10 tsagt", None, None, True, "bench")
    while Message.select().where((Message.direction == "out") & (Message.status == "queued")).exists():
        if time.monotonic() - started > 600:
            raise SystemExit("not sent within 10 minutes")
        dispatch(app, budget_seconds=5)
    statuses = Counter(row.status for row in Message.select(Message.status).where(Message.direction == "out"))
    print(f"sent in {time.monotonic() - started:.1f} s: {dict(statuses)}")


def report(fakes: dict, numbers: dict[str, str], predicted: float) -> None:
    sends = Counter(sent["to"] for fake in fakes.values() for sent in fake.accepted)
    print(f"recipients reached: {len(sends)} of {len(numbers)}; sent twice: {sum(n > 1 for n in sends.values())}")
    for name, fake in fakes.items():
        by_operator = Counter(numbers[sent["to"]] for sent in fake.accepted)
        times = [r.at for r in fake.requests if r.path == "/messages"]
        measured = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0
        print(f"  phone {name} ({PHONES[name]}): {dict(by_operator)}; {measured:.1f}/s measured")
    with_phone = [n for n, op in numbers.items() if op in PHONES.values()]
    phone_of = {sent["to"]: name for name, fake in fakes.items() for sent in fake.accepted}
    on_net = sum(PHONES[phone_of[n]] == numbers[n] for n in with_phone if n in phone_of)
    print(f"on-net: {on_net} of {len(with_phone)} recipients whose operator has a phone "
          f"({100 * on_net / max(len(with_phone), 1):.1f}%); predicted time to send {predicted:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=1000.0, help="messages per second per phone for the send")
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of messages out when Skytel dies")
    parser.add_argument("--real-rate", type=float, default=0.5, help="per-phone rate for the first preview")
    args = parser.parse_args()
    run(args.count, args.rate, args.kill_at, args.real_rate)


if __name__ == "__main__":
    main()
