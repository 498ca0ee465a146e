"""The Local Development Fund vote pages by role and area: the list and the results (ranking, turnout, the group split
as storage releases it, fairness flags for staff only), creating a vote with its validation errors, changing a draft,
opening, closing with the results SMS, and the CSV. The seeded vote (tests/console/seed.py) is open in BGD-07: six
residents (3 women, 3 men: the split is hidden) and one voter from Zavkhan, counted apart."""
from __future__ import annotations

import csv
import io

import pytest

from gateway import votes as gateway_votes
from storage import votes as vote_store
from storage.contacts import contact_for_number, opt_out
from storage.models import AdminUnit, AuditLog, Message
from storage.suppression import REASONS, WITH_SMALL_CELL
from tests.conftest import TEST_SECRET
from tests.console.conftest import password_hash
from tests.console.seed import PEOPLE, seed, written_forms

NEW_VOTE = {"admin_unit": "BGD-08", "projects-0-mn": "Гудамжны гэрэл", "projects-0-en": "Street lights",
            "projects-0-about_mn": "10 шон", "projects-0-about_en": "10 lamp posts",
            "projects-1-mn": "Усны цэг", "projects-1-en": "Water kiosk", "projects-1-latn": "Usnii tseg",
            "projects-2-mn": "Замын засвар", "projects-2-en": "Road repair",
            "max_choices": "2", "min_cell": "5", "fund_amount": "150000000", "opens_on": "2026-11-20",
            "closes_on": "2026-11-30", "next_steps_mn": "12/5-нд ИНХ-аар батална.", "next_steps_en": "The INH decides."}


@pytest.fixture
def seeded(app, db, people):
    with app.app_context():
        return seed(app)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def newest_vote() -> vote_store.VoteRound:
    return vote_store.VoteRound.select().order_by(vote_store.VoteRound.id.desc()).first()


def voters(unit: str, groups: list[str], choice: int, vote_id: int, first: int = 99120000) -> None:
    """One contact of `unit` per group given, each voting for `choice`."""
    home = AdminUnit.get((AdminUnit.code == unit) & AdminUnit.valid_to.is_null())
    for number, group in enumerate(groups, first):
        contact, _ = contact_for_number(f"+976{number}", TEST_SECRET, admin_unit=home)
        vote_store.record_vote(contact, vote_store.CastVote(vote_id, (choice,), group))


# ---- reading: list, results, CSV ------------------------------------------------------------------------------


def test_votes_are_seen_within_the_area_only(seeded, console):
    page = f"/console/votes/{seeded.vote.id}"
    for name in ("cso", "staff", "district", "admin"):
        browser = console(name)
        assert page in text_of(browser.get("/console/votes/")), name
        assert browser.get(page).status_code == 200, name
    listed = text_of(console("staff").get("/console/votes/?status=open"))
    assert '<td class="num">6</td><td class="num">1</td>' in listed, "six residents, one from another unit"
    assert f"/console/votes/{seeded.draft_vote.id}" not in listed
    zavkhan = console("zavkhan")
    assert page not in text_of(zavkhan.get("/console/votes/"))
    assert zavkhan.get(page).status_code == 404
    assert zavkhan.get(f"{page}/results.csv").status_code == 404
    assert "Санал хураалт" in text_of(zavkhan.get("/console/")), "the menu names the section in Mongolian"


def test_results_show_ranking_turnout_and_the_group_split_as_released(seeded, console):
    cso = console("cso")
    body = text_of(cso.get(f"/console/votes/{seeded.vote.id}"))
    assert "Гудамжны гэрэл" in body and "12-р гудамжинд 10 шон" in body
    assert '<strong>6</strong> сонгогч' in body, "six residents voted"
    assert '<li class="away"><strong>1</strong> бусад нэгжээс' in body, "the Zavkhan voter is counted apart"
    assert REASONS[WITH_SMALL_CELL][0] in body, "3 women and 3 men: the whole split is hidden, saying why"
    assert "<svg" in body and 'class="bars"' in body
    assert "Шударга байдлын шалгалт" not in body, "fairness flags are for staff"
    cso.client.set_cookie("gw_lang", "en")
    english = text_of(cso.get(f"/console/votes/{seeded.vote.id}"))
    assert REASONS[WITH_SMALL_CELL][1] in english and "Street lights" in english
    for local, _unit in PEOPLE:
        for form in written_forms(local):
            assert form not in body and form not in english


def test_group_split_is_shown_whole_when_every_cell_is_large_enough(app, seeded, console, db):
    round_ = vote_store.create_round(AdminUnit.get(AdminUnit.code == "BGD-08"),
                                     [{"mn": "Гэрэл", "en": "Lights"}, {"mn": "Ус", "en": "Water"}])
    vote_store.set_status(round_, "open")
    voters("BGD-08", ["women"] * 5 + ["men"] * 6, 1, round_.id)
    body = text_of(console("district").get(f"/console/votes/{round_.id}"))
    assert REASONS[WITH_SMALL_CELL][0] not in body
    table = body.split("Бүлгээр")[1]
    assert "Эмэгтэй" in table and '<td class="num">5</td>' in table and '<td class="num">6</td>' in table


def test_fairness_flags_are_shown_to_staff_never_hidden(seeded, console, db):
    contact = seeded.contacts[0]
    for _ in range(30):  # one person changing their vote 30 times within the minute, from a new number
        vote_store.record_vote(contact, vote_store.CastVote(seeded.vote.id, (2,), "men", new_contact=True))
    page = f"/console/votes/{seeded.vote.id}"
    staff = text_of(console("staff").get(page))
    assert "Олон шинэ дугаар" in staff and "Огцом өсөлт" in staff
    assert "37 санал ирсэн" in staff, "every vote cast is in the log, replaced ones too"
    assert "Олон шинэ дугаар" not in text_of(console("cso").get(page))
    assert vote_store.tally(seeded.vote)["turnout"]["voters"] == 6, "a flag never changes a count"


def test_results_csv_is_the_apis_and_audited(seeded, console, db):
    response = console("cso").get(f"/console/votes/{seeded.vote.id}/results.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(text_of(response))))
    assert list(rows[0]) == gateway_votes.RESULT_COLUMNS
    assert {(r["project"], r["votes"]) for r in rows if r["group"] == "all"} == {("1", "2"), ("2", "2"), ("3", "2")}
    assert {r["votes"] for r in rows if r["group"] in ("men", "women")} == {"hidden"}
    assert AuditLog.select().where((AuditLog.action == "vote.results")
                                   & (AuditLog.target == f"vote:{seeded.vote.id}.csv")).exists()


def test_dashboard_lists_the_open_votes_of_the_area_with_turnout(seeded, console):
    body = text_of(console("staff").get("/console/"))
    votes_section = body.split('id="votes-h"')[1].split("</section>")[0]
    assert f"/console/votes/{seeded.vote.id}" in votes_section and "100%" in votes_section
    assert "+1 бусад нэгжээс" in votes_section
    assert f"/console/votes/{seeded.draft_vote.id}" not in votes_section, "a draft is not open"
    assert "нээлттэй санал хураалт алга" in text_of(console("zavkhan").get("/console/"))


# ---- creating and changing ------------------------------------------------------------------------------------


def test_admin_creates_a_vote_and_sees_what_to_fix(seeded, console, db):
    page = "/console/votes/new"
    assert console("staff").get(page).status_code == 403
    admin = console("admin")
    before = vote_store.VoteRound.select().count()
    problems = {
        "Санал хураалтад 2-12 төсөл хэрэгтэй; энд 1 байна.": {"projects-1-mn": "", "projects-1-en": "",
                                                              "projects-1-latn": "", "projects-2-mn": "",
                                                              "projects-2-en": ""},
        "Төслийн тооноос (3) ихгүй байна.": {"max_choices": "4"},
        "Монгол, англи хэлээр хоёуланг нь бичнэ үү.": {"projects-2-en": ""},
        "Сүүлийн өдөр эхний өдрөөс өмнө байж болохгүй.": {"opens_on": "2026-12-01"},
        "Санал авах сүүлийн өдөр өнгөрсөн байна": {"closes_on": "2026-11-17", "opens_on": ""},
        "Өөрийн нутаг дэвсгэрийн хороо эсвэл багийг сонгоно уу.": {"admin_unit": ""},
        "Хамгийн ихдээ 60 тэмдэгт.": {"projects-0-mn": "Г" * 61},
    }
    for message, change in problems.items():
        refused = admin.post(page, {**NEW_VOTE, **change}, token_from=page)
        assert refused.status_code == 400 and message in text_of(refused), message
    assert vote_store.VoteRound.select().count() == before, "nothing is saved while something is wrong"
    made = admin.post(page, NEW_VOTE, token_from=page)
    assert made.status_code == 302
    round_ = newest_vote()
    assert made.headers["Location"].endswith(f"/console/votes/{round_.id}")
    assert (round_.admin_unit.code, round_.status, round_.max_choices, round_.fund_amount, str(round_.closes_on)) \
        == ("BGD-08", "draft", 2, 150_000_000, "2026-11-30")
    projects = vote_store.projects_of(round_)
    assert [(p.number, p.name_mn, p.name_latn) for p in projects] == [
        (1, "Гудамжны гэрэл", None), (2, "Усны цэг", "Usnii tseg"), (3, "Замын засвар", None)]
    assert projects[0].description_en == "10 lamp posts" and round_.next_steps_mn == "12/5-нд ИНХ-аар батална."
    assert AuditLog.select().where(AuditLog.action == "vote.create").exists()


def test_an_admin_of_a_district_creates_votes_only_there(app, seeded, db):
    from storage import console as users
    from tests.console.conftest import Console

    users.create_user("bgd_admin", "BGD admin", "admin", ["BGD"], "Test org", password_hash(), "test")
    admin = Console(app)
    assert admin.login("bgd_admin").status_code == 302
    page = "/console/votes/new"
    form = text_of(admin.get(page))
    assert 'value="BGD-08"' in form and 'value="ZAV-IDER"' not in form and 'value="BGD"' not in form
    outside = admin.post(page, {**NEW_VOTE, "admin_unit": "ZAV-IDER"}, token_from=page)
    assert outside.status_code == 400 and newest_vote().admin_unit.code != "ZAV-IDER"
    assert admin.post(page, NEW_VOTE, token_from=page).status_code == 302


def test_a_draft_changes_in_full_then_opens_once_per_unit(seeded, console, db):
    admin = console("admin")
    draft = f"/console/votes/{seeded.draft_vote.id}"
    shown = text_of(admin.get(f"{draft}/edit"))
    assert 'value="Усны цэг"' in shown and 'value="20000000"' in shown
    changed = admin.post(f"{draft}/edit", {"projects-0-mn": "Усны цэг", "projects-0-en": "Water kiosk",
                                           "projects-1-mn": "Хашаа", "projects-1-en": "Fence",
                                           "projects-2-mn": "Гэрэл", "projects-2-en": "Lights",
                                           "max_choices": "3", "min_cell": "5", "closes_on": "2026-12-10"},
                         token_from=draft)
    assert changed.status_code == 302
    round_ = vote_store.get_round(seeded.draft_vote.id)
    assert [p.name_en for p in vote_store.projects_of(round_)] == ["Water kiosk", "Fence", "Lights"]
    assert (round_.max_choices, round_.fund_amount, str(round_.closes_on)) == (3, None, "2026-12-10")
    refused = admin.post(f"{draft}/open", {}, token_from=draft, follow_redirects=True)
    assert f"санал хураалт №{seeded.vote.id} нээлттэй байна" in text_of(refused), "one open vote per khoroo"
    assert vote_store.get_round(seeded.draft_vote.id).status == "draft"
    assert console("staff").post(f"{draft}/open", {}, token_from=draft).status_code == 403
    elsewhere = vote_store.create_round(AdminUnit.get(AdminUnit.code == "BGD-08"),
                                        [{"mn": "Гэрэл", "en": "Lights"}, {"mn": "Ус", "en": "Water"}])
    page = f"/console/votes/{elsewhere.id}"
    assert admin.post(f"{page}/open", {}, token_from=page).status_code == 302
    assert vote_store.get_round(elsewhere.id).status == "open"


def test_an_open_vote_changes_only_its_last_day_fund_and_next_steps(seeded, console, db):
    admin = console("admin")
    page = f"/console/votes/{seeded.vote.id}"
    form = text_of(admin.get(f"{page}/edit"))
    assert "projects-0-mn" not in form and 'name="closes_on"' in form
    assert admin.post(f"{page}/edit", {"closes_on": "2026-12-05", "fund_amount": "-1"},
                      token_from=page).status_code == 400
    assert admin.post(f"{page}/edit", {"closes_on": "2026-12-05", "fund_amount": "90000000",
                                       "projects-0-mn": "Өөр нэр"}, token_from=page).status_code == 302
    round_ = vote_store.get_round(seeded.vote.id)
    assert (str(round_.closes_on), round_.fund_amount) == ("2026-12-05", 90_000_000)
    assert vote_store.projects_of(round_)[0].name_mn == "Гудамжны гэрэл", "what people were shown stays"
    refused = admin.post(f"{page}/delete", {}, token_from=page, follow_redirects=True)
    assert "Зөвхөн нооргийг устгаж болно." in text_of(refused) and vote_store.get_round(seeded.vote.id)


def test_closing_asks_first_and_texts_the_results_to_voters_who_did_not_opt_out(seeded, console, db):
    opt_out(seeded.contacts[5])
    admin = console("admin")
    page = f"/console/votes/{seeded.vote.id}"
    assert "Дүнгийн SMS татгалзаагүй (ЗОГС гэж бичээгүй) 6 сонгогчид" in text_of(admin.get(page))
    assert console("staff").post(f"{page}/close", {"close-confirm": "y"}, token_from=page).status_code == 403
    unconfirmed = admin.post(f"{page}/close", {}, token_from=page)
    assert unconfirmed.status_code == 400 and "хайрцгийг" not in text_of(unconfirmed) \
        and "нүдийг чагтална уу" in text_of(unconfirmed)
    assert vote_store.get_round(seeded.vote.id).status == "open"
    closed = admin.post(f"{page}/close", {"close-confirm": "y"}, token_from=page, follow_redirects=True)
    assert "Дүнгийн SMS 6 сонгогчид" in text_of(closed)
    assert vote_store.get_round(seeded.vote.id).status == "closed"
    sent = Message.select().where(Message.origin == f"vote:{seeded.vote.id}:results")
    assert sent.count() == 6 and seeded.contacts[5].id not in {m.contact_id for m in sent}
    again = admin.post(f"{page}/close", {"close-confirm": "y"}, token_from=page, follow_redirects=True)
    assert "Зөвхөн нээлттэй санал хураалтыг хааж болно." in text_of(again)
    assert "өөрчлөх боломжгүй" in text_of(admin.get(f"{page}/edit", follow_redirects=True)), "closed is final"
    assert Message.select().where(Message.origin == f"vote:{seeded.vote.id}:results").count() == 6
    assert AuditLog.select().where((AuditLog.action == "vote.close") & (AuditLog.detail == "results_sms_queued=6")
                                   ).exists()


def test_a_draft_can_be_deleted(seeded, console, db):
    page = f"/console/votes/{seeded.draft_vote.id}"
    assert console("admin").post(f"{page}/delete", {}, token_from=page).status_code == 302
    assert vote_store.get_round(seeded.draft_vote.id) is None


def test_the_weekly_digest_page_shows_the_weeks_votes(seeded, console):
    cso = console("cso")
    body = text_of(cso.get("/console/digests/?week=2026-W47"))
    assert "ОНХС-ийн санал хураалт" in body and f"/console/votes/{seeded.vote.id}" in body
    assert '<strong>6</strong> сонгогч' in body and "энэ 7 хоногт 6 шинэ" in body
    assert '<li class="away"><strong>1</strong> бусад нэгжээс' in body, "the Zavkhan voter is counted apart"
    assert "Гудамжны гэрэл" in body
    assert "Энэ 7 хоногт санал хураалт алга." in text_of(cso.get("/console/digests/?week=2026-W40"))
