"""Messages we send first wait out quiet hours; replies to someone who just wrote never wait."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from gateway.outbox import enqueue
from storage.contacts import contact_for_number
from storage.db import utcnow

LATE_EVENING_UB = dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC)  # 22:30 in Ulaanbaatar (UTC+8)
NEXT_MORNING_UTC = dt.datetime(2026, 11, 24, 1, 0)  # 09:00 in Ulaanbaatar, naive UTC as stored


@pytest.mark.parametrize("purpose, held", [("loop_close", True), ("reminder", True), ("broadcast", True),
                                           ("reply", False)])
def test_quiet_hours_hold_what_we_send_first_and_never_a_reply(app, db, purpose, held):
    contact, _ = contact_for_number("+97699112233", app.config["SECRET_KEY"])
    with time_machine.travel(LATE_EVENING_UB, tick=False):
        row = enqueue(contact, "G-0001: ... 1-Tiim 2-Ugui", purpose=purpose)
        now = utcnow()
    if held:
        assert row.next_attempt_at == NEXT_MORNING_UTC
    else:
        assert row.next_attempt_at is None or row.next_attempt_at <= now
