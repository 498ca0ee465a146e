"""Baseline 1: a bare Flask app answering a constant screen. The ceiling for any app under the same server."""
from __future__ import annotations

from flask import Flask, Response

app = Flask(__name__)


@app.post("/ussd")
def ussd() -> Response:
    return Response("CON Songono uu:\n1. Irgediin unelgee\n2. Gomdol\n3. Burtguuleh", content_type="text/plain")


@app.post("/sms/<provider>")
def sms(provider: str) -> Response:
    if provider == "twilio":
        return Response('<?xml version="1.0" encoding="UTF-8"?><Response/>', content_type="text/xml")
    return Response("", content_type="text/plain")


@app.get("/healthz")
def healthz() -> str:
    return "ok"
