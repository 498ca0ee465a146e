"""The staff JSON API for meetings and broadcasts: tokens and roles, bad input, dry runs, the tally, OpenAPI."""
from __future__ import annotations

import time_machine

from storage import meetings as store
from storage import tokens
from storage.models import ApiToken, Message
from tests.meetings.helpers import at_local

NOON = at_local(2026, 11, 23, 12, 0)
MEETING = {"kind": "inh", "title": {"mn": "7-р хорооны ИНХ", "en": "Khoroo 7 general meeting"},
           "place": {"mn": "хорооны байр", "en": "the khoroo office"}, "starts_at": "2026-11-26T18:00:00+08:00",
           "audience": ["khoroo:BGD-07"]}


def bearer(role: str) -> dict:
    _, plain = tokens.create_token(f"{role}-token", role, "UB,ZAV")
    return {"Authorization": f"Bearer {plain}"}


def test_tokens_roles_and_json_errors(client, khoroo):
    assert client.post("/api/v1/broadcasts", json={}).status_code == 401
    wrong = client.get("/api/v1/meetings", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "unauthorized"
    cso = client.post("/api/v1/meetings", json=MEETING, headers=bearer("cso"))
    assert cso.status_code == 403 and "staff" in cso.get_json()["detail"]
    headers = bearer("admin")  # admin includes staff
    assert client.get("/api/v1/meetings", headers=headers).status_code == 200
    assert ApiToken.get(ApiToken.role == "admin").last_used_at is not None
    assert store.Meeting.select().count() == 0


def test_meeting_create_show_tally_move_cancel(client, khoroo):
    headers = bearer("staff")
    with time_machine.travel(NOON, tick=False):
        created = client.post("/api/v1/meetings", json=MEETING, headers=headers)
        assert created.status_code == 201, created.get_json()
        meeting = created.get_json()
        assert meeting["starts_at"] == "2026-11-26T18:00:00+08:00"
        assert [s["purpose"] for s in meeting["sends"]] == ["notice", "reminder", "reminder"]
        assert meeting["sends"][0]["recipients"] == 6
        store.record_rsvp(store.Meeting.get_by_id(meeting["id"]), khoroo[0].id, "yes")
        shown = client.get(f"/api/v1/meetings/{meeting['id']}", headers=headers).get_json()
        assert shown["tally"]["yes"] == 1 and shown["tally"]["no"] == 0
        moved = client.patch(f"/api/v1/meetings/{meeting['id']}", json={"starts_at": "2026-11-27 18:00"},
                             headers=headers)
        assert moved.status_code == 200 and moved.get_json()["starts_at"] == "2026-11-27T18:00:00+08:00"
        cancelled = client.patch(f"/api/v1/meetings/{meeting['id']}", json={"status": "cancelled"}, headers=headers)
        assert cancelled.get_json()["status"] == "cancelled"
        purposes = {s["purpose"] for s in cancelled.get_json()["sends"]}
        assert {"notice", "correction", "cancellation"} <= purposes
    assert client.get("/api/v1/meetings/999", headers=headers).status_code == 404


def test_bad_meetings_get_400_and_nothing_is_queued(client, khoroo):
    headers = bearer("staff")
    with time_machine.travel(NOON, tick=False):
        for body, detail in [({**MEETING, "place": None}, "needs a place"),
                             ({**MEETING, "starts_at": "2026-11-01 10:00"}, "in the past"),
                             ({**MEETING, "audience": ["khoroo:NOPE"]}, "unknown khoroo"),
                             ({**MEETING, "audience": 7}, "'audience' must be a list"),
                             ({**MEETING, "starts_at": "soon"}, "not a time")]:
            response = client.post("/api/v1/meetings", json=body, headers=headers)
            assert response.status_code == 400 and detail in response.get_json()["detail"], response.get_json()
        not_json = client.post("/api/v1/meetings", data="x", headers=headers)
        assert not_json.status_code == 400
    assert Message.select().count() == 0 and store.Meeting.select().count() == 0


def test_broadcast_dry_run_then_send_then_progress(client, khoroo):
    headers = bearer("staff")
    text_mn = "Маргааш 10:00-18:00 цагт 7-р хорооны ус түгээх байр засварын улмаас ажиллахгүй."  # 2 UCS-2 parts
    body = {"audience": ["khoroo:BGD-07"], "text": {"mn": text_mn, "en": "No water tomorrow."}}
    with time_machine.travel(NOON, tick=False):
        preview = client.post("/api/v1/broadcasts", json={**body, "dry_run": True}, headers=headers).get_json()
        assert preview["recipients"] == 6 and preview["latin"]["cost"] < preview["as_is"]["cost"]
        assert Message.select().count() == 0
        sent = client.post("/api/v1/broadcasts", json=body, headers=headers)
        assert sent.status_code == 201
        progress = client.get(f"/api/v1/broadcasts/{sent.get_json()['id']}", headers=headers).get_json()
    assert progress["status"] == "queued" and progress["messages"]["queued"] == 6
    too_long = client.post("/api/v1/broadcasts", json={**body, "text": "х" * 1601}, headers=headers)
    assert too_long.status_code == 400 and "1600" in too_long.get_json()["detail"]
    assert client.get("/api/v1/broadcasts/999", headers=headers).status_code == 404


def test_openapi_lists_the_meeting_and_broadcast_routes(client):
    paths = client.get("/api/v1/openapi.json", headers=bearer("cso")).get_json()["paths"]
    assert set(paths["/api/v1/meetings"]) == {"get", "post"}
    assert set(paths["/api/v1/meetings/{meeting_id}"]) == {"get", "patch"}
    assert "post" in paths["/api/v1/broadcasts"] and "get" in paths["/api/v1/broadcasts/{broadcast_id}"]
    assert paths["/api/v1/broadcasts"]["post"]["x-required-role"] == "staff"
