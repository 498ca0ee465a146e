"""Storage faults: PostgreSQL going away under requests, SQLite killed mid-write, backup and restore while serving."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import peewee
import pytest
from click.testing import CliRunner

from gateway.cli import cli
from storage.db import database
from storage.models import Contact, FlowRun, Message
from tests.conftest import TEST_SECRET, _create, _reset_postgres
from tests.fakes.signing import AT_KEY, AT_TOKEN, AT_USER, at_post
from tests.fakes.tcp_proxy import TcpProxy

WRITER = Path(__file__).with_name("sqlite_writer.py")
BATCH = 50  # rows per transaction in the writer
SMS = {"from": "+97699112233", "to": "13131", "text": "ZOGS", "date": "2026-12-05 10:00:00", "id": "at-sms-1"}


@pytest.fixture
def at_env(monkeypatch):
    for name, value in {"AT_USERNAME": AT_USER, "AT_API_KEY": AT_KEY, "AT_WEBHOOK_TOKEN": AT_TOKEN}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def proxied_postgres(postgres_scratch_url):
    """The scratch PostgreSQL database, reached through a proxy the test can cut (a restart, as clients see it)."""
    _reset_postgres(postgres_scratch_url)
    parts = urlsplit(postgres_scratch_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = (f"{parts.username}@" if parts.username else "") + f"127.0.0.1:{proxy.port}"
    yield proxy, urlunsplit(parts._replace(netloc=netloc))
    proxy.stop()


def stored_sms(app) -> int:
    with app.app_context(), database.connection_context():
        return Message.select().where((Message.direction == "in") & (Message.provider_id == SMS["id"])).count()


@pytest.mark.postgres
def test_postgres_going_away_answers_503_at_once_and_recovers_by_itself(proxied_postgres, tmp_path, at_env):
    proxy, url = proxied_postgres
    app = _create({"instance_path": str(tmp_path / "instance"), "database_url": url, "secret_key": TEST_SECRET,
                   "scheduler": {"enabled": False}, "testing": True,
                   "channels": {"africastalking": {"enabled": True}}})
    client = app.test_client()
    hop = {"sessionId": "s0", "serviceCode": "*131#", "phoneNumber": "+97699112233", "text": ""}
    assert at_post(client, "/webhooks/africastalking/ussd", hop).status_code == 200

    proxy.cut()  # every open connection dies, new ones are refused: PostgreSQL restarting
    for _ in range(3):  # the first finds its pooled connection dead, the next ones cannot connect
        answer = at_post(client, "/webhooks/africastalking/sms", SMS)
        assert answer.status_code == 503  # not 500, not a hang; and not a 200 that would drop the SMS
        assert answer.headers["Retry-After"] == "5"
        assert "The database is unavailable" in answer.get_json()["detail"]
    assert client.get("/readyz").status_code == 503
    sorry = at_post(client, "/webhooks/africastalking/ussd", dict(hop, sessionId="s1"))
    assert sorry.status_code == 200 and sorry.get_data(as_text=True).startswith("END Uuchlaarai")  # in words

    proxy.restore()  # PostgreSQL is back: the very next request works, nobody restarted anything
    assert at_post(client, "/webhooks/africastalking/sms", SMS).status_code == 200
    assert at_post(client, "/webhooks/africastalking/sms", SMS).status_code == 200  # the provider's retry
    assert stored_sms(app) == 1
    assert client.get("/readyz").status_code in (200, 503)  # ready depends on channels, not on the database
    assert client.get("/healthz").status_code == 200


# ---------------------------------------------------------------------------------------------------- SQLite


def start_writer(url: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, str(WRITER), url, str(BATCH)], stdout=subprocess.PIPE, text=True,
                            env=env)


def committed_after(writer: subprocess.Popen, commits: int) -> int:
    """Read the writer's commit lines until `commits` transactions are in; the highest id it committed."""
    for _ in range(commits):
        last = int(writer.stdout.readline())
    return last


def ids_in(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM message ORDER BY id")]


def migrated_sqlite(tmp_path: Path, name: str = "gateway.db") -> str:
    from storage.db import open_database, upgrade

    url = f"sqlite:///{tmp_path / name}"
    open_database(url)
    with database.connection_context():
        upgrade()
    return url


def test_sqlite_killed_mid_write_keeps_every_commit_and_passes_the_integrity_check(tmp_path):
    url = migrated_sqlite(tmp_path)
    db = tmp_path / "gateway.db"
    writer = start_writer(url)
    last = committed_after(writer, 40)
    writer.kill()  # SIGKILL, mid-transaction most likely: the writer never stops between commits
    writer.wait()
    wal = db.with_name("gateway.db-wal")
    assert wal.exists() and wal.stat().st_size > 0  # committed pages still in the WAL, not yet in the main file

    with sqlite3.connect(db) as conn:  # opening replays the WAL
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ids = ids_in(db)
    assert ids[:last] == list(range(1, last + 1))  # every row of every transaction the writer saw commit
    assert len(ids) % BATCH == 0  # and no half of the transaction that was cut short


def test_backup_while_writing_is_consistent_and_a_restored_copy_serves_a_conversation(tmp_path, monkeypatch,
                                                                                      at_env):
    url = migrated_sqlite(tmp_path)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", TEST_SECRET)
    runner = CliRunner()
    writer = start_writer(url)
    try:
        before = committed_after(writer, 5)
        monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
        monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path / "instance"))
        made = runner.invoke(cli, ["db", "backup", str(tmp_path / "copy.db")])
        assert made.exit_code == 0, made.output
        copied = ids_in(tmp_path / "copy.db")
        while committed_after(writer, 1) <= len(copied):  # the writer goes on after the copy: never stopped by it
            pass
    finally:
        writer.kill()
        writer.wait()
    assert copied == list(range(1, len(copied) + 1)) and len(copied) % BATCH == 0  # whole transactions only
    assert before <= len(copied) < len(ids_in(tmp_path / "gateway.db"))  # with what was only in the WAL
    again = runner.invoke(cli, ["db", "backup", str(tmp_path / "copy.db")])
    assert again.exit_code != 0 and "exists already" in again.output  # a copy is never overwritten

    from storage import leases
    from storage.db import open_database

    open_database(url)
    with database.connection_context():
        leases.acquire("scheduler-leader", "host:123:abc", 60)  # as a running `gateway serve` holds it
    over_live = runner.invoke(cli, ["db", "restore", str(tmp_path / "copy.db"), "--yes"])
    assert over_live.exit_code != 0 and "stop it first" in over_live.output

    fresh = tmp_path / "elsewhere" / "gateway.db"
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{fresh}")
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path / "elsewhere"))
    put_back = CliRunner().invoke(cli, ["db", "restore", str(tmp_path / "copy.db"), "--yes"])
    assert put_back.exit_code == 0, put_back.output
    assert ids_in(fresh) == copied

    app = _create({"instance_path": str(tmp_path / "elsewhere"), "database_url": f"sqlite:///{fresh}",
                   "secret_key": TEST_SECRET, "scheduler": {"enabled": False}, "testing": True,
                   "channels": {"africastalking": {"enabled": True}}})
    client = app.test_client()
    first = at_post(client, "/webhooks/africastalking/ussd", {"sessionId": "r1", "serviceCode": "*131#",
                                                             "phoneNumber": "+97699112233", "text": ""})
    assert first.status_code == 200 and first.get_data(as_text=True).startswith("CON ")
    second = at_post(client, "/webhooks/africastalking/ussd", {"sessionId": "r1", "serviceCode": "*131#",
                                                              "phoneNumber": "+97699112233", "text": "1"})
    assert second.status_code == 200 and second.get_data(as_text=True)[:4] in ("CON ", "END ")
    with app.app_context(), database.connection_context():
        assert Contact.select().count() == 1 and FlowRun.select().count() >= 1  # the conversation was kept
        assert Message.select().count() == len(copied)


def test_restore_refuses_a_file_that_is_not_a_gateway_database(tmp_path, monkeypatch):
    junk = tmp_path / "junk.db"
    with sqlite3.connect(junk) as conn:
        conn.execute("CREATE TABLE t (x)")
    monkeypatch.setenv("GATEWAY_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path / 'gateway.db'}")
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path / "instance"))
    refused = CliRunner().invoke(cli, ["db", "restore", str(junk), "--yes"])
    assert refused.exit_code != 0 and "not a gateway database" in refused.output


@pytest.fixture
def second_postgres(postgres_scratch_url):
    """Another empty PostgreSQL database beside the scratch one, to restore into; dropped afterwards."""
    from tests.conftest import _pg_params

    admin = peewee.PostgresqlDatabase(None)
    admin.init(**_pg_params(postgres_scratch_url))
    admin.connect()
    admin.connection().autocommit = True
    parts = urlsplit(postgres_scratch_url)
    name = parts.path.lstrip("/") + "_restored"
    admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute_sql(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path="/" + name))
    if not database.is_closed():
        database.close()
    admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.mark.postgres
def test_postgres_backup_with_pg_dump_restores_into_a_fresh_database(postgres_scratch_url, second_postgres,
                                                                     tmp_path, monkeypatch, at_env):
    _reset_postgres(postgres_scratch_url)
    settings = {"instance_path": str(tmp_path / "instance"), "secret_key": TEST_SECRET,
                "scheduler": {"enabled": False}, "testing": True, "channels": {"africastalking": {"enabled": True}}}
    app = _create({**settings, "database_url": postgres_scratch_url})
    assert at_post(app.test_client(), "/webhooks/africastalking/sms", SMS).status_code == 200
    monkeypatch.setenv("GATEWAY_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("GATEWAY_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", postgres_scratch_url)
    made = CliRunner().invoke(cli, ["db", "backup", str(tmp_path / "copy.dump")])
    assert made.exit_code == 0, made.output

    monkeypatch.setenv("GATEWAY_DATABASE_URL", second_postgres)
    put_back = CliRunner().invoke(cli, ["db", "restore", str(tmp_path / "copy.dump"), "--yes"])
    assert put_back.exit_code == 0, put_back.output
    restored = _create({**settings, "database_url": second_postgres})
    client = restored.test_client()
    assert stored_sms(restored) == 1  # the SMS stored before the copy is there
    assert at_post(client, "/webhooks/africastalking/sms", SMS).status_code == 200  # a redelivery: known
    again = dict(SMS, id="at-sms-2", text="Sain baina uu")
    assert at_post(client, "/webhooks/africastalking/sms", again).status_code == 200
    with restored.app_context(), database.connection_context():
        assert Message.select().where(Message.direction == "in").count() == 2
