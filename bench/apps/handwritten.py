"""Baseline 2: what people write by hand. An Africa's Talking USSD app with an if/else menu that stores each hop
in SQLite, and SMS webhooks that check the provider's signature and store the message and a queued reply.

One SQLite connection per thread, WAL, the same 4-hop water journey as the gateway's flow. The database file is
HANDWRITTEN_DB (made by bench/run.py with SCHEMA below).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time

from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator

SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriber (phone TEXT PRIMARY KEY, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS hop (id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, phone TEXT NOT NULL,
                                text TEXT NOT NULL, reply TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sms (id INTEGER PRIMARY KEY, provider TEXT NOT NULL, provider_id TEXT, phone TEXT NOT NULL,
                                direction TEXT NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, at REAL NOT NULL);
"""
MENU = "CON Choose:\n1. Water service\n2. Complaint\n3. Register"
app = Flask(__name__)
local = threading.local()


def db() -> sqlite3.Connection:
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = sqlite3.connect(os.environ["HANDWRITTEN_DB"], isolation_level=None, timeout=10)
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute("PRAGMA synchronous=normal")
    return conn


def menu(parts: list[str]) -> str:
    if not parts:
        return MENU
    if parts == ["1"]:
        return "CON Was the water kiosk open today?\n1. Yes\n2. No"
    if len(parts) == 2 and parts[0] == "1" and parts[1] in ("1", "2"):
        return "CON Rate the service from 1 to 5"
    if len(parts) == 3 and parts[0] == "1" and parts[2] in ("1", "2", "3", "4", "5"):
        return f"END Thank you! Your rating: {parts[2]}"
    return "END Invalid choice"


@app.post("/ussd")
def ussd() -> Response:
    if request.args.get("token") != os.environ["AT_WEBHOOK_TOKEN"]:
        abort(403)
    form = request.form
    text, phone = form.get("text", ""), form["phoneNumber"]
    reply = menu(text.split("*") if text else [])
    conn, now = db(), time.time()
    with conn:
        conn.execute("BEGIN")
        conn.execute("INSERT OR IGNORE INTO subscriber (phone, created_at) VALUES (?, ?)", (phone, now))
        conn.execute("INSERT INTO hop (session_id, phone, text, reply, at) VALUES (?, ?, ?, ?, ?)",
                     (form["sessionId"], phone, text, reply, now))
    return Response(reply, content_type="text/plain")


def store_sms(provider: str, provider_id: str | None, phone: str, text: str) -> None:
    conn, now = db(), time.time()
    with conn:
        conn.execute("BEGIN")
        conn.execute("INSERT OR IGNORE INTO subscriber (phone, created_at) VALUES (?, ?)", (phone, now))
        conn.execute("INSERT INTO sms (provider, provider_id, phone, direction, text, status, at) "
                     "VALUES (?, ?, ?, 'in', ?, 'received', ?)", (provider, provider_id, phone, text, now))
        conn.execute("INSERT INTO sms (provider, provider_id, phone, direction, text, status, at) "
                     "VALUES (?, NULL, ?, 'out', ?, 'queued', ?)", (provider, phone, f"Received: {text[:100]}", now))


@app.post("/sms/twilio")
def twilio_sms() -> Response:
    url = os.environ["GATEWAY_PUBLIC_URL"].rstrip("/") + request.path
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    if not validator.validate(url, request.form, request.headers.get("X-Twilio-Signature", "")):
        abort(403)
    store_sms("twilio", request.form["MessageSid"], request.form["From"], request.form["Body"])
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response/>', content_type="text/xml")


@app.post("/sms/africastalking")
def at_sms() -> Response:
    if request.args.get("token") != os.environ["AT_WEBHOOK_TOKEN"]:
        abort(403)
    store_sms("africastalking", request.form.get("id"), request.form["from"], request.form["text"])
    return Response("", content_type="text/plain")


@app.post("/sms/android")
def android_sms() -> Response:
    raw, stamp = request.get_data(), request.headers.get("X-Timestamp", "")
    expected = hmac.new(os.environ["ANDROID_GATEWAY_SIGNING_KEY"].encode(), raw + stamp.encode(),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("X-Signature", "")):
        abort(403)
    body = json.loads(raw)
    store_sms("android", body["id"], body["payload"]["phoneNumber"], body["payload"]["message"])
    return Response("", content_type="text/plain")


def create_schema(path: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)


@app.get("/healthz")
def healthz() -> str:
    return "ok"
