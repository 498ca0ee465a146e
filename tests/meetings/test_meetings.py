"""Meetings: notice and reminders planned in local time, the due job (catch-up, stale drop), moves, cancellations,
RSVPs and the tally."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from flows.decision import Person
from flows.text import to_latin
from gateway import broadcasts as bc
from gateway import meetings
from gateway.scheduler import run_job
from storage import meetings as store
from storage.models import Message
from tests.meetings.helpers import at_local, utc_of

# Thursday 2026-11-26 18:00 in Ulaanbaatar; created on Monday 23rd at 10:00.
CREATED = at_local(2026, 11, 23, 10, 0)
STARTS = at_local(2026, 11, 26, 18, 0)


def new_meeting(app, **overrides):
    fields = dict(kind="inh", title_mn="7-р хорооны ИНХ", title_en="Khoroo 7 Citizens' General Meeting",
                  place_mn="хорооны байр", place_en="the khoroo office", starts_at=utc_of(STARTS),
                  audience=["khoroo:BGD-07"])
    fields.update(overrides)
    return meetings.create_meeting(app, **fields)


def rows(purpose: str, meeting) -> list[Message]:
    origins = [b.origin for b in store.Broadcast.select().where(
        (store.Broadcast.meeting == meeting) & (store.Broadcast.purpose == purpose))]
    return list(Message.select().where(Message.origin.in_(origins)).order_by(Message.id))


def test_notice_goes_now_in_each_language_with_mongolian_day_names(app, khoroo):
    with time_machine.travel(CREATED, tick=False):
        meeting = new_meeting(app)
    notice = {r.contact_id: r.text for r in rows("notice", meeting)}
    assert len(notice) == 6
    assert "11/26 (Пүрэв) 18:00, хорооны байр" in notice[khoroo[0].id]
    assert "(Purev) 18:00" in notice[khoroo[3].id] and notice[khoroo[3].id] == to_latin(notice[khoroo[0].id])
    assert "Thu 26 Nov 18:00 at the khoroo office" in notice[khoroo[5].id]
    plan = store.Broadcast.select().where(store.Broadcast.purpose == "reminder").order_by(store.Broadcast.send_at)
    assert [b.send_at for b in plan] == [utc_of(at_local(2026, 11, 23, 18, 0)), utc_of(at_local(2026, 11, 26, 16, 0))]


def test_reminders_fire_at_their_offsets_when_the_job_runs(app, khoroo):
    with time_machine.travel(CREATED, tick=False):
        meeting = new_meeting(app)
    with time_machine.travel(at_local(2026, 11, 23, 17, 59), tick=False):
        assert run_job(app, "meetings.due")["enqueued"] == []
    with time_machine.travel(at_local(2026, 11, 23, 18, 0), tick=False):
        first = run_job(app, "meetings.due")["enqueued"]
    assert len(first) == 1 and len(rows("reminder", meeting)) == 6
    assert "Сануулга:" in rows("reminder", meeting)[0].text
    with time_machine.travel(at_local(2026, 11, 26, 16, 1), tick=False):
        assert len(run_job(app, "meetings.due")["enqueued"]) == 1
        assert run_job(app, "meetings.due")["enqueued"] == []  # nothing is sent twice
    assert len(rows("reminder", meeting)) == 12


def test_a_reminder_in_quiet_hours_moves_to_the_morning_or_the_evening_before(app, khoroo):
    # 09:30 Monday meeting, created on the Friday before: 3 days before is Friday 09:30 (fine); 2 hours before is
    # 07:30 (quiet), and 09:00 is still before the start. A 08:30 meeting moves to Sunday 20:59 instead.
    with time_machine.travel(at_local(2026, 11, 27, 8, 0), tick=False):
        new_meeting(app, starts_at=utc_of(at_local(2026, 11, 30, 9, 30)))
        early = new_meeting(app, starts_at=utc_of(at_local(2026, 11, 30, 8, 30)), reminder_minutes=[120])
    late = store.Broadcast.select().where(store.Broadcast.purpose == "reminder").order_by(store.Broadcast.id)
    assert [b.send_at for b in late][:2] == [utc_of(at_local(2026, 11, 27, 9, 30)),
                                             utc_of(at_local(2026, 11, 30, 9, 0))]
    evening = store.Broadcast.get((store.Broadcast.meeting == early) & (store.Broadcast.purpose == "reminder"))
    assert evening.send_at == utc_of(at_local(2026, 11, 29, 20, 59))


def test_catch_up_after_downtime_sends_the_latest_reminder_and_drops_the_stale(app, khoroo):
    with time_machine.travel(CREATED, tick=False):
        meeting = new_meeting(app)
    # Down from Monday 17:00 to Thursday 16:30: both reminders became due; only the later one still makes sense.
    with time_machine.travel(at_local(2026, 11, 26, 16, 30), tick=False):
        result = run_job(app, "meetings.due")
    assert result["dropped"] == 1 and len(result["enqueued"]) == 1
    statuses = {b.send_at: (b.status, b.note) for b in store.Broadcast.select().where(
        store.Broadcast.purpose == "reminder")}
    assert statuses[utc_of(at_local(2026, 11, 23, 18, 0))] == ("dropped", "a later reminder was due as well")
    assert statuses[utc_of(at_local(2026, 11, 26, 16, 0))][0] == "queued"
    assert len(rows("reminder", meeting)) == 6


def test_a_reminder_for_a_meeting_that_started_is_dropped(app, khoroo):
    with time_machine.travel(CREATED, tick=False):
        meeting = new_meeting(app, reminder_minutes=[120])
    with time_machine.travel(at_local(2026, 11, 26, 18, 5), tick=False):
        result = run_job(app, "meetings.due")
    assert result == {"enqueued": [], "dropped": 1, "held": 0}
    assert rows("reminder", meeting) == []


def test_a_stale_plain_broadcast_is_dropped_not_sent_late(app, khoroo):
    with time_machine.travel(CREATED, tick=False):
        broadcast = bc.send_plain_broadcast(app, ["khoroo:BGD-07"], "Маргааш ус тасарна.", None,
                                            utc_of(at_local(2026, 11, 23, 12, 0)), False, "test")
    with time_machine.travel(at_local(2026, 11, 24, 12, 1), tick=False):
        run_job(app, "meetings.due")
    assert store.Broadcast.get_by_id(broadcast.id).status == "dropped"
    assert Message.select().where(Message.origin == broadcast.origin).count() == 0


def test_a_scheduled_broadcast_catches_up_within_the_stale_window(app, khoroo):
    with time_machine.travel(CREATED, tick=False):
        broadcast = bc.send_plain_broadcast(app, ["khoroo:BGD-07"], "Маргааш ус тасарна.", None,
                                            utc_of(at_local(2026, 11, 23, 12, 0)), False, "test")
        assert broadcast.status == "scheduled"
    with time_machine.travel(at_local(2026, 11, 23, 15, 0), tick=False):
        assert run_job(app, "meetings.due")["enqueued"] == [broadcast.id]


def test_the_notice_can_be_scheduled_around_midnight_and_the_week_boundary(app, khoroo):
    # Created Sunday 23:50 local (Sunday 15:50 UTC); the meeting is the next Monday 00:30 local — Sunday in UTC.
    with time_machine.travel(at_local(2026, 11, 29, 23, 50), tick=False):
        meeting = new_meeting(app, starts_at=utc_of(at_local(2026, 11, 30, 10, 0)),
                              notice_at=utc_of(at_local(2026, 11, 30, 0, 30)), reminder_minutes=[60])
        assert rows("notice", meeting) == []
    with time_machine.travel(at_local(2026, 11, 30, 0, 30), tick=False):
        run_job(app, "meetings.due")
    notice = rows("notice", meeting)
    assert len(notice) == 6 and "(Даваа)" in notice[0].text and "Mon 30 Nov" in notice[5].text
    assert {r.next_attempt_at for r in notice} == {utc_of(at_local(2026, 11, 30, 9, 0))}  # quiet hours


def test_quiet_hours_job_holds_bulk_queued_before_21_00(app, khoroo):
    with time_machine.travel(at_local(2026, 11, 23, 20, 50), tick=False):
        broadcast = bc.send_plain_broadcast(app, ["khoroo:BGD-07"], "Мэдэгдэл", None, None, False, "test")
        reply = Message.create(direction="out", contact=khoroo[0], channel="android", text="ok", status="queued")
    with time_machine.travel(at_local(2026, 11, 23, 21, 0), tick=False):
        assert run_job(app, "meetings.due")["held"] == 6
    held = {r.next_attempt_at for r in Message.select().where(Message.origin == broadcast.origin)}
    assert held == {utc_of(at_local(2026, 11, 24, 9, 0))}
    assert Message.get_by_id(reply.id).next_attempt_at is None  # replies are never held


def test_moving_sends_a_correction_and_replans_reminders(app, khoroo):
    with time_machine.travel(CREATED, tick=False):
        meeting = new_meeting(app)
        meetings.move_meeting(app, meeting, utc_of(at_local(2026, 11, 27, 17, 0)), place_mn="сургуулийн заал")
    correction = rows("correction", meeting)
    assert len(correction) == 6 and "11/27 (Баасан) 17:00, сургуулийн заал" in correction[0].text
    plan = {(b.send_at, b.status) for b in store.Broadcast.select().where(store.Broadcast.purpose == "reminder")}
    assert plan == {(utc_of(at_local(2026, 11, 23, 18, 0)), "cancelled"), (utc_of(at_local(2026, 11, 26, 16, 0)),
                    "cancelled"), (utc_of(at_local(2026, 11, 24, 17, 0)), "scheduled"),
                    (utc_of(at_local(2026, 11, 27, 15, 0)), "scheduled")}


def test_cancelling_tells_those_told_and_drops_the_reminders(app, khoroo):
    with time_machine.travel(CREATED, tick=False):
        meeting = new_meeting(app)
        meetings.cancel_meeting(app, meeting)
    assert len(rows("cancellation", meeting)) == 6 and "болохгүй" in rows("cancellation", meeting)[0].text
    assert {b.status for b in store.Broadcast.select().where(store.Broadcast.purpose == "reminder")} == {"cancelled"}
    with time_machine.travel(at_local(2026, 11, 26, 16, 1), tick=False):
        assert run_job(app, "meetings.due")["enqueued"] == []


def test_cancelling_before_the_notice_went_sends_nothing(app, khoroo):
    with time_machine.travel(CREATED, tick=False):
        meeting = new_meeting(app, notice_at=utc_of(at_local(2026, 11, 24, 10, 0)))
        meetings.cancel_meeting(app, meeting)
    assert Message.select().where(Message.direction == "out").count() == 0


@pytest.mark.parametrize("change, error", [
    ({"place_mn": "  "}, "needs a place"),
    ({"title_mn": ""}, "needs a title"),
    ({"starts_at": utc_of(at_local(2026, 11, 20, 18, 0))}, "in the past"),
    ({"audience": ["khoroo:NOPE"]}, "unknown khoroo"),
    ({"audience": []}, "audience is empty"),
    ({"kind": "party"}, "kind must be one of"),
    ({"templates": {"notice": {"mn": "Хурал {agenda}"}}}, "unknown placeholder {agenda}"),
    ({"templates": {"notice": {"mn": "х" * 1601}}}, "at most 1600"),
])
def test_bad_meetings_are_refused_and_nothing_is_saved(app, khoroo, change, error):
    with time_machine.travel(CREATED, tick=False), pytest.raises(bc.BroadcastError) as caught:
        new_meeting(app, **change)
    assert error in str(caught.value)
    assert store.Meeting.select().count() == 0 and store.Broadcast.select().count() == 0
    assert Message.select().count() == 0


def reply(app, contact, text: str, sent_at: dt.datetime) -> list[str]:
    """The person answers by SMS, through the real conversation (the webhook's applier)."""
    from gateway.conversation import receive_sms
    from gateway.messages import InboundSms
    from storage.contacts import number_of

    with time_machine.travel(sent_at, tick=False):
        sms = InboundSms("android", f"in-{contact.id}-{text}", number_of(contact), text, utc_of(sent_at))
        return receive_sms(app, sms, lambda replies: "").replies


def test_rsvps_questions_and_the_tally(app, khoroo):
    with time_machine.travel(CREATED, tick=False):
        meeting = new_meeting(app)
    later = at_local(2026, 11, 23, 12, 0)
    context = meetings.meeting_data(app, Person(khoroo[0].id))["meeting"]
    assert context["id"] == meeting.id and context["weekday"] == {"mn": "Пүрэв", "en": "Thu"}
    assert context["date"] == "2026-11-26" and context["time"] == "18:00"
    reply(app, khoroo[0], "1", later)
    reply(app, khoroo[1], "2", later)
    reply(app, khoroo[1], "тиймээ", later + dt.timedelta(minutes=5))  # changed their mind: counts once, as yes
    reply(app, khoroo[2], "Хүүхэдтэйгээ ирж болох уу?", later)
    notice = rows("notice", meeting)
    for row in notice[:4]:
        Message.update(status="delivered").where(Message.id == row.id).execute()
    Message.update(status="failed").where(Message.id == notice[4].id).execute()
    assert store.meeting_tally(meeting) == {"yes": 2, "no": 0, "maybe": 0, "questions": 1, "sent": 4,
                                            "delivered": 4, "failed": 1}
    assert store.MeetingQuestion.get().text == "Хүүхэдтэйгээ ирж болох уу?"


def test_an_rsvp_from_someone_never_told_is_ignored(app, khoroo):
    assert meetings.meeting_data(app, Person(khoroo[0].id)) == {"meeting": None}
    reply(app, khoroo[0], "1", CREATED)
    assert store.Rsvp.select().count() == 0


def test_audience_by_district_covers_its_khoroos_and_groups_and_rounds(app, khoroo):
    from tests.meetings.helpers import add_contacts

    other = add_contacts(2, "BGD-08", start=50)
    elsewhere = add_contacts(1, "SBD-01", start=60)
    group = store.group_named("volunteers")
    store.add_to_group(group, [elsewhere[0].id, khoroo[0].id])
    district = {c.id for c in store.reachable_audience(["district:BGD"])}
    assert district == {c.id for c in khoroo + other}
    both = {c.id for c in store.reachable_audience(["khoroo:BGD-08", "group:volunteers"])}
    assert both == {other[0].id, other[1].id, elsewhere[0].id, khoroo[0].id}
    with pytest.raises(store.UnknownAudience, match="unknown round"):
        store.validate_audience(["round:999"])
