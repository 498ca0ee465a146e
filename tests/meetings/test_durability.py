"""Durability: a broadcast killed half-way through queuing and again half-way through sending completes with
nobody missed and nobody twice; several processes dispatching the same broadcast never double-send."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from gateway import broadcasts as bc
from storage import meetings as store
from storage.contacts import number_of
from storage.db import database
from storage.models import Message
from tests.conftest import TEST_SECRET
from tests.meetings.helpers import add_contacts

WORKER = str(Path(__file__).with_name("worker.py"))
PEOPLE = 300


@pytest.fixture
def setup(make_app, database_url, tmp_path, fake_android):
    """An app on the fake phone, PEOPLE contacts, one scheduled broadcast, and the settings for worker processes."""
    overrides = {"channels": {"android": {"enabled": True, "base_url": fake_android.url, "rate_per_second": 150}},
                 "routing": {"sms": ["android"], "bulk": ["android"]},
                 "outbox": {"send_timeout_seconds": 2, "backoff_seconds": 1, "dispatch_seconds": 1,
                            "stale_sending_seconds": 1},
                 "scheduler": {"enabled": False, "lease_seconds": 3}, "broadcasts": {"chunk_size": 25},
                 "flows": {"bundled": False, "paths": []}, "log_level": "WARNING",
                 "quiet_hours": {"start": "00:00", "end": "00:00"}}  # none: these tests run at any real hour
    app = make_app(**overrides)
    with app.app_context(), database.connection_context():
        numbers = {number_of(c) for c in add_contacts(PEOPLE, "BGD-07", script="latn")}
        audience, texts, when = bc.plan_broadcast(app, ["khoroo:BGD-07"], "Margaash us tasarna.")
        broadcast = bc.create_broadcast(audience, texts, when, False, "test")
    settings = {**overrides, "instance_path": str(tmp_path / "worker"), "database_url": database_url,
                "secret_key": TEST_SECRET}
    return app, numbers, broadcast.id, settings


def worker(settings: dict, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, WORKER, args[0], json.dumps(settings), *map(str, args[1:])])


def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def queued_count(app, origin: str) -> int:
    with app.app_context(), database.connection_context():
        return Message.select().where(Message.origin == origin).count()


def assert_everyone_once(app, fake, numbers: set[str], origin: str) -> None:
    sent = Counter(item["to"] for item in fake.accepted)
    assert set(sent) == numbers, "somebody was missed"
    assert set(sent.values()) == {1}, "somebody got it twice"
    with app.app_context(), database.connection_context():
        statuses = Counter(m.status for m in Message.select().where(Message.origin == origin))
    assert statuses == {"sent": len(numbers)}


def test_killed_mid_queue_and_mid_send_completes_nobody_missed_nobody_twice(setup, fake_android):
    app, numbers, broadcast_id, settings = setup
    origin = f"broadcast:{broadcast_id}"

    first = worker(settings, "enqueue", broadcast_id, 0.5)  # killed with some chunks written
    wait_until(lambda: queued_count(app, origin) >= 50)
    first.kill()
    first.wait()
    with app.app_context(), database.connection_context():
        assert store.Broadcast.get_by_id(broadcast_id).status == "enqueuing"
    assert 50 <= queued_count(app, origin) < PEOPLE

    time.sleep(3.2)  # the dead process's claim on the broadcast lapses (lease_seconds: 3)
    second = worker(settings, "dispatch", 60)  # finishes queuing, then is killed half-way through sending
    wait_until(lambda: len(fake_android.accepted) >= PEOPLE // 3)
    second.kill()
    second.wait()
    assert len(fake_android.accepted) < PEOPLE

    time.sleep(1.2)  # rows left in `sending` by the dead process are due again (stale_sending_seconds: 1)
    third = worker(settings, "dispatch", 300)  # stops when all is sent; the deadline only bounds a hung run
    assert third.wait(timeout=360) == 0
    assert_everyone_once(app, fake_android, numbers, origin)


def test_several_processes_dispatching_one_broadcast_never_double_send(setup, fake_android, database_url):
    """On PostgreSQL three processes claim and send at once (SKIP LOCKED). On SQLite, where one scheduler runs,
    they take turns through the leader lease, as `gateway serve` workers do."""
    app, numbers, broadcast_id, settings = setup
    mode = ["leader-only"] if database_url.startswith("sqlite") else []
    # the workers stop as soon as everything is sent; the deadline only bounds a hung run (a loaded machine is slow)
    workers = [worker(settings, "dispatch", 300, *mode) for _ in range(3)]
    assert [w.wait(timeout=360) for w in workers] == [0, 0, 0]
    posted = Counter(r.json["phoneNumbers"][0] for r in fake_android.requests if r.path == "/messages")
    assert set(posted.values()) == {1}, "a message was posted to the phone twice"
    assert_everyone_once(app, fake_android, numbers, f"broadcast:{broadcast_id}")
