import datetime as dt

from gateway.scheduler import run_job
from storage.contacts import contact_for_number
from storage.db import utcnow
from storage.models import FlowRun, Message


def test_purge_deletes_only_what_is_old_and_finished(app, db):
    contact, _ = contact_for_number("+97699112233", app.config["SECRET_KEY"])
    old = utcnow() - dt.timedelta(days=400)
    Message.create(direction="in", contact=contact, channel="android", text="old", status="received",
                   created_at=old)
    Message.create(direction="out", contact=contact, channel="android", text="stuck", status="queued",
                   created_at=old)
    Message.create(direction="in", contact=contact, channel="android", text="new", status="received")
    FlowRun.create(contact=contact, flow_id="complaint", channel="sms", status="completed", updated_at=old)
    FlowRun.create(contact=contact, flow_id="complaint", channel="sms", status="active", updated_at=old)
    counts = run_job(app, "retention.purge")
    assert counts == {"messages": 1, "runs": 1, "complaint_texts": 0, "reasons": 0, "meeting_questions": 0,
                      "numbers": 0}
    assert sorted(m.text for m in Message.select()) == ["new", "stuck"]
    assert [r.status for r in FlowRun.select()] == ["active"]
