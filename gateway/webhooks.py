"""The provider webhooks: one wrapper for every call, then the channel's parser, then storage and the conversation.

The wrapper, in order: channel lookup (not enabled → 404), body read (over 64 kB → 413), decoding (not UTF-8 or
not form/JSON → 400), verification (→ 403, nothing stored), parsing (missing field → 400 naming it). Inbound
messages are deduplicated by provider id (or by same text from the same number within a few seconds when there
is none) so a redelivery gets the stored answer and is never processed twice, and one person's messages are
handled one at a time (the conversation takes the per-contact lock: `storage.runs.conversation_transaction`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import traceback
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.datastructures import MultiDict

from flows.text import normalize
from gateway import conversation, flood
from gateway.channels.base import (
    BadRequest,
    Channel,
    OptOut,
    Reply,
    Seen,
    SessionEnded,
    Unroutable,
    get_channel,
)
from gateway.inputs import has_lone_surrogate, replace_lone_surrogates
from gateway.logs import log_event
from gateway.messages import InboundSms, StatusReport, UssdHop, UssdScreen
from gateway.secrets import pseudonym_key
from storage import outbox as store
from storage.contacts import contact_for_number, opt_out
from storage.db import drop_connection, is_unavailable, utcnow
from storage.models import Contact, Message
from storage.phones import contact_key, mask_phone

# (path, channel, action). Paths are fixed: they are pasted into provider dashboards.
ROUTES = [
    ("/webhooks/africastalking/ussd", "africastalking", "ussd"),
    ("/webhooks/africastalking/ussd/events", "africastalking", "ussd_events"),
    ("/webhooks/africastalking/sms", "africastalking", "sms"),
    ("/webhooks/africastalking/delivery", "africastalking", "delivery"),
    ("/webhooks/africastalking/optout", "africastalking", "optout"),
    ("/webhooks/twilio/sms", "twilio", "sms"),
    ("/webhooks/twilio/status", "twilio", "status"),
    ("/webhooks/android", "android", "events"),
]
USSD_SORRY = UssdScreen("Uuchlaarai, aldaa garlaa. Dahin oroldono uu.\nSorry, something went wrong. Please try again.",
                        end=True)


def webhook_urls(app: Flask, base: str, show_token: bool = False) -> list[tuple[str, str, str]]:
    """(channel, action, URL to paste) for every enabled channel. AT signs nothing, so its URLs carry the secret
    token: shown as a placeholder unless `show_token`."""
    config = app.config["GATEWAY"]
    token = config["channels"]["africastalking"].get("webhook_token") if show_token else None
    urls = []
    for path, name, action in ROUTES:
        channel = get_channel(app, name)
        if channel is None or not _action_enabled(channel, action):
            continue
        query = f"?token={token or '<AT_WEBHOOK_TOKEN>'}" if name == "africastalking" else ""
        urls.append((name, action, base.rstrip("/") + path + query))
    return urls


def init_app(app: Flask) -> None:
    bp = Blueprint("webhooks", __name__)  # one per app: tests build many apps
    for path, channel, action in ROUTES:
        bp.add_url_rule(path, f"{channel}_{action}", _view(channel, action), methods=["POST"])
    app.register_blueprint(bp)


def _view(channel_name: str, action: str):
    def view() -> Response:
        return handle(channel_name, action)
    view.__name__ = f"{channel_name}_{action}"
    return view


# ---------------------------------------------------------------------------------------------------- wrapper

def handle(channel_name: str, action: str) -> Response:
    channel = get_channel(current_app, channel_name)
    if channel is None or not _action_enabled(channel, action):
        return _error(404, f"channel '{channel_name}' is not configured")
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH raises 413 here
    now = utcnow()
    try:
        form = _form(raw)
        if channel.verifies and not channel.verify(request, form, now):
            log_event("webhook.rejected", logging.WARNING, channel=channel_name, action=action,
                      remote=request.remote_addr)
            return _error(403, "request could not be verified")
        events = _storable(channel.parse(action, request, form, now))
    except BadRequest as exc:
        return _error(400, str(exc))
    reply = None
    for event in events:
        reply = _apply(channel, action, event) or reply
    reply = reply or channel.render(action, None)
    return Response(reply.body, status=reply.status, content_type=reply.content_type)


def _action_enabled(channel: Channel, action: str) -> bool:
    """AT's SMS and USSD halves can be switched off separately."""
    if action in ("ussd", "ussd_events"):
        return channel.settings.get("ussd", True)
    if channel.name == "africastalking" and action == "sms":
        return channel.settings.get("sms", True)
    return True


def _form(raw: bytes) -> MultiDict:
    """Form fields decoded strictly: a body that is not UTF-8 is refused rather than stored with mojibake."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("body is not valid UTF-8") from None
    if request.mimetype == "application/json":
        return MultiDict()
    try:
        return MultiDict(parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("form body could not be decoded as UTF-8") from None


def _storable(events: list) -> list:
    """Texts as the database can hold them. U+0000 cannot be stored exactly as received, so it is refused. A lone
    surrogate (half an emoji, valid in a JSON string) is replaced by U+FFFD: the message is kept and answered."""
    storable = []
    for event in events:
        for name in ("text", "sender"):
            value = getattr(event, name, None)
            if value and "\x00" in value:
                raise BadRequest(f"field '{name}' contains a NUL character")
            if value and has_lone_surrogate(value):
                event = dataclasses.replace(event, **{name: replace_lone_surrogates(value)})
        storable.append(event)
    return storable


def _error(status: int, detail: str) -> Response:
    response = jsonify(error={400: "Bad Request", 403: "Forbidden", 404: "Not Found"}[status], detail=detail)
    response.status_code = status
    return response


def _apply(channel: Channel, action: str, event) -> Reply | None:
    if isinstance(event, InboundSms):
        return _inbound_sms(channel, event)
    if isinstance(event, UssdHop):
        return _ussd(channel, event)
    if isinstance(event, StatusReport):
        _status(event)
    elif isinstance(event, Seen):
        store.mark_seen(event.channel, event.at, event.health)
    elif isinstance(event, OptOut):
        _provider_opt_out(event.phone, None)
    elif isinstance(event, Unroutable):
        _unroutable(event)
    elif isinstance(event, SessionEnded):
        conversation.session_ended(current_app, event.session_id)
    return None


# ---------------------------------------------------------------------------------------------------- inbound

def _inbound_sms(channel: Channel, sms: InboundSms) -> Reply:
    template = channel.render("sms", None)
    try:
        handled = conversation.receive_sms(current_app, sms, lambda replies: channel.render("sms", replies).body,
                                           held_back=lambda sms: flood.over_limit(current_app, sms))
        if handled.held_back:  # stored, not answered; one polite notice per window
            return template
        return Reply(handled.body, content_type=template.content_type)
    except Exception as exc:
        if is_unavailable(exc):  # nothing could be stored: 503, so a provider that retries delivers it again
            raise
        return _record_failure(channel, "sms", sms.phone, sms.provider_id, sms.text, "sms", None)


def _unroutable(event: Unroutable) -> None:
    """Kept with no contact and never answered; a redelivery is recognised by its id."""
    if event.provider_id and store.inbound_by_provider_id(event.channel, event.provider_id):
        return
    store.create_inbound(contact=None, channel=event.channel, kind="sms", provider_id=event.provider_id,
                         text=event.text, text_norm=normalize(event.text), status="ignored",
                         last_error=f"sender is not a phone number: {event.sender[:20]}")
    log_event("sms.unroutable", channel=event.channel)


def _ussd(channel: Channel, hop: UssdHop) -> Reply:
    template = channel.render("ussd", UssdScreen("", True))

    def respond(text: str, end: bool) -> str:
        return channel.render("ussd", UssdScreen(text, end)).body

    try:
        handled = conversation.receive_ussd(current_app, hop, respond)
        return Reply(handled.body, content_type=template.content_type)
    except Exception as exc:
        if is_unavailable(exc):  # the person gets "sorry, try again" at once; one line logged, no traceback
            drop_connection()
            log_event("database.unavailable", logging.WARNING, action="ussd", error=type(exc).__name__)
            return channel.render("ussd", USSD_SORRY)
        return _record_failure(channel, "ussd", hop.phone, ussd_hop_id(hop), hop.text, "ussd", USSD_SORRY)


def _record_failure(channel: Channel, action: str, phone: str, provider_id: str | None, text: str,
                    kind: str, answer) -> Reply:
    """The conversation crashed: keep the message (status 'error') with the answer we gave, so a redelivery
    gets the same answer and an operator can look at it. The provider gets a normal answer, never a 500."""
    log_event("webhook.handler_failed", logging.ERROR, channel=channel.name, action=action, exc_info=True)
    reply = channel.render(action, answer)
    try:
        earlier = store.inbound_by_provider_id(channel.name, provider_id) if provider_id else None
        if earlier is None:
            contact, _ = contact_for_number(phone, pseudonym_key(current_app))
            store.create_inbound(contact=contact.id, channel=channel.name, kind=kind, provider_id=provider_id,
                                 text=replace_lone_surrogates(text), text_norm=None, status="error",
                                 response=reply.body)
    except Exception:  # the database itself is failing: answer anyway, so the provider does not retry forever
        log_event("webhook.failure_not_recorded", logging.ERROR, channel=channel.name, action=action,
                  error=traceback.format_exc(limit=1).splitlines()[-1])
    return reply


def ussd_hop_id(hop: UssdHop) -> str:
    """AT sessionId plus the hop's text: the history grows each hop, so hash it to keep the id short."""
    return f"{hop.session_id}:{hashlib.sha256(hop.text.encode()).hexdigest()[:24]}"


# ---------------------------------------------------------------------------------------------------- status

def _status(report: StatusReport) -> None:
    row = store.apply_status(report.channel, report.provider_id, report.status, report.error)
    log_event("outbox.status", channel=report.channel, message=row.id if row else None, status=report.status,
              known=row is not None)
    if report.opted_out:
        _provider_opt_out(report.phone, row)


def _provider_opt_out(phone: str | None, row: Message | None) -> None:
    """The provider says this person blocked us: mark the contact opted out (only a contact we already know)."""
    contact = Contact.get_or_none(Contact.id == row.contact_id) if row and row.contact_id else None
    if contact is None and phone:
        contact = store.contact_by_key(contact_key(phone, pseudonym_key(current_app)))
    if contact is not None and contact.opted_out_at is None:
        opt_out(contact)
        log_event("contact.opted_out_by_provider", contact=contact.id, phone=mask_phone(phone or ""))
