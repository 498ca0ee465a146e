"""Golden conversations: the spec of how the gateway talks, in Cyrillic, in Latin and in English.

Each file in golden/ lists conversations with the whole gateway (consent, reserved words, menus, flows), played
through the pure decision on a sandbox phone with fixed data. `send` items are what the person types; `<dial>`
starts a USSD session and `<start FLOW>` is the gateway starting a flow itself (a meeting notice).
After an intended change, regenerate with `CONVERSATION_UPDATE_GOLDEN=1 pytest tests/conversation/test_golden.py`
and review the diff: it is the change in what people read.
"""
from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from flows.decision import decide_start
from flows.screens import ussd_fits
from flows.text import sms_size
from tests.conversation.sandbox_support import sandbox_phone

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CONVERSATION_UPDATE_GOLDEN") == "1"


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 200
    yaml.allow_unicode = True
    return yaml


def _cases():
    for path in sorted(GOLDEN.glob("*.yaml")):
        document = _yaml().load(path.read_text(encoding="utf-8"))
        for index, conversation in enumerate(document["conversations"]):
            yield pytest.param(path, index, id=f"{path.stem}: {conversation['name']}")


def play(conversation: dict) -> dict:
    phone = sandbox_phone(conversation.get("language", "mn"), conversation.get("script"),
                          consented=conversation.get("consented", False))
    turns = []
    for item in conversation["send"]:
        text = str(item)
        if text == "<dial>":
            screen = phone.dial()
            turns.append({"dial": _screen(screen)})
        elif text.startswith("<start "):
            decision = phone.apply(decide_start(phone.world(), text[7:-1], phone._active_sms_run()))
            turns.append({"started": text[7:-1], "would_send": decision.replies})
        elif conversation["channel"] == "ussd":
            turns.append({"press": text, "screen": _screen(phone.press(text))})
        else:
            turns.append({"send": text, "replies": phone.sms(text)})
    records = [{key: value for key, value in record.items() if key != "run"} for record in phone.state.records]
    return {"turns": turns, "records": records, "person": _person(phone)}


def _screen(screen) -> str:
    assert ussd_fits(screen.text), screen.text
    return ("END " if screen.end else "CON ") + screen.text


def _person(phone) -> dict:
    person = asdict(phone.state.person)
    return {key: person[key] for key in ("language", "script", "consented", "opted_out", "unit")}


@pytest.mark.parametrize(("path", "index"), list(_cases()))
def test_golden_conversation(path, index):
    document = _yaml().load(path.read_text(encoding="utf-8"))
    conversation = document["conversations"][index]
    actual = play(conversation)
    if UPDATE:
        conversation["expect"] = actual
        with path.open("w", encoding="utf-8") as handle:
            _yaml().dump(document, handle)
        return
    assert conversation.get("expect") is not None, f"no expectations yet: CONVERSATION_UPDATE_GOLDEN=1 ({path.name})"
    assert _plain(conversation["expect"]) == _plain(actual)


def test_every_golden_sms_reply_is_at_most_three_segments():
    for path in sorted(GOLDEN.glob("*.yaml")):
        for conversation in _yaml().load(path.read_text(encoding="utf-8"))["conversations"]:
            for turn in (conversation.get("expect") or {}).get("turns", []):
                for reply in turn.get("replies", []):
                    assert sms_size(reply).segments <= 3, (path.name, reply)


def _plain(value):
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):  # an effect's tuple reads back from YAML as a list
        return [_plain(item) for item in value]
    return value
