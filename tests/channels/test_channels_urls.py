"""The webhook URLs people paste: `serve`'s banner and `channels check` print the same, working URLs."""
from __future__ import annotations

import json
import os
from pathlib import Path

import gateway.cli  # noqa: F401  (gateway.serve and gateway.channels_cli import it back: it comes first)
from gateway.channels_cli import webhook_urls
from gateway.serve import SERVING_FILE, banner


def test_banner_lists_only_enabled_channels_with_working_at_urls(make_channel_app):
    app = make_channel_app(public_url="https://gw.example.mn", channels={"twilio": {"enabled": False}})
    text = banner(app, "0.0.0.0", 8000, 2)
    assert "https://gw.example.mn/webhooks/africastalking/ussd?token=<AT_WEBHOOK_TOKEN>" in text
    assert "https://gw.example.mn/webhooks/africastalking/sms?token=<AT_WEBHOOK_TOKEN>" in text
    assert "https://gw.example.mn/webhooks/android" in text
    assert "twilio" not in text.lower()
    assert "at-webhook-token" not in text
    assert "https://gw.example.mn/webhooks/africastalking/ussd?token=at-webhook-token" in banner(
        app, "0.0.0.0", 8000, 2, show_token=True)


def test_banner_leaves_out_at_ussd_when_it_is_switched_off(make_channel_app):
    app = make_channel_app(channels={"africastalking": {"ussd": False}})
    text = banner(app, "127.0.0.1", 5000, 1)
    assert "/webhooks/africastalking/sms?token=" in text and "/webhooks/africastalking/ussd" not in text


def test_a_gateway_with_no_channel_says_so(app):
    assert "webhooks: none (no channel is enabled" in banner(app, "127.0.0.1", 5000, 1)


def test_channels_check_uses_the_port_serve_is_listening_on(make_channel_app):
    app = make_channel_app(public_url=None)
    serving = Path(app.config["GATEWAY"]["instance_path"]) / SERVING_FILE
    assert webhook_urls(app, "android") == ["events       http://127.0.0.1:5000/webhooks/android"]
    serving.write_text(json.dumps({"host": "127.0.0.1", "port": 8123, "pid": os.getpid()}))
    assert webhook_urls(app, "android") == ["events       http://127.0.0.1:8123/webhooks/android"]
    serving.write_text(json.dumps({"host": "127.0.0.1", "port": 8123, "pid": 2**22 + 1}))  # that serve has exited
    assert webhook_urls(app, "android") == ["events       http://127.0.0.1:5000/webhooks/android"]
