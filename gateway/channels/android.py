"""SMS Gateway for Android: a phone with a local SIM. Webhook events in (HMAC-signed); SMS out via the official client.

A **pool** of phones (`channels.android.phones`) each has its own URL, credentials, signing key, SIM operator and
rate; the old single-phone settings are a pool of one named "android". Webhooks are verified against the key of
the phone that signed them; the outbox picks the phone for each message (gateway.phone_pool).

Events: `sms:received`, `sms:sent`, `sms:delivered`, `sms:failed`, `system:ping` (protocols.md §7). The envelope
`id` is the dedupe key (`payload.messageId` is derived from content and is not unique). Outbound messages carry
our own id (`ref`), so a send repeated after a crash is recognised by the phone (409) instead of sent twice.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Phone:
    """One phone of the pool. `key` names it in channel state, rate limits and `Message.phone`."""

    name: str
    key: str  # "android" for the single-phone settings, else "android:<name>"
    operator: str | None  # Mobicom | Unitel | Skytel | G-Mobile; None: unknown (a pool of one)
    url: str | None
    login: str | None
    password: str | None
    signing_key: str | None
    rate_per_second: float
    sim_number: int | None


def pool_of(settings: dict) -> list[Phone]:
    """The phones in `channels.android`: its `phones` list, or the single-phone settings as a pool of one."""
    listed = settings.get("phones") or [dict(settings, name="android", operator=settings.get("operator"))]
    return [Phone(name=phone["name"], key="android" if phone["name"] == "android" else f"android:{phone['name']}",
                  operator=phone.get("operator"), url=phone.get("base_url") or phone.get("url"),
                  login=phone.get("login"), password=phone.get("password"), signing_key=phone.get("signing_key"),
                  rate_per_second=float(phone.get("rate_per_second") or settings["rate_per_second"]),
                  sim_number=phone.get("sim_number"))
            for phone in listed]


class Android(Channel):
    name = "android"
    display_name = "SMS Gateway for Android"
    secrets = ("url", "login", "password", "signing_key")
    verify_secrets = ("signing_key",)
    ROUTES = {"events": "parse_event"}
    sends_our_id = True  # the outbox records `ref` as the provider id before calling send

    def __init__(self, config: dict):
        super().__init__(config)
        self.phones = pool_of(self.settings)
        self.phone_by_key = {phone.key: phone for phone in self.phones}

    def verify(self, request: Request, form: MultiDict, now: dt.datetime) -> bool:
        return self.signer(request, now) is not None

    def signer(self, request: Request, now: dt.datetime) -> Phone | None:
        """The phone whose signing key made this request's signature (each phone signs with its own)."""
        signature = request.headers.get("X-Signature", "")
        stamp = request.headers.get("X-Timestamp", "")
        if not signature or not ASCII_DIGITS.fullmatch(stamp):  # not `²`, not 5,000 digits
            return None
        if abs(now.replace(tzinfo=dt.UTC).timestamp() - int(stamp)) > MAX_CLOCK_SKEW_SECONDS:
            return None
        body = request.get_data(cache=True)
        for phone in self.phones:
            if phone.signing_key and hmac.compare_digest(sign(phone.signing_key, body, stamp), signature.lower()):
                return phone
        return None

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
        phone = self.signer(request, now) or self.phones[0]  # unverified (development): the first phone
        seen = Seen(phone.key, now, status if isinstance(status, str) else None)
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
    def client(self, phone: Phone | None = None) -> android_client.APIClient:
        from android_sms_gateway import client as android_client
        from android_sms_gateway.http import RequestsHttpClient

        phone = phone or self.phones[0]
        return android_client.APIClient(phone.login, phone.password or "", base_url=phone.url or DEFAULT_BASE_URL,
                                        http=RequestsHttpClient(TimeoutSession(self.timeout)))

    def send(self, to: str, text: str, ref: str, phone: Phone | None = None) -> SendResult:
        from android_sms_gateway import domain
        from android_sms_gateway.errors import APIError

        phone = phone or self.phones[0]
        message = domain.Message(phone_numbers=[to], text_message=domain.TextMessage(text=text),
                                 with_delivery_report=True, sim_number=phone.sim_number, id=ref)
        try:
            with self.client(phone) as api:
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
        """What every phone needs and one lacks: its URL (or `base_url`), login, password, signing key. For a
        pool, the missing ones are named after the phone's variables (ANDROID_<NAME>_LOGIN…)."""
        from gateway.config_schema import phone_env

        missing = []
        for phone in self.phones:
            for key in self.secrets:
                if not getattr(phone, key):
                    missing.append(key if phone.key == "android" else phone_env(phone.name, key))
        return missing

    def health(self, phone: Phone | None = None) -> str:
        """GET /health: the phone's own status (pass | warn | fail); raises when unreachable."""
        with self.client(phone) as api:
            return api.health_check().status.value

    def check(self) -> str:
        if len(self.phones) == 1:
            return f"reachable, health {self.health()}"
        answers = []
        for phone in self.phones:
            try:
                answers.append(f"{phone.name} ({phone.operator}) health {self.health(phone)}")
            except Exception as exc:  # one dead phone is a fact to show, not the end of the check
                answers.append(f"{phone.name} ({phone.operator}) NOT reachable: {type(exc).__name__}")
        reachable = sum("NOT reachable" not in answer for answer in answers)
        summary = f"{reachable} of {len(answers)} phones reachable: " + "; ".join(answers)
        if reachable == 0:
            raise ConnectionError(summary)
        return summary


def sign(key: str, body: bytes, timestamp: str) -> str:
    """The app's signature: hex HMAC-SHA256 over the raw body followed by the X-Timestamp value."""
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
