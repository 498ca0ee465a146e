"""Two messages from one person at the same moment: handled one after the other, neither lost nor doubled."""
from __future__ import annotations

import itertools
import threading
import time

from storage.db import database
from storage.models import Message
from tests.channels.test_channels_inbound import AT_SMS
from tests.fakes.signing import at_post


def post_together(app, bodies: list[str]) -> list[int]:
    statuses: list[int] = []
    barrier = threading.Barrier(len(bodies))

    def worker(body: str) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(at_post(client, "/webhooks/africastalking/sms", body).status_code)

    threads = [threading.Thread(target=worker, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


def slow_conversation(stand_in) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []

    def handle_sms(app, contact, inbound_row, sms):
        started = time.monotonic()
        time.sleep(0.3)
        spans.append((started, time.monotonic()))
        stand_in.calls.append(sms.text)
        return [f"got {sms.text}"]

    stand_in.handle_sms = handle_sms
    return spans


def test_one_persons_messages_are_serialised(channel_app, stand_in_conversation):
    spans = slow_conversation(stand_in_conversation)
    bodies = [AT_SMS.replace("id=ec9adc86", f"id={n}ec9adc86").replace("text=Msg", f"text=msg{n}") for n in range(3)]
    assert post_together(channel_app, bodies) == [200, 200, 200]
    spans.sort()
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(spans))  # never overlapping
    assert sorted(stand_in_conversation.calls) == ["msg0", "msg1", "msg2"]
    with channel_app.app_context(), database.connection_context():
        assert Message.select().where(Message.direction == "in").count() == 3
        assert sorted(m.text for m in Message.select().where(Message.direction == "out")) == [
            "got msg0", "got msg1", "got msg2"]


def test_simultaneous_redeliveries_are_processed_once(channel_app, stand_in_conversation):
    slow_conversation(stand_in_conversation)
    assert post_together(channel_app, [AT_SMS] * 3) == [200, 200, 200]
    assert stand_in_conversation.calls == ["Msg"]
    with channel_app.app_context(), database.connection_context():
        assert Message.select().where(Message.direction == "in").count() == 1
        assert Message.select().where(Message.direction == "out").count() == 1
