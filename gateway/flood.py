"""The flood limit: one number sending far more SMS than a person types (a stuck phone, a script, a prank) gets one
polite reply and then silence until the window has passed, instead of a reply, and an SMS bill, for each message.

The conversation calls `over_limit(app, sms)` for every inbound SMS under the person's lock, before it runs (so 50
messages at once from one number are counted one after the other, not all against the same count). When it says
True, the message has been stored (status `rate_limited`, nothing is lost) and the conversation must not run. STOP
always passes. The count is one statement, `storage.outbox.recent_inbound_sms`.
"""
from __future__ import annotations

import datetime as dt
import logging

from flask import Flask

from flows.decision import is_stop
from flows.text import normalize
from gateway.logs import log_event
from gateway.messages import InboundSms
from gateway.outbox import enqueue
from gateway.secrets import pseudonym_key
from storage import outbox as store
from storage.phones import contact_key

NOTICE = ("Ta heterhii olon zurvas ilgeelee. {minutes} minutiin daraa dahin bichne uu. "
          "Too many messages: please write again in {minutes} minutes.")


def over_limit(app: Flask, sms: InboundSms) -> bool:
    """True when `sms` is over its number's limit; it is then stored (status `rate_limited`, no response: a
    redelivery, which the conversation recognises first, gets the channel's empty answer) and must not reach
    the conversation. The first time in a window, the polite notice is queued (once: its key names the window)."""
    if is_stop(sms.text):  # the conversation's own rule: STOP always works
        return False
    limit = app.config["GATEWAY"]["inbound_limit"]
    window = dt.timedelta(minutes=limit["minutes"])
    contact_id, recent = store.recent_inbound_sms(contact_key(sms.phone, pseudonym_key(app)),
                                                  sms.received_at - window)
    if recent < limit["messages"]:
        return False
    store.create_inbound(contact=contact_id, channel=sms.channel, kind="sms", provider_id=sms.provider_id,
                         text=sms.text, text_norm=normalize(sms.text), status="rate_limited")
    bucket = int(sms.received_at.replace(tzinfo=dt.UTC).timestamp() // window.total_seconds())
    enqueue(contact_id, NOTICE.format(minutes=limit["minutes"]), purpose="reply", channel=sms.channel,
            origin="flood", idempotency_key=f"flood:{contact_id}:{bucket}")
    log_event("sms.rate_limited", logging.WARNING, contact=contact_id, channel=sms.channel)
    return True
