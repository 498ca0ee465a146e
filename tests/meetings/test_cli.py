"""The commands staff use: contacts import, broadcast (preview, dry run, queue), meetings add/list/show/move/cancel."""
from __future__ import annotations

import pytest
import time_machine
from click.testing import CliRunner

from gateway.cli import cli
from storage import meetings as store
from storage.contacts import opt_out
from storage.models import Contact, Message
from tests.conftest import TEST_SECRET
from tests.meetings.helpers import at_local

NOON = at_local(2026, 11, 23, 12, 0)


@pytest.fixture
def run(database_url, tmp_path, monkeypatch, khoroo):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, input: str | None = None):
        result = CliRunner().invoke(cli, list(args), input=input)
        return result
    return invoke


def test_contacts_import_normalises_dedupes_records_consent_and_reports_lines(run, tmp_path, khoroo):
    opt_out(khoroo[0])
    from storage.contacts import number_of
    stopped = number_of(khoroo[0])
    (tmp_path / "list.csv").write_text(
        "phone,language,unit,consent\n"
        "9911 2233,mn,BGD-07,yes\n"          # line 2: new
        "+976-9911-2233,mn,BGD-07,yes\n"     # line 3: the same number written differently
        "12345,mn,BGD-07,yes\n"              # line 4: not a number
        "88112233,xx,BGD-07,yes\n"           # line 5: bad language
        "88112234,en,NOPE,yes\n"             # line 6: unknown unit
        "88112235,en,BGD-07,no\n"            # line 7: no consent
        f"{stopped},mn,BGD-07,yes\n"         # line 8: said STOP before: left alone
        "95112233,en,,yes\n",                # line 9: new, no unit
        encoding="utf-8")
    result = run("contacts", "import", str(tmp_path / "list.csv"), "--group", "cso-list")
    assert result.exit_code == 0, result.output
    assert "8 rows: 2 new, 0 already known (updated), 1 had opted out (left alone), 5 rejected" in result.output
    for expected in ("line 3: duplicate of line 2", "line 4: not a", "line 5: language must be mn or en",
                     "line 6: unknown admin unit code 'NOPE'", "line 7: no consent recorded"):
        assert expected in result.output
    assert "2233" not in result.output.replace("+976****2233", "")  # numbers only ever masked
    imported = Contact.select().where(Contact.consent_source == "import")
    assert imported.count() == 2 and {c.consent_version for c in imported} == {"2026-11"}
    assert Contact.get_by_id(khoroo[0].id).opted_out_at is not None
    assert store.reachable_audience(["group:cso-list"]).count() == 2


def test_broadcast_dry_run_previews_and_queues_nothing(run, tmp_path):
    (tmp_path / "mn.txt").write_text("Маргааш 10:00-аас ус тасарна.", encoding="utf-8")
    with time_machine.travel(NOON, tick=False):
        result = run("broadcast", "--to", "khoroo:BGD-07", "--text-file", str(tmp_path / "mn.txt"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "recipients: 6" in result.output and "UCS-2" in result.output and "GSM-7" in result.output
    assert "cost as planned:" in result.output and "cost all-Latin:" in result.output
    assert "dry run: nothing was queued" in result.output
    assert Message.select().count() == 0


def test_broadcast_queues_with_a_summary(run, tmp_path):
    (tmp_path / "mn.txt").write_text("Маргааш 10:00-аас ус тасарна.", encoding="utf-8")
    with time_machine.travel(NOON, tick=False):
        result = run("broadcast", "--to", "khoroo:BGD-07", "--text-file", str(tmp_path / "mn.txt"), "--latin",
                     "--yes")
    assert result.exit_code == 0, result.output
    assert "queuing broadcast" in result.output and "queued, 6 recipients (queued 6)" in result.output
    assert Message.select().where(Message.status == "queued").count() == 6


@pytest.mark.parametrize("args, error", [
    (["--to", "khoroo:XX-99"], "unknown khoroo: XX-99"),
    (["--to", "khoroo:BGD-07", "--at", "2020-01-01 10:00"], "is in the past"),
    (["--to", "khoroo:BGD-07", "--at", "tomorrow"], "not a time"),
])
def test_broadcast_bad_input_is_one_clear_error(run, tmp_path, args, error):
    (tmp_path / "mn.txt").write_text("Мэдэгдэл", encoding="utf-8")
    result = run("broadcast", "--text-file", str(tmp_path / "mn.txt"), "--yes", *args)
    assert result.exit_code == 1 and error in result.output
    assert "Traceback" not in result.output and Message.select().count() == 0


def test_meetings_add_show_move_cancel_list(run):
    with time_machine.travel(NOON, tick=False):
        preview = run("meetings", "add", "--title-mn", "ИНХ", "--place-mn", "хорооны байр", "--at",
                      "2026-11-26 18:00", "--to", "khoroo:BGD-07", "--dry-run")
        assert preview.exit_code == 0 and "11/26 (Пүрэв) 18:00" in preview.output and "recipients: 6" in preview.output
        assert store.Meeting.select().count() == 0 and Message.select().count() == 0
        added = run("meetings", "add", "--title-mn", "ИНХ", "--title-en", "General meeting", "--place-mn",
                    "хорооны байр", "--at", "2026-11-26 18:00", "--to", "khoroo:BGD-07")
        assert added.exit_code == 0, added.output
        assert "starts 2026-11-26T18:00:00+08:00 at хорооны байр" in added.output
        assert "notice" in added.output and added.output.count("reminder") == 2
        meeting_id = store.Meeting.get().id
        assert "ИНХ" in run("meetings", "list").output
        moved = run("meetings", "move", str(meeting_id), "--at", "2026-11-27 18:00")
        assert moved.exit_code == 0 and "correction" in moved.output
        cancelled = run("meetings", "cancel", str(meeting_id))
        assert cancelled.exit_code == 0 and "cancellation" in cancelled.output
        assert run("meetings", "list").output.strip() == ""
        shown = run("meetings", "show", str(meeting_id))
        assert "cancelled" in shown.output and "tally: yes 0, no 0" in shown.output
        missing = run("meetings", "add", "--title-mn", "ИНХ", "--at", "2026-11-26 18:00", "--to", "khoroo:BGD-07")
    assert missing.exit_code == 1 and "a meeting needs a place" in missing.output
    assert run("meetings", "show", "999").exit_code == 1


def test_broadcasts_list_and_show_follow_progress(run, tmp_path):
    (tmp_path / "mn.txt").write_text("Мэдэгдэл", encoding="utf-8")
    with time_machine.travel(NOON, tick=False):
        sent = run("broadcast", "--to", "khoroo:BGD-07", "--text-file", str(tmp_path / "mn.txt"), "--yes")
    assert sent.exit_code == 0, sent.output
    broadcast = store.Broadcast.get()
    rows = list(Message.select().where(Message.origin == broadcast.origin).order_by(Message.id))
    Message.update(status="delivered").where(Message.id.in_([r.id for r in rows[:4]])).execute()
    Message.update(status="failed").where(Message.id.in_([r.id for r in rows[4:]])).execute()
    listed = run("broadcasts", "list")
    assert f"{broadcast.id:>5}" in listed.output and "khoroo:BGD-07" in listed.output
    shown = run("broadcasts", "show", str(broadcast.id), "--wait")  # everything is final: returns at once
    assert shown.exit_code == 0 and "(delivered 4, failed 2)" in shown.output
    assert run("broadcasts", "show", "999").exit_code == 1
