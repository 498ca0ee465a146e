"""The Android phone pool: three fake phones (Mobicom, Unitel, Skytel), each with its own credentials, signing key
and rate. Messages go out on-net, each phone keeps its own rate, a phone that dies hands its queue to the others,
and every message goes out exactly once."""
from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from click.testing import CliRunner

from gateway import broadcasts as bc
from gateway import phone_pool
from gateway.cli import cli
from gateway.outbox import RateLimiter, dispatch, enqueue
from gateway.outbox_jobs import poll_phone
from gateway.phones import operator_of
from storage.db import database
from storage.models import Message
from tests.channels.test_channels_crash import CONFIG_KEYS, WORKER
from tests.channels.test_channels_outbox import SteppedClock
from tests.fakes import FakeAndroid
from tests.fakes.signing import android_post
from tests.meetings.helpers import add_contacts

OPERATOR_OF_PHONE = {"m": "Mobicom", "u": "Unitel", "s": "Skytel"}
# Recipients by operator; G-Mobile has no phone in the pool, so its people go to whichever phone is up.
PREFIXES = {"Mobicom": "9911", "Unitel": "8811", "Skytel": "9111", "G-Mobile": "9811"}


@pytest.fixture
def phones():
    fakes = {name: FakeAndroid(f"login-{name}", f"pass-{name}").start() for name in OPERATOR_OF_PHONE}
    yield fakes
    for fake in fakes.values():
        if fake.thread.is_alive():
            fake.stop()


def pool_settings(phones: dict, rate: float = 2000) -> dict:
    return {"enabled": True, "phones": [
        {"name": name, "operator": OPERATOR_OF_PHONE[name], "base_url": fake.url, "rate_per_second": rate,
         "login": f"login-{name}", "password": f"pass-{name}", "signing_key": f"key-{name}"}
        for name, fake in phones.items()]}


@pytest.fixture
def make_pool_app(make_app, phones):
    def factory(rate: float = 2000, **outbox):
        return make_app(channels={"android": pool_settings(phones, rate)},
                        routing={"sms": ["android"], "bulk": ["android"]},
                        quiet_hours={"start": "00:00", "end": "00:00"},  # never quiet: bulk goes at once
                        outbox={"send_timeout_seconds": 2, "backoff_seconds": 1, **outbox})
    return factory


def sent_by(phones: dict) -> dict[str, str]:
    """Number → the phone that sent it; fails if any number went out twice."""
    sends = Counter(sent["to"] for fake in phones.values() for sent in fake.accepted)
    assert [number for number, n in sends.items() if n > 1] == []
    return {sent["to"]: name for name, fake in phones.items() for sent in fake.accepted}


def test_operator_comes_from_phonenumbers_then_the_config_table():
    table = {"Mobicom": ["99"], "Unitel": ["88"], "Skytel": ["91", "601"], "G-Mobile": ["98"]}
    assert operator_of("+97699112233", table) == "Mobicom"
    assert operator_of("+97686112233", table) == "Unitel"  # phonenumbers knows 86; the table does not
    assert operator_of("+97692112233", table) == "G-Mobile"  # and its 3-digit ranges (920 Skytel, 921 G-Mobile)
    assert operator_of("+97660112233", table) == "Skytel"  # 60 is ONDO to phonenumbers: the table decides
    assert operator_of("+97672112233", table) is None
    assert operator_of("+15005550006", table) is None


def test_each_message_goes_on_net_and_each_phone_keeps_its_own_rate(make_pool_app, phones):
    app = make_pool_app(rate=4)
    app.config["GATEWAY"]["channels"]["android"]["phones"][1]["rate_per_second"] = 2
    app.extensions.pop("gateway.channels", None)
    stepped = SteppedClock()
    app.extensions["gateway.rate_limiter"] = RateLimiter(clock=stepped.clock, sleep=stepped.sleep)
    for fake in phones.values():
        fake.clock = stepped.clock
    with app.app_context(), database.connection_context():
        people = add_contacts(4, "BGD-07", prefix=PREFIXES["Mobicom"]) + add_contacts(
            3, "BGD-07", prefix=PREFIXES["Unitel"])
        for person in people:
            enqueue(person, "tsag", purpose="notice")
        assert dispatch(app)["sent"] == 7
        assert {row.phone for row in Message.select().where(Message.direction == "out")} == {"android:m",
                                                                                             "android:u"}
    assert {sent["to"][4:8] for sent in phones["m"].accepted} == {PREFIXES["Mobicom"]}
    assert {sent["to"][4:8] for sent in phones["u"].accepted} == {PREFIXES["Unitel"]}
    for name, interval in (("m", 0.25), ("u", 0.5)):
        times = [request.at for request in phones[name].requests]
        assert [b - a for a, b in itertools.pairwise(times)] == pytest.approx([interval] * (len(times) - 1))
    assert stepped.now == pytest.approx(1.0)  # the phones send side by side, not one after the other


def test_3000_recipient_broadcast_with_a_phone_killed_midway_goes_out_once_on_net(make_pool_app, phones,
                                                                                 database_url):
    if database_url.startswith("postgres"):  # ~90 s there; PostgreSQL is covered by the two-process test below
        pytest.skip("SQLite only, to keep CI fast")
    app = make_pool_app(failover_after=3, down_seconds=300)
    with app.app_context(), database.connection_context():
        broadcast_with_a_phone_killed_midway(app, phones)


def broadcast_with_a_phone_killed_midway(app, phones):
    counts = {"Mobicom": 1000, "Unitel": 1000, "Skytel": 700, "G-Mobile": 300}
    operator = {}
    for start in range(0, 1000, 50):  # operators interleaved, as in a real khoroo
        for name, n in counts.items():
            for person in add_contacts(max(0, min(50, n - start)), "BGD-07", start=start, prefix=PREFIXES[name]):
                operator[person.id] = name
    numbers = {f"+976{PREFIXES[name]}{i:04d}": name for name, n in counts.items() for i in range(n)}
    bc.send_plain_broadcast(app, ["khoroo:BGD-07"], "Hural margaash 10 tsagt", None, None, False, "test")

    killed_at: list[float] = []

    def kill_skytel_midway():
        while sum(len(fake.accepted) for fake in phones.values()) < 1500:
            time.sleep(0.005)
        phones["s"].kill()
        killed_at.append(time.monotonic())

    killer = threading.Thread(target=kill_skytel_midway)
    killer.start()
    deadline = time.monotonic() + 120
    while Message.select().where((Message.direction == "out") & (Message.status != "sent")).exists():
        assert time.monotonic() < deadline, "the broadcast did not finish"
        dispatch(app, budget_seconds=2)
    killer.join()

    phone_of = sent_by(phones)
    assert set(phone_of) == set(numbers)  # everyone, exactly once
    by_operator = {name: Counter(phone_of[n] for n, op in numbers.items() if op == name) for name in counts}
    assert by_operator["Mobicom"] == {"m": 1000}
    assert by_operator["Unitel"] == {"u": 1000}
    skytel_on_s = [r for r in phones["s"].accepted if numbers[r["to"]] == "Skytel"]
    assert 0 < len(skytel_on_s) < 700  # on-net until the Skytel phone died, then the rest of the pool took over
    assert all(request.at < killed_at[0] for request in phones["s"].requests if request.path == "/messages")
    assert set(by_operator["G-Mobile"]) <= {"m", "u", "s"} and sum(by_operator["G-Mobile"].values()) == 300
    rows = list(Message.select().where(Message.direction == "out"))
    assert {row.status for row in rows} == {"sent"} and len(rows) == 3000
    assert {row.phone for row in rows if operator[row.contact_id] == "Mobicom"} == {"android:m"}


def test_each_phone_signs_its_webhooks_with_its_own_key(make_pool_app, phones):
    app = make_pool_app()
    client = app.test_client()
    ping = {"event": "system:ping", "id": "ping-1", "deviceId": "u-device", "payload": {"health": {"status": "pass"}}}
    assert android_post(client, ping, key="key-u").status_code == 200
    assert android_post(client, {**ping, "id": "ping-2"}, key="not-a-phone-key").status_code == 403
    health = client.get("/healthz").get_json()["channels"]["android"]
    seen = {phone["name"]: phone["last_seen"] for phone in health["phones"]}
    assert seen["u"] is not None and seen["m"] is None and seen["s"] is None
    assert [phone["operator"] for phone in health["phones"]] == ["Mobicom", "Unitel", "Skytel"]


def test_two_dispatching_processes_share_the_pool_and_send_nothing_twice(make_pool_app, phones, tmp_path):
    """Two gateway processes dispatch the same queue (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: compare-and-set);
    each message is claimed once, so each person gets it once, through their operator's phone."""
    app = make_pool_app()
    with app.app_context(), database.connection_context():
        for name in ("Mobicom", "Unitel", "Skytel"):
            add_contacts(300, "BGD-07", prefix=PREFIXES[name])
        bc.send_plain_broadcast(app, ["khoroo:BGD-07"], "Hural margaash", None, None, False, "test")
    config_file = tmp_path / "worker.json"
    config_file.write_text(json.dumps({key: app.config["GATEWAY"][key] for key in CONFIG_KEYS}))
    workers = [subprocess.Popen([sys.executable, str(WORKER), str(config_file)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    outcomes = [json.loads(worker.communicate(timeout=120)[0].strip().splitlines()[-1]) for worker in workers]

    assert sum(outcome.get("sent", 0) for outcome in outcomes) == 900
    assert all(outcome.get("sent", 0) > 0 for outcome in outcomes)  # both took part
    phone_of = sent_by(phones)
    assert len(phone_of) == 900
    assert {(number[4:8], phone) for number, phone in phone_of.items()} == {
        (PREFIXES[OPERATOR_OF_PHONE[phone]], phone) for phone in phones}
    with app.app_context(), database.connection_context():
        assert {row.status for row in Message.select().where(Message.direction == "out")} == {"sent"}


@pytest.fixture
def pool_cli(make_pool_app, phones, tmp_path, monkeypatch):
    """`gateway …` with a config.yaml naming the three phones, their secrets in ANDROID_<NAME>_* variables."""
    app = make_pool_app(rate=0.5)
    config = {key: app.config["GATEWAY"][key] for key in ("database_url", "instance_path", "routing", "flows",
                                                          "scheduler", "quiet_hours")}
    config["channels"] = {"android": pool_settings(phones, rate=0.5)}
    for phone in config["channels"]["android"]["phones"]:
        for key in ("login", "password", "signing_key"):
            monkeypatch.setenv(f"ANDROID_{phone['name'].upper()}_{key.upper()}", phone.pop(key))
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config))
    monkeypatch.setenv("GATEWAY_SECRET_KEY", app.config["SECRET_KEY"])

    def run(*args: str):
        result = CliRunner().invoke(cli, ["--config", str(path), *args], catch_exceptions=False)
        if not database.is_closed():
            database.close()
        return result
    return app, run, path


def test_channels_check_and_the_broadcast_preview_show_each_phone_and_the_time_to_send(pool_cli, phones, tmp_path):
    app, run, _ = pool_cli
    with app.app_context(), database.connection_context():
        for name, n in (("Mobicom", 30), ("Unitel", 10), ("G-Mobile", 20)):
            add_contacts(n, "BGD-07", prefix=PREFIXES[name])
    phones["s"].kill()
    result = run("channels", "check")
    check = result.output
    assert result.exit_code == 1 and "1 problem(s)" in check  # one phone of three is a problem to fix
    assert "2 of 3 phones reachable" in check and "s (Skytel) NOT reachable" in check
    assert "m              Mobicom" in check and "last seen" in check
    text = tmp_path / "notice.txt"
    text.write_text("Hural margaash", encoding="utf-8")
    preview = run("broadcast", "--to", "khoroo:BGD-07", "--text-file", str(text), "--dry-run").output
    assert "recipients by operator: G-Mobile 20, Mobicom 30, Unitel 10" in preview
    # at 0.5/s each: Mobicom's 30 and Unitel's 10 on-net, G-Mobile's 20 levelled out: 30 messages per phone
    assert "expected time to send: about 1 min 0 s" in preview
    assert "dry run: nothing was queued" in preview


def test_phone_secrets_come_from_the_environment_never_from_the_file(pool_cli, tmp_path):
    _, run, path = pool_cli
    config = json.loads(path.read_text())
    config["channels"]["android"]["phones"][0]["password"] = "in-the-file"
    path.write_text(json.dumps(config))
    result = run("channels", "check")
    assert result.exit_code != 0 and "ANDROID_M_PASSWORD" in result.output


def test_the_single_phone_settings_still_work_as_a_pool_of_one(make_app, phones, monkeypatch):
    for key, value in (("LOGIN", "login-m"), ("PASSWORD", "pass-m"), ("SIGNING_KEY", "key-m")):
        monkeypatch.setenv(f"ANDROID_GATEWAY_{key}", value)
    app = make_app(channels={"android": {"enabled": True, "base_url": phones["m"].url, "rate_per_second": 100}},
                   routing={"sms": ["android"], "bulk": ["android"]})
    with app.app_context(), database.connection_context():
        (person,) = add_contacts(1, "BGD-07", prefix=PREFIXES["Unitel"])  # off-net: the only phone sends it
        enqueue(person, "sain uu")
        assert dispatch(app)["sent"] == 1
    assert [sent["to"] for sent in phones["m"].accepted] == ["+97688110000"]
    assert android_post(app.test_client(), {"event": "system:ping", "id": "p", "payload": {}},
                        key="key-m").status_code == 200


def test_a_phone_that_stops_answering_health_hands_its_queue_to_the_others(make_pool_app, phones):
    app = make_pool_app()
    with app.app_context(), database.connection_context():
        people = add_contacts(5, "BGD-07", prefix=PREFIXES["Skytel"])
        for person in people:
            enqueue(person, "tsag", purpose="notice")
        assert phone_pool.assign_queued(app) == 5
        assert {row.phone for row in Message.select()} == {"android:s"}
        phones["s"].kill()
        assert poll_phone(app) == "pass, pass, unreachable"
        assert {row.phone for row in Message.select()} == {None}
        assert dispatch(app)["sent"] == 5
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 200
        android = ready.get_json()["channels"]["android"]
        assert android["detail"].startswith("2 of 3 phones up")
        assert [phone["state"].split(" ")[0] for phone in android["phones"]] == ["up", "up", "down"]
    assert len(phones["m"].accepted) + len(phones["u"].accepted) == 5 and phones["s"].accepted == []


def test_pool_config_names_each_phone_once_on_a_known_operator_with_secrets_from_its_own_variables():
    from gateway.config import ConfigError, load_config

    def load(phones, environ=None):
        return load_config(None, {"channels": {"android": {"phones": phones}}}, environ=environ or {})

    with pytest.raises(ConfigError, match="names a phone twice"):
        load([{"name": "a", "operator": "Unitel"}, {"name": "a", "operator": "Skytel"}])
    with pytest.raises(ConfigError, match="must be one of Mobicom, Unitel, Skytel, G-Mobile"):
        load([{"name": "a", "operator": "Ondo"}])
    config = load([{"name": "mobicom-1", "operator": "Mobicom"}], {"ANDROID_MOBICOM_1_SIGNING_KEY": "k"})
    assert config["channels"]["android"]["phones"][0]["signing_key"] == "k"


def test_when_every_phone_is_down_messages_wait_with_no_attempt_used(make_pool_app, phones):
    app = make_pool_app(failover_after=2)
    for fake in phones.values():
        fake.kill()
    with app.app_context(), database.connection_context():
        people = add_contacts(4, "BGD-07", prefix=PREFIXES["Mobicom"])
        rows = [enqueue(person, "tsag") for person in people]
        dispatch(app, budget_seconds=1)
        waiting = [Message.get_by_id(row.id) for row in rows]
        assert {row.status for row in waiting} == {"queued"}
        assert all(row.next_attempt_at > row.created_at + dt.timedelta(seconds=60) for row in waiting)
        assert max(row.attempts for row in waiting) <= 1
        health = app.test_client().get("/healthz").get_json()["channels"]["android"]
        assert health["state"] == "down" and health["detail"].startswith("0 of 3 phones up")
