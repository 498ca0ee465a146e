"""Two messages from one person at the same moment: handled one after the other, neither lost nor doubled."""
from __future__ import annotations

import threading

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


def test_one_persons_messages_are_serialised(channel_app):
    """Ten different first messages at once: had two of them run side by side, both would see a person who
    has not consented yet, and send the notice twice."""
    bodies = [AT_SMS.replace("id=ec9adc86", f"id={n}ec9adc86").replace("text=Msg", f"text=msg{n}") for n in range(10)]
    assert post_together(channel_app, bodies) == [200] * 10
    with channel_app.app_context(), database.connection_context():
        assert Message.select().where(Message.direction == "in").count() == 10
        replies = [m.text for m in Message.select().where(Message.direction == "out")]
        assert sum(text.startswith("Tavtai moril") for text in replies) == 1 and len(replies) == 11


def test_simultaneous_redeliveries_are_processed_once(channel_app):
    assert post_together(channel_app, [AT_SMS] * 5) == [200] * 5
    with channel_app.app_context(), database.connection_context():
        assert Message.select().where(Message.direction == "in").count() == 1
        assert Message.select().where(Message.direction == "out").count() == 2  # the notice and one answer
