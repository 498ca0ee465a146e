"""The commands (rounds, complaints, digest, export, tokens) and the Monday digest job."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import time_machine
from click.testing import CliRunner

from gateway.cli import cli
from gateway.clock import parse_week
from gateway.digests import render_sms
from gateway.scheduler import run_job
from storage import complaints, digests
from storage.contacts import contact_for_number, opt_in, opt_out
from storage.db import database
from storage.models import ApiToken, AuditLog, Message
from tests.conftest import TEST_SECRET
from tests.scorecards.test_digest import THIS_WEEK, score


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


def test_rounds_from_yaml_and_csv_open_close_show(app, run, tmp_path):
    (tmp_path / "ind.yaml").write_text(
        "indicators:\n  - {code: a, mn: 'Багш эелдэг үү?', en: 'Teachers courteous?', provider_score: 4}\n"
        "  - {code: B, mn: 'Хоол', en: 'Food', latn: 'Hool'}\n", encoding="utf-8")
    created = run("rounds", "create", "--service-point", "KG16", "--unit", "BKhD-01", "--kind", "kindergarten",
                  "--name-mn", "16-р цэцэрлэг", "--name-en", "Kindergarten 16", "--indicators",
                  str(tmp_path / "ind.yaml"), "--meeting-at", "2026-12-01T18:00", "--meeting-place-mn", "Хороо")
    assert created.exit_code == 0, created.output
    assert "created round 1: KG16 round 1 (2 indicators, draft)" in created.output
    (tmp_path / "ind.csv").write_text("code,mn,en,latn,provider_score\nA,Багш,Teachers,,3.5\nC,Ус,Water,Us,\n",
                                      encoding="utf-8")
    second = run("rounds", "create", "--service-point", "KG16", "--indicators", str(tmp_path / "ind.csv"))
    assert "created round 2: KG16 round 2" in second.output
    assert run("rounds", "open", "1").output.strip() == "round 1 is open"
    assert run("rounds", "close", "1").output.strip() == "round 1 is closed"
    bad = run("rounds", "close", "2")
    assert bad.exit_code != 0 and "draft; it cannot become closed" in bad.output
    shown = json.loads(run("rounds", "show", "2").output)
    assert shown["previous_round"] == 1 and [i["code"] for i in shown["indicators"]] == ["A", "C"]
    assert shown["indicators"][0]["provider_score"] == 3.5 and shown["indicators"][1]["latn"] == "Us"
    assert run("rounds", "action", "1", "--action", "Staff training", "--owner-role", "head teacher",
               "--owner-org", "KG16", "--due-on", "2026-12-15", "--indicator", "A").output.strip() \
        == "action item 1 due 2026-12-15"
    assert run("rounds", "action-status", "1", "in_progress", "--note", "booked").exit_code == 0
    first = json.loads(run("rounds", "show", "1").output)
    assert first["action_items"] == [{"id": 1, "action": "Staff training", "owner_role": "head teacher",
                                      "owner_org": "KG16", "due_on": "2026-12-15", "status": "in_progress"}]
    assert first["meeting"]["at"] == "2026-12-01T10:00:00"  # 18:00 in Ulaanbaatar, stored as UTC
    (tmp_path / "broken.csv").write_text("code,mn\nA,Багш\n", encoding="utf-8")
    broken = run("rounds", "create", "--service-point", "KG16", "--indicators", str(tmp_path / "broken.csv"))
    assert broken.exit_code != 0 and "indicator 1 is missing en" in broken.output
    unknown = run("rounds", "create", "--service-point", "NOPE", "--indicators", str(tmp_path / "ind.csv"))
    assert unknown.exit_code != 0 and "no service point 'NOPE'" in unknown.output


def test_complaints_commands_never_print_a_number(app, run):
    with app.app_context(), database.connection_context():
        contact, _ = contact_for_number("+97699112233", TEST_SECRET)
        complaints.create_complaint(category="waste", text="Хог ачаагүй 99112233", contact=contact,
                                    anonymous=False, due_days=30)
    listed = run("complaints", "list")
    assert "G-0001  new      waste" in listed.output
    assert run("complaints", "set-status", "g-ooo1", "routed", "--note", "хороонд").exit_code == 0
    shown = run("complaints", "show", "G-0001").output
    assert json.loads(shown)["status"] == "routed"
    assert "99112233" not in listed.output + shown and "[утас]" in shown
    refused = run("complaints", "set-status", "G-0001", "routed")
    assert refused.exit_code != 0 and "cannot become routed" in refused.output


@pytest.mark.parametrize("fmt", ["json", "csv", "html", "sms"])
def test_digest_command_writes_each_format(app, run, tmp_path, fmt):
    with time_machine.travel(THIS_WEEK, tick=False):
        from tests.scorecards.conftest import new_round
        round_id = new_round(app)
        for n in range(5):
            score(app, f"p{n}", round_id, "women", A=2, B=4)
    out = tmp_path / f"digest.{fmt}"
    result = run("digest", "--week", "2026-W47", "--format", fmt, "--unit", "BKhD", "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        assert json.loads(text)["scorecards"][0]["indicators"][0]["overall"]["mean_pooled"] == 2.0
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [(r["indicator"], r["group"], r["n"], r["mean"]) for r in rows] == [
            ("A", "women", "5", "2.0"), ("A", "all", "5", "2.0"), ("B", "women", "5", "4.0"), ("B", "all", "5", "4.0")]
    elif fmt == "html":
        assert text.startswith("<!doctype html>") and "data:image/png;base64," in text
    else:
        assert "Heleltseh: KG16 A 2.0." in text
    with app.app_context(), database.connection_context():
        assert AuditLog.get(AuditLog.action == "digest.read").target == f"2026-W47.{fmt} unit=BKhD"
    assert run("digest", "--week", "nonsense").exit_code != 0


def test_export_command_streams_csv(app, run, tmp_path):
    with time_machine.travel(THIS_WEEK, tick=False):
        from tests.scorecards.conftest import new_round
        round_id = new_round(app)
        for n in range(6):
            score(app, f"p{n}", round_id, "men", A=n % 5 + 1)
    result = run("export", "round", str(round_id), "--to", "2026-11-18", "--out", str(tmp_path / "a.csv"))
    assert result.exit_code == 0
    cells = list(csv.DictReader(io.StringIO((tmp_path / "a.csv").read_text(encoding="utf-8"))))
    assert [(r["indicator"], r["group"], r["n"], r["mean"]) for r in cells] == [
        ("A", "men", "5", "3.0"), ("A", "all", "5", "3.0"), ("B", "all", "0", "")]
    assert run("export", "round", str(round_id), "--from", "2026-11-18").exit_code != 0  # counts are cumulative
    result = run("export", "round", str(round_id), "--responses", "--from", "2026-11-18", "--to", "2026-11-18",
                 "--out", str(tmp_path / "r.csv"))
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text(encoding="utf-8"))))
    assert [r["score"] for r in rows] == ["1", "2", "3", "4", "5", "1"]
    assert rows[0]["scored_on"] == "2026-11-18"  # 12:00 local
    with app.app_context(), database.connection_context():
        assert [a.action for a in AuditLog.select().order_by(AuditLog.id)] == ["export.round", "export.rows"]


def test_tokens_create_list_revoke(app, run):
    assert run("tokens", "create", "--role", "cso", "--name", "CSO Khoroo 7").exit_code != 0  # no scope
    assert run("tokens", "create", "--role", "cso", "--name", "x", "--scope", "national").exit_code != 0
    created = run("tokens", "create", "--role", "cso", "--name", "CSO Khoroo 7", "--scope", "BGD-07")
    plain = created.stdout.strip().splitlines()[-1]
    assert plain.startswith("gw_") and len(plain) > 30
    client = app.test_client()
    assert client.get("/api/v1/digests/2026-W47", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    listed = run("tokens", "list").output
    assert "cso    CSO Khoroo 7" in listed and plain not in listed and "never" not in listed
    with app.app_context(), database.connection_context():
        token_id = ApiToken.get(ApiToken.name == "CSO Khoroo 7").id
    assert run("tokens", "revoke", str(token_id)).exit_code == 0
    assert client.get("/api/v1/digests/2026-W47", headers={"Authorization": f"Bearer {plain}"}).status_code == 401
    assert run("tokens", "revoke", str(token_id)).exit_code != 0
    assert run("tokens", "create", "--role", "root", "--name", "x").exit_code != 0


def test_monday_job_texts_subscribers_once(app):
    spec = app.extensions["gateway.jobs"]["digests.weekly"]
    assert (spec.trigger, spec.trigger_args) == ("cron", {"day_of_week": "mon", "hour": 8, "minute": 0})
    with time_machine.travel(THIS_WEEK, tick=False):
        from tests.scorecards.conftest import new_round
        round_id = new_round(app)
        for n in range(5):
            score(app, f"p{n}", round_id, "youth", A=1, B=5)
    with app.app_context(), database.connection_context():
        focal, _ = contact_for_number("+97699001122", TEST_SECRET)
        opt_in(focal, "2026-11", "import")
        english, _ = contact_for_number("+97699001133", TEST_SECRET)
        opt_in(english, "2026-11", "import")
        english.language = "en"
        english.save()
        gone, _ = contact_for_number("+97699001144", TEST_SECRET)
        for contact, label in ((focal, "CSO A"), (english, "CSO B"), (gone, "CSO C")):
            digests.subscribe(contact, label)
        opt_out(gone)
    monday_8am = dt.datetime(2026, 11, 23, 0, 0)  # 08:00 in Ulaanbaatar
    with time_machine.travel(monday_8am, tick=False):
        assert run_job(app, "digests.weekly") == 2
        assert run_job(app, "digests.weekly") == 0  # already sent this week
    with app.app_context(), database.connection_context():
        sent = {m.contact_id: m for m in Message.select().where(Message.purpose == "digest")}
        assert set(sent) == {focal.id, english.id}
        assert sent[english.id].text.startswith("Digest 2026-W47: 1 scorecards, 5 respondents. Agenda: KG16 A 1.0.")
        assert sent[focal.id].segments <= 2 and sent[focal.id].origin == "digest:2026-W47"
        week = parse_week("2026-W47", "Asia/Ulaanbaatar")
        from gateway.digests import build
        assert sent[focal.id].text == render_sms(build(app, week), "mn")
        assert digests.DigestSend.select().count() == 2
