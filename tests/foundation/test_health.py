"""Liveness (/healthz: can this process serve?) apart from readiness (/readyz: does everything promised work?)."""
from __future__ import annotations

import datetime as dt

from storage import outbox as store
from storage.db import database, utcnow


def test_healthz_reports_database_and_version(client):
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200 and body["ok"] is True
    assert body["database"] == "ok"
    assert body["scheduler"] == "disabled in config"
    assert "version" in body and body["channels"] == {}


def test_a_phone_never_seen_keeps_the_gateway_live_and_ready(make_app, monkeypatch):
    for name, value in {"ANDROID_GATEWAY_URL": "http://127.0.0.1:9", "ANDROID_GATEWAY_LOGIN": "phone",
                        "ANDROID_GATEWAY_PASSWORD": "p", "ANDROID_GATEWAY_SIGNING_KEY": "k"}.items():
        monkeypatch.setenv(name, value)
    client = make_app(channels={"android": {"enabled": True}}).test_client()
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        android = response.get_json()["channels"]["android"]
        assert response.status_code == 200, path
        assert android["state"] == "up" and android["detail"].startswith("WARNING: phone never seen")


def test_at_enabled_without_credentials_is_live_but_not_ready(make_app):
    client = make_app(channels={"africastalking": {"enabled": True}}).test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 503 and body["ok"] is False
    at = body["channels"]["africastalking"]
    assert at["state"] == "misconfigured" and not at["ready"]
    assert "AT_USERNAME" in at["detail"] and "AT_API_KEY" in at["detail"] and "AT_WEBHOOK_TOKEN" in at["detail"]
    assert "channel africastalking" in body["not_ready"]


def test_every_channel_down_is_not_ready_but_still_live(make_app, monkeypatch):
    for name, value in {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t"}.items():
        monkeypatch.setenv(name, value)
    app = make_app(channels={"twilio": {"enabled": True}}, public_url="https://gw.example.mn")
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    with app.app_context(), database.connection_context():
        store.mark_down("twilio", "twilio 500", utcnow() + dt.timedelta(minutes=5))
    assert client.get("/healthz").status_code == 200
    body = client.get("/readyz").get_json()
    assert body["channels"]["twilio"]["state"] == "down" and body["not_ready"] == ["no channel can send"]
