"""Signing in: passwords, throttling and lockout, sessions and their cookies, CSRF, invites, `gateway users`."""
from __future__ import annotations

import datetime as dt
import logging

from gateway.console import auth
from storage import console as users
from storage.models import AuditLog
from tests.console.conftest import PASSWORD, Console


def test_sign_in_goes_to_the_page_asked_for_and_stores_only_a_scrypt_hash(app, people, db):
    browser = Console(app)
    location = browser.get("/console/complaints/").headers["Location"]
    assert location.startswith("/console/login?next=/console/complaints/")
    response = browser.client.post("/console/login?next=/console/complaints/",
                                   data={"csrf_token": browser.token(), "username": "Staff", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/console/complaints/"
    assert browser.get("/console/complaints/").status_code == 200
    stored = users.user_by_name("staff").password_hash
    assert stored.startswith("scrypt:") and PASSWORD not in stored


def test_next_never_leaves_the_console(app, people):
    for target in ("//evil.example/x", "https://evil.example/", "/api/v1/complaints", "/console/\\evil"):
        browser = Console(app)
        response = browser.client.post("/console/login", query_string={"next": target},
                                       data={"csrf_token": browser.token(), "username": "staff", "password": PASSWORD})
        assert response.headers["Location"] == "/console/", target


def test_wrong_password_and_unknown_user_get_the_same_answer(app, people):
    browser = Console(app)
    wrong = browser.login("staff", "not the password")
    unknown = browser.login("nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_data(as_text=True).count('class="error"') == 1
    assert wrong.get_data(as_text=True) == unknown.get_data(as_text=True).replace("nobody-here", "staff")


def test_failures_slow_down_then_lock_and_each_one_is_logged(app, people, db, frozen_clock, caplog, gateway_cli):
    browser = Console(app)
    caplog.set_level(logging.WARNING, logger="gateway")
    for _ in range(auth.SLOW_AFTER):
        assert browser.login("staff", "guess-guess").status_code == 401
    # slowed: even the right password is refused until the wait is over, without being checked
    refused = browser.login("staff")
    assert refused.status_code == 401
    frozen_clock.shift(dt.timedelta(seconds=2))
    assert Console(app).login("staff").status_code == 302  # success clears the count
    for attempt in range(auth.LOCK_AFTER):
        frozen_clock.shift(dt.timedelta(seconds=auth.MAX_WAIT_SECONDS + 1))
        browser.login("staff", f"guess-{attempt}")
    frozen_clock.shift(dt.timedelta(seconds=auth.MAX_WAIT_SECONDS + 1))
    locked = browser.login("staff")
    assert locked.status_code == 401
    frozen_clock.shift(dt.timedelta(minutes=auth.LOCK_MINUTES - 2))
    assert browser.login("staff").status_code == 401, "still locked"
    failures = [r for r in caplog.records if r.getMessage() == "console.login_failed"]
    assert len(failures) >= auth.LOCK_AFTER + auth.SLOW_AFTER
    for record in failures:
        text = str(record.__dict__.get("fields"))
        assert "guess" not in text and PASSWORD not in text
    assert AuditLog.select().where(AuditLog.action == "console.login_failed").count() == len(failures)
    # an admin unlocks
    result = gateway_cli("users", "unlock", "staff")
    assert result.exit_code == 0, result.output
    assert Console(app).login("staff").status_code == 302


def test_an_unknown_name_is_never_logged(app, people, caplog):
    caplog.set_level(logging.WARNING, logger="gateway")
    Console(app).login("my-secret-password-typed-here", "x")
    assert "my-secret-password" not in caplog.text


def test_cookies_are_httponly_samesite_and_secure_over_https(app, people):
    plain = Console(app).login("staff")
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    browser = Console(app)
    token = browser.token()
    secure = browser.client.post("/console/login", base_url="https://localhost",
                                 headers={"Referer": "https://localhost/console/login"},
                                 data={"csrf_token": token, "username": "staff", "password": PASSWORD})
    assert "Secure" in secure.headers["Set-Cookie"]


def test_public_https_url_makes_cookies_secure(make_app, db):
    app = make_app(public_url="https://gw.example.mn")
    response = app.test_client().get("/console/login")
    assert "Secure" in response.headers["Set-Cookie"]


def test_forms_without_the_csrf_token_are_refused(app, people, console):
    browser = console("staff")
    response = browser.client.post("/console/logout")
    assert response.status_code == 400
    assert browser.get("/console/").status_code == 200, "still signed in"
    assert Console(app).client.post("/console/login", data={"username": "staff", "password": PASSWORD}
                                    ).status_code == 400


def test_logout_ends_the_session(console):
    browser = console("cso")
    assert browser.post("/console/logout").status_code == 302
    assert browser.get("/console/").status_code == 302


def test_disabling_or_changing_a_user_ends_their_sessions(console, people, db):
    browser = console("staff")
    users.update_user(people["staff"], "staff", ["BGD-08"], None)
    assert browser.get("/console/").status_code == 302
    browser = console("cso")
    users.set_disabled(people["cso"], True)
    assert browser.get("/console/").status_code == 302
    assert Console(browser.client.application).login("cso").status_code == 401


def test_invite_link_sets_a_password_once(app, db, people):
    token = auth.new_invite_token()
    users.create_user("newcomer", "New Comer", "cso", ["BGD-07"], None, None, "admin", invite_token=token)
    browser = Console(app)
    assert browser.login("newcomer", "").status_code in (400, 401)
    page = f"/console/invite/{token}"
    short = browser.post(page, {"password": "short", "confirm": "short"}, token_from=page)
    assert short.status_code == 200 and "10" in short.get_data(as_text=True)
    done = browser.post(page, {"password": "a long new password", "confirm": "a long new password"},
                        token_from=page)
    assert done.status_code == 302
    assert browser.get(page).status_code == 404, "an invite works once"
    assert browser.login("newcomer", "a long new password").status_code == 302


def test_gateway_users_create_prompts_for_a_password_or_prints_an_invite(app, db, gateway_cli):
    made = gateway_cli("users", "create", "boss", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert made.exit_code == 0, made.output
    assert "/console/" in made.output
    assert Console(app).login("boss").status_code == 302
    invited = gateway_cli("users", "create", "kheseg1", "--role", "staff", "--unit", "BGD-07", "--invite")
    assert invited.exit_code == 0, invited.output
    assert "/console/invite/" in invited.output
    bad = gateway_cli("users", "create", "nounit", "--role", "staff", "--invite")
    assert bad.exit_code != 0 and "admin unit" in bad.output
    phone = gateway_cli("users", "create", "99112233", "--role", "cso", "--unit", "BGD-07", "--invite")
    assert phone.exit_code != 0 and "phone number" in phone.output
    listed = gateway_cli("users", "list")
    assert "boss" in listed.output and "kheseg1" in listed.output and "invited" in listed.output


def test_language_toggle_keeps_the_choice(console):
    browser = console("staff")
    token = browser.token()
    response = browser.client.post("/console/language", data={"csrf_token": token, "language": "en",
                                                               "next": "/console/meetings/"})
    assert response.status_code == 302 and response.headers["Location"] == "/console/meetings/"
    page = browser.get("/console/").get_data(as_text=True)
    assert "<html lang=\"en\">" in page and "This week at a glance" in page
