"""Each page's forms by role and area: what staff of one khoroo can see and do, what the district and the
Zavkhan staff see of it, and the validation errors people get."""
from __future__ import annotations

import datetime as dt
import io

import pytest

from gateway import complaint_thread
from storage import complaints as complaint_store
from storage import console as console_store
from storage import meetings as meeting_store
from storage import scorecards as score_store
from storage.models import AdminUnit, AuditLog, Message
from tests.console.conftest import NOW, local_input
from tests.console.seed import seed


@pytest.fixture
def seeded(app, db, people):
    with app.app_context():
        return seed(app)


def text_of(response) -> str:
    return response.get_data(as_text=True)


# ---- complaints ---------------------------------------------------------------------------------------------


def test_complaints_are_seen_within_the_area_only(seeded, console):
    ref = seeded.complaint.ref
    assert ref in text_of(console("staff").get("/console/complaints/"))
    assert ref in text_of(console("district").get("/console/complaints/"))
    assert ref not in text_of(console("zavkhan").get("/console/complaints/"))
    assert console("zavkhan").get(f"/console/complaints/{ref}").status_code == 404
    assert console("cso").get(f"/console/complaints/{ref}").status_code == 403


def test_sensitive_complaints_are_for_admins_only_and_every_read_is_audited(seeded, console, db):
    ref = seeded.sensitive.ref
    assert ref not in text_of(console("staff").get("/console/complaints/"))
    assert console("staff").get(f"/console/complaints/{ref}").status_code == 404
    admin = console("admin")
    assert ref in text_of(admin.get("/console/complaints/?restricted=y"))
    assert admin.get(f"/console/complaints/{ref}").status_code == 200
    assert AuditLog.select().where((AuditLog.action == "complaint.restricted_read") & (AuditLog.target == ref)
                                   & AuditLog.actor.contains("admin")).exists()


def test_inbox_filters(seeded, console):
    staff = console("staff")
    ref = seeded.complaint.ref
    assert ref in text_of(staff.get("/console/complaints/?status=open&category=water&unit=BGD-07"))
    assert ref not in text_of(staff.get("/console/complaints/?status=closed"))
    assert ref not in text_of(staff.get("/console/complaints/?overdue=y"))
    outside = staff.get("/console/complaints/?unit=ZAV-IDER")
    assert ref not in text_of(outside) and "No admin unit with this code" in text_of(outside) or \
        "Таны нутаг дэвсгэрт энэ кодтой нэгж алга" in text_of(outside)


def test_status_change_with_a_note_is_in_the_history(seeded, console, db):
    staff = console("staff")
    page = f"/console/complaints/{seeded.complaint.ref}"
    bad = staff.post(f"{page}/status", {"status-status": "closed-ish"}, token_from=page)
    assert bad.status_code == 400
    done = staff.post(f"{page}/status", {"status-status": "routed", "status-note": "Усны газарт шилжүүлэв"},
                      token_from=page)
    assert done.status_code == 302
    history = text_of(staff.get(page))
    assert "Усны газарт шилжүүлэв" in history
    assert complaint_store.find(seeded.complaint.ref).status == "routed"


def test_redaction_masks_numbers_and_is_what_reports_get(seeded, console, db):
    staff = console("staff")
    page = f"/console/complaints/{seeded.complaint.ref}"
    assert staff.post(f"{page}/redact", {"redact-text": "  "}, token_from=page).status_code == 400
    assert staff.post(f"{page}/redact", {"redact-text": "Ус хаалттай, залга 99887766"},
                      token_from=page).status_code == 302
    redacted = complaint_store.find(seeded.complaint.ref).redacted_text
    assert "Ус хаалттай" in redacted and "99887766" not in redacted


def test_reply_goes_to_the_outbox_and_the_number_stays_hidden(seeded, console, db):
    staff = console("staff")
    page = f"/console/complaints/{seeded.complaint.ref}"
    before = Message.select().where(Message.direction == "out").count()
    assert staff.post(f"{page}/reply", {"reply-text": ""}, token_from=page).status_code == 400
    assert staff.post(f"{page}/reply", {"reply-text": "Маргааш засна."}, token_from=page).status_code == 302
    queued = Message.select().where(Message.direction == "out").order_by(Message.id.desc()).first()
    assert Message.select().where(Message.direction == "out").count() == before + 1
    assert "Маргааш засна." in queued.text and queued.contact_id == seeded.complaint.contact_id
    assert "Маргааш засна." in text_of(staff.get(page))


def test_staff_can_move_a_complaint_to_the_restricted_queue_but_not_back(seeded, console, db):
    staff = console("staff")
    page = f"/console/complaints/{seeded.complaint.ref}"
    assert staff.post(f"{page}/sensitive", {"sensitive-sensitive": "y"}, token_from=page).status_code == 302
    assert staff.get(page).status_code == 404
    admin = console("admin")
    assert admin.post(f"{page}/sensitive", {}, token_from=page).status_code == 302
    assert staff.get(page).status_code == 200


# ---- meetings and broadcasts -------------------------------------------------------------------------------


def meeting_form(**changes) -> dict:
    starts = NOW.replace(tzinfo=None) + dt.timedelta(days=6, hours=7)
    form = {"kind": "inh", "title_mn": "Хорооны хурал", "place_mn": "Хорооны байр",
            "starts_at": local_input(starts), "units": ["khoroo:BGD-07"], "script": "cyrl",
            "remind_2h": "y", "action": "create"}
    form.update(changes)
    return form


def test_meeting_preview_shows_the_sms_its_size_people_and_cost(seeded, console, db):
    staff = console("staff")
    page = "/console/meetings/new"
    preview = staff.post(page, meeting_form(action="preview"), token_from=page)
    assert preview.status_code == 200
    body = text_of(preview)
    assert "Хорооны хурал" in body and "UCS-2" in body and "MNT" in body
    assert meeting_store.Meeting.select().count() == 1, "a preview saves nothing"
    live = staff.get("/console/meetings/preview", query_string={**meeting_form(script="latn")})
    html = live.get_json()["html"]
    shown = html.split('data-role="text">')[1].split("<")[0]
    assert live.status_code == 200 and "GSM-7" in html and "Хорооны" not in shown and "18:00" in shown


def test_meeting_is_created_for_the_area_and_refused_outside_it(seeded, console, db):
    staff = console("staff")
    page = "/console/meetings/new"
    missing = staff.post(page, meeting_form(title_mn=""), token_from=page)
    assert missing.status_code == 400
    outside = staff.post(page, meeting_form(units=["soum:ZAV-IDER"]), token_from=page)
    assert outside.status_code == 400
    past = staff.post(page, meeting_form(starts_at="2020-01-01T10:00"), token_from=page)
    assert past.status_code == 400
    made = staff.post(page, meeting_form(), token_from=page)
    assert made.status_code == 302
    meeting = meeting_store.Meeting.select().order_by(meeting_store.Meeting.id.desc()).first()
    assert meeting.created_by == "staff" and meeting.audience == ["khoroo:BGD-07"]
    # 6 people of BGD-07 told; the starts_at was local time 18:00 → stored 10:00 UTC
    assert meeting.starts_at.hour == (NOW.replace(tzinfo=None) + dt.timedelta(hours=7)).hour - 8
    shown = text_of(staff.get(made.headers["Location"]))
    assert "18:00" in shown
    assert console("zavkhan").get(made.headers["Location"]).status_code == 404


def test_meeting_page_shows_the_tally_and_questions_without_numbers(seeded, console):
    body = text_of(console("staff").get(f"/console/meetings/{seeded.meeting.id}"))
    assert "Намайг" in body and "99887766" not in body


def test_meeting_move_and_cancel(seeded, console, db):
    staff = console("staff")
    page = f"/console/meetings/{seeded.meeting.id}"
    later = NOW.replace(tzinfo=None) + dt.timedelta(days=8)
    assert staff.post(f"{page}/move", {"starts_at": "garbage"}, token_from=page).status_code == 400
    assert staff.post(f"{page}/move", {"starts_at": local_input(later)}, token_from=page).status_code == 302
    assert staff.post(f"{page}/cancel", {}, token_from=page).status_code == 400
    assert staff.post(f"{page}/cancel", {"confirm": "y"}, token_from=page).status_code == 302
    assert meeting_store.get_meeting(seeded.meeting.id).status == "cancelled"


def test_broadcast_compose_schedule_and_cancel(seeded, console, db):
    staff = console("staff")
    page = "/console/broadcasts/new"
    when = local_input(NOW.replace(tzinfo=None) + dt.timedelta(days=1))
    form = {"text_mn": "Маргааш ус тасарна.", "units": ["khoroo:BGD-07"], "send_at": when, "script": "cyrl"}
    assert staff.post(page, {**form, "text_mn": ""}, token_from=page).status_code == 400
    assert staff.post(page, {**form, "text_mn": "Сайн {name}"}, token_from=page).status_code == 400
    preview = staff.post(page, {**form, "action": "preview"}, token_from=page)
    assert preview.status_code == 200 and "MNT" in text_of(preview)
    made = staff.post(page, {**form, "action": "send"}, token_from=page)
    assert made.status_code == 302
    broadcast = meeting_store.Broadcast.select().order_by(meeting_store.Broadcast.id.desc()).first()
    assert broadcast.status == "scheduled"
    shown = made.headers["Location"]
    assert staff.post(f"{shown}/cancel", {"confirm": "y"}, token_from=shown).status_code == 302
    assert meeting_store.get_broadcast(broadcast.id).status == "cancelled"


# ---- scorecards ---------------------------------------------------------------------------------------------


def test_scorecard_results_hide_small_groups(seeded, console):
    body = text_of(console("cso").get(f"/console/scorecards/{seeded.round.id}"))
    assert "&lt;5" in body, "three women and three men: both groups hidden"
    assert "Clean" in body or "Цэвэрхэн" in body


def test_round_create_open_self_score_and_actions(seeded, console, db):
    staff = console("staff")
    page = "/console/scorecards/new"
    form = {"service_point": "KG-BGD-07-1", "indicators-0-code": "A", "indicators-0-mn": "Халуун",
            "indicators-0-en": "Warm", "min_cell": "5"}
    assert staff.post(page, {**form, "indicators-0-code": ""}, token_from=page).status_code == 400
    made = staff.post(page, form, token_from=page)
    assert made.status_code == 302
    round_page = made.headers["Location"]
    round_id = int(round_page.rstrip("/").rsplit("/", 1)[1])
    assert staff.post(f"{round_page}/status", {"status": "open"}, token_from=round_page).status_code == 302
    assert score_store.Round.get_by_id(round_id).status == "open"
    assert staff.post(f"{round_page}/self-score", {"self-indicator": "A", "self-score": "9"},
                      token_from=round_page).status_code == 400
    assert staff.post(f"{round_page}/self-score", {"self-indicator": "A", "self-score": "3.5"},
                      token_from=round_page).status_code == 302
    action = {"action-action": "Халаалт засах", "action-owner_role": "Эрхлэгч", "action-owner_org": "Цэцэрлэг",
              "action-due_on": "2026-12-20", "action-indicator": "A"}
    assert staff.post(f"{round_page}/actions", {**action, "action-due_on": ""},
                      token_from=round_page).status_code == 400
    assert staff.post(f"{round_page}/actions", action, token_from=round_page).status_code == 302
    item = score_store.ActionItem.get(score_store.ActionItem.round == round_id)
    assert staff.post(f"{round_page}/actions/update", {"update-item": str(item.id), "update-status": "done"},
                      token_from=round_page).status_code == 302
    assert score_store.ActionItem.get_by_id(item.id).status == "done"
    assert console("cso").post(f"{round_page}/status", {"status": "closed"},
                               token_from=round_page).status_code == 403
    assert console("zavkhan").get(round_page).status_code == 404


# ---- digests, people, flows, admin -------------------------------------------------------------------------


def test_digest_week_picker_and_downloads_stay_in_the_area(seeded, console, db):
    cso = console("cso")
    page = cso.get("/console/digests/?week=2026-W47")
    assert page.status_code == 200 and "2026-W47" in text_of(page)
    assert cso.get("/console/digests/?unit=ZAV-IDER").status_code == 404
    csv_file = cso.get("/console/digests/2026-W47.csv")
    assert csv_file.status_code == 200 and csv_file.mimetype == "text/csv"
    assert "BGD-07" in text_of(csv_file)
    assert cso.get("/console/digests/2026-W99.json").status_code == 404
    chart = cso.get(f"/console/digests/2026-W47/chart/{seeded.round.id}-groups.png")
    assert chart.status_code == 200 and chart.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert AuditLog.select().where(AuditLog.action == "digest.read").count() >= 2


def test_contact_import_previews_errors_by_line_then_imports(seeded, console, db):
    staff = console("staff")
    csv_text = ("phone,language,unit,consent\n99110011,mn,BGD-07,yes\nnot-a-number,mn,BGD-07,yes\n"
                "99110012,mn,ZAV-IDER,yes\n99110013,xx,BGD-07,yes\n99110011,mn,BGD-07,yes\n")
    data = {"import-file": (io.BytesIO(csv_text.encode()), "list.csv"), "import-default_unit": "BGD-07",
            "import-group": "new list", "action": "preview"}
    preview = staff.post("/console/people/import", data, token_from="/console/people/",
                         content_type="multipart/form-data")
    body = text_of(preview)
    assert preview.status_code == 200
    for line in ("3", "4", "5", "6"):
        assert f'<td class="num">{line}</td>' in body
    assert "99110011" not in body and "99110012" not in body
    staged = body.split('name="import-staged" type="hidden" value="')[1].split('"')[0]
    done = staff.post("/console/people/import", {"import-staged": staged, "import-default_unit": "BGD-07",
                                                 "import-group": "new list", "action": "import"},
                      token_from="/console/people/")
    assert done.status_code == 302
    assert meeting_store.ContactGroup.get(meeting_store.ContactGroup.name == "new list").members.count() == 1


def test_admins_add_bags_and_load_units(seeded, console, db):
    admin = console("admin")
    page = "/console/people/"
    bad = admin.post("/console/people/units/bags", {"bags-parent": "ZAV-IDER", "bags-lines": "BGD-07, Давхар"},
                     token_from=page)
    assert bad.status_code == 400
    assert admin.post("/console/people/units/bags",
                      {"bags-parent": "ZAV-IDER", "bags-lines": "ZAV-IDER-01, 1-р баг, Bag 1\nZAV-IDER-02, 2-р баг"},
                      token_from=page).status_code == 302
    bag = AdminUnit.get(AdminUnit.code == "ZAV-IDER-02")
    assert bag.kind == "bag" and bag.parent.code == "ZAV-IDER" and bag.name_latn
    units_csv = "code,kind,parent,name_mn,name_latn,name_en\nZAV-IDER-03,bag,ZAV-IDER,3-р баг,3-r bag,Bag 3\n"
    assert admin.post("/console/people/units/csv", {"units-file": (io.BytesIO(units_csv.encode()), "u.csv")},
                      token_from=page, content_type="multipart/form-data").status_code == 302
    assert console("staff").post("/console/people/units/bags", {"bags-parent": "ZAV-IDER", "bags-lines": "X, Y"},
                                 token_from=page).status_code == 403


def test_people_page_shows_counts_of_the_area(seeded, console):
    body = text_of(console("staff").get("/console/people/"))
    assert "BGD-07" in body and "ZAV-IDER" not in body


def test_flows_page_lists_flows_with_their_sizes(seeded, console):
    body = text_of(console("cso").get("/console/flows/"))
    assert "complaint" in body and "GSM-7" in body and "UCS-2" in body


def test_web_phone_plays_a_flow_and_sends_nothing(app, seeded, console, db):
    cso = console("cso")
    before = Message.select().count()
    runs_before = complaint_store.Complaint.select().count()
    for text in ("GOMDOL",):
        cso.post("/console/flows/phone", {"text": text}, token_from="/console/flows/phone")
    page = text_of(cso.get("/console/flows/phone"))
    assert "GOMDOL" in page
    assert Message.select().count() == before and complaint_store.Complaint.select().count() == runs_before
    reply = cso.post("/console/flows/phone", {"action": "ussd"}, token_from="/console/flows/phone",
                     headers={"Accept": "application/json"})
    assert reply.status_code == 200 and "web-phone" in reply.get_json()["html"]


def test_admin_invites_a_user_changes_them_and_manages_tokens(seeded, console, db):
    admin = console("admin")
    page = "/console/admin/users"
    assert admin.post(page, {"new-username": "", "new-display_name": "X", "new-role": "staff"},
                      token_from=page).status_code == 400
    assert admin.post(page, {"new-username": "kheseg7", "new-display_name": "Kheseg 7", "new-role": "staff"},
                      token_from=page).status_code == 400, "staff need an area"
    made = admin.post(page, {"new-username": "kheseg7", "new-display_name": "Kheseg 7", "new-role": "staff",
                             "new-units": ["BGD-07"]}, token_from=page)
    assert made.status_code == 200 and "/console/invite/" in text_of(made)
    user = console_store.user_by_name("kheseg7")
    edit = f"/console/admin/users/{user.id}"
    assert admin.post(edit, {"user-role": "cso", "user-units": ["BGD-08"]}, token_from=edit).status_code == 302
    assert console_store.unit_codes_of(console_store.user_by_id(user.id)) == ["BGD-08"]
    me = console_store.user_by_name("admin")
    assert admin.post(f"/console/admin/users/{me.id}/disable", {}, token_from=edit).status_code == 302
    assert console_store.user_by_name("admin").disabled_at is None, "an admin cannot disable themselves"
    tokens_page = "/console/admin/tokens"
    unscoped = admin.post(tokens_page, {"token-name": "CSO Khoroo 7", "token-role": "cso", "token-days": "90"},
                          token_from=tokens_page)
    assert unscoped.status_code == 400, "a cso token needs an area"
    created = admin.post(tokens_page, {"token-name": "CSO Khoroo 7", "token-role": "cso", "token-days": "90",
                                       "token-units": ["BGD-07"], "token-organisation": "Ирээдүй ТББ"},
                         token_from=tokens_page)
    assert created.status_code == 200 and "gw_" in text_of(created)
    from storage.models import ApiToken

    assert ApiToken.get(ApiToken.name == "CSO Khoroo 7").scope == "BGD-07"
    assert AuditLog.select().where(AuditLog.action == "token.create").exists()


def test_channel_page_gives_real_webhook_urls_with_the_at_token(make_app, db, people, monkeypatch):
    monkeypatch.setenv("AT_WEBHOOK_TOKEN", "at-secret-token")
    app = make_app(channels={"africastalking": {"enabled": True}})
    from tests.console.conftest import CSRF, PASSWORD

    client, base = app.test_client(), "http://gw.local:8080"
    token = CSRF.search(text_of(client.get("/console/login", base_url=base))).group(1)
    client.post("/console/login", base_url=base, data={"csrf_token": token, "username": "admin",
                                                       "password": PASSWORD})
    body = text_of(client.get("/console/admin/channels", base_url=base))
    assert "http://gw.local:8080/webhooks/africastalking/sms?token=at-secret-token" in body
    assert "http://gw.local:8080/webhooks/android" in body


def test_complaint_thread_records_the_citizens_answer(app, seeded, db):
    """The conversation half of the thread, through the real SMS conversation: the answer lands in the thread."""
    from gateway import conversation
    from gateway.messages import InboundSms
    from storage.contacts import number_of
    from storage.db import utcnow

    with app.app_context():
        contact = seeded.complaint.contact
        conversation.receive_sms(app, InboundSms("android", "id-1", number_of(contact), "Ус ирсэн, баярлалаа",
                                                 utcnow()), lambda replies: "")
        thread = console_store.thread_of(seeded.complaint.id)
    assert thread[-1].direction == "in" and thread[-1].text == "Ус ирсэн, баярлалаа"
    assert complaint_thread.REPLY_FLOW


def test_a_forms_built_in_messages_follow_the_page_language(seeded, console):
    staff = console("staff")
    page = "/console/meetings/new"
    missing = text_of(staff.post(page, meeting_form(title_mn=""), token_from=page))
    assert "Энэ талбарыг бөглөнө үү." in missing and "This field is required." not in missing
    staff.client.set_cookie("gw_lang", "en")
    assert "This field is required." in text_of(staff.post(page, meeting_form(title_mn=""), token_from=page))
