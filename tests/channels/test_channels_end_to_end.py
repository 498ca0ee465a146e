"""End to end with the real conversation layer and bundled flows: webhook → conversation → outbox → fake phone."""
from __future__ import annotations

import pytest

from gateway.outbox import dispatch
from storage.db import database
from storage.models import Contact, Message
from tests.channels.test_channels_inbound import ANDROID_RECEIVED, AT_USSD_FIRST
from tests.fakes.signing import android_post, at_post


@pytest.fixture
def real_app(make_channel_app):
    return make_channel_app(flows={"bundled": True, "paths": []})


def sms(client, text: str, envelope: str):
    return android_post(client, {**ANDROID_RECEIVED, "id": envelope,
                                 "payload": {**ANDROID_RECEIVED["payload"], "message": text}})


def test_sms_in_reply_out_on_the_same_phone(real_app, fake_android):
    client = real_app.test_client()
    assert sms(client, "help", "env-1").status_code == 200
    with real_app.app_context(), database.connection_context():
        replies = list(Message.select().where(Message.direction == "out"))
        assert replies and all(r.channel == "android" and r.purpose == "reply" for r in replies)
        dispatch(real_app)
        assert {Message.get_by_id(r.id).status for r in replies} == {"sent"}
    assert fake_android.sent_texts() == [r.text for r in replies]
    assert all(item["to"] == "+97699112233" for item in fake_android.accepted)


def test_stop_by_sms_opts_out_and_is_confirmed(real_app, fake_android):
    client = real_app.test_client()
    sms(client, "ЗОГС", "env-stop")
    with real_app.app_context(), database.connection_context():
        assert Contact.get().opted_out_at is not None
        dispatch(real_app)
    assert len(fake_android.accepted) >= 1  # the confirmation still reaches the person


def test_ussd_first_hop_with_real_flows(real_app):
    client = real_app.test_client()
    first = at_post(client, "/webhooks/africastalking/ussd", AT_USSD_FIRST)
    assert first.status_code == 200
    assert first.get_data(as_text=True).startswith("CON ")  # the first-contact notice or the menu: it waits
    again = at_post(client, "/webhooks/africastalking/ussd", AT_USSD_FIRST)
    assert again.get_data() == first.get_data()
