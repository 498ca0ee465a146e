"""Local time: quiet hours hold for any instant and any zone (DST or not), and reminder planning edges."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import broadcasts as bc
from gateway import meetings
from storage import meetings as store
from tests.meetings.helpers import at_local, utc_of

INSTANTS = st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2028, 12, 31))


@pytest.mark.parametrize("zone", ["Asia/Ulaanbaatar", "Europe/Berlin", "America/New_York"])
def test_quiet_hours_property_in_any_zone(make_app, zone):
    app = make_app(timezone=zone)
    tz = ZoneInfo(zone)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(now=INSTANTS)
    def check(now):
        local = now.replace(tzinfo=dt.UTC).astimezone(tz)
        quiet = local.hour >= 21 or local.hour < 9
        until = bc.quiet_until(app, now)
        assert (until is not None) == quiet
        if until is not None:
            wake = until.replace(tzinfo=dt.UTC).astimezone(tz)
            assert (wake.hour, wake.minute) == (9, 0)  # 09:00 on the local clock, whatever the offset that day
            # the very next morning: 12 wall-clock hours at most, one more on the night the clocks go back
            assert dt.timedelta(0) < until - now <= dt.timedelta(hours=13)
            assert bc.quiet_until(app, until) is None

    check()


def test_no_reminder_before_the_notice_or_after_the_start(app, khoroo):
    # Created 16:30 for an 18:00 meeting the same day: 3 days before is past, 2 hours before (16:00) is too.
    with time_machine.travel(at_local(2026, 11, 26, 16, 30), tick=False):
        meeting = meetings.create_meeting(app, title_mn="ИНХ", place_mn="байр", audience=["khoroo:BGD-07"],
                                          starts_at=utc_of(at_local(2026, 11, 26, 18, 0)),
                                          reminder_minutes=[4320, 120, 30])
    plan = {b.purpose: b.send_at for b in store.Broadcast.select().where(store.Broadcast.meeting == meeting)}
    assert plan == {"notice": utc_of(at_local(2026, 11, 26, 16, 30)),
                    "reminder": utc_of(at_local(2026, 11, 26, 17, 30))}


def test_a_meeting_at_midnight_is_announced_with_the_right_day(app, khoroo):
    # 00:00 Monday local is still Sunday 16:00 in UTC: the texts must say Monday (Даваа).
    with time_machine.travel(at_local(2026, 11, 27, 12, 0), tick=False):
        meeting = meetings.create_meeting(app, title_mn="ИНХ", title_en="Meeting", place_mn="байр",
                                          audience=["khoroo:BGD-07"], starts_at=utc_of(at_local(2026, 11, 30, 0, 0)))
    notice = store.Broadcast.get((store.Broadcast.meeting == meeting) & (store.Broadcast.purpose == "notice"))
    assert "11/30 (Даваа) 00:00" in notice.texts["mn-cyrl"]
    assert "Mon 30 Nov 00:00" in notice.texts["en"]
