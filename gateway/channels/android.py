"""SMS Gateway for Android: a phone with a local SIM. Webhook events in (HMAC-signed); SMS out via the official client.

Events: `sms:received`, `sms:sent`, `sms:delivered`, `sms:failed`, `system:ping` (protocols.md §7). The envelope
`id` is the dedupe key (`payload.messageId` is derived from content and is not unique). Outbound messages carry
our own id (`ref`), so a send repeated after a crash is recognised by the phone (409) instead of sent twice.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import TYPE_CHECKING

import requests
from flask import Request
from werkzeug.datastructures import MultiDict

from gateway.channels.base import (
    BadRequest,
    Channel,
    Event,
    Seen,
    SendError,
    SendResult,
    Unroutable,
    optional,
    require,
    typed,
)
from gateway.inputs import ASCII_DIGITS, BadInput, parse_json
from gateway.messages import InboundSms, StatusReport
from gateway.phones import InvalidPhoneNumber, normalize_phone

if TYPE_CHECKING:  # the SDK loads aiohttp (~0.2 s): imported where a message is sent, not at start-up
    from android_sms_gateway import client as android_client

DEFAULT_BASE_URL = "https://api.sms-gate.app/3rdparty/v1"
MAX_CLOCK_SKEW_SECONDS = 300
STATUS_EVENTS = {"sms:sent": "sent", "sms:delivered": "delivered", "sms:failed": "failed"}


class TimeoutSession(requests.Session):
    """The client sets no timeout of its own; a phone on a flaky network must not hang the dispatcher."""

    def __init__(self, timeout: float):
        super().__init__()
        self.default_timeout = timeout

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(*args, **kwargs)


class Android(Channel):
    name = "android"
    display_name = "SMS Gateway for Android"
    secrets = ("url", "login", "password", "signing_key")
    verify_secrets = ("signing_key",)
    ROUTES = {"events": "parse_event"}
    sends_our_id = True  # the outbox records `ref` as the provider id before calling send

    def verify(self, request: Request, form: MultiDict, now: dt.datetime) -> bool:
        key = self.settings.get("signing_key")
        signature = request.headers.get("X-Signature", "")
        stamp = request.headers.get("X-Timestamp", "")
        if not key or not signature or not ASCII_DIGITS.fullmatch(stamp):  # not `²`, not 5,000 digits
            return False
        if abs(now.replace(tzinfo=dt.UTC).timestamp() - int(stamp)) > MAX_CLOCK_SKEW_SECONDS:
            return False
        expected = sign(key, request.get_data(cache=True), stamp)
        return hmac.compare_digest(expected, signature.lower())

    def parse_event(self, request: Request, form: MultiDict, now: dt.datetime) -> list[Event]:
        try:
            body = parse_json(request.get_data(cache=True))
        except BadInput as exc:
            raise BadRequest(str(exc)) from None
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        event, envelope_id, payload = require(body, "event", "id", "payload")
        event, envelope_id = typed(event, str, "event"), str(typed(envelope_id, (str, int), "id"))
        payload = typed(payload, dict, "payload")
        health = payload.get("health") if event == "system:ping" else None
        status = health.get("status") if isinstance(health, dict) else None
        seen = Seen(self.name, now, status if isinstance(status, str) else None)
        if event == "sms:received":
            return [seen, self._inbound(envelope_id, payload, optional(body, "deviceId", str), now)]
        if event in STATUS_EVENTS:
            (message_id,) = require(payload, "messageId")
            return [seen, StatusReport(self.name, typed(message_id, str, "payload.messageId"), STATUS_EVENTS[event],
                                       error=optional(payload, "reason", str))]
        return [seen]  # system:ping and events we do not use (mms:received…) are accepted

    def _inbound(self, envelope_id: str, payload: dict, device_id: str | None,
                 now: dt.datetime) -> InboundSms | Unroutable:
        text, number = require(payload, "message", "phoneNumber")
        text, number = typed(text, str, "payload.message"), typed(number, str, "payload.phoneNumber")
        try:
            sender = normalize_phone(number, self.config["default_region"])
        except InvalidPhoneNumber:  # operator notices come from short codes; a 400 would make the app retry for days
            return Unroutable(self.name, envelope_id, number, text)
        extra = {"simNumber": optional(payload, "simNumber", int), "receivedAt": optional(payload, "receivedAt", str),
                 "deviceId": device_id}
        return InboundSms(self.name, envelope_id, sender, text, now,
                          extra={k: v for k, v in extra.items() if v is not None})

    # -- outbound -------------------------------------------------------------------------------------------
    def client(self) -> android_client.APIClient:
        from android_sms_gateway import client as android_client
        from android_sms_gateway.http import RequestsHttpClient

        base = self.settings.get("base_url") or self.settings.get("url") or DEFAULT_BASE_URL
        return android_client.APIClient(self.settings.get("login"), self.settings.get("password") or "",
                                        base_url=base, http=RequestsHttpClient(TimeoutSession(self.timeout)))

    def send(self, to: str, text: str, ref: str) -> SendResult:
        from android_sms_gateway import domain
        from android_sms_gateway.errors import APIError

        message = domain.Message(phone_numbers=[to], text_message=domain.TextMessage(text=text),
                                 with_delivery_report=True, sim_number=self.settings.get("sim_number"), id=ref)
        try:
            with self.client() as api:
                state = api.send(message)
        except APIError as exc:
            status = exc.status_code or 0
            if status == 409:  # the phone already has this id: an earlier attempt got through
                return SendResult(ref)
            raise SendError(f"android {status}: {str(exc)[:200]}", retryable=status == 429 or status >= 500) from None
        except requests.RequestException as exc:
            raise SendError(f"android: {type(exc).__name__}", retryable=True) from None
        if state.state.value == "Failed":
            raise SendError("android: the phone reports Failed", retryable=True)
        return SendResult(state.id or ref)

    def missing_secrets(self) -> list[str]:
        """ANDROID_GATEWAY_URL is not needed when config sets `base_url` (e.g. a phone on the LAN)."""
        missing = super().missing_secrets()
        return [key for key in missing if not (key == "url" and self.settings.get("base_url"))]

    def health(self) -> str:
        """GET /health: the phone's own status (pass | warn | fail); raises when unreachable."""
        with self.client() as api:
            return api.health_check().status.value

    def check(self) -> str:
        return f"reachable, health {self.health()}"


def sign(key: str, body: bytes, timestamp: str) -> str:
    """The app's signature: hex HMAC-SHA256 over the raw body followed by the X-Timestamp value."""
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
