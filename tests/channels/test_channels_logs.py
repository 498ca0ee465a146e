"""Secrets and phone numbers stay out of the logs, across webhooks, sends and failures."""
from __future__ import annotations

import logging

from gateway.logs import JsonLineFormatter
from gateway.outbox import dispatch
from storage.db import database
from tests.channels.test_channels_inbound import ANDROID_RECEIVED, AT_SMS, TWILIO_SMS
from tests.fakes.signing import (
    ANDROID_KEY,
    ANDROID_PASSWORD,
    AT_KEY,
    AT_TOKEN,
    TWILIO_TOKEN,
    android_post,
    at_post,
    twilio_post,
)


def test_no_secret_or_number_in_any_log_line_even_at_debug(channel_app, fake_at, fake_twilio,
                                                            caplog):
    caplog.set_level(logging.DEBUG)
    client = channel_app.test_client()
    at_post(client, "/webhooks/africastalking/sms", AT_SMS)
    at_post(client, "/webhooks/africastalking/sms", AT_SMS, token="wrong")
    twilio_post(client, "/webhooks/twilio/sms", TWILIO_SMS)
    android_post(client, ANDROID_RECEIVED)
    fake_at.fail_next("500")
    fake_twilio.fail_next("unsubscribed")
    with channel_app.app_context(), database.connection_context():
        dispatch(channel_app)
    lines = [JsonLineFormatter().format(record) for record in caplog.records]
    assert any('"outbox.sent"' in line for line in lines) and any('"outbox.send_failed"' in line for line in lines)
    text = "\n".join(lines)
    for secret in (AT_TOKEN, AT_KEY, TWILIO_TOKEN, ANDROID_KEY, ANDROID_PASSWORD):
        assert secret not in text
    for number in ("+254791541111", "+97699112233", "97699112233"):
        assert number not in text
    info = "\n".join(JsonLineFormatter().format(r) for r in caplog.records if r.levelno >= logging.INFO)
    assert "Oilgosongui" not in info and "gomdol us tugeeh" not in info  # message bodies stay out at INFO
