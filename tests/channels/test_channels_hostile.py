"""Hostile and broken input to the webhooks, through the real wrapper and the real conversation: never a 500, never
a traceback in the log, and nothing stored unless the input was valid."""
from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.channels.android import sign
from storage.models import Contact, Message
from tests.channels.test_channels_inbound import ANDROID_RECEIVED
from tests.fakes.signing import ANDROID_KEY, android_post


def stored(app) -> tuple[int, int]:
    with app.app_context():
        return Message.select().count(), Contact.select().count()


@pytest.mark.parametrize("stamp", ["²", "1" * 5000, "١٧٣٣٤٠٠٠٠٠", "-1", " 1733400000", "1e9"],
                         ids=["superscript", "5000-digits", "arabic-digits", "negative", "space", "float"])
def test_android_odd_timestamps_get_403_without_a_traceback(channel_app, caplog, stamp):
    raw = json.dumps(ANDROID_RECEIVED).encode()
    with caplog.at_level(logging.INFO):
        response = channel_app.test_client().post(
            "/webhooks/android", data=raw, content_type="application/json",
            headers={"X-Signature": sign(ANDROID_KEY, raw, stamp), "X-Timestamp": stamp})
    assert response.status_code == 403
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert stored(channel_app) == (0, 0)


def test_a_lone_surrogate_is_kept_as_a_replacement_character_and_answered(channel_app, caplog):
    """Half an emoji (`\\ud83d` alone is valid JSON) can be stored by neither database: keep the rest, answer 200,
    so the phone does not retry for ever."""
    body = copy.deepcopy(ANDROID_RECEIVED)
    body["payload"]["message"] = "gomdol \ud83d baina"
    with caplog.at_level(logging.INFO):
        response = android_post(channel_app.test_client(), json.dumps(body).encode())
    assert response.status_code == 200
    with channel_app.app_context():
        row = Message.get((Message.direction == "in") & (Message.channel == "android"))
        assert (row.text, row.status) == ("gomdol \ufffd baina", "handled")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("change", [
    {"event": 1}, {"id": {"x": 1}}, {"id": True}, {"payload": []}, {"payload": "x"},
    {"payload": {"message": 5, "phoneNumber": "+97699112233"}},
    {"payload": {"message": "hi", "phoneNumber": 97699112233}},
    {"payload": {"message": ["hi"], "phoneNumber": "+97699112233"}},
    {"payload": {"message": "hi", "phoneNumber": "+97699112233", "simNumber": "one"}},
    {"deviceId": 7},
    {"event": "sms:delivered", "payload": {"messageId": 42}},
    {"event": "sms:failed", "payload": {"messageId": "gw-1", "reason": {"code": 1}}},
])
def test_wrongly_typed_fields_on_the_signed_android_webhook_get_400(channel_app, change):
    body = {**copy.deepcopy(ANDROID_RECEIVED), **change}
    response = android_post(channel_app.test_client(), json.dumps(body).encode())
    assert response.status_code == 400
    assert "must be" in response.get_json()["detail"]
    assert stored(channel_app) == (0, 0)


def test_json_nested_thousands_deep_gets_400(channel_app):
    for raw in (b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000):
        response = android_post(channel_app.test_client(), raw)
        assert response.status_code == 400 and "deeper" in response.get_json()["detail"]
    assert stored(channel_app) == (0, 0)


def test_a_fresh_timestamp_is_compared_with_the_injected_clock(channel_app):
    old = int(time.time()) - 301
    assert android_post(channel_app.test_client(), ANDROID_RECEIVED, stamp=old).status_code == 403


def test_a_flood_from_one_number_gets_one_polite_reply_and_no_storm(make_channel_app, fake_at):
    """100 SMS in a minute from one number: all stored, the first ones answered as usual, then one notice;
    STOP still works in the middle of it, and another number is not affected."""
    from urllib.parse import urlencode

    import time_machine

    from gateway.outbox import dispatch
    from storage.db import database
    from tests.fakes.signing import at_post

    app = make_channel_app(flows={"bundled": True, "paths": []}, routing={"sms": ["africastalking"]})
    client = app.test_client()
    limit = app.config["GATEWAY"]["inbound_limit"]["messages"]
    start = dt.datetime(2026, 11, 23, 4, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        for n in range(100):
            body = urlencode({"from": "+97699112233", "to": "21512", "text": f"spam {n}", "id": f"flood-{n}"})
            assert at_post(client, "/webhooks/africastalking/sms", body).status_code == 200
            traveller.shift(dt.timedelta(seconds=0.6))
        stop = urlencode({"from": "+97699112233", "to": "21512", "text": "ZOGS", "id": "flood-stop"})
        assert at_post(client, "/webhooks/africastalking/sms", stop).status_code == 200
        other = urlencode({"from": "+97688112233", "to": "21512", "text": "help", "id": "other-1"})
        assert at_post(client, "/webhooks/africastalking/sms", other).status_code == 200
        with app.app_context(), database.connection_context():
            flooder = Contact.select().order_by(Contact.id).first()
            inbound = list(Message.select().where((Message.direction == "in") & (Message.contact == flooder.id)))
            outbound = list(Message.select().where((Message.direction == "out") & (Message.contact == flooder.id)))
            assert len(inbound) == 101
            assert sum(m.status == "rate_limited" for m in inbound) == 100 - limit
            notices = [m for m in outbound if m.origin == "flood"]
            assert len(notices) == 1 and notices[0].text.startswith("Ta heterhii olon zurvas")
            assert len(outbound) <= limit + 3  # the welcome, the first messages' replies, the notice, the STOP reply
            assert Contact.get_by_id(flooder.id).opted_out_at is not None  # STOP was not rate-limited
            assert Message.select().where((Message.direction == "out")
                                          & (Message.contact != flooder.id)).count() >= 1
            dispatch(app)
    assert len(fake_at.accepted) <= limit + 4


# ---- anything at all, to every webhook ---------------------------------------------------------------------

WEBHOOK_FIELDS = ["from", "to", "text", "id", "sessionId", "serviceCode", "phoneNumber", "networkCode", "status",
                  "failureReason", "MessageSid", "From", "To", "Body", "MessageStatus", "ErrorCode", "linkId", "date"]
HOSTILE = ["\x00", "' OR 1=1 --", "{title:>999999}", "{{7*7}}", "$(reboot)", "\u202eevil\u200b", "🙂" * 50,
           "+97699112233", "99112233", "*" * 300, "1*" * 2000, "ATUid_" + "a" * 32, "Success", "delivered", ""]
FORM_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40) | st.sampled_from(HOSTILE)
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | FORM_TEXT | st.sampled_from(["\ud83d"]),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FORM_TEXT, inner, max_size=4),
                          max_leaves=10)


def table_counts(app) -> dict[str, int]:
    from storage.db import database

    with app.app_context(), database.connection_context():
        return {t: database.execute_sql(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                for t in database.get_tables() if t not in ("schema_migration", "channel_state")}


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_body_to_any_webhook_never_500s_and_stores_nothing_unless_taken(channel_app, data):
    from urllib.parse import urlencode

    from gateway.webhooks import ROUTES
    from tests.fakes.signing import at_post, twilio_post

    client = channel_app.test_client()
    path, channel, _ = data.draw(st.sampled_from(ROUTES))
    kind = data.draw(st.sampled_from(["form", "json", "bytes"]))
    if kind == "bytes":
        raw = data.draw(st.binary(max_size=300))
    elif kind == "json" or channel == "android":
        raw = json.dumps(data.draw(st.dictionaries(st.sampled_from(["event", "id", "payload", "deviceId"]),
                                                   JSON_VALUE, max_size=4) | JSON_VALUE)).encode()
    else:
        raw = urlencode(data.draw(st.dictionaries(st.sampled_from(WEBHOOK_FIELDS), FORM_TEXT, max_size=8))).encode()
    before = table_counts(channel_app)
    if channel == "android":
        response = android_post(client, raw)
    elif channel == "africastalking":
        response = at_post(client, path, raw.decode("latin-1") if kind == "bytes" else raw.decode())
    elif kind == "form":
        from urllib.parse import parse_qsl

        response = twilio_post(client, path, dict(parse_qsl(raw.decode(), keep_blank_values=True)))
    else:
        response = client.post(path, data=raw, content_type="application/x-www-form-urlencoded")
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code != 200:
        assert table_counts(channel_app) == before


def test_a_ussd_history_of_10000_hops_gets_a_screen(channel_app):
    from urllib.parse import urlencode

    from tests.fakes.signing import at_post

    history = "*".join(["1"] * 10_000)
    body = urlencode({"sessionId": "ATUid_long", "serviceCode": "*384*1#", "phoneNumber": "+97699112233",
                      "networkCode": "42899", "text": history})
    response = at_post(channel_app.test_client(), "/webhooks/africastalking/ussd", body)
    assert response.status_code == 200 and response.get_data(as_text=True)[:4] in ("CON ", "END ")
