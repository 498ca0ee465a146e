"""Africa's Talking: USSD hops, inbound SMS, delivery reports and opt-outs in; SMS out through the official SDK.

AT signs nothing, so its callbacks carry our secret `?token=` (AT_WEBHOOK_TOKEN), optionally limited to an IP
allowlist. Wire formats: protocols.md §1–2.
"""
from __future__ import annotations

import datetime as dt
import hmac

import requests
from africastalking.Application import ApplicationService
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService
from flask import Request
from werkzeug.datastructures import MultiDict

from gateway.channels.base import (
    BadRequest,
    Channel,
    Event,
    OptOut,
    SendError,
    SendResult,
    SessionEnded,
    map_status,
    phone,
    require,
)
from gateway.messages import InboundSms, StatusReport, UssdHop

DEFAULT_BASE_URL = "https://api.africastalking.com"
SANDBOX_BASE_URL = "https://api.sandbox.africastalking.com"

# Delivery report status → our status (courier's mapping, plus the intermediate ones AT documents).
STATUS_MAPPING = {"Sent": "sent", "Submitted": "sent", "Buffered": "sent", "Success": "delivered",
                  "Rejected": "failed", "Failed": "failed", "Expired": "failed", "AbsentSubscriber": "failed"}
ACCEPTED_CODES = {100, 101, 102}  # Processed, Sent, Queued
BLACKLISTED_CODE = 406  # UserInBlacklist
RETRYABLE_CODES = {405, 500, 501, 502}  # InsufficientBalance, InternalServerError, GatewayError, RejectedByGateway
BLACKLIST_REASONS = {"UserInBlackList", "UserInBlacklist"}


class AfricasTalking(Channel):
    name = "africastalking"
    display_name = "Africa's Talking"
    secrets = ("username", "api_key", "webhook_token")
    verify_secrets = ("webhook_token",)
    ROUTES = {"sms": "parse_sms", "ussd": "parse_ussd", "ussd_events": "parse_ussd_event",
              "delivery": "parse_delivery", "optout": "parse_optout"}

    def verify(self, request: Request, form: MultiDict, now: dt.datetime) -> bool:
        token = self.settings.get("webhook_token") or ""
        given = request.args.get("token", "")
        allowed = self.settings.get("allow_ips") or []
        if allowed and request.remote_addr not in allowed:  # behind trusted proxies, ProxyFix has set it
            return False
        return bool(token) and hmac.compare_digest(given.encode(), token.encode())

    def parse_sms(self, request: Request, form: MultiDict, now: dt.datetime) -> list[Event]:
        sender, text = require(form, "from", "text")
        extra = {key: form[key] for key in ("linkId", "networkCode", "date") if form.get(key)}
        return [InboundSms(self.name, form.get("id") or None, phone(sender, "from", self.region), text,
                           now, to=form.get("to"), extra=extra)]

    def parse_ussd(self, request: Request, form: MultiDict, now: dt.datetime) -> list[Event]:
        session_id, service_code, number, text = require(form, "sessionId", "serviceCode", "phoneNumber", "text")
        if not session_id:
            raise BadRequest("field 'sessionId' must not be empty")
        return [UssdHop(self.name, session_id, service_code, phone(number, "phoneNumber", self.region), text,
                        form.get("networkCode"))]

    def parse_ussd_event(self, request: Request, form: MultiDict, now: dt.datetime) -> list[Event]:
        session_id, status = require(form, "sessionId", "status")
        return [SessionEnded(self.name, session_id, status, form.get("errorMessage") or None)]

    def parse_delivery(self, request: Request, form: MultiDict, now: dt.datetime) -> list[Event]:
        provider_id, raw_status = require(form, "id", "status")
        reason = form.get("failureReason") or None
        number = form.get("phoneNumber")
        return [StatusReport(self.name, provider_id, map_status(STATUS_MAPPING, raw_status, "status"),
                             error=reason, opted_out=reason in BLACKLIST_REASONS,
                             phone=phone(number, "phoneNumber", self.region) if number else None)]

    def parse_optout(self, request: Request, form: MultiDict, now: dt.datetime) -> list[Event]:
        (number,) = require(form, "phoneNumber")
        return [OptOut(self.name, phone(number, "phoneNumber", self.region))]

    # -- outbound -------------------------------------------------------------------------------------------
    def _sms(self) -> SMSService:
        service = SMSService(self.settings.get("username") or "", self.settings.get("api_key") or "")
        # The SDK has no base-URL option; it builds every URL as `_baseUrl + path` (SMS.py, Service.py).
        base = self.base_url(SANDBOX_BASE_URL if service._is_sandbox() else DEFAULT_BASE_URL)
        service._baseUrl = service._contentUrl = base + "/version1"
        return service

    def send(self, to: str, text: str, ref: str) -> SendResult:
        try:
            answer = self._sms().send(text, [to], sender_id=self.settings.get("sender_id"),
                                      timeout=(self.timeout, self.timeout))
        except requests.JSONDecodeError:  # a success status with an empty or broken body: taken, id unknown
            return SendResult(None)
        except requests.RequestException as exc:
            raise SendError(f"africastalking: {type(exc).__name__}", retryable=True) from None
        except AfricasTalkingException as exc:  # the SDK keeps only the body of a non-2xx answer
            body = str(exc)[:200]
            raise SendError(f"africastalking: {body}", retryable="authentication" not in body.lower()) from None
        return _recipient_result(answer, to)

    def check(self) -> str:
        app = ApplicationService(self.settings.get("username") or "", self.settings.get("api_key") or "")
        app._baseUrl = self.base_url(SANDBOX_BASE_URL if app._is_sandbox() else DEFAULT_BASE_URL) + "/version1"
        data = app.fetch_application_data()
        balance = data.get("UserData", {}).get("balance") if isinstance(data, dict) else None
        return f"reachable, balance {balance}" if balance else "reachable"

    @property
    def region(self) -> str:
        return self.config.get("default_region", "MN")


def _recipient_result(answer: object, to: str) -> SendResult:
    """A 201 is not success by itself: the recipient must be listed with an accepted status code."""
    if not isinstance(answer, dict):  # a success status whose body is not JSON: taken, id unknown
        return SendResult(None)
    data = answer.get("SMSMessageData") or {}
    recipients = [r for r in data.get("Recipients") or [] if r.get("number") in (to, None)] or data.get(
        "Recipients") or []
    if not recipients:
        raise SendError(f"africastalking: no recipients accepted ({data.get('Message') or 'empty'})", retryable=False)
    first = recipients[0]
    code = int(first.get("statusCode") or 0)
    if code in ACCEPTED_CODES:
        return SendResult(first.get("messageId"), first.get("messageParts"))
    reason = f"africastalking: {first.get('status')} ({code})"
    raise SendError(reason, retryable=code in RETRYABLE_CODES, opted_out=code == BLACKLISTED_CODE)

