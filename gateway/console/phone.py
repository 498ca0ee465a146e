"""The web phone: plays any flow as SMS or USSD through the same conversation code as real traffic.

INTERIM until the conversation core offers `simulate_hop` (see helpers/NOTES.md): every hop replays the phone's
inputs from a fresh simulated contact inside one database transaction and then rolls it back. So nothing is
stored, no reference is kept, and nothing can reach the outbox (the simulated contact has no number either).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from flask import Flask

from flows.screens import ussd_limit
from flows.text import sms_size
from gateway import conversation
from gateway.messages import InboundSms, UssdHop
from storage.db import database, utcnow
from storage.models import Contact

CHANNEL = "simulator"
SERVICE_CODE = "*1411#"
SIMULATED_NUMBER = "+97600000000"  # not a dialable number; the simulated contact has no vault row at all
MAX_INPUTS = 40
MAX_INPUT = 160


@dataclass
class Turn:
    sent: str | None  # what the person typed (None: dialling the USSD code)
    replies: list[str] = field(default_factory=list)
    ended: bool = False  # USSD: the session closed after this screen
    notes: list[str] = field(default_factory=list)  # size of each reply, e.g. "GSM-7, 120 chars, 1 SMS"


def _note(channel: str, text: str) -> str:
    size = sms_size(text)
    if channel == "ussd":
        return f"{size.encoding}, {size.units}/{ussd_limit(text)}"
    return f"{size.encoding}, {size.chars}, {size.segments} SMS"


def replay(app: Flask, channel: str, inputs: list[str], language: str) -> list[Turn]:
    """The whole conversation so far, replayed from scratch and rolled back."""
    turns: list[Turn] = []
    with database.atomic() as transaction:
        contact = Contact.create(key=f"simulator:{secrets.token_hex(12)}", language=language)
        if channel == "sms":
            for text in inputs:
                sms = InboundSms(CHANNEL, None, SIMULATED_NUMBER, text, utcnow())
                replies = conversation.handle_sms(app, Contact.get_by_id(contact.id), None, sms)
                turns.append(Turn(text, list(replies), notes=[_note("sms", r) for r in replies]))
        else:
            turns += _ussd(app, contact, inputs)
        transaction.rollback()
    return turns


def _ussd(app: Flask, contact: Contact, inputs: list[str]) -> list[Turn]:
    turns: list[Turn] = []
    session, history = None, []
    pending = list(inputs)
    while True:
        if session is None:
            session, history = f"sim-{secrets.token_hex(8)}", []
            turns.append(_hop(app, contact, session, history, None))
        if not pending:
            return turns
        if turns[-1].ended:
            session = None
            continue
        text = pending.pop(0)
        history.append(text.replace("*", ""))
        turns.append(_hop(app, contact, session, history, text))


def _hop(app: Flask, contact: Contact, session: str, history: list[str], sent: str | None) -> Turn:
    hop = UssdHop(CHANNEL, session, SERVICE_CODE, SIMULATED_NUMBER, "*".join(history))
    screen = conversation.handle_ussd(app, Contact.get_by_id(contact.id), None, hop)
    return Turn(sent, [screen.text], ended=screen.end, notes=[_note("ussd", screen.text)])
