"""Credentials of the fake providers, and requests signed the way each provider signs them."""
from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from gateway.channels.android import sign

TWILIO_SID, TWILIO_TOKEN = "AC" + "0" * 32, "12345"
AT_USER, AT_KEY, AT_TOKEN = "gateway", "at-api-key", "at-webhook-token"
ANDROID_LOGIN, ANDROID_PASSWORD, ANDROID_KEY = "phone", "phone-pass", "android-signing-key"


def twilio_post(client, path: str, params: dict, url_base: str = "http://localhost", token: str = TWILIO_TOKEN):
    signature = RequestValidator(token).compute_signature(url_base + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def android_post(client, body: dict | bytes, key: str = ANDROID_KEY, stamp: int | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp_text = str(int(time.time()) if stamp is None else stamp)
    return client.post("/webhooks/android", data=raw, content_type="application/json",
                       headers={"X-Signature": sign(key, raw, stamp_text), "X-Timestamp": stamp_text})


def at_post(client, path: str, body: str | dict, token: str = AT_TOKEN):
    data = body if isinstance(body, str) else urlencode(body)
    return client.post(f"{path}?token={token}", data=data, content_type="application/x-www-form-urlencoded")
