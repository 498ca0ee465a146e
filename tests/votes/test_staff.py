"""Staff side: the CLI and the API (roles, bad input), closing with the results SMS, fairness flags, the digest."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import time_machine
from click.testing import CliRunner

from gateway import votes as gateway_votes
from gateway.cli import cli
from gateway.scheduler import run_job
from storage import votes
from storage.contacts import opt_out
from storage.db import database
from storage.models import AuditLog, Contact, Message
from tests.conftest import TEST_SECRET
from tests.votes.conftest import bearer, cast, new_vote, person

# Wednesday 2026-11-18 11:00 in Ulaanbaatar (03:00 UTC): inside week 2026-W47, outside quiet hours.
WEDNESDAY = dt.datetime(2026, 11, 18, 3, 0)


@pytest.fixture
def run(app, database_url, tmp_path, monkeypatch):
    """`gateway …` against the test database (the app fixture has migrated it)."""
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str):
        result = CliRunner().invoke(cli, list(args))
        if not database.is_closed():
            database.close()
        return result
    return invoke


def results_sms(app, vote_id: int) -> dict[int, str]:
    with app.app_context(), database.connection_context():
        return {m.contact_id: m.text for m in Message.select().where(Message.origin == f"vote:{vote_id}:results")}


def test_cli_create_open_close_show_results(app, run, tmp_path):
    (tmp_path / "projects.yaml").write_text(
        "projects:\n"
        "  - {mn: Гудамжны гэрэл, en: Street lights, description: {mn: 10 шон, en: 10 lamp posts}}\n"
        "  - {mn: Усны цэг, en: Water kiosk}\n"
        "  - {mn: Цэцэрлэгийн хашаа, en: Kindergarten fence, latn: Tsetserlegiin hashaa}\n", encoding="utf-8")
    with time_machine.travel(WEDNESDAY, tick=False):
        created = run("votes", "create", "--unit", "BGD-07", "--projects", str(tmp_path / "projects.yaml"),
                      "--max-choices", "2", "--fund", "150000000", "--closes-on", "2026-11-30",
                      "--next-steps-mn", "12/5-нд ИНХ-аар батална.", "--next-steps-en", "The meeting on 5 Dec decides.")
        assert created.exit_code == 0, created.output
        assert created.output == "created vote 1: BGD-07, 3 projects, up to 2 choice(s), draft\n"
        assert run("votes", "open", "1").output == "vote 1 is open\n"
        listed = run("votes", "show").output
        assert "BGD-07" in listed and "open" in listed and "2026-11-30" in listed
        shown = json.loads(run("votes", "show", "1").output)
        assert shown["fund_amount"] == 150_000_000 and shown["projects"][0]["description"]["en"] == "10 lamp posts"
        assert shown["opened_at"] == "2026-11-18T11:00+08:00"
        voter = person(app, "+97699110501")
        cast(app, 1, voter, 2, 3)
        text = run("votes", "results", "1").output
        assert "Voters 1 " in text and "   1      1   100%  2. Усны цэг / Water kiosk" in text
        assert "Fairness checks: 0 flag(s) over 1 votes cast" in text
        rows = list(csv.DictReader(io.StringIO(run("votes", "results", "1", "--format", "csv").output)))
        assert [(r["project"], r["group"], r["votes"]) for r in rows if r["group"] != "unspecified"] == [
            ("1", "all", "0"), ("1", "out_of_area", "0"), ("2", "all", "1"), ("2", "out_of_area", "0"),
            ("3", "all", "1"), ("3", "out_of_area", "0")]
        closed = run("votes", "close", "1")
        assert closed.output == "vote 1 is closed; results SMS queued for 1 voter(s)\n"
        assert run("votes", "close", "1").exit_code == 1  # closed is final
    assert results_sms(app, 1) == {voter: "ONHS sanal huraaltiin dun, 7-r horoo: 1) Usnii tseg 1; 1) Tsetserlegiin "
                                          "hashaa 1; 3) Gudamjnii gerel 0. Daraa ni: 12/5-nd INH-aar batalna."}
    with app.app_context(), database.connection_context():
        assert AuditLog.select().where(AuditLog.action == "vote.results").count() == 2


def test_cli_explains_bad_input(app, run, tmp_path):
    (tmp_path / "one.csv").write_text("mn,en\nГэрэл,Lights\n", encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("projects: [\n", encoding="utf-8")
    assert "2 to 12 projects" in run("votes", "create", "--unit", "BGD-07", "--projects",
                                      str(tmp_path / "one.csv")).output
    assert "not valid YAML" in run("votes", "create", "--unit", "BGD-07", "--projects",
                                   str(tmp_path / "bad.yaml")).output
    assert "no admin unit" in run("votes", "create", "--unit", "XX-99", "--projects", str(tmp_path / "one.csv")).output
    assert "no vote 7" in run("votes", "open", "7").output


def test_results_sms_goes_only_to_voters_who_can_be_reached_in_their_language(app):
    vote_id = new_vote(app)
    latin, cyrillic, english, stopped, never = (
        person(app, "+97699110601"), person(app, "+97699110602"), person(app, "+97699110603", language="en"),
        person(app, "+97699110604"), person(app, "+97699110605", consented=False))
    with app.app_context(), database.connection_context():
        Contact.update(script="cyrl").where(Contact.id == cyrillic).execute()
    for n, who in enumerate((latin, cyrillic, english, stopped, never)):
        cast(app, vote_id, who, 1 + n % 2)
    with app.app_context(), database.connection_context():
        opt_out(Contact.get_by_id(stopped))
        assert gateway_votes.close(app, votes.get_round(vote_id)) == 3
    sent = results_sms(app, vote_id)
    assert set(sent) == {latin, cyrillic, english}
    assert sent[cyrillic] == ("ОНХС санал хураалтын дүн, 7-р хороо: 1) Гудамжны гэрэл 3; 2) Усны цэг 2 +2 бусад. "
                              "Дараа нь: ИНХ-аар хэлэлцэж батална.")  # two UCS-2 segments: the rest are counted
    assert sent[english].startswith("Local Development Fund vote, khoroo 7: 1) Street lights 3; 2) Water "
                                    "kiosk 2;")
    assert sent[latin].endswith("Daraa ni: INH-aar heleltsej batalna.")
    assert sent[english].endswith("Next: The Citizens' General Meeting will approve the list.")
    with app.app_context(), database.connection_context():
        assert {(m.purpose, m.status) for m in Message.select().where(Message.origin.startswith("vote:"))} == {
            ("notice", "queued")}
        assert gateway_votes.send_results(app, votes.get_round(vote_id)) == 0  # sending again queues nobody twice


def test_results_sms_fits_two_segments_with_twelve_long_projects(app):
    from flows.text import sms_size

    projects = [{"mn": f"Хүүхдийн тоглоомын талбай, {n}-р гудамж", "en": f"Children's playground, street {n}"}
                for n in range(1, 13)]
    vote_id = new_vote(app, projects=projects)
    with app.app_context(), database.connection_context():
        round_ = votes.get_round(vote_id)
        texts = gateway_votes.results_texts(round_, votes.tally(round_))
    for variant, text in texts.items():
        assert sms_size(text).segments <= 2, variant
        assert "+" in text and ("Дараа нь:" in text or "Daraa ni:" in text or "Next:" in text)


def test_votes_close_on_schedule_after_their_last_local_day(app):
    vote_id = new_vote(app, closes_on=dt.date(2026, 11, 30))
    cast(app, vote_id, person(app, "+97699110701"), 1)
    with time_machine.travel(dt.datetime(2026, 11, 30, 15, 59), tick=False):  # 23:59 on the 30th in UB
        assert run_job(app, "votes.close_due") == 0
    with time_machine.travel(dt.datetime(2026, 11, 30, 16, 1), tick=False):  # 00:01 on 1 December
        assert run_job(app, "votes.close_due") == 1
        assert run_job(app, "votes.close_due") == 0
    with app.app_context(), database.connection_context():
        assert votes.get_round(vote_id).status == "closed"
        [message] = Message.select().where(Message.origin == f"vote:{vote_id}:results")
        assert message.next_attempt_at == dt.datetime(2026, 12, 1, 1, 0)  # quiet hours end 09:00 local


def test_fairness_flags_a_jump_and_new_numbers_but_counts_every_vote(app):
    vote_id = new_vote(app)
    numbers = iter(range(1000))
    start = WEDNESDAY
    for minutes in range(0, 600, 10):  # ten quiet hours: 2 votes for project 1 every ten minutes
        for _ in range(2):
            cast(app, vote_id, person(app, f"+9769912{next(numbers):04}"), 1, at=start + dt.timedelta(minutes=minutes))
    burst = start + dt.timedelta(hours=10, minutes=3)
    for k in range(25):  # then 25 new numbers vote for project 3 within five minutes
        cast(app, vote_id, person(app, f"+9769912{next(numbers):04}"), 3, new_contact=True,
             at=burst + dt.timedelta(seconds=12 * k))
    with app.app_context(), database.connection_context():
        report = gateway_votes.fairness(app, votes.get_round(vote_id))
        result = votes.tally(votes.get_round(vote_id))
    assert {p["number"]: p["votes"] for p in result["projects"]} == {1: 120, 2: 0, 3: 25, 4: 0}
    assert report["casts"] == 145 and report["hourly"][0] == {"from": "2026-11-18T11:00+08:00", "votes": 12,
                                                              "from_new_numbers": 0}
    kinds = {(flag["kind"], flag["from"]) for flag in report["flags"]}
    assert kinds == {("project_jump", "2026-11-18T21:00+08:00"), ("new_numbers", "2026-11-18T21:00+08:00")}
    jump = next(flag for flag in report["flags"] if flag["kind"] == "project_jump")
    assert (jump["project"], jump["votes"], jump["usual_per_window"]) == (3, 25, 0.0)


def test_api_roles_bad_input_and_the_whole_round(app):
    client = app.test_client()
    admin, staff, cso = bearer(app, "admin"), bearer(app, "staff"), bearer(app, "cso", "CSO Khoroo 7")
    body = {"admin_unit": "BGD-07", "projects": [{"mn": "Гэрэл", "en": "Lights"}, {"mn": "Ус", "en": "Water"}],
            "closes_on": "2026-11-30", "max_choices": 1,
            "next_steps": {"mn": "ИНХ батална.", "en": "The meeting decides."}}
    assert client.post("/api/v1/votes", json=body, headers=staff).status_code == 403
    for bad, detail in (({**body, "admin_unit": None}, "admin_unit"), ({**body, "admin_unit": "NOPE"}, "NOPE"),
                        ({**body, "projects": "x"}, "projects"), ({**body, "closes_on": "30/11"}, "closes_on"),
                        ({**body, "max_choices": "2"}, "max_choices"), ({**body, "next_steps": "x"}, "next_steps"),
                        ({**body, "projects": [{"mn": "A", "en": "A"}]}, "at least 2")):
        response = client.post("/api/v1/votes", json=bad, headers=admin)
        assert response.status_code == 400 and detail in response.json["detail"], bad
    assert client.post("/api/v1/votes", data="[]", headers=admin).status_code == 400
    created = client.post("/api/v1/votes", json=body, headers=admin)
    assert created.status_code == 201 and created.json["status"] == "draft"
    vote_id = created.json["id"]
    assert client.patch(f"/api/v1/votes/{vote_id}", json={"max_choices": 2}, headers=admin).json["max_choices"] == 2
    assert client.post(f"/api/v1/votes/{vote_id}/open", headers=admin).json["status"] == "open"
    assert client.patch(f"/api/v1/votes/{vote_id}", json={"max_choices": 1}, headers=admin).status_code == 400
    assert client.delete(f"/api/v1/votes/{vote_id}", headers=admin).status_code == 400
    cast(app, vote_id, person(app, "+97699110801"), 2)
    assert [v["id"] for v in client.get("/api/v1/votes?status=open", headers=cso).json["votes"]] == [vote_id]
    assert client.get("/api/v1/votes?status=maybe", headers=cso).status_code == 400
    result = client.get(f"/api/v1/votes/{vote_id}/results", headers=cso).json
    assert [p["votes"] for p in result["projects"]] == [0, 1] and "fairness" not in result
    assert client.get(f"/api/v1/votes/{vote_id}/fairness", headers=cso).status_code == 403
    assert client.get(f"/api/v1/votes/{vote_id}/fairness", headers=staff).json["casts"] == 1
    csv_text = client.get(f"/api/v1/votes/{vote_id}/results.csv", headers=cso).get_data(as_text=True)
    assert csv_text.startswith("vote,admin_unit,status,project,project_mn,project_en,group,votes,rank,share\r\n")
    closed = client.post(f"/api/v1/votes/{vote_id}/close", headers=admin).json
    assert closed["status"] == "closed" and closed["results_sms_queued"] == 1
    assert client.post(f"/api/v1/votes/{vote_id}/close", headers=admin).status_code == 400
    assert client.get("/api/v1/votes/999", headers=cso).status_code == 404
    elsewhere, other_admin = bearer(app, "cso", scope="BGD-08"), bearer(app, "admin", scope="BGD-08")
    assert client.get("/api/v1/votes", headers=elsewhere).json["votes"] == []
    for path in ("", "/results", "/results.csv"):
        assert client.get(f"/api/v1/votes/{vote_id}{path}", headers=elsewhere).status_code == 404
    assert client.get(f"/api/v1/votes/{vote_id}", headers=bearer(app, "cso", scope="BGD")).status_code == 200
    assert client.post("/api/v1/votes", json=body, headers=other_admin).status_code == 403
    with app.app_context(), database.connection_context():
        assert [(a.action, a.target) for a in AuditLog.select().order_by(AuditLog.id)] == [
            ("vote.results", f"vote:{vote_id}.json"), ("vote.results", f"vote:{vote_id}.csv")]


def test_weekly_digest_lists_the_vote_in_json_csv_and_html(app):
    with time_machine.travel(WEDNESDAY, tick=False):
        vote_id = new_vote(app, fund_amount=150_000_000)
        for n in range(6):
            cast(app, vote_id, person(app, f"+9769911090{n}"), 1 + n % 2, group="women")
        cast(app, vote_id, person(app, "+97699110910", unit="BGD-08"), 4, out_of_area=True)
    client, cso = app.test_client(), bearer(app, "cso")
    data = client.get("/api/v1/digests/2026-W47", headers=cso).json
    [section] = data["votes"]
    assert section["admin_unit"]["code"] == "BGD-07" and section["vote"]["fund_amount"] == 150_000_000
    assert section["turnout"]["voters"] == 6 and section["turnout"]["new_this_week"] == 6
    assert [(p["votes"], p["rank"], p["out_of_area_votes"]) for p in section["projects"]] == [
        (3, 1, 0), (3, 1, 0), (0, 3, 0), (0, 3, 1)]
    women = section["by_group"]["women"]  # 3 and 3 next to an exact total: the whole split is hidden, and says why
    assert women["suppressed"] and women["voters"] == "hidden" and "another cell" in women["hidden_why"]["en"]
    assert client.get("/api/v1/digests/2026-W46", headers=cso).json["votes"] == []
    assert client.get("/api/v1/digests/2026-W47?unit=BGD-08", headers=cso).json["votes"] == []
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/digests/2026-W47.csv", headers=cso)
                                           .get_data(as_text=True))))
    votes_rows = [(r["project"], r["group"], r["n"], r["rank"]) for r in rows if r["section"] == "vote"]
    assert votes_rows[:3] == [("1", "all", "3", "1"), ("1", "women", "hidden", ""), ("1", "out_of_area", "0", "")]
    page = client.get("/api/v1/digests/2026-W47.html", headers=cso).get_data(as_text=True)
    assert "Local Development Fund votes" in page and "150,000,000 ₮" in page and "Гудамжны гэрэл" in page
    assert page.count("data:image/png;base64,") == 1  # the vote chart (no scorecard this week)
