"""The one small interface every provider implements, and the shared errors and helpers.

A channel module (courier-style) declares: its `name`, the secrets it needs, a `ROUTES` table mapping a webhook
action ("sms", "ussd", "status"…) to a parse method, and `verify`, `render`, `send`, `check`. It turns requests
into `gateway.messages` types and outbox rows into provider calls; it stores nothing itself.

To add a provider: write `gateway/channels/<name>.py` with a `Channel` subclass, add it to `CHANNEL_CLASSES`
below, add its config keys, and mount its paths in `gateway.webhooks.ROUTES`.
"""
from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Request
from werkzeug.datastructures import MultiDict

from gateway.messages import InboundSms, StatusReport, UssdHop, UssdScreen
from gateway.phones import InvalidPhoneNumber, normalize_phone

# Every channel module: the registry is explicit so `channels check` lists the same set on every machine.
CHANNEL_CLASSES = {
    "africastalking": "gateway.channels.africastalking:AfricasTalking",
    "twilio": "gateway.channels.twilio:Twilio",
    "android": "gateway.channels.android:Android",
}


class BadRequest(Exception):
    """The request is malformed: answered 400 with this message, nothing stored."""


class SendError(Exception):
    """A send that did not go through. `retryable`: try again later (timeouts, 5xx, 429).
    `opted_out`: the provider says the person blocked us, so never try again."""

    def __init__(self, reason: str, retryable: bool, opted_out: bool = False):
        super().__init__(reason)
        self.reason, self.retryable, self.opted_out = reason, retryable, opted_out


@dataclass(frozen=True)
class SendResult:
    provider_id: str | None
    segments: int | None = None


@dataclass(frozen=True)
class Seen:
    """The device reported in (Android `system:ping`): nothing to store but the time."""

    channel: str
    at: dt.datetime
    health: str | None = None  # pass | warn | fail, when the device says


@dataclass(frozen=True)
class Unroutable:
    """An SMS from a sender that is not a phone number (an operator's short code or name): kept, not answered."""

    channel: str
    provider_id: str | None
    sender: str
    text: str


@dataclass(frozen=True)
class OptOut:
    """A provider's own opt-out notification (AT bulk SMS opt-out callback)."""

    channel: str
    phone: str


@dataclass(frozen=True)
class SessionEnded:
    """AT's end-of-USSD-session notification: logged, nothing else to do."""

    channel: str
    session_id: str
    status: str
    error: str | None = None


Event = InboundSms | UssdHop | StatusReport | Seen | OptOut | SessionEnded | Unroutable


@dataclass(frozen=True)
class Reply:
    """What to answer the provider: body, status and content type."""

    body: str = ""
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


class Channel:
    name = "base"
    display_name = "Base"
    secrets: tuple[str, ...] = ()  # config keys under channels.<name> that must be set (from the environment)
    verify_secrets: tuple[str, ...] = ()  # of those, the ones webhook verification needs
    ROUTES: dict[str, str] = {}  # webhook action → name of the parse method

    def __init__(self, config: dict):
        self.config = config
        self.settings: dict = config["channels"][self.name]
        self.timeout: float = float(config["outbox"].get("send_timeout_seconds", 10))

    # -- inbound --------------------------------------------------------------------------------------------
    @property
    def verifies(self) -> bool:
        return bool(self.settings.get("verify", True))

    def verify(self, request: Request, form: MultiDict, now: dt.datetime) -> bool:
        """True when the request comes from the provider (signature, token…). `now`: naive UTC."""
        raise NotImplementedError

    def parse(self, action: str, request: Request, form: MultiDict, now: dt.datetime) -> list[Event]:
        """The request's events; `now` (naive UTC, from the webhook wrapper) stamps them."""
        return getattr(self, self.ROUTES[action])(request, form, now)

    def render(self, action: str, answer: UssdScreen | list[str] | None) -> Reply:
        """The HTTP answer for a handled request; providers override only what differs."""
        if isinstance(answer, UssdScreen):
            return Reply(("END " if answer.end else "CON ") + answer.text)
        return Reply("")

    # -- outbound -------------------------------------------------------------------------------------------
    def send(self, to: str, text: str, ref: str) -> SendResult:
        """Hand one SMS to the provider; raise SendError. `ref` is our stable id for the outbox row."""
        raise NotImplementedError

    def check(self) -> str:
        """A cheap authenticated call: returns a short description, raises on failure."""
        raise NotImplementedError

    lists_sent = False  # the provider can list what it took (`sent_ids`), so an unsure send can be looked up

    def sent_ids(self, to: str, text: str, since: dt.datetime) -> list[str]:
        """Ids of messages with this text to `to` that the provider took since `since` (naive UTC), newest first.
        Empty where the provider's API cannot list what was sent; SendError when the list could not be read."""
        return []

    def missing_secrets(self) -> list[str]:
        return [key for key in self.secrets if not self.settings.get(key)]

    def base_url(self, default: str) -> str:
        return (self.settings.get("base_url") or default).rstrip("/")


def load_channel_class(name: str) -> type[Channel]:
    module_name, class_name = CHANNEL_CLASSES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def get_channel(app: Flask, name: str) -> Channel | None:
    """The channel instance when it exists and is enabled in config, else None (webhooks answer 404)."""
    settings = app.config["GATEWAY"]["channels"].get(name)
    if name not in CHANNEL_CLASSES or not settings or not settings.get("enabled"):
        return None
    cache: dict = app.extensions.setdefault("gateway.channels", {})
    if name not in cache:
        cache[name] = load_channel_class(name)(app.config["GATEWAY"])
    return cache[name]


def enabled_channels(app: Flask) -> list[str]:
    return [name for name in CHANNEL_CLASSES if get_channel(app, name) is not None]


# -- parsing helpers ------------------------------------------------------------------------------------------

def require(form: MultiDict | dict, *names: str) -> list[str]:
    """The values of required fields, or BadRequest naming the first missing one (empty text is allowed)."""
    values = []
    for name in names:
        value = form.get(name)
        if value is None:
            raise BadRequest(f"field '{name}' required")
        values.append(value)
    return values


def typed(value: Any, kind: type | tuple[type, ...], field_name: str) -> Any:
    """`value` when it is of `kind` (JSON bodies can hold anything), else BadRequest naming the field."""
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise BadRequest(f"field '{field_name}' must be {JSON_TYPE_NAMES.get(names, names)}")
    return value


def optional(body: dict, name: str, kind: type) -> Any:
    """An optional field of a JSON object: None when absent or null, else it must be of `kind`."""
    value = body.get(name)
    return None if value is None else typed(value, kind, name)


JSON_TYPE_NAMES = {"str": "a string", "int": "a whole number", "dict": "an object", "str or int": "a string"}


def phone(raw: str, field_name: str, region: str = "MN") -> str:
    try:
        return normalize_phone(raw, region)
    except InvalidPhoneNumber as exc:
        raise BadRequest(f"field '{field_name}': {exc}") from None


def map_status(mapping: dict[str, str], raw: str, field_name: str) -> str:
    status = mapping.get(raw) or mapping.get(raw.lower())
    if status is None:
        raise BadRequest(f"field '{field_name}': unknown status {raw!r}")
    return status


Parser = Callable[[Request, MultiDict, dt.datetime], list[Event]]
JsonDict = dict[str, Any]
