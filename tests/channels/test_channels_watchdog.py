"""The phone watchdog job (GET /health) and the loud warning for unverified channels."""
from __future__ import annotations

import datetime as dt

from gateway.scheduler import run_job
from storage import outbox as store
from storage.db import database, utcnow


def test_health_poll_marks_the_phone_seen(channel_app, fake_android):
    assert run_job(channel_app, "android.watchdog") == "pass"
    assert fake_android.requests[-1].path == "/health"
    seen = channel_app.test_client().get("/healthz").get_json()["channels"]["android"]["detail"]
    assert seen.startswith("phone last seen 0 min ago") and seen.endswith(", health pass")


def test_unreachable_phone_is_marked_down_so_sends_fail_over(channel_app, fake_android):
    fake_android.fail_next("500")
    assert run_job(channel_app, "android.watchdog") == "unreachable"
    with channel_app.app_context(), database.connection_context():
        assert store.channel_is_down("android", utcnow())
        assert store.channel_state("android").last_error.startswith("health check failed")
    assert run_job(channel_app, "android.watchdog") == "pass"  # a healthy answer lifts the mark
    with channel_app.app_context(), database.connection_context():
        assert not store.channel_is_down("android", utcnow() + dt.timedelta(seconds=1))


def test_phone_reporting_fail_is_down(channel_app, fake_android):
    fake_android.health_status = "fail"
    assert run_job(channel_app, "android.watchdog") == "fail"
    with channel_app.app_context(), database.connection_context():
        assert store.channel_is_down("android", utcnow())


def test_watchdog_does_nothing_without_android(app):
    assert run_job(app, "android.watchdog") is None


def test_verify_false_is_announced_by_serve(make_channel_app):
    import gateway.cli  # noqa: F401  (importing gateway.serve first is circular: serve → cli → serve)
    from gateway.serve import banner

    app = make_channel_app(channels={"twilio": {"verify": False}})
    assert any("twilio" in warning and "verify: false" in warning for warning in app.extensions["gateway.warnings"])
    assert "WARNING:  channel 'twilio' has verify: false" in banner(app, "127.0.0.1", 5000, 1)
    assert not any("android" in w for w in app.extensions["gateway.warnings"])


def test_verify_false_accepts_unsigned_requests(make_channel_app):
    from tests.channels.test_channels_inbound import TWILIO_SMS

    app = make_channel_app(channels={"twilio": {"verify": False}})
    assert app.test_client().post("/webhooks/twilio/sms", data=TWILIO_SMS).status_code == 200
