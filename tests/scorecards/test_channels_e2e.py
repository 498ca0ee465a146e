"""Scoring and complaining from a basic phone, over the Africa's Talking SMS and USSD webhooks."""
from __future__ import annotations

from gateway import digests
from storage import complaints, scorecards
from storage.db import database
from storage.models import Message
from tests.scorecards.conftest import bearer, new_round, phone


def scores_by_indicator(app, round_id: int) -> dict[str, list[int]]:
    with app.app_context(), database.connection_context():
        found: dict[str, list[int]] = {}
        for s in (scorecards.Score.select().join(scorecards.Indicator)
                  .where(scorecards.Score.round == round_id).order_by(scorecards.Score.id)):
            found.setdefault(s.indicator.code, []).append(s.score)
        return found


def test_round_scored_over_sms_and_ussd_then_closed_and_summarised(at_app):
    round_id = new_round(at_app, min_cell=2)
    sms = phone(at_app, "+97699110001")
    replies = sms.send_sms("unelgee")
    assert "1-Emegtei" in replies[-1]
    assert sms.send_sms("1")[-1].startswith("Asuult 1/2")  # women; the only open round is chosen by itself
    sms.send_sms("2")
    sms.send_sms("3")
    assert "Bayarlalaa" in sms.send_sms("0")[-1]  # reason skipped

    again = phone(at_app, "+97699110001")  # the same person scores again: replaces, counts once
    for text in ("unelgee", "1", "4", "3", "0"):
        again.send_sms(text)

    ussd = phone(at_app, "+97688110002")
    screen, ended = ussd.ussd(None)
    assert not ended
    for press in ("1", "1"):  # consent notice, then the main menu's first entry (the scorecard)
        screen, ended = ussd.ussd(press)
    assert "Ta ali buleg ve?" in screen
    ussd.ussd("1")  # women
    ussd.ussd("5")
    ussd.ussd("5")
    screen, ended = ussd.ussd("0")
    assert ended and "Bayarlalaa" in screen

    assert scores_by_indicator(at_app, round_id) == {"A": [4, 5], "B": [3, 5]}
    admin = bearer(at_app, "admin")
    client = at_app.test_client()
    assert client.post(f"/api/v1/rounds/{round_id}/close", headers=admin).json["status"] == "closed"
    late = phone(at_app, "+97699110003")
    late.send_sms("unelgee")
    this_week = digests.current_week(at_app).label
    data = client.get(f"/api/v1/digests/{this_week}", headers=bearer(at_app, "cso")).json
    [section] = data["scorecards"]
    a, b = section["indicators"]
    assert section["respondents"] == {"total": 2, "new_this_week": 2, "by_group": {"women": 2}, "hidden": {}}
    assert a["groups"]["women"] == {"n": 2, "mean": 4.5, "median": 4.5,
                                    "distribution": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}}
    assert a["overall"]["mean_pooled"] == 4.5 and a["gap"] == 0.0
    assert b["overall"]["mean_pooled"] == 4.0 and b["overall"]["median"] == 4.0


def test_complaint_lifecycle_with_loop_closing_sms_and_reopen(at_app):
    citizen = phone(at_app, "+97699110011")
    for text in ("gomdol", "1", "Bagakhangai", "1", "12-r heseg", "us tugeeh bair 3 honog haaltai, 99112233"):
        citizen.send_sms(text)
    registered = citizen.send_sms("1")[-1]
    assert "Dugaar: G-0001" in registered
    staff, client = bearer(at_app, "staff", "khoroo staff"), at_app.test_client()

    shown = client.get("/api/v1/complaints/g-oool", headers=staff)  # O/o and l typed for 0 and 1 still match
    assert shown.status_code == 200
    body = shown.json
    assert (body["ref"], body["status"], body["category"], body["admin_unit"]) == ("G-0001", "new", "water", "BKhD-01")
    assert body["anonymous"] is True and body["sensitive"] is False
    assert "99112233" not in shown.get_data(as_text=True) and "+976" not in shown.get_data(as_text=True)

    for status in ("routed", "answered"):
        assert client.post("/api/v1/complaints/G-0001/status", json={"status": status, "note": "to the khoroo"},
                           headers=staff).status_code == 200
    resolved = client.post("/api/v1/complaints/G-0001/status", headers=staff,
                           json={"status": "resolved", "note": "Us tugeeh bairiig zasaj neesen."})
    assert resolved.json["citizen_asked"] is True
    question = citizen.sms_replies()
    assert question == ["G-0001: Us tugeeh bairiig zasaj neesen. Asuudal shiidegdsen uu? 1-Tiim 2-Ugui"]
    with at_app.app_context(), database.connection_context():
        row = Message.get(Message.text == question[0])
        assert (row.purpose, row.origin, row.status) == ("loop_close", "complaint:G-0001", "queued")

    assert "dahin neej" in citizen.send_sms("2")[-1]
    reopened = client.get("/api/v1/complaints/G-0001", headers=staff).json
    assert (reopened["status"], reopened["flagged"], reopened["reopened_count"]) == ("routed", True, 1)
    assert [(h["from"], h["to"], h["actor"]) for h in reopened["history"]] == [
        (None, "new", "citizen"), ("new", "routed", "khoroo staff"), ("routed", "answered", "khoroo staff"),
        ("answered", "resolved", "khoroo staff"), ("resolved", "routed", "citizen")]

    client.post("/api/v1/complaints/G-0001/status", json={"status": "resolved", "note": "Dahin zasav."},
                headers=staff)
    assert citizen.sms_replies() == ["G-0001: Dahin zasav. Asuudal shiidegdsen uu? 1-Tiim 2-Ugui"]
    assert "Bayarlalaa" in citizen.send_sms("tiim")[-1]
    with at_app.app_context(), database.connection_context():
        done = complaints.find("G-0001")
        assert done.status == "closed" and done.closed_at is not None
    bad = client.post("/api/v1/complaints/G-0001/status", json={"status": "answered"}, headers=staff)
    assert bad.status_code == 409 and "closed" in bad.json["detail"]


def test_sensitive_complaint_goes_to_the_restricted_queue(at_app):
    citizen = phone(at_app, "+97699110021")
    for text in ("gomdol", "7", "Bagakhangai", "1", "0", "Даргын авлигын тухай", "1"):
        citizen.send_sms(text)
    client = at_app.test_client()
    staff, admin = bearer(at_app, "staff"), bearer(at_app, "admin")
    assert client.get("/api/v1/complaints", headers=staff).json["complaints"] == []
    missing = client.get("/api/v1/complaints/G-0999", headers=staff)
    hidden = client.get("/api/v1/complaints/G-0001", headers=staff)  # the same answer as for no complaint at all
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json["detail"].replace("G-0001", "G-0999") == missing.json["detail"]
    assert client.get("/api/v1/complaints/restricted", headers=staff).status_code == 403
    assert [c["ref"] for c in client.get("/api/v1/complaints", headers=admin).json["complaints"]] == ["G-0001"]
    assert client.get("/api/v1/complaints/G-0001", headers=admin).json["sensitive"] is True
    assert client.post("/api/v1/complaints/G-0001/sensitive", json={"sensitive": False},
                       headers=staff).status_code == 404
    with at_app.app_context(), database.connection_context():
        from storage.models import AuditLog
        assert AuditLog.select().where(AuditLog.action == "complaint.restricted_read").count() == 1


def test_designated_cso_reads_the_restricted_queue(make_app, monkeypatch):
    app = make_app(complaints={"restricted_readers": ["Ombudsperson CSO"]})
    with app.app_context(), database.connection_context():
        from gateway.complaints import is_sensitive
        assert is_sensitive(app, "AVLIGIIN hereg") and is_sensitive(app, "bribe paid") and not is_sensitive(app, "us")
        from storage.models import AdminUnit
        complaints.create_complaint(category="other", text="авлига", contact=None, anonymous=True, due_days=30,
                                    sensitive=True, admin_unit=AdminUnit.get(AdminUnit.code == "BKhD-01"))
    client = app.test_client()
    designated, other = bearer(app, "cso", "Ombudsperson CSO"), bearer(app, "cso", "Another CSO")
    assert [c["ref"] for c in client.get("/api/v1/complaints/restricted", headers=designated).json["complaints"]] \
        == ["G-0001"]
    assert client.get("/api/v1/complaints/restricted", headers=other).status_code == 403
    assert client.get("/api/v1/complaints/G-0001", headers=designated).status_code == 200
    assert client.post("/api/v1/complaints/G-0001/status", json={"status": "routed"},
                       headers=designated).status_code == 403
