"""The privacy test: known numbers and known sensitive texts go in through the real webhooks; then every flow, job,
export, digest format, API route for each role, CLI command and log line is searched for them. Nothing is found.

The only places a restricted text may appear are the restricted queue read by those entitled to it (audited), and
the person's own copy of their data; even there no number appears.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import logging

import pytest
import time_machine
from click.testing import CliRunner

from gateway.cli import cli
from gateway.digests import current_week
from gateway.scheduler import run_job
from gateway.simulate import InProcessTransport, Phone
from storage import complaints, scorecards
from storage.db import database
from storage.models import AuditLog, Message
from storage.tokens import create_token
from tests.channels.conftest import fake_android, fake_at, fake_twilio, provider_env  # noqa: F401 (fixtures)
from tests.fakes.signing import AT_TOKEN, android_post, twilio_post

NOON = dt.datetime(2026, 11, 18, 4, 0, tzinfo=dt.UTC)  # Wednesday 12:00 in Ulaanbaatar: outside quiet hours
CITIZEN, CALLER, SCORER, MEMBER, TEXTER = "99112233", "88112244", "95112255", "80112266", "94112277"
NUMBERS = [CITIZEN, CALLER, SCORER, MEMBER, TEXTER] + [f"9910{n:04d}" for n in range(6)]
RESTRICTED = ["захирал Болд авлига авсан", "Болд"]
UNREDACTED = "хаалттай гурав хоног"  # a plain complaint's own words: staff read them, reports never do


def written_forms(digits: str) -> list[str]:
    """Every way people write a Mongolian number (and some machines do)."""
    a, b = digits[:4], digits[4:]
    pairs = "-".join(digits[i:i + 2] for i in range(0, 8, 2))
    return [digits, f"{a} {b}", f"{a}-{b}", f"976{digits}", f"+976{digits}", f"+976 {a} {b}", f"976-{a}-{b}",
            pairs, f"976 {digits}", f"(976) {a} {b}", f"{a}.{b}", f"+976-{pairs}", " ".join(pairs.split("-"))]


class Outputs:
    """Everything that left the system, by where it came from."""

    def __init__(self):
        self.public: list[tuple[str, str]] = []  # must hold no number and no restricted text
        self.entitled: list[tuple[str, str]] = []  # restricted readers, the person's own copy: no number

    def add(self, where: str, text: str, entitled: bool = False) -> str:
        (self.entitled if entitled else self.public).append((where, text))
        return text


@pytest.fixture
def world(make_app, provider_env, fake_twilio, fake_at, fake_android, tmp_path, database_url, monkeypatch):  # noqa: F811
    monkeypatch.setenv("GATEWAY_DATABASE_URL", database_url)
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("GATEWAY_SECRET_KEY", "privacy-test-secret-0123456789")
    monkeypatch.chdir(tmp_path)
    fake_twilio.always = "invalid_to"  # Twilio's 21211 error quotes the number it could not send to
    app = make_app(channels={
        "twilio": {"enabled": True, "from_number": "+15005550006", "base_url": fake_twilio.url},
        "africastalking": {"enabled": True, "base_url": fake_at.url, "rate_per_second": 100},
        "android": {"enabled": True, "base_url": fake_android.url, "rate_per_second": 100}},
        routing={"sms": ["twilio"], "bulk": ["android"]}, outbox={"max_attempts": 1},
        public_url="http://localhost",  # what the test client calls: Twilio signatures are checked against it
        complaints={"restricted_readers": ["Ombudsperson CSO"]})
    return app


def test_no_number_and_no_restricted_text_ever_leaves(world, tmp_path):
    app, out = world, Outputs()
    logs, gunicorn_log = io.StringIO(), io.StringIO()
    root_handler = logging.StreamHandler(logs)
    root_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s %(fields)s",
                                                defaults={"fields": ""}))
    logging.getLogger().addHandler(root_handler)
    gunicorn = logging.getLogger("gunicorn.error")  # gunicorn's own logger: it does not propagate to the root
    gunicorn.propagate, gunicorn.handlers = False, [logging.StreamHandler(gunicorn_log)]
    previous_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        with time_machine.travel(NOON, tick=True):
            drive_everything(app, out, tmp_path)
            gunicorn.error("Error handling request /webhooks/android?from=+976%s body=%s", CITIZEN, "976-9911-2233")
    finally:
        logging.getLogger().removeHandler(root_handler)
        logging.getLogger().setLevel(previous_level)
        gunicorn.propagate, gunicorn.handlers = True, []
    out.add("root log", logs.getvalue())
    out.add("gunicorn error log", gunicorn_log.getvalue())

    assert len(out.public) > 80 and sum(len(text) for _, text in out.public) > 50_000  # it really saw a lot
    forms = [form for number in NUMBERS for form in written_forms(number)]
    for where, text in out.public + out.entitled:
        found = [form for form in forms if form in text]
        assert not found, f"{where} shows {found[0]!r}"
    for where, text in out.public:
        found = [t for t in RESTRICTED if t in text]
        assert not found, f"{where} shows the restricted text {found[0]!r}"
    assert any(RESTRICTED[0] in text for _, text in out.entitled)  # the entitled really did read it
    for where, text in out.public:
        if where.startswith(("digest", "export", "API cso", "CLI digest", "CLI export")):
            assert UNREDACTED not in text, f"{where} shows unredacted free text"
    with app.app_context(), database.connection_context():
        errors = [m.last_error for m in Message.select().where(Message.last_error.contains("21211"))]
        assert errors and all("+976****" in e for e in errors)  # Twilio quoted the number; it was masked when written
        found = [form for form in (f for n in NUMBERS for f in written_forms(n)) if any(form in e for e in errors)]
        assert not found, f"a provider error was stored with {found[0]!r}"
        actions = {a.action for a in AuditLog.select()}
        assert {"complaint.restricted_read", "complaints.restricted_list", "complaint.read", "export.rows",
                "export.flow", "digest.read", "contact.export", "meeting.questions_read",
                "complaint.status"} <= actions


def drive_everything(app, out: Outputs, tmp_path) -> None:
    _tokens.clear()  # tokens live in this test's database only
    client = app.test_client()
    citizen, caller = phone(app, CITIZEN), phone(app, CALLER)
    round_id, vote_id = open_round(app), open_vote(app)

    # --- flows, through the real webhooks -------------------------------------------------------------------
    for text in ("gomdol", "7", "Bagakhangai", "1", "9911-2233 ruu zalga", RESTRICTED[0] + ", 976-9911-2233", "2"):
        out.add("SMS to citizen", "\n".join(citizen.send_sms(text)))
    for text in ("gomdol", "1", "Bagakhangai", "1", "88-11-22-44", UNREDACTED + " утас 8811 2244", "1"):
        out.add("SMS to caller", "\n".join(caller.send_sms(text)))
    for n in range(6):
        scorer = phone(app, f"+976{NUMBERS[5 + n]}")
        for text in ("unelgee", "1", "4", "2", f"bagsh {NUMBERS[5 + n][:4]} {NUMBERS[5 + n][4:]} ruu zalgaarai"):
            out.add("SMS to scorer", "\n".join(scorer.send_sms(text)))
    ussd = phone(app, f"+976{SCORER}")
    screen, _ = ussd.ussd(None)
    for press in ("1", "1", "2", "5", "5", "0"):
        screen, _ = ussd.ussd(press)
        out.add("USSD screen", screen)
    for text in ("join", "Bagakhangai", "1", "us", "2", "12", "3"):
        out.add("SMS to texter", "\n".join(phone(app, f"+976{TEXTER}").send_sms(text)))
    for text in ("ONHS", "1", "1", "1", "1"):  # a vote: the unit is the one they joined, group, pick, confirm
        out.add("SMS to voter", "\n".join(phone(app, f"+976{TEXTER}").send_sms(text)))
    out.add("twilio webhook", twilio_post(client, "/webhooks/twilio/sms", {
        "From": f"+976{TEXTER}", "To": "+15005550006", "Body": f"call me 976-{TEXTER[:4]}-{TEXTER[4:]}",
        "MessageSid": "SM" + "1" * 32, "AccountSid": "AC" + "0" * 32}).get_data(as_text=True))

    # --- contacts import (a number typed into the wrong column), a meeting, a question by the Android phone ----
    rows = [{"phone": f"+976{MEMBER}", "language": "mn", "unit": "BKhD-01", "consent": "yes"},
            {"phone": f"+976{CALLER}", "language": "mn", "unit": "BKhD-01", "consent": "yes"},
            {"phone": "not a number", "language": f"{CITIZEN[:4]} {CITIZEN[4:]}", "unit": "", "consent": "yes"},
            {"phone": f"+976{SCORER}", "language": f"976-{SCORER[:4]}-{SCORER[4:]}", "unit": "", "consent": "yes"}]
    with open(tmp_path / "people.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["phone", "language", "unit", "consent"])
        writer.writeheader()
        writer.writerows(rows)
    cli_run(out, "contacts", "import", str(tmp_path / "people.csv"))
    staff, admin = token("staff", "BKhD"), token("admin", "national")
    meeting = client.post("/api/v1/meetings", headers=staff, json={
        "title": "Хорооны ИНХ", "place": "Хороо", "starts_at": "2026-11-20T18:00:00+08:00",
        "audience": ["khoroo:BKhD-01"]})
    assert meeting.status_code == 201, meeting.get_data(as_text=True)
    out.add("API meeting create", meeting.get_data(as_text=True))
    run_job(app, "outbox.dispatch")
    android_in(client, f"+976{MEMBER}", f"Намайг {MEMBER[:4]}-{MEMBER[4:]} дугаарт залгаарай")
    android_in(client, f"+976{CALLER}", "1")

    # --- staff work: redact, resolve (the citizen is asked), the citizen answers --------------------------------
    plain_ref, sensitive_ref = refs(app)
    client.post(f"/api/v1/complaints/{plain_ref}/redact", headers=staff, json={"text": "Ус түгээх байр хаалттай"})
    for status in ("routed", "resolved"):
        out.add("API status", client.post(f"/api/v1/complaints/{plain_ref}/status", headers=staff,
                                          json={"status": status, "note": "засав"}).get_data(as_text=True))
    out.add("SMS to caller", "\n".join(caller.send_sms("2")))
    cli_run(out, "digest-subscribers", "add", f"{CITIZEN[:4]} {CITIZEN[4:]}", "--label", "CSO focal point")

    # --- every job -------------------------------------------------------------------------------------------
    for name in sorted(app.extensions["gateway.jobs"]):
        out.add(f"job {name}", repr(run_job(app, name)))
    run_job(app, "outbox.dispatch")

    # --- every API route, for each role --------------------------------------------------------------------
    tokens = {"cso": token("cso", "BKhD"), "designated cso": token("cso", "BKhD", "Ombudsperson CSO"),
              "staff": staff, "admin": admin}
    samples = {"week": [current_week(app).label + suffix for suffix in ("", ".csv", ".html", ".txt")],
               "ref": [plain_ref, sensitive_ref], "flow_id": ["complaint", "scorecard", "join", "water_kiosk_check"],
               "round_id": [str(round_id)], "meeting_id": [str(meeting.json["id"])],
               "broadcast_id": [str(meeting.json["sends"][0]["id"])], "vote_id": [str(vote_id)]}
    for role, headers in tokens.items():
        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or not rule.rule.startswith("/api/"):
                continue
            for values in itertools.product(*(samples[name] for name in sorted(rule.arguments))):
                url = rule.rule
                for name, value in zip(sorted(rule.arguments), values, strict=True):
                    url = url.replace(f"<int:{name}>", value).replace(f"<{name}>", value)
                response = client.get(url, headers=headers)
                entitled = role in ("admin", "designated cso") and (
                    "restricted" in url or url.endswith(sensitive_ref))
                out.add(f"API {role} {url}", response.get_data(as_text=True), entitled)
                response.close()

    # --- every CLI command that shows data --------------------------------------------------------------------
    week = current_week(app).label
    for fmt in ("json", "csv", "html", "sms"):
        cli_run(out, "digest", "--week", week, "--format", fmt)
        cli_run(out, "digest", "--week", week, "--format", fmt, "--token", token_plain("cso", "BKhD"))
    cli_run(out, "export", "round", str(round_id))
    cli_run(out, "export", "round", str(round_id), "--responses")
    for flow in ("complaint", "scorecard", "join", "water_kiosk_check", "meeting_rsvp", "complaint_followup"):
        cli_run(out, "export", "flow", flow)
        cli_run(out, "export", "flow", flow, "--runs")
    cli_run(out, "complaints", "list")
    cli_run(out, "complaints", "list", "--sensitive", entitled=True)
    cli_run(out, "complaints", "show", plain_ref)
    cli_run(out, "complaints", "show", sensitive_ref, entitled=True)
    refused = cli_run(out, "complaints", "show", sensitive_ref, "--token", token_plain("staff", "BKhD"), ok=False)
    assert refused.exit_code != 0 and "no complaint" in refused.output  # a staff token cannot see the restricted
    cli_run(out, "meetings", "list")
    cli_run(out, "meetings", "show", str(meeting.json["id"]), "--questions")
    cli_run(out, "broadcasts", "list")
    for status in ("queued", "failed", "sent", "cancelled"):
        cli_run(out, "outbox", "list", "--status", status)
    cli_run(out, "contacts", "export", CITIZEN, entitled=True)
    cli_run(out, "contacts", "export", f"976-{CALLER[:4]}-{CALLER[4:]}", "--json", entitled=True)
    cli_run(out, "digest-subscribers", "list")
    cli_run(out, "rounds", "show", str(round_id))
    cli_run(out, "tokens", "list", "--all")
    cli_run(out, "audit", "list", "--limit", "1000")
    cli_run(out, "config", "check")
    cli_run(out, "contacts", "forget", MEMBER, "--yes")
    cli_run(out, "audit", "list", "--action", "contact")


def phone(app, digits: str) -> Phone:
    number = digits if digits.startswith("+") else f"+976{digits}"
    return Phone(app, InProcessTransport(app, AT_TOKEN), number)


def open_round(app) -> int:
    with app.app_context(), database.connection_context():
        point = scorecards.service_point("KG16", admin_unit_code="BKhD-01", kind="kindergarten",
                                         name_mn="16-р цэцэрлэг")
        round_ = scorecards.create_round(point, [{"code": "A", "mn": "Багш эелдэг үү?", "en": "Courteous?"},
                                                 {"code": "B", "mn": "Хоол хангалттай юу?", "en": "Food?"}])
        scorecards.set_status(round_, "open")
        return round_.id


def open_vote(app) -> int:
    from storage import votes
    from storage.models import AdminUnit

    with app.app_context(), database.connection_context():
        projects = [{"mn": "Гудамжны гэрэл", "en": "Street lights"}, {"mn": "Усны цэг", "en": "Water kiosk"}]
        vote = votes.create_round(AdminUnit.get(AdminUnit.code == "BKhD-01"), projects)
        votes.set_status(vote, "open")
        return vote.id


def refs(app) -> tuple[str, str]:
    with app.app_context(), database.connection_context():
        plain = complaints.Complaint.get(complaints.Complaint.sensitive == False)  # noqa: E712
        sensitive = complaints.Complaint.get(complaints.Complaint.sensitive == True)  # noqa: E712
        return plain.ref, sensitive.ref


_tokens: dict[tuple, str] = {}


def token_plain(role: str, scope: str, name: str | None = None) -> str:
    key = (role, scope, name)
    if key not in _tokens:
        with database.connection_context():
            _tokens[key] = create_token(name or f"{role} token", role, scope)[1]
    return _tokens[key]


def token(role: str, scope: str, name: str | None = None) -> dict:
    return {"Authorization": f"Bearer {token_plain(role, scope, name)}"}


_android_ids = itertools.count(1)


def android_in(client, number: str, text: str) -> None:
    body = {"deviceId": "fake-phone", "event": "sms:received", "id": f"in-{next(_android_ids)}", "webhookId": "wh",
            "payload": {"messageId": "m", "message": text, "phoneNumber": number, "simNumber": 1,
                        "receivedAt": "2026-11-18T12:00:00.000+08:00"}}
    assert android_post(client, body).status_code == 200


def cli_run(out: Outputs, *args: str, entitled: bool = False, ok: bool = True):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0 or not ok, (args, result.output)
    out.add("CLI " + " ".join(args[:2]), result.output, entitled)  # stdout and stderr
    if not database.is_closed():
        database.close()
    return result
