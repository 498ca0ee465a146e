"""Authenticity and bad input: 403 / 404 / 400 / 413, and nothing stored for any of them."""
from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.db import utcnow
from storage.models import Contact, Message
from tests.channels.test_channels_inbound import ANDROID_RECEIVED, AT_SMS, AT_USSD_FIRST, TWILIO_SMS
from tests.fakes.signing import AT_TOKEN, android_post, at_post, twilio_post


def nothing_stored(app) -> bool:
    with app.app_context():
        return Message.select().count() == 0 and Contact.select().count() == 0


@pytest.mark.parametrize("post", [
    lambda c: at_post(c, "/webhooks/africastalking/sms", AT_SMS, token="wrong"),
    lambda c: c.post("/webhooks/africastalking/ussd", data=AT_USSD_FIRST,
                     content_type="application/x-www-form-urlencoded"),  # no token at all
    lambda c: twilio_post(c, "/webhooks/twilio/sms", TWILIO_SMS, token="not-the-token"),
    lambda c: twilio_post(c, "/webhooks/twilio/sms", TWILIO_SMS, url_base="https://elsewhere.example"),
    lambda c: c.post("/webhooks/twilio/sms", data=TWILIO_SMS),  # unsigned
    lambda c: android_post(c, ANDROID_RECEIVED, key="wrong-key"),
    lambda c: android_post(c, ANDROID_RECEIVED, stamp=int(time.time()) - 301),  # replayed: too old
    lambda c: android_post(c, ANDROID_RECEIVED, stamp=int(time.time()) + 400),
], ids=["at-wrong-token", "at-no-token", "twilio-wrong-token", "twilio-wrong-url", "twilio-unsigned",
        "android-wrong-key", "android-old-timestamp", "android-future-timestamp"])
def test_unverified_requests_get_403_and_store_nothing(channel_app, post):
    response = post(channel_app.test_client())
    assert response.status_code == 403
    assert nothing_stored(channel_app)


def test_android_body_changed_after_signing_is_refused(channel_app):
    raw = json.dumps(ANDROID_RECEIVED).encode()
    stamp = str(int(time.time()))
    from gateway.channels.android import sign
    tampered = raw.replace(b"gomdol", b"GOMDOL")
    response = channel_app.test_client().post("/webhooks/android", data=tampered, content_type="application/json",
                                              headers={"X-Signature": sign("android-signing-key", raw, stamp),
                                                       "X-Timestamp": stamp})
    assert response.status_code == 403


def test_at_ip_allowlist(make_channel_app):
    app = make_channel_app(channels={"africastalking": {"allow_ips": ["10.9.9.9"]}})
    assert at_post(app.test_client(), "/webhooks/africastalking/sms", AT_SMS).status_code == 403
    app = make_channel_app(channels={"africastalking": {"allow_ips": ["127.0.0.1"]}})
    assert at_post(app.test_client(), "/webhooks/africastalking/sms", AT_SMS).status_code == 200


def test_twilio_signature_against_public_url(make_channel_app):
    app = make_channel_app(public_url="https://sms.example.mn")
    client = app.test_client()
    assert twilio_post(client, "/webhooks/twilio/sms", TWILIO_SMS).status_code == 403  # signed for localhost
    assert twilio_post(client, "/webhooks/twilio/sms", TWILIO_SMS, url_base="https://sms.example.mn").status_code == 200


@pytest.mark.parametrize("trust_proxy_headers", [False, True])
def test_twilio_is_never_verified_against_a_url_the_request_names(make_channel_app, trust_proxy_headers):
    """A signature made for another URL on the same account must not pass through a spoofed Host or
    X-Forwarded-Host: without GATEWAY_PUBLIC_URL nothing is verified, with it the headers are not used."""
    from twilio.request_validator import RequestValidator

    signature = RequestValidator("12345").compute_signature("https://other.example/webhooks/twilio/sms", TWILIO_SMS)
    headers = {"X-Twilio-Signature": signature, "Host": "other.example", "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "other.example"}
    for public_url in (None, "https://gw.example.mn"):
        app = make_channel_app(public_url=public_url, trust_proxy_headers=trust_proxy_headers)
        response = app.test_client().post("/webhooks/twilio/sms", data=TWILIO_SMS, headers=headers,
                                          base_url="https://other.example")
        assert response.status_code == 403
        assert nothing_stored(app)
    assert any("GATEWAY_PUBLIC_URL" in w for w in make_channel_app(public_url=None).extensions["gateway.warnings"])


def test_config_check_warns_when_twilio_has_no_public_url(tmp_path):
    from click.testing import CliRunner

    from gateway.cli import cli

    config = tmp_path / "config.yaml"
    config.write_text("channels:\n  twilio:\n    enabled: true\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "check"])
    assert result.exit_code == 0
    assert "WARNING: channel 'twilio' needs GATEWAY_PUBLIC_URL" in result.stderr


@pytest.mark.parametrize("proxies,forwarded,allowed", [
    (True, "10.9.9.9", True),  # our one proxy saw 10.9.9.9
    (True, "10.9.9.9, 6.6.6.6", False),  # the client wrote 10.9.9.9 itself; our proxy saw 6.6.6.6
    (2, "6.6.6.6, 10.9.9.9, 192.0.2.1", True),  # two proxies: the second from the right is the client
    (False, "10.9.9.9", False),  # no trusted proxy: the header means nothing
])
def test_at_allowlist_reads_the_address_our_proxies_saw(make_channel_app, proxies, forwarded, allowed):
    app = make_channel_app(trust_proxy_headers=proxies, channels={"africastalking": {"allow_ips": ["10.9.9.9"]}})
    response = app.test_client().post(f"/webhooks/africastalking/optout?token={AT_TOKEN}",
                                      data={"phoneNumber": "+97699112233"},
                                      headers={"X-Forwarded-For": forwarded})
    assert response.status_code == (200 if allowed else 403)


@pytest.mark.parametrize("path", ["/webhooks/africastalking/sms", "/webhooks/africastalking/ussd",
                                  "/webhooks/africastalking/delivery", "/webhooks/africastalking/ussd/events",
                                  "/webhooks/twilio/sms", "/webhooks/twilio/status", "/webhooks/android"])
def test_unconfigured_channel_answers_404(app, path):
    response = app.test_client().post(f"{path}?token={AT_TOKEN}", data={"x": "y"})
    assert response.status_code == 404
    assert "not configured" in response.get_json()["detail"]


def test_ussd_switched_off_answers_404(make_channel_app):
    app = make_channel_app(channels={"africastalking": {"ussd": False}})
    assert at_post(app.test_client(), "/webhooks/africastalking/ussd", AT_USSD_FIRST).status_code == 404


@pytest.mark.parametrize("path,body,field", [
    ("/webhooks/africastalking/sms", AT_SMS.replace("&text=Msg", ""), "text"),
    ("/webhooks/africastalking/sms", AT_SMS.replace("&from=%2B254791541111", ""), "from"),
    ("/webhooks/africastalking/ussd", AT_USSD_FIRST.replace("&sessionId=ATUid_7c898d72eb11f723ed8ea05ef232f279", ""),
     "sessionId"),
    ("/webhooks/africastalking/ussd", AT_USSD_FIRST.replace("&text=", ""), "text"),
    ("/webhooks/africastalking/delivery", "id=ATXid_1&phoneNumber=%2B254720123123", "status"),
    ("/webhooks/africastalking/delivery", "id=ATXid_1&status=Teleported", "status"),
], ids=["at-sms-text", "at-sms-from", "ussd-session", "ussd-text", "dlr-status-missing", "dlr-status-unknown"])
def test_missing_or_wrong_fields_are_400_naming_the_field(channel_app, path, body, field):
    response = at_post(channel_app.test_client(), path, body)
    assert response.status_code == 400
    assert f"'{field}'" in response.get_json()["detail"]
    assert nothing_stored(channel_app)


def test_twilio_missing_body_is_400(channel_app):
    params = {k: v for k, v in TWILIO_SMS.items() if k != "Body"}
    response = twilio_post(channel_app.test_client(), "/webhooks/twilio/sms", params)
    assert response.status_code == 400 and "'Body'" in response.get_json()["detail"]


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'{"event": "sms:received", "id": "x"}',
                                  b'{"event":"sms:received","id":"x","payload":{"phoneNumber":"+97699112233"}}',
                                  b"\xff\xfe\x00garbage",
                                  b'{"event":"sms:received","id":"x","payload":{"phoneNumber":"+97699112233",'
                                  b'"message":"a\\u0000b"}}'],
                         ids=["not-json", "not-object", "no-payload", "no-message", "not-utf8", "nul-in-text"])
def test_android_malformed_bodies_are_400(channel_app, body):
    assert android_post(channel_app.test_client(), body).status_code == 400
    assert nothing_stored(channel_app)


def test_undecodable_form_is_400(channel_app):
    client = channel_app.test_client()
    for raw in (b"from=%2B254791541111&text=%FF%FE", b"from=%2B254791541111&text=\xff"):
        response = client.post(f"/webhooks/africastalking/sms?token={AT_TOKEN}", data=raw,
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 400
    assert nothing_stored(channel_app)


def test_bad_phone_number_is_400(channel_app):
    response = at_post(channel_app.test_client(), "/webhooks/africastalking/sms", AT_SMS.replace(
        "from=%2B254791541111", "from=hello"))
    assert response.status_code == 400 and "'from'" in response.get_json()["detail"]


def test_body_over_64kb_is_413(channel_app):
    huge = AT_SMS.replace("text=Msg", "text=" + "a" * 70_000)
    response = at_post(channel_app.test_client(), "/webhooks/africastalking/sms", huge)
    assert response.status_code == 413
    assert nothing_stored(channel_app)


def test_unknown_extra_fields_are_accepted(channel_app):
    body = AT_SMS + "&cost=KES+0&brandNewField=%F0%9F%98%80"
    assert at_post(channel_app.test_client(), "/webhooks/africastalking/sms", body).status_code == 200
    params = {**TWILIO_SMS, "SomethingTwilioAddedToday": "yes", "OptOutType": "STOP"}
    assert twilio_post(channel_app.test_client(), "/webhooks/twilio/sms", params).status_code == 200


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_text_is_stored_exactly_as_received(channel_app, text):
    from urllib.parse import urlencode

    body = urlencode({"from": "+97688112233", "to": "21512", "text": text})
    response = at_post(channel_app.test_client(), "/webhooks/africastalking/sms", body)
    if "\x00" in text:  # PostgreSQL cannot store it exactly, so it is refused on both engines
        assert response.status_code == 400 and "NUL" in response.get_json()["detail"]
        return
    assert response.status_code == 200
    with channel_app.app_context():
        row = Message.select().where(Message.direction == "in").order_by(Message.id.desc()).first()
        assert row.text == text


@pytest.mark.parametrize("path,raw,signature", [
    ("/twilio/sms",
     "ToCountry=US&ToState=CA&SmsMessageSid=SM11111111111111111111111111111111&NumMedia=0&ToCity=&FromZip="
     "&SmsSid=SM11111111111111111111111111111111&FromState=&SmsStatus=received&FromCity="
     "&Body=%D0%A1%D0%B0%D0%B9%D0%BD+%D1%83%D1%83&FromCountry=MN&To=%2B15005550006&ToZip=&NumSegments=1"
     "&MessageSid=SM11111111111111111111111111111111&AccountSid=AC00000000000000000000000000000000"
     "&From=%2B97699112233&ApiVersion=2010-04-01", "pTmV7OCfZlbiGGeFG5uFBLKl8zQ="),
    ("/twilio/status",
     "AccountSid=AC00000000000000000000000000000000&From=%2B15005550006&To=%2B97699112233"
     "&MessageSid=SM22222222222222222222222222222222&MessageStatus=undelivered"
     "&SmsSid=SM22222222222222222222222222222222&SmsStatus=undelivered&ErrorCode=30008&ApiVersion=2010-04-01",
     "mWg6mhIlWFLwBnFP2KhxWQ6CoI0="),
], ids=["sms", "status"])
def test_twilio_verify_accepts_the_documented_signed_fixtures(make_channel_app, path, raw, signature):
    """protocols.md §3.1/§3.3: token 12345, signed for https://example.com<path>."""
    from flask import request

    from gateway.channels.base import get_channel
    from gateway.webhooks import _form

    app = make_channel_app(public_url="https://example.com")
    channel = get_channel(app, "twilio")
    for sent, expected in ((signature, True), (signature.replace("=", "A="), False)):
        with app.test_request_context(path, method="POST", data=raw, headers={"X-Twilio-Signature": sent},
                                      content_type="application/x-www-form-urlencoded"):
            assert channel.verify(request, _form(request.get_data()), utcnow()) is expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(st.text(alphabet=st.characters(blacklist_characters="*\x00", blacklist_categories=["Cs"]),
                                 max_size=20), max_size=6))
def test_any_ussd_history_gets_a_con_or_end_screen(channel_app, history):
    from urllib.parse import urlencode

    body = urlencode({"sessionId": "ATUid_h", "serviceCode": "*384*1#", "phoneNumber": "+97699112233",
                      "networkCode": "42899", "text": "*".join(history)})
    response = at_post(channel_app.test_client(), "/webhooks/africastalking/ussd", body)
    assert response.status_code == 200
    assert response.get_data(as_text=True)[:4] in ("CON ", "END ")
