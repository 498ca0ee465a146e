"""Delivery reports and status callbacks: forward-only, late or repeated reports change nothing, opt-outs stick."""
from __future__ import annotations

import pytest

from gateway.outbox import dispatch, enqueue
from storage.contacts import contact_for_number
from storage.db import database
from storage.models import Contact, Message
from tests.fakes.signing import android_post, at_post, twilio_post

NUMBER = "+97699112233"


def send_one(app, channel: str, text: str = "hello") -> Message:
    with app.app_context(), database.connection_context():
        contact = contact_for_number(NUMBER, app.config["SECRET_KEY"])[0]
        message = enqueue(contact, text, channel=channel)
        dispatch(app)
        return Message.get_by_id(message.id)


def status_of(app, message: Message) -> Message:
    with app.app_context(), database.connection_context():
        return Message.get_by_id(message.id)


def opted_out(app, message: Message) -> bool:
    with app.app_context(), database.connection_context():
        return Contact.get_by_id(message.contact_id).opted_out_at is not None


def at_report(client, provider_id: str, status: str, **extra):
    return at_post(client, "/webhooks/africastalking/delivery",
                   {"id": provider_id, "status": status, "phoneNumber": NUMBER, "networkCode": "42899", **extra})


def twilio_report(client, sid: str, status: str, **extra):
    return twilio_post(client, "/webhooks/twilio/status", {
        "AccountSid": "AC" + "0" * 32, "From": "+15005550006", "To": NUMBER, "MessageSid": sid,
        "MessageStatus": status, "SmsSid": sid, "SmsStatus": status, "ApiVersion": "2010-04-01", **extra})


def android_report(client, message_id: str, event: str, envelope: str, **payload):
    return android_post(client, {"deviceId": "dev1", "event": event, "id": envelope, "webhookId": "w",
                                 "payload": {"messageId": message_id, "phoneNumber": NUMBER, "simNumber": 1,
                                             **payload}})


def test_at_delivery_reports_move_forward_only(channel_app, fake_at):
    message = send_one(channel_app, "africastalking")
    client = channel_app.test_client()
    assert at_report(client, message.provider_id, "Buffered").status_code == 200
    assert status_of(channel_app, message).status == "sent"
    at_report(client, message.provider_id, "Success")
    assert status_of(channel_app, message).status == "delivered"
    at_report(client, message.provider_id, "Sent")  # late, out of order
    at_report(client, message.provider_id, "Failed", failureReason="DeliveryFailure")
    assert status_of(channel_app, message).status == "delivered"


def test_at_failed_report_keeps_the_reason_and_blacklist_opts_out(channel_app, fake_at):
    message = send_one(channel_app, "africastalking")
    at_report(channel_app.test_client(), message.provider_id, "Failed", failureReason="UserInBlackList")
    failed = status_of(channel_app, message)
    assert failed.status == "failed" and failed.last_error == "UserInBlackList"
    assert opted_out(channel_app, message)


def test_twilio_status_callbacks_fixture_order_and_repeat(channel_app, fake_twilio):
    message = send_one(channel_app, "twilio")
    client = channel_app.test_client()
    for status in ("queued", "sent", "delivered", "sent", "delivered"):
        assert twilio_report(client, message.provider_id, status).status_code == 200
    assert status_of(channel_app, message).status == "delivered"


def test_twilio_undelivered_fixture_and_21610(channel_app, fake_twilio):
    first = send_one(channel_app, "twilio", "one")
    twilio_report(channel_app.test_client(), first.provider_id, "undelivered", ErrorCode="30008")
    assert status_of(channel_app, first).status == "failed"
    assert "30008" in status_of(channel_app, first).last_error
    assert not opted_out(channel_app, first)
    second = send_one(channel_app, "twilio", "two")
    twilio_report(channel_app.test_client(), second.provider_id, "failed", ErrorCode="21610")
    assert opted_out(channel_app, second)


def test_twilio_status_unknown_status_is_400(channel_app):
    response = twilio_report(channel_app.test_client(), "SM" + "2" * 32, "teleported")
    assert response.status_code == 400 and "'MessageStatus'" in response.get_json()["detail"]


def test_report_for_an_unknown_message_is_accepted(channel_app):
    assert twilio_report(channel_app.test_client(), "SM" + "9" * 32, "delivered").status_code == 200


@pytest.mark.parametrize("events,final", [
    (["sms:sent", "sms:delivered"], "delivered"),
    (["sms:delivered", "sms:sent"], "delivered"),
    (["sms:failed", "sms:delivered"], "failed"),
])
def test_android_status_events(channel_app, fake_android, events, final):
    message = send_one(channel_app, "android")
    client = channel_app.test_client()
    for n, event in enumerate(events):
        extra = {"reason": "RESULT_ERROR_NO_SERVICE"} if event == "sms:failed" else {}
        assert android_report(client, message.provider_id, event, f"env-{n}", **extra).status_code == 200
    assert status_of(channel_app, message).status == final


def test_at_opt_out_callback_marks_a_known_contact(channel_app, fake_at):
    message = send_one(channel_app, "africastalking")
    response = at_post(channel_app.test_client(), "/webhooks/africastalking/optout",
                       {"senderId": "GATEWAY", "phoneNumber": NUMBER})
    assert response.status_code == 200
    assert opted_out(channel_app, message)


def test_at_opt_out_callback_for_a_stranger_creates_nobody(channel_app):
    at_post(channel_app.test_client(), "/webhooks/africastalking/optout",
            {"senderId": "GATEWAY", "phoneNumber": "+97688000011"})
    with channel_app.app_context(), database.connection_context():
        assert Contact.select().count() == 0


def test_system_ping_updates_phone_last_seen(make_channel_app):
    import datetime as dt

    import time_machine

    app = make_channel_app(channels={"android": {"silence_warning_minutes": 10}})
    client = app.test_client()
    body = client.get("/healthz").get_json()
    assert body["channels"]["android"]["detail"].startswith("WARNING: phone never seen")
    ping = {"deviceId": "d", "event": "system:ping", "id": "p1", "payload": {"health": {"status": "warn"}}}
    assert android_post(client, ping).status_code == 200
    seen = client.get("/healthz").get_json()["channels"]["android"]["detail"]
    assert seen.startswith("phone last seen 0 min ago") and seen.endswith("health warn")
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=25), tick=True):
        body = client.get("/healthz").get_json()
        assert body["channels"]["android"]["detail"].startswith("WARNING: phone last seen 25 min ago")
        # the phone's own time stamps would be rejected now, so sign with the travelled clock
        assert android_post(client, {"deviceId": "d", "event": "system:ping", "id": "p2", "payload": {}}
                            ).status_code == 200
        seen = client.get("/healthz").get_json()["channels"]["android"]["detail"]
        assert seen.startswith("phone last seen 0 min ago")


def test_documented_at_delivery_fixtures(channel_app, fake_at):
    """protocols.md §2.5, verbatim bodies."""
    fake_at.next_ids = ["ATXid_dda018a640edfcc5d2ce455de3e4a6e7"]
    message = send_one(channel_app, "africastalking")
    assert message.provider_id == "ATXid_dda018a640edfcc5d2ce455de3e4a6e7"
    client = channel_app.test_client()
    at_post(client, "/webhooks/africastalking/delivery", "id=ATXid_dda018a640edfcc5d2ce455de3e4a6e7&status=Success"
            "&phoneNumber=%2B254720123123&networkCode=63902&retryCount=0")
    assert status_of(channel_app, message).status == "delivered"
    at_post(client, "/webhooks/africastalking/delivery", "id=ATXid_dda018a640edfcc5d2ce455de3e4a6e7&status=Failed"
            "&phoneNumber=%2B254720123123&networkCode=63902&failureReason=UserInBlackList")
    assert status_of(channel_app, message).status == "delivered"  # late report after the final one


def test_documented_twilio_status_fixtures(channel_app, fake_twilio):
    """protocols.md §3.3 courier fixtures (delivered; failed with 21610), signed with the SDK."""
    from tests.fakes.signing import twilio_post as signed

    fake_twilio.next_ids = ["SMe287d7109a5a925f182f0e07fe5b223b"]
    message = send_one(channel_app, "twilio")
    client = channel_app.test_client()
    assert signed(client, "/webhooks/twilio/status", {"MessageSid": "SMe287d7109a5a925f182f0e07fe5b223b",
                                                      "MessageStatus": "delivered"}).status_code == 200
    assert status_of(channel_app, message).status == "delivered"
    signed(client, "/webhooks/twilio/status", {"ErrorCode": "21610", "MessageSid": "SMe287d7109a5a925f182f0e07fe5b223b",
                                               "MessageStatus": "failed", "To": "+12028831111"})
    assert status_of(channel_app, message).status == "delivered"
    assert opted_out(channel_app, message)  # the opt-out signal counts even when the status cannot move


def test_phone_report_before_our_bookkeeping_is_kept(channel_app, fake_android):
    """The outbox records the Android id before sending, so a fast `sms:delivered` finds the row while it is still
    `sending`; the later "sent" bookkeeping must not move it back."""
    from storage import outbox as store

    with channel_app.app_context(), database.connection_context():
        contact = contact_for_number(NUMBER, channel_app.config["SECRET_KEY"])[0]
        message = enqueue(contact, "fast phone", channel="android")
        claimed = store.claim_next(store.utcnow())
        store.set_provider_id(claimed.id, f"gw-{claimed.id}")
    android_report(channel_app.test_client(), f"gw-{message.id}", "sms:delivered", "env-fast")
    with channel_app.app_context(), database.connection_context():
        store.mark_sent(message.id, f"gw-{message.id}", 1)
        final = Message.get_by_id(message.id)
    assert final.status == "delivered" and final.sent_at is not None
