"""Around the conversations: run expiry, the admin-unit catalog, joining, /healthz, and the CLI commands."""
from __future__ import annotations

import datetime as dt
import json
import re
import threading
from pathlib import Path

import peewee
import pytest
import time_machine
from click.testing import CliRunner

from gateway.cli import cli
from gateway.conversation import admin_catalog
from gateway.scheduler import run_job
from storage import runs
from storage.db import database
from storage.models import AdminUnit, FlowRun
from tests.conversation.conftest import FLOWS_DIR, Person, consented

BROKEN_DIR = FLOWS_DIR.parent / "broken"


def run_statuses(app, person):
    with app.app_context(), database.connection_context():
        return [run.status for run in FlowRun.select().where(FlowRun.contact == person.contact_id)]


def test_a_silent_sms_run_expires_after_its_wait_and_the_next_message_starts_fresh(app):
    import gateway.conversation_jobs  # noqa: F401  (registers the job)

    person = consented(Person(app))
    with time_machine.travel(dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC), tick=False) as clock:
        person.sms("us")
        person.sms("2")
        clock.shift(dt.timedelta(days=2, hours=23))
        assert run_job(app, "conversation.expire")["sms_runs"] == 0
        clock.shift(dt.timedelta(hours=2))
        assert run_job(app, "conversation.expire")["sms_runs"] == 1
        assert run_statuses(app, person) == ["expired"]
        reply = person.sms("3")  # the old question's answer, too late: the help list
        assert "GOMDOL" in reply[0]
    with app.app_context(), database.connection_context():
        run = FlowRun.get(FlowRun.contact == person.contact_id)
        assert run.state["results"]["open_today"]["value"] == "closed"  # partial answers are kept


def test_idle_ussd_runs_expire(app):
    person = consented(Person(app))
    with time_machine.travel(dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC), tick=False) as clock:
        person.dial()
        person.press("2")
        clock.shift(dt.timedelta(minutes=11))
        assert run_job(app, "conversation.expire")["ussd_runs"] == 1
    assert run_statuses(app, person) == ["completed", "expired"]  # the main menu, then the flow it opened


def test_the_catalog_is_cached_and_rebuilt_when_units_change(app, db):
    with time_machine.travel(dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC), tick=False) as clock:
        first = admin_catalog(app)
        assert admin_catalog(app) is first
        assert first.get("BGD-07") is not None
        parent = AdminUnit.get(AdminUnit.code == "BGD")
        AdminUnit.create(code="BGD-99", kind="khoroo", parent=parent, name_mn="Баянгол дүүргийн 99-р хороо",
                         name_latn="Bayangol 99-r khoroo", name_en="Bayangol khoroo 99", valid_from=dt.date(2020, 1, 1))
        AdminUnit.update(valid_to=dt.date(2021, 1, 1)).where(AdminUnit.code == "BGD-01").execute()
        assert admin_catalog(app) is first  # looked at again only after a minute
        clock.shift(dt.timedelta(seconds=61))
        rebuilt = admin_catalog(app)
    assert rebuilt is not first
    assert rebuilt.get("BGD-99") is not None and rebuilt.get("BGD-01") is None


def test_the_join_flow_sets_the_contacts_admin_unit(app):
    person = consented(Person(app))
    person.sms("negdeh")
    person.sms("Баянгол")
    reply = person.sms("7")
    assert reply and person.contact.admin_unit_id is not None
    with app.app_context(), database.connection_context():
        assert AdminUnit.get_by_id(person.contact.admin_unit_id).code == "BGD-07"


def test_a_broken_flow_is_left_out_and_reported_on_healthz(make_app):
    app = make_app(flows={"bundled": False, "paths": [str(BROKEN_DIR)]})
    body = app.test_client().get("/healthz").get_json()
    assert "fine" in body["flows"]["ids"] and "broken" not in body["flows"]["ids"]
    assert body["flows"]["broken"] == [str(BROKEN_DIR / "broken.yaml")]
    assert any("broken.yaml" in warning for warning in app.extensions["gateway.warnings"])
    person = consented(Person(app))
    assert person.sms("fine")[0].startswith("Setgel sanaa?")


def test_flows_check_reports_errors_with_positions_and_fails(tmp_path):
    result = CliRunner().invoke(cli, ["flows", "check", str(BROKEN_DIR)])
    assert result.exit_code == 1
    assert f"{BROKEN_DIR / 'broken.yaml'}:" in result.output and "nowhere" in result.output
    as_json = CliRunner().invoke(cli, ["flows", "check", "--json", str(BROKEN_DIR)])
    report = json.loads(as_json.output)
    assert report["ok"] is False and "fine" in report["flows"] and "broken" not in report["flows"]


def test_flows_check_defaults_to_the_configured_and_bundled_flows(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_FLOWS_PATH", str(FLOWS_DIR))
    result = CliRunner().invoke(cli, ["flows", "check", "--json"])
    assert result.exit_code == 0, result.output
    assert {"pick", "complaint", "water_kiosk_check"} <= set(json.loads(result.output)["flows"])


def test_flows_list_shows_each_flow_and_the_broken_files(monkeypatch):
    monkeypatch.setenv("GATEWAY_FLOWS_PATH", str(BROKEN_DIR))
    result = CliRunner().invoke(cli, ["flows", "list"])
    assert result.exit_code == 0
    assert "complaint" in result.output and "gomdol" in result.output and "fine" in result.output
    assert "BROKEN (left out)" in result.output and "broken.yaml" in result.output


def test_simulate_sms_script_prints_the_transcript(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "talk.txt"
    script.write_text("us\n2\n3\n4\nZOGS\nus\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "--channel", "sms", "--script", str(script)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "> us" and lines[1].startswith("< Tavtai moril!")
    assert "(GSM-7," in lines[2] and "1 SMS)" in lines[2]
    assert "< Bayarlalaa! Tanii unelgee: 4" in lines or any(line.startswith("< ") and line.endswith(": 4")
                                                            for line in lines)
    assert lines[-2:] == ["> us", "  (no reply)"]  # after ZOGS nothing is sent


def test_simulate_ussd_script_in_english(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "dial.txt"
    script.write_text("1\n5\n1\n5\n2\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "--channel", "ussd", "--lang", "en", "--script", str(script)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "> (dial *1411#)" and lines[-1].startswith("  (CON, GSM-7,")
    assert "< Was the water kiosk open today?" in lines
    assert "< Thank you! Your rating: 5" in lines
    assert any(line.startswith("  (END, GSM-7,") for line in lines)
    again = lines.index("  (session ended: dialling *1411# again)")
    # the new session's first screen is shown before the input typed after the END is applied to it
    assert lines[again - 1] == "> 2" and lines[again + 1] == "< Choose:"
    assert lines.index("< What is your complaint about?") > lines.index("< 2. Complaint", again)


def test_simulate_shows_replies_the_loop_guard_holds_back_as_not_sent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "talk.txt"
    script.write_text("hello\nhello again\nhello 3\nhello 4\nhello 5\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "--channel", "sms", "--script", str(script)])
    assert result.exit_code == 0, result.output
    held = [line for line in result.output.splitlines() if line.startswith("  (not sent: loop guard")]
    assert len(held) == 2  # the same help text a 4th and 5th time within 5 minutes
    assert result.output.count("  (no reply)") == 2


def test_only_one_active_sms_run_per_contact_even_without_the_interrupt(app, db):
    person = consented(Person(app))
    person.sms("us")
    with pytest.raises(peewee.IntegrityError), database.atomic():
        runs.insert_run(person.contact_id, "complaint", 1, "sms", None, {}, "active", None)


def doc_transcripts() -> list[tuple[str, list[str], str]]:
    """(inputs, simulate arguments, expected transcript) for each example in docs/conversations.md."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "conversations.md").read_text(encoding="utf-8")
    examples = re.findall(r"\$ printf '(.*?)' > \S+\n\$ gateway (simulate [^\n]*)\n(.*?)```", text, re.S)
    return [(inputs.replace("\\n", "\n"), command.split()[:-2], expected) for inputs, command, expected in examples]


@pytest.mark.parametrize(("inputs", "args", "expected"), doc_transcripts())
def test_the_transcripts_in_the_docs_are_what_the_simulator_prints(tmp_path, monkeypatch, inputs, args, expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "input.txt").write_text(inputs, encoding="utf-8")
    result = CliRunner().invoke(cli, [*args, "--script", "input.txt"])
    assert result.exit_code == 0, result.output
    assert result.output == expected



def concurrently(app, person, texts):
    """Send `texts` from one person at the same moment, each from its own thread and connection (no webhook
    lock in front, so only the conversation layer's own guards keep the state consistent)."""
    barrier, replies, errors = threading.Barrier(len(texts)), {}, []

    def send(text):
        try:
            barrier.wait()
            replies[text] = person.sms(text)
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(text,)) for text in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return replies


def test_two_starts_at_once_leave_one_active_run(app):
    person = consented(Person(app))
    replies = concurrently(app, person, ["us", "gomdol"])
    assert all(replies.values())
    assert run_statuses(app, person).count("active") == 1


def test_two_answers_at_once_are_both_applied_in_turn(app):
    person = consented(Person(app))
    person.sms("us")
    concurrently(app, person, ["2", "3"])
    with app.app_context(), database.connection_context():
        run = FlowRun.get(FlowRun.contact == person.contact_id)
    # "2" (closed) always counts; "3" either came first (rejected: a menu question) or answered the hours
    results = run.state["results"]
    assert results["open_today"]["value"] == "closed"
    assert (run.state["step"], results.get("hours_closed", {}).get("value")) in (("rating", 3), ("hours_closed", None))
