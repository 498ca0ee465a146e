"""Many requests at once against the real `gateway serve` (a subprocess: gunicorn, 2 worker processes, their threads),
on SQLite and PostgreSQL: no answer is lost, none is applied twice, and the rows in the database agree afterwards.

The requests are signed as each provider signs them and released together (a barrier) from as many threads.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from gateway.channels.android import sign
from storage.db import database
from storage.models import Contact, FlowRun, Message, PhoneNumber
from storage.runs import UssdSession
from tests.conftest import TEST_SECRET
from tests.fakes.signing import (
    ANDROID_KEY,
    ANDROID_LOGIN,
    ANDROID_PASSWORD,
    AT_KEY,
    AT_TOKEN,
    AT_USER,
    TWILIO_SID,
    TWILIO_TOKEN,
)
from tests.foundation.test_serve import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
GATEWAY = [sys.executable, "-c", "from gateway.cli import main; main()"]
NOWHERE = "http://127.0.0.1:9"  # the discard port: the scheduler is off, nothing is sent anyway


class Served:
    """`gateway serve --workers 2` on a free port of 127.0.0.1, and signed requests to it."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = folder / "config.yaml"
        config.write_text(f"""instance_path: {folder / 'instance'}
database_url: {database_url}
public_url: {self.base}
scheduler:
  enabled: false
channels:
  africastalking: {{enabled: true, base_url: "{NOWHERE}"}}
  twilio: {{enabled: true, base_url: "{NOWHERE}", from_number: "+15005550006"}}
  android: {{enabled: true, base_url: "{NOWHERE}"}}
""", encoding="utf-8")
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "GATEWAY_SECRET_KEY": TEST_SECRET,
               "GATEWAY_PSEUDONYM_KEY": TEST_SECRET, "TWILIO_ACCOUNT_SID": TWILIO_SID,
               "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "AT_USERNAME": AT_USER, "AT_API_KEY": AT_KEY,
               "AT_WEBHOOK_TOKEN": AT_TOKEN, "ANDROID_GATEWAY_LOGIN": ANDROID_LOGIN,
               "ANDROID_GATEWAY_PASSWORD": ANDROID_PASSWORD, "ANDROID_GATEWAY_SIGNING_KEY": ANDROID_KEY}
        self.log = folder / "serve.log"
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen([*GATEWAY, "--config", str(config), "serve", "--port", str(self.port),
                                             "--workers", "2"], cwd=folder, env=env, stdout=sink, stderr=sink)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # any answer: it serves
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise AssertionError("gateway serve did not answer in time:\n" + self.log.read_text())

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(30)
        return self.log.read_text()

    # ---- requests, as each provider sends them -------------------------------------------------------------
    def at(self, path: str, form: dict) -> tuple[int, str]:
        return self.post(f"{path}?token={AT_TOKEN}", urlencode(form).encode(),
                         {"Content-Type": "application/x-www-form-urlencoded"})

    def twilio(self, form: dict) -> tuple[int, str]:
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(self.base + "/webhooks/twilio/sms", form)
        return self.post("/webhooks/twilio/sms", urlencode(form).encode(),
                         {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})

    def android(self, event: dict) -> tuple[int, str]:
        raw, stamp = json.dumps(event).encode(), str(int(time.time()))
        return self.post("/webhooks/android", raw, {"Content-Type": "application/json",
                                                    "X-Signature": sign(ANDROID_KEY, raw, stamp),
                                                    "X-Timestamp": stamp})

    def post(self, path: str, body: bytes, headers: dict) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def together(calls: list) -> list[tuple[int, str]]:
    """Run every call at the same moment, each from a thread of its own; the answers in the calls' order."""
    answers: list = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = calls[index]()
        except Exception as exc:  # counted as a lost answer below
            answers[index] = (0, repr(exc))

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


@pytest.fixture
def served(database_url, tmp_path):
    server = Served(database_url, tmp_path)
    yield server
    log = server.stop()
    assert "Traceback" not in log, log[-4000:]


@pytest.fixture
def db(database_url, make_app):
    """The same database, read by the test after the load."""
    app = make_app()
    with app.app_context(), database.connection_context():
        yield database


def ussd_form(session_id: str, phone: str, text: str) -> dict:
    return {"sessionId": session_id, "serviceCode": "*1411#", "phoneNumber": phone, "text": text,
            "networkCode": "42899"}


def test_50_parallel_requests_for_one_ussd_session_are_applied_once(served, db):
    session, phone, path = "ATUid_concurrent", "+97699112233", "/webhooks/africastalking/ussd"
    status, notice = served.at(path, ussd_form(session, phone, ""))
    assert status == 200 and notice.startswith("CON Hariultiig 12 sar hadgalna")
    screens = []
    for text in ("1", "1*2"):  # yes to the notice (→ the main menu), then the complaint flow
        answers = together([lambda text=text: served.at(path, ussd_form(session, phone, text))] * 50)
        assert {status for status, _ in answers} == {200}
        assert len({body for _, body in answers}) == 1, "every copy of one hop gets the same screen"
        screens.append(answers[0][1])
    assert screens[0].startswith("CON Songono uu") and screens[1].startswith("CON ") and screens[1] != screens[0]
    [row] = UssdSession.select()
    assert (row.history, row.consumed) == ("1*2", 2)
    runs = [(run.flow_id, run.status) for run in FlowRun.select().order_by(FlowRun.id)]
    assert len({flow for flow, _ in runs}) == len(runs) == 3, f"a flow started twice: {runs}"
    assert runs[-1][1] == "active" and Contact.select().count() == PhoneNumber.select().count() == 1
    assert Contact.get().consent_at is not None


def test_50_parallel_sms_from_one_number_are_each_stored_once_and_limited_once(served, db):
    phone, path = "+97688112233", "/webhooks/africastalking/sms"
    forms = [{"from": phone, "to": "1411", "text": f"msg {n}", "id": f"conc-{n}", "date": "", "networkCode": "42899"}
             for n in range(50)]
    answers = together([lambda form=form: served.at(path, form) for form in forms])
    assert [status for status, _ in answers] == [200] * 50
    inbound = list(Message.select().where(Message.direction == "in"))
    assert sorted(m.provider_id for m in inbound) == sorted(f["id"] for f in forms)
    statuses = [m.status for m in inbound]
    limit = 30  # inbound_limit's default: the first 30 are answered, the rest kept unanswered
    assert statuses.count("rate_limited") == 50 - limit and "error" not in statuses
    replies = [m.text for m in Message.select().where(Message.direction == "out")]
    assert sum(text.startswith("Tavtai moril") for text in replies) == 1, "the consent notice once"
    assert sum(text.startswith("Ta heterhii olon") for text in replies) == 1, "the flood notice once"
    assert len(replies) == 1 + limit + 1
    assert Contact.select().count() == 1


def test_200_parallel_new_contacts_each_become_one_contact(served, db):
    numbers = [f"+9769{n:07d}" for n in range(200)]

    def call(n: int, phone: str):
        kind = n % 4
        if kind == 0:
            return lambda: served.at("/webhooks/africastalking/sms", {"from": phone, "to": "1411", "text": "sain uu",
                                                                       "id": f"new-{n}", "date": ""})
        if kind == 1:
            return lambda: served.twilio({"MessageSid": f"SM{n:032d}", "AccountSid": TWILIO_SID, "From": phone,
                                          "To": "+15005550006", "Body": "sain uu", "NumSegments": "1"})
        if kind == 2:
            return lambda: served.android({"event": "sms:received", "id": f"and-{n}", "deviceId": "d",
                                           "payload": {"message": "sain uu", "phoneNumber": phone, "simNumber": 1,
                                                       "receivedAt": "2026-12-01T10:00:00.000+08:00"}})
        return lambda: served.at("/webhooks/africastalking/ussd", ussd_form(f"ATUid_new{n}", phone, ""))

    answers = together([call(n, phone) for n, phone in enumerate(numbers)])
    assert [status for status, _ in answers] == [200] * 200
    assert all(body.startswith("CON Hariultiig") for n, (_, body) in enumerate(answers) if n % 4 == 3)
    assert Contact.select().count() == PhoneNumber.select().count() == 200
    assert sorted(p.e164 for p in PhoneNumber.select()) == numbers
    inbound = Message.select().where(Message.direction == "in")
    assert inbound.count() == 150 and inbound.where(Message.status == "error").count() == 0
    assert UssdSession.select().count() == 50
    notices = Message.select().where((Message.direction == "out") & Message.text.startswith("Tavtai moril"))
    assert notices.count() == 150 and len({m.contact_id for m in notices}) == 150  # one each, SMS senders


def test_five_copies_of_each_webhook_at_once_are_stored_once(served, db):
    """Redeliveries that arrive together, on both worker processes: a first message from a new number through
    each provider, and a USSD dial."""
    sms = {"from": "+97699000001", "to": "1411", "text": "sain uu", "id": "same-at", "date": ""}
    twilio = {"MessageSid": "SM" + "5" * 32, "AccountSid": TWILIO_SID, "From": "+97699000002", "To": "+15005550006",
              "Body": "sain uu", "NumSegments": "1"}
    android = {"event": "sms:received", "id": "same-android", "deviceId": "d",
               "payload": {"message": "sain uu", "phoneNumber": "+97699000003", "simNumber": 1,
                           "receivedAt": "2026-12-01T10:00:00.000+08:00"}}
    dial = ussd_form("ATUid_same", "+97699000004", "")
    calls = ([lambda: served.at("/webhooks/africastalking/sms", sms)] * 5 + [lambda: served.twilio(twilio)] * 5
             + [lambda: served.android(android)] * 5 + [lambda: served.at("/webhooks/africastalking/ussd", dial)] * 5)
    answers = together(calls)
    assert {status for status, _ in answers} == {200}
    for first in range(0, 20, 5):
        assert len({body for _, body in answers[first:first + 5]}) == 1, answers[first:first + 5]
    inbound = Message.select().where(Message.direction == "in")
    assert sorted(m.provider_id for m in inbound) == sorted(["same-at", "SM" + "5" * 32, "same-android"])
    assert Message.select().where(Message.direction == "out").count() == 6  # each sender: the notice, one answer
    assert Contact.select().count() == 4 and UssdSession.select().count() == 1
