"""Twilio: inbound SMS and status callbacks in (signed with X-Twilio-Signature); SMS out through the official SDK.

Inbound replies are answered with an empty TwiML `<Response/>` and sent through the outbox like every other
reply, so they get the same rate limit, retries, status callbacks and loop guard. Wire formats: protocols.md §3.
"""
from __future__ import annotations

import datetime as dt

import requests
from flask import Request
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.datastructures import MultiDict

from gateway.channels.base import Channel, Event, Reply, SendError, SendResult, map_status, phone, require
from gateway.messages import InboundSms, StatusReport, UssdScreen

DEFAULT_BASE_URL = "https://api.twilio.com"
STATUS_PATH = "/webhooks/twilio/status"

# Twilio MessageStatus → ours. queued/sending/accepted all mean "Twilio has it".
STATUS_MAPPING = {"accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent", "sent": "sent",
                  "delivered": "delivered", "read": "delivered", "partially_delivered": "delivered",
                  "undelivered": "failed", "failed": "failed", "canceled": "failed"}
UNSUBSCRIBED = "21610"  # the recipient replied STOP to this sender
SEND_CLOCK_SLACK = dt.timedelta(minutes=2)  # Twilio's clock and ours may differ a little


class HostRewritingHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, with https://api.twilio.com swapped for a configured base URL (staging, tests)."""

    def __init__(self, base_url: str, timeout: float):
        super().__init__(timeout=timeout)
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        if url.startswith(DEFAULT_BASE_URL):
            url = self.base_url + url[len(DEFAULT_BASE_URL):]
        return super().request(method, url, *args, **kwargs)


class Twilio(Channel):
    name = "twilio"
    display_name = "Twilio"
    secrets = ("account_sid", "auth_token")
    verify_secrets = ("auth_token",)
    ROUTES = {"sms": "parse_sms", "status": "parse_status"}

    def verify(self, request: Request, form: MultiDict, now: dt.datetime) -> bool:
        """The signature covers the URL Twilio called. That URL must come from GATEWAY_PUBLIC_URL: taken from the
        `Host` or `X-Forwarded-Host` header, a signature made for another URL on the same account would pass."""
        token = self.settings.get("auth_token")
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not signature or not self.config.get("public_url"):
            return False
        return RequestValidator(token).validate(self.signed_url(request), form, signature)

    def signed_url(self, request: Request) -> str:
        query = request.query_string.decode("latin-1")
        return self.config["public_url"].rstrip("/") + request.path + (f"?{query}" if query else "")

    def parse_sms(self, request: Request, form: MultiDict, now: dt.datetime) -> list[Event]:
        sid, sender, body = require(form, "MessageSid", "From", "Body")
        extra = {key: form[key] for key in ("To", "NumSegments", "OptOutType", "FromCountry") if form.get(key)}
        return [InboundSms(self.name, sid, phone(sender, "From", self.config["default_region"]), body, now,
                           to=form.get("To"), extra=extra)]

    def parse_status(self, request: Request, form: MultiDict, now: dt.datetime) -> list[Event]:
        sid, raw_status = require(form, "MessageSid", "MessageStatus")
        if raw_status in ("receiving", "received"):  # about an inbound message: nothing of ours to move
            return []
        error = form.get("ErrorCode") or None
        to = form.get("To")
        return [StatusReport(self.name, sid, map_status(STATUS_MAPPING, raw_status, "MessageStatus"),
                             error=f"twilio error {error}" if error else None, opted_out=error == UNSUBSCRIBED,
                             phone=phone(to, "To", self.config["default_region"]) if to else None)]

    def render(self, action: str, answer: UssdScreen | list[str] | None) -> Reply:
        if action == "sms":
            return Reply(str(MessagingResponse()), content_type="text/xml; charset=utf-8")
        return Reply("")

    # -- outbound -------------------------------------------------------------------------------------------
    def client(self) -> Client:
        http = HostRewritingHttpClient(self.base_url(DEFAULT_BASE_URL), self.timeout)
        return Client(self.settings.get("account_sid"), self.settings.get("auth_token"), http_client=http)

    def send(self, to: str, text: str, ref: str) -> SendResult:
        args: dict = {"to": to, "body": text}
        if self.settings.get("messaging_service_sid"):
            args["messaging_service_sid"] = self.settings["messaging_service_sid"]
        if self.settings.get("from_number"):
            args["from_"] = self.settings["from_number"]
        if self.config.get("public_url"):
            args["status_callback"] = self.config["public_url"].rstrip("/") + STATUS_PATH
        try:
            message = self.client().messages.create(**args)
        except TwilioRestException as exc:
            code = str(exc.code or "")
            retryable = exc.status == 429 or exc.status >= 500 or code == "20429"
            raise SendError(f"twilio {exc.status} error {code}: {exc.msg}"[:300], retryable=retryable,
                            opted_out=code == UNSUBSCRIBED) from None
        except (requests.RequestException, TwilioException) as exc:
            raise SendError(f"twilio: {type(exc).__name__}", retryable=True) from None
        segments = int(message.num_segments) if str(message.num_segments or "").isdigit() else None
        return SendResult(message.sid, segments or None)

    lists_sent = True

    def sent_ids(self, to: str, text: str, since: dt.datetime) -> list[str]:
        """Twilio lists an account's messages by recipient, newest first; ours have the same body."""
        try:
            messages = self.client().messages.list(to=to, limit=20)
        except (requests.RequestException, TwilioException) as exc:
            raise SendError(f"twilio: listing messages failed ({type(exc).__name__})", retryable=True) from None
        earliest = since.replace(tzinfo=dt.UTC) - SEND_CLOCK_SLACK
        return [message.sid for message in messages if message.sid and message.body == text
                and (message.date_created is None or message.date_created >= earliest)]

    def check(self) -> str:
        account = self.client().api.v2010.accounts(self.settings.get("account_sid")).fetch()
        return f"reachable, account {account.status}"
