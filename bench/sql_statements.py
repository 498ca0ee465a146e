"""SQL statements per USSD hop and per inbound SMS, counted at the database driver, on SQLite and PostgreSQL.

    python -m bench.sql_statements [--json] [--show]

Every statement the driver executes is counted, on a connection made the way the gateway makes it:
- SQLite: the sqlite3 trace callback, which sees everything, including the PRAGMAs run on each new connection and
  BEGIN/COMMIT/SAVEPOINT/RELEASE;
- PostgreSQL: a psycopg2 cursor that records each execute (peewee runs in autocommit and sends BEGIN/COMMIT itself,
  so they are counted too).
`total` counts everything; `queries` leaves out BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE and PRAGMA. The targets
(a mid-flow hop at most 6, a new session at most 10) are read against `total`.
Journeys go through the real webhook (Flask's test client, Africa's Talking format) for a new and a returning number.
"""
from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import tempfile
from pathlib import Path

import psycopg2.extensions

from bench.common import SECRETS, ScratchPostgres, postgres_url, write_gateway_config
from bench.journeys import journey_for, number
from bench.loadgen import SMS_TEXTS, SmsTarget

SEEN: list[str] = []
CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA|END)\b", re.IGNORECASE)


class TracedSqlite(sqlite3.Connection):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.set_trace_callback(SEEN.append)


class TracedPostgresCursor(psycopg2.extensions.cursor):
    def execute(self, query, vars=None):  # noqa: A002 - psycopg2's own name
        SEEN.append(query if isinstance(query, str) else query.decode())
        return super().execute(query, vars)


def trace(database) -> None:
    """Count at the driver from the next connection on (the one the gateway opens for each request)."""
    key = "factory" if isinstance(database, __import__("peewee").SqliteDatabase) else "cursor_factory"
    database.connect_params[key] = TracedSqlite if key == "factory" else TracedPostgresCursor
    if not database.is_closed():
        database.close()


def counted(post, *args, **kwargs):
    """The response of `post(...)` and the statements it ran."""
    SEEN.clear()
    response = post(*args, **kwargs)
    return response, list(SEEN)


def summary(statements: list[str]) -> dict:
    return {"total": len(statements), "queries": sum(1 for s in statements if not CONTROL.match(s)),
            "statements": [" ".join(s.split())[:110] for s in statements]}


def measure(database_url: str, water: int) -> dict:
    import os

    os.environ.update(SECRETS)
    from gateway.app import create_app
    from storage.db import database

    with tempfile.TemporaryDirectory() as folder:
        app = create_app(str(write_gateway_config(Path(folder), database_url)))
        trace(database.obj)
        client, token = app.test_client(), SECRETS["AT_WEBHOOK_TOKEN"]
        results = {}
        # A serving thread keeps its connection, so the first request of a process opens it (SQLite runs its 4
        # PRAGMAs then): counted apart, as `connection`, so `ussd_new` is a new session on an open connection.
        opened, statements = counted(client.get, "/readyz")
        results["connection"] = [summary(statements)]
        for mode, phone in (("new", number(1)), ("returning", number(1))):
            journey = journey_for("gateway", mode, water, token)
            session = f"ATUid_sql_{mode}"
            hops = []
            for hop in range(journey.hops):
                form = {"sessionId": session, "serviceCode": "*1411#", "phoneNumber": phone,
                        "text": journey.text(hop), "networkCode": "42899"}
                answer, statements = counted(client.post, journey.path, data=form)
                problem = journey.problem(hop, answer.status_code, answer.get_data(as_text=True))
                if problem:
                    raise SystemExit(f"SQL count: {mode} hop {hop} got a bad answer: {problem}")
                hops.append(summary(statements))
            results[f"ussd_{mode}"] = hops
        for serial, provider in enumerate(("twilio", "africastalking", "android"), start=10):
            secret = {"twilio": SECRETS["TWILIO_AUTH_TOKEN"], "africastalking": token,
                      "android": SECRETS["ANDROID_GATEWAY_SIGNING_KEY"]}[provider]
            path = {"twilio": "/webhooks/twilio/sms", "africastalking": "/webhooks/africastalking/sms",
                    "android": "/webhooks/android"}[provider]
            target = SmsTarget(provider, path, SECRETS["GATEWAY_PUBLIC_URL"], secret)
            messages = []
            for text in SMS_TEXTS:
                spec = target.request(number(serial), text)
                answer, statements = counted(client.post, spec.pop("url"), **spec)
                if answer.status_code != 200:
                    raise SystemExit(f"SQL count: {provider} SMS got HTTP {answer.status_code}")
                messages.append(summary(statements))
            results[f"sms_{provider}"] = messages
        database.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--water", type=int, required=True, help="the water flow's number in the main menu")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.engine == "postgresql":
        url = postgres_url()
        if url is None:
            raise SystemExit("PostgreSQL is not reachable at GATEWAY_TEST_POSTGRES_URL")
        with ScratchPostgres(url) as scratch:
            results = measure(scratch, args.water)
    else:
        with tempfile.TemporaryDirectory() as folder:
            results = measure(f"sqlite:///{folder}/gateway.db", args.water)
    if args.json:
        print(json.dumps(results))
        return
    for name, items in results.items():
        print(f"{name}: total {[i['total'] for i in items]}, queries {[i['queries'] for i in items]}")
        for index, item in enumerate(items):
            print(f"  #{index}: " + "\n       ".join(item["statements"]), file=sys.stdout)


if __name__ == "__main__":
    main()
