"""The web phone: plays any flow as SMS or USSD through the same conversation decision as real traffic.

Its conversation lives in memory (`gateway.conversation.sandbox`): the real decision and flows, and the real data
they read (open rounds, meetings), but the effects are applied to plain data. So nothing is stored, no reference
is reserved (the reply shows G-TEST), and nothing can reach the outbox. Each page view replays the phone's inputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from flask import Flask

from flows.screens import ussd_limit
from flows.text import sms_size
from gateway import conversation

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
    """The whole conversation so far, replayed on a fresh sandbox phone (someone who never wrote before)."""
    phone = conversation.sandbox(app)
    phone.state.person = replace(phone.state.person, language=language)
    if channel == "sms":
        turns = []
        for text in inputs:
            replies = phone.sms(text)
            turns.append(Turn(text, list(replies), notes=[_note("sms", reply) for reply in replies]))
        return turns
    return _ussd(phone, inputs)


def _ussd(phone, inputs: list[str]) -> list[Turn]:
    """Dial, then each input; after an END the next input dials again (its screen is shown first)."""
    turns = [_screen(None, phone.dial())]
    for text in inputs:
        if turns[-1].ended:
            turns.append(_screen(None, phone.dial()))
        turns.append(_screen(text, phone.press(text.replace("*", ""))))
    return turns


def _screen(sent: str | None, screen) -> Turn:
    return Turn(sent, [screen.text], ended=screen.end, notes=[_note("ussd", screen.text)])
