"""The normalised messages every channel produces and the conversation layer consumes."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class InboundSms:
    channel: str  # africastalking | twilio | android
    provider_id: str | None  # Twilio MessageSid, AT id, Android envelope id
    phone: str  # E.164
    text: str  # exactly as received
    received_at: dt.datetime  # naive UTC
    to: str | None = None
    extra: dict = field(default_factory=dict)  # linkId, networkCode, simNumber…


@dataclass(frozen=True)
class UssdHop:
    channel: str
    session_id: str
    service_code: str
    phone: str  # E.164
    text: str  # the whole history joined by "*", "" on the first hop
    network_code: str | None = None

    @property
    def inputs(self) -> list[str]:
        return self.text.split("*") if self.text else []


@dataclass(frozen=True)
class UssdScreen:
    text: str
    end: bool  # True: END (session closes); False: CON (waits for input)


@dataclass(frozen=True)
class StatusReport:
    channel: str
    provider_id: str
    status: str  # sent | delivered | failed (normalised; see storage.outbox.STATUS_ORDER)
    error: str | None = None
    opted_out: bool = False  # the provider says the person blocked us (Twilio 21610, AT UserInBlacklist)
    phone: str | None = None
