"""Broadcasts: validation (nothing queued on bad input), preview and the Latin option, enqueue and opt-outs."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.text import sms_size, to_latin
from gateway import broadcasts as bc
from storage import meetings as store
from storage.contacts import opt_out
from storage.db import utcnow
from storage.models import Message
from tests.meetings.helpers import add_contacts, at_local

TEXT = "Ус түгээх байр маргааш 10:00-аас ажиллана."
DAYTIME = at_local(2026, 11, 25, 11, 0)


def queued(origin: str | None = None) -> list[Message]:
    query = Message.select().where(Message.direction == "out")
    if origin:
        query = query.where(Message.origin == origin)
    return list(query.order_by(Message.id))


@pytest.mark.parametrize("audience, text, send_at, error", [
    (["khoroo:BGD-99"], TEXT, None, "unknown khoroo: BGD-99"),
    (["district:BGD-07"], TEXT, None, "unknown district: BGD-07"),
    (["planet:earth"], TEXT, None, "unknown audience kind"),
    ([], TEXT, None, "the audience is empty"),
    (["group:nobody"], TEXT, None, "unknown contact group"),
    (["khoroo:BGD-08"], TEXT, None, "no one to send to"),
    (["khoroo:BGD-07"], "х" * 1601, None, "at most 1600"),
    (["khoroo:BGD-07"], "   ", None, "text is empty"),
    (["khoroo:BGD-07"], "Хурал {title} болно", None, "unknown placeholder {title}"),
    (["khoroo:BGD-07"], TEXT, dt.datetime(2020, 1, 1), "in the past"),
])
def test_bad_input_is_refused_and_nothing_is_queued(app, khoroo, audience, text, send_at, error):
    with pytest.raises(bc.BroadcastError, match=error.replace("{", r"\{").replace("}", r"\}")):
        bc.send_plain_broadcast(app, audience, text, None, send_at, False, "test")
    assert queued() == []
    assert store.Broadcast.select().count() == 0


@time_machine.travel(DAYTIME, tick=False)
def test_preview_counts_people_texts_segments_and_both_costs(app, khoroo):
    add_contacts(2, "BGD-07", start=20, consent=False)  # not consented: never counted
    opt_out(khoroo[0])  # opted out: never counted
    audience, texts, when = bc.plan_broadcast(app, ["khoroo:BGD-07"], TEXT, "Water kiosk opens at 10:00.")
    view = bc.preview(app, audience, texts, latin=False, send_at=when)
    by_variant = {v["variant"]: v for v in view.variants}

    assert view.recipients == 5  # 2 Cyrillic + 2 Latin + 1 English
    assert by_variant["mn-cyrl"]["recipients"] == 2 and by_variant["mn-cyrl"]["encoding"] == "UCS-2"
    assert by_variant["mn-latn"]["text"] == to_latin(TEXT) and by_variant["mn-latn"]["encoding"] == "GSM-7"
    assert by_variant["en"]["text"] == "Water kiosk opens at 10:00."
    price = app.config["GATEWAY"]["prices"]["per_segment"][view.channel]
    segs = {v: sms_size(t).segments for v, t in texts.items()}
    expected = 2 * segs["mn-cyrl"] + 2 * segs["mn-latn"] + segs["en"]
    assert view.options["as_is"]["segments"] == expected
    assert view.options["as_is"]["cost"] == pytest.approx(expected * price)
    latin_segments = 4 * segs["mn-latn"] + segs["en"]
    assert view.options["latin"]["segments"] == latin_segments
    assert view.options["latin"]["recipients_by_variant"]["mn-cyrl"] == 0
    assert view.held_until is None  # 11:00 local: not quiet hours
    assert queued() == []  # a preview writes nothing


@time_machine.travel(DAYTIME, tick=False)
def test_broadcast_queues_one_row_per_person_in_their_language_and_script(app, khoroo):
    add_contacts(1, "BGD-08", start=30)  # another khoroo: not in the audience
    broadcast = bc.send_plain_broadcast(app, ["khoroo:BGD-07"], TEXT, "Water kiosk opens at 10:00.", None,
                                        False, "test")
    rows = queued(broadcast.origin)
    assert broadcast.status == "queued" and broadcast.recipients == 6 == len(rows)
    by_contact = {r.contact_id: r for r in rows}
    assert [by_contact[c.id].text for c in khoroo[:3]] == [TEXT] * 3
    assert [by_contact[c.id].text for c in khoroo[3:5]] == [to_latin(TEXT)] * 2
    assert by_contact[khoroo[5].id].text == "Water kiosk opens at 10:00."
    assert {r.priority for r in rows} == {store.BULK_PRIORITY} and {r.status for r in rows} == {"queued"}
    assert {r.idempotency_key for r in rows} == {f"broadcast:{broadcast.id}:{c.id}" for c in khoroo}
    assert by_contact[khoroo[0].id].encoding == "UCS-2" and by_contact[khoroo[3].id].encoding == "GSM-7"


@time_machine.travel(DAYTIME, tick=False)
def test_latin_option_sends_every_mongolian_reader_latin(app, khoroo):
    broadcast = bc.send_plain_broadcast(app, ["khoroo:BGD-07"], TEXT, None, None, True, "test")
    rows = queued(broadcast.origin)
    assert {r.text for r in rows} == {to_latin(TEXT)}  # English readers without an English text get Latin too
    assert {r.encoding for r in rows} == {"GSM-7"}


@time_machine.travel(DAYTIME, tick=False)
def test_enqueue_again_adds_nobody_twice(app, khoroo):
    broadcast = bc.send_plain_broadcast(app, ["khoroo:BGD-07"], TEXT, None, None, False, "test")
    store.Broadcast.update(status="scheduled").where(store.Broadcast.id == broadcast.id).execute()
    add_contacts(1, "BGD-07", start=40)  # joined since: the repeat reaches only them
    assert bc.enqueue(app, store.Broadcast.get_by_id(broadcast.id)) == 7
    assert len(queued(broadcast.origin)) == 7


@time_machine.travel(DAYTIME, tick=False)
def test_opt_out_during_a_broadcast_cancels_what_is_still_pending(app, khoroo):
    broadcast = bc.send_plain_broadcast(app, ["khoroo:BGD-07"], TEXT, None, None, False, "test")
    reply = Message.create(direction="out", contact=khoroo[0], channel="android", text="ok", status="queued")
    opt_out(khoroo[0])
    rows = {r.contact_id: r for r in queued(broadcast.origin)}
    assert rows[khoroo[0].id].status == "cancelled"
    assert {rows[c.id].status for c in khoroo[1:]} == {"queued"}
    assert Message.get_by_id(reply.id).status == "queued"  # a reply (not bulk) still goes


@time_machine.travel(at_local(2026, 11, 25, 22, 30), tick=False)
def test_quiet_hours_hold_bulk_until_morning(app, khoroo):
    broadcast = bc.send_plain_broadcast(app, ["khoroo:BGD-07"], TEXT, None, None, False, "test")
    morning = at_local(2026, 11, 26, 9, 0).astimezone(dt.UTC).replace(tzinfo=None)
    assert {r.next_attempt_at for r in queued(broadcast.origin)} == {morning}


@pytest.mark.parametrize("local, expected", [
    (at_local(2026, 11, 25, 20, 59), None),
    (at_local(2026, 11, 25, 21, 0), at_local(2026, 11, 26, 9, 0)),
    (at_local(2026, 11, 25, 23, 59), at_local(2026, 11, 26, 9, 0)),
    (at_local(2026, 11, 26, 0, 0), at_local(2026, 11, 26, 9, 0)),  # just past midnight: the same morning
    (at_local(2026, 11, 29, 23, 30), at_local(2026, 11, 30, 9, 0)),  # Sunday night → Monday morning
    (at_local(2026, 11, 26, 8, 59), at_local(2026, 11, 26, 9, 0)),
    (at_local(2026, 11, 26, 9, 0), None),
])
def test_quiet_hours_edges(app, local, expected):
    now = local.astimezone(dt.UTC).replace(tzinfo=None)
    want = expected.astimezone(dt.UTC).replace(tzinfo=None) if expected else None
    assert bc.quiet_until(app, now) == want


def test_quiet_hours_follow_a_zone_with_daylight_saving(make_app):
    app = make_app(timezone="Europe/Berlin")
    # 2026-03-29: clocks go forward at 02:00; the night before spans the change.
    now = dt.datetime(2026, 3, 28, 21, 30)  # UTC = 22:30 CET, quiet
    morning = dt.datetime(2026, 3, 29, 7, 0)  # 09:00 CEST = 07:00 UTC, not 08:00
    assert bc.quiet_until(app, now) == morning


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=300))
def test_any_text_is_refused_clearly_or_previewed(app, text):
    try:
        bc.check_template(text, (), "Mongolian")
    except bc.BroadcastError as exc:
        assert str(exc)
        return
    texts = bc.render_variants({"mn": text, "en": None}, None)
    assert texts["mn-cyrl"] == text.format_map({})
    assert sms_size(texts["mn-latn"]).encoding == "GSM-7"


def test_a_time_in_the_past_is_refused_in_local_time(app):
    with pytest.raises(bc.BroadcastError, match="in the past"):
        bc.require_future(app, utcnow() - dt.timedelta(hours=1), "the send time")
