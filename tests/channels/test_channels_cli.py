"""`gateway channels check` and `gateway outbox` through the real CLI, against the fakes."""
from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from gateway.cli import cli
from gateway.config import SECRET_ENV, get
from gateway.outbox import dispatch, enqueue
from storage.contacts import contact_for_number
from storage.db import database
from storage.models import Message

CONFIG_KEYS = ("database_url", "instance_path", "channels", "outbox", "routing", "flows", "scheduler", "public_url")


@pytest.fixture
def run_cli(channel_app, tmp_path, monkeypatch):
    """Run `gateway …` with a config file describing the same setup as `channel_app` (secrets from the env)."""
    config = copy.deepcopy({key: channel_app.config["GATEWAY"][key] for key in CONFIG_KEYS})
    for dotted in SECRET_ENV.values():
        *parents, last = dotted.split(".")
        node = get(config, ".".join(parents)) if parents else config
        if isinstance(node, dict):
            node.pop(last, None)
    config["public_url"] = "https://gw.example.mn"
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML 1.2
    monkeypatch.setenv("GATEWAY_SECRET_KEY", channel_app.config["SECRET_KEY"])

    def run(*args: str):
        result = CliRunner().invoke(cli, ["--config", str(path), *args], catch_exceptions=False)
        if not database.is_closed():
            database.close()
        return result
    return run


def test_channels_check_reports_each_channel_with_urls(run_cli, fake_twilio, fake_at, fake_android):
    result = run_cli("channels", "check")
    assert result.exit_code == 0, result.output
    assert "Twilio (twilio)" in result.output and "reachable, account active" in result.output
    assert "reachable, balance KES 100.0000" in result.output
    assert "reachable, health pass" in result.output
    assert "https://gw.example.mn/webhooks/twilio/sms" in result.output
    assert "https://gw.example.mn/webhooks/africastalking/ussd?token=<AT_WEBHOOK_TOKEN>" in result.output
    assert "https://gw.example.mn/webhooks/android" in result.output
    assert [r.path for r in fake_android.requests] == ["/health"]


def test_channels_check_shows_real_token_only_when_asked(run_cli):
    assert "?token=at-webhook-token" in run_cli("channels", "check", "--show-token").output


def test_channels_check_fails_on_unreachable_or_missing_credentials(run_cli, fake_android, monkeypatch):
    fake_android.always = "500"
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    result = run_cli("channels", "check")
    assert result.exit_code == 1
    assert "credentials: MISSING TWILIO_AUTH_TOKEN" in result.output
    assert "reachable:   NO" in result.output
    assert "2 problem(s)" in result.output


def test_outbox_list_retry_cancel(run_cli, channel_app, fake_twilio):
    fake_twilio.always = "500"
    with channel_app.app_context(), database.connection_context():
        contact = contact_for_number("+97699112233", channel_app.config["SECRET_KEY"])[0]
        doomed = enqueue(contact, "doomed", channel="twilio", purpose="reply")
        waiting = enqueue(contact, "waiting", channel="africastalking", purpose="notice",
                          not_before=None)
        Message.update(status="failed", last_error="twilio 500").where(Message.id == doomed.id).execute()
    listing = run_cli("outbox", "list")
    assert listing.exit_code == 0
    assert "+976****2233" in listing.output and "+97699112233" not in listing.output
    assert "twilio 500" in listing.output and f"{waiting.id:>6} queued" in listing.output
    assert run_cli("outbox").output == listing.output  # bare `gateway outbox` lists

    assert "cancelled: 1 of 1" in run_cli("outbox", "cancel", str(waiting.id)).output
    assert "queued again: 1 of 1" in run_cli("outbox", "retry", "--all-failed").output
    fake_twilio.always = None
    with channel_app.app_context(), database.connection_context():
        dispatch(channel_app)
        assert Message.get_by_id(doomed.id).status == "sent"
        assert Message.get_by_id(waiting.id).status == "cancelled"
    assert "no queued/sending/failed messages" in run_cli("outbox", "list").output
