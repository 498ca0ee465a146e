"""Crash safety: kill -9 the dispatching process between queued and sent; after a restart the message goes once."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.outbox import enqueue
from storage.contacts import contact_for_number
from storage.db import database, utcnow
from storage.models import Message

WORKER = Path(__file__).with_name("outbox_worker.py")
CONFIG_KEYS = ("database_url", "instance_path", "secret_key", "channels", "outbox", "routing", "flows", "scheduler")


def start_worker(app, tmp_path) -> subprocess.Popen:
    config_file = tmp_path / "worker.json"
    config_file.write_text(json.dumps({key: app.config["GATEWAY"][key] for key in CONFIG_KEYS}))
    return subprocess.Popen([sys.executable, str(WORKER), str(config_file)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def message_row(app, message_id: int) -> Message:
    with app.app_context(), database.connection_context():
        return Message.get_by_id(message_id)


@pytest.mark.parametrize("channel,mode", [("twilio", "timeout"), ("twilio", "accept_then_hang"),
                                          ("africastalking", "timeout"), ("android", "timeout"),
                                          ("android", "accept_then_hang")])
def test_killed_mid_send_then_restarted_sends_exactly_once(make_channel_app, tmp_path, fake_twilio, fake_at,
                                                           fake_android, channel, mode):
    fake = {"twilio": fake_twilio, "africastalking": fake_at, "android": fake_android}[channel]
    app = make_channel_app(outbox={"send_timeout_seconds": 20, "stale_sending_seconds": 1})
    with app.app_context(), database.connection_context():
        contact = contact_for_number("+97699112233", app.config["SECRET_KEY"])[0]
        message_id = enqueue(contact, "exactly once", channel=channel).id
    fake.hang_seconds = 8
    fake.fail_next(mode)

    crash_mid_send(app, tmp_path, fake, message_id)
    restarted = start_worker(app, tmp_path)
    out, _ = restarted.communicate(timeout=60)
    assert json.loads(out.strip().splitlines()[-1]) == {"sent": 1}
    sent = message_row(app, message_id)
    assert sent.status == "sent" and sent.attempts == 2
    assert fake.sent_texts() == ["exactly once"]
    assert sent.provider_id == (fake.accepted[0].get("sid") or fake.accepted[0]["id"])


def wait_until_due(app, message_id: int) -> None:
    """Sleep past the row's retry time (its backoff is jittered and grows with its attempts)."""
    retry_at = message_row(app, message_id).next_attempt_at
    time.sleep(max(0.0, (retry_at - utcnow()).total_seconds()) + 0.2)


def crash_mid_send(app, tmp_path, fake, message_id: int) -> None:
    """Start a worker, kill -9 it while its provider call is in flight, and let its claim expire."""
    crashed = start_worker(app, tmp_path)
    wait_for(lambda: len(fake.requests) == 1)  # the provider call is in flight, unanswered
    assert message_row(app, message_id).status == "sending"
    crashed.kill()
    crashed.wait()
    assert message_row(app, message_id).status == "sending"
    time.sleep(1.2)  # longer than stale_sending_seconds: the dead process's claim has expired


def test_twilio_list_unreadable_after_a_crash_waits_instead_of_resending(make_channel_app, tmp_path, fake_twilio):
    app = make_channel_app(outbox={"send_timeout_seconds": 20, "stale_sending_seconds": 1})
    with app.app_context(), database.connection_context():
        contact = contact_for_number("+97699112233", app.config["SECRET_KEY"])[0]
        message_id = enqueue(contact, "asked first", channel="twilio").id
    fake_twilio.hang_seconds = 8
    fake_twilio.fail_next("accept_then_hang", "500")  # the send is taken; then the first lookup fails
    crash_mid_send(app, tmp_path, fake_twilio, message_id)

    out, _ = start_worker(app, tmp_path).communicate(timeout=60)
    assert json.loads(out.strip().splitlines()[-1]) == {"retry": 1}  # unsure, so not sent again
    assert [r.method for r in fake_twilio.requests] == ["POST", "GET"]
    assert message_row(app, message_id).status == "queued"

    wait_until_due(app, message_id)
    out, _ = start_worker(app, tmp_path).communicate(timeout=60)
    assert json.loads(out.strip().splitlines()[-1]) == {"sent": 1}  # the retry's lookup found it
    assert [r.method for r in fake_twilio.requests] == ["POST", "GET", "GET"]  # never POSTed again
    assert fake_twilio.sent_texts() == ["asked first"]
    assert message_row(app, message_id).provider_id == fake_twilio.accepted[0]["sid"]


def test_africastalking_cannot_be_asked_so_a_crash_mid_answer_costs_one_duplicate(make_channel_app, tmp_path,
                                                                                   fake_at):
    """The window that is left (docs/reliability.md, "Exactly once, per provider"): AT takes the SMS, the process
    dies before recording it, and AT has no message list or idempotency key to ask, so it is sent once more."""
    app = make_channel_app(outbox={"send_timeout_seconds": 20, "stale_sending_seconds": 1})
    with app.app_context(), database.connection_context():
        contact = contact_for_number("+97699112233", app.config["SECRET_KEY"])[0]
        message_id = enqueue(contact, "at least once", channel="africastalking").id
    fake_at.hang_seconds = 8
    fake_at.fail_next("accept_then_hang")
    crash_mid_send(app, tmp_path, fake_at, message_id)
    out, _ = start_worker(app, tmp_path).communicate(timeout=60)
    assert json.loads(out.strip().splitlines()[-1]) == {"sent": 1}
    assert fake_at.sent_texts() == ["at least once", "at least once"]
    assert message_row(app, message_id).provider_id == fake_at.accepted[1]["id"]


def test_killed_before_dispatch_loses_nothing(make_channel_app, tmp_path, fake_twilio):
    app = make_channel_app()
    with app.app_context(), database.connection_context():
        contact = contact_for_number("+97699112233", app.config["SECRET_KEY"])[0]
        message_id = enqueue(contact, "queued then crash", channel="twilio").id
    # the enqueueing process "dies" here: the row is all there is
    worker = start_worker(app, tmp_path)
    out, _ = worker.communicate(timeout=60)
    assert json.loads(out.strip().splitlines()[-1]) == {"sent": 1}
    assert message_row(app, message_id).status == "sent"
    assert fake_twilio.sent_texts() == ["queued then crash"]
