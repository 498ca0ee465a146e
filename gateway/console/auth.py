"""Console sign-in: passwords (werkzeug scrypt), sessions, roles, invites, throttled logins, the language toggle.

- A session cookie holds the user id and the user's `session_epoch`: changing a user's role, scope, password or
  disabling them bumps the epoch and ends every session they have. Cookies are HttpOnly, SameSite=Lax, and Secure
  whenever the request came over HTTPS (directly or through a trusted proxy) or the public URL is https.
- Failed logins are counted per user name and per address: after SLOW_AFTER failures each further attempt must
  wait (1 s, 2 s, 4 s … up to a minute); after LOCK_AFTER the name is locked for LOCK_MINUTES (an admin can
  unlock it). Every failure is logged and audited, with neither the password nor, for an unknown name, the name.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import secrets
from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from gateway.console.forms import ConsoleForm
from gateway.logs import log_event
from storage import audit as audit_log
from storage import console as users
from storage.access import ROLES, Principal, Scope
from storage.db import utcnow

bp = Blueprint("auth", __name__)

SESSION_LIFETIME = dt.timedelta(hours=12)
SLOW_AFTER, LOCK_AFTER, LOCK_AFTER_ADDRESS = 3, 10, 50
LOCK_MINUTES = 15
MAX_WAIT_SECONDS = 60
MIN_PASSWORD = 10
PUBLIC_ENDPOINTS = {"console.auth.login", "console.auth.invite", "console.auth.language", "console.static"}
LANGUAGE_COOKIE = "gw_lang"
UPLOAD_ENDPOINTS = {"console.people.import_contacts", "console.people.load_units"}
MAX_UPLOAD_BYTES = 16 * 1024 * 1024
ROLE_NAMES = {"cso": _l("CSO"), "staff": _l("Staff"), "admin": _l("Admin")}
MENU = [  # (endpoint, label, lowest role that sees it)
    ("console.dashboard.index", _l("This week"), "cso"),
    ("console.meetings.index", _l("Meetings"), "staff"),
    ("console.broadcasts.index", _l("Broadcasts"), "staff"),
    ("console.complaints.index", _l("Complaints"), "staff"),
    ("console.scorecards.index", _l("Scorecards"), "cso"),
    ("console.votes.index", _l("Votes"), "cso"),
    ("console.digests.index", _l("Digests"), "cso"),
    ("console.people.index", _l("People and places"), "cso"),
    ("console.flows.index", _l("Flows"), "cso"),
    ("console.admin.index", _l("Admin"), "admin"),
]
_DUMMY_HASH = generate_password_hash(secrets.token_hex(8))  # unknown names cost as much time as known ones


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Secure cookies over HTTPS: decided per request, so a plain-http development server still works."""

    def get_cookie_secure(self, app) -> bool:
        public = (app.config["GATEWAY"].get("public_url") or "").startswith("https://")
        return public or request.is_secure


def audit(action: str, target: str | None = None, detail: str | None = None,
          principal: Principal | None = None) -> None:
    """One audit-log entry naming the signed-in user (or `principal`)."""
    audit_log.record(principal or current(), action, target, detail)


def current_language() -> str:
    if not has_request_context():  # a CLI or job rendering a template (the digest report)
        return "mn"
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in ("mn", "en") else "mn"


def current() -> Principal | None:
    return g.get("principal")


# ---- the guard: every console request -------------------------------------------------------------------


def role(needed: str) -> Callable:
    """Only users of role `needed` or above reach the view (the console's guard enforces it)."""
    if needed not in ROLES:
        raise ValueError(f"unknown role {needed!r}")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            return view(*args, **kwargs)

        guarded.required_role = needed
        return guarded
    return decorate


def guard(console: Blueprint) -> None:
    @console.before_request
    def _check_access():
        from gateway.console import csrf

        g.principal = _load_principal()
        if request.endpoint in UPLOAD_ENDPOINTS:
            request.max_content_length = MAX_UPLOAD_BYTES  # the app-wide 64 kB limit is for webhooks
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        endpoint = request.endpoint or ""
        if endpoint in PUBLIC_ENDPOINTS:
            return None
        needed = getattr(current_app.view_functions.get(endpoint), "required_role", None)
        if needed is None:
            abort(403)  # a page without a declared role is closed, never open
        if g.principal is None:
            wants_json = request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
            if request.method == "GET" and not wants_json:
                return redirect(url_for("console.auth.login", next=request.full_path.rstrip("?")))
            abort(401)
        if not g.principal.at_least(needed):
            abort(403)
        return None

    @console.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if request.endpoint != "console.static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @console.app_context_processor
    def _template_globals():
        if not has_request_context():
            return {}
        menu = [item for item in MENU if item[0] in current_app.view_functions]
        return {"principal": g.get("principal"), "user": g.get("user"), "language": current_language(), "menu": menu,
                "role_names": ROLE_NAMES}

    from gateway.console import errors

    errors.register(console)


def _load_principal() -> Principal | None:
    user_id, epoch = session.get("uid"), session.get("epoch")
    if user_id is None:
        return None
    user = users.user_by_id(user_id)
    if user is None or user.disabled_at is not None or user.session_epoch != epoch or not user.password_hash:
        session.clear()
        return None
    g.user = user
    return users.principal_of(user)


# ---- login -----------------------------------------------------------------------------------------------


class LoginForm(ConsoleForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=users.USERNAME_MAX)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if g.principal is not None and request.method == "GET":
        return redirect(url_for("console.dashboard.index"))
    if form.validate_on_submit():
        outcome = attempt_login(form.username.data, form.password.data, request.remote_addr or "?")
        if isinstance(outcome, users.ConsoleUser):
            session.clear()
            session.permanent = True
            session.update(uid=outcome.id, epoch=outcome.session_epoch)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(outcome)
    return render_template("console/login.html", form=form), 401 if request.method == "POST" else 200


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect to another site."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("console.dashboard.index")


def throttle_key(username: str) -> str:
    return "user:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _throttle_keys(username: str, address: str) -> list[str]:
    return [throttle_key(username), f"ip:{address}"]


def attempt_login(username: str, password: str, address: str) -> users.ConsoleUser | str:
    """The user, or the reason to show. Blocked keys are refused before the password is even checked."""
    now = utcnow()
    keys = _throttle_keys(username, address)
    for key in keys:
        row = users.throttle_of(key)
        if row and row.blocked_until and row.blocked_until > now:
            _log_failure(username, address, "blocked", row.failures)
            wait = int((row.blocked_until - now).total_seconds()) + 1
            if row.failures >= LOCK_AFTER:
                return _("Too many failed attempts: this account is locked for %(minutes)d minutes. An admin can "
                         "unlock it.", minutes=max(1, wait // 60))
            return _("Too many failed attempts: wait %(seconds)d seconds and try again.", seconds=wait)
    user = users.user_by_name(username)
    hashed = user.password_hash if user and user.password_hash and not user.disabled_at else None
    if check_password_hash(hashed or _DUMMY_HASH, password) and hashed:
        for key in keys:
            users.clear_failures(key)
        users.record_login(user)
        audit("console.login", f"user:{user.id}", principal=users.principal_of(user))
        log_event("console.login", user=user.username)
        return user
    failures = 0
    for key in keys:
        count = users.record_failure(key, now, None)
        limit = LOCK_AFTER if key.startswith("user:") else LOCK_AFTER_ADDRESS
        users.set_blocked_until(key, block_until(now, count, limit))
        failures = max(failures, count) if key.startswith("user:") else failures
    _log_failure(username, address, "wrong password" if user else "unknown user", failures)
    return _("Wrong user name or password.")


def block_until(now: dt.datetime, failures: int, lock_after: int) -> dt.datetime | None:
    if failures >= lock_after:
        return now + dt.timedelta(minutes=LOCK_MINUTES)
    if failures >= SLOW_AFTER:
        return now + dt.timedelta(seconds=min(2 ** (failures - SLOW_AFTER), MAX_WAIT_SECONDS))
    return None


def _log_failure(username: str, address: str, reason: str, failures: int) -> None:
    user = users.user_by_name(username)
    who = user.username if user else "unknown:" + hashlib.sha256(username.encode()).hexdigest()[:8]
    log_event("console.login_failed", logging.WARNING, user=who, address=address, reason=reason, failures=failures)
    # nobody is signed in: the entry names the account tried (or a hash of an unknown name), never the password
    attempted = Principal("login", user.id if user else None, who, user.role if user else "", Scope())
    audit_log.record(attempted, "console.login_failed", f"user:{user.id}" if user else None,
                     f"{reason}; failures={failures}")


def unlock(username: str) -> None:
    users.clear_failures(throttle_key(username))


@bp.post("/logout")
@role("cso")
def logout():
    audit("console.logout", f"user:{g.principal.id}")
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("console.auth.login"))


# ---- invites and passwords -------------------------------------------------------------------------------


class PasswordForm(ConsoleForm):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD, max=200,
                               message=_l("At least %(n)d characters.", n=MIN_PASSWORD))])
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


def hash_password(password: str) -> str:
    return generate_password_hash(password)  # scrypt, werkzeug's default


def new_invite_token() -> str:
    return secrets.token_urlsafe(24)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str):
    user = users.user_by_invite(token)
    if user is None:
        return render_template("console/message.html", title=_("Invitation"),
                               text=_("This invitation is not valid any more. Ask an admin for a new one.")), 404
    form = PasswordForm()
    if form.validate_on_submit():
        users.accept_invite(user, hash_password(form.password.data))
        audit("console.invite_accepted", f"user:{user.id}", principal=users.principal_of(user))
        flash(_("Your password is set. Sign in with it."))
        return redirect(url_for("console.auth.login"))
    return render_template("console/invite.html", form=form, user=user)


@bp.route("/account", methods=["GET", "POST"])
@role("cso")
def account():
    form = PasswordForm()
    if form.validate_on_submit():
        users.set_password(g.user, hash_password(form.password.data))
        audit("console.password_changed", f"user:{g.principal.id}")
        session.clear()
        flash(_("Your password is changed. Sign in with the new one."))
        return redirect(url_for("console.auth.login"))
    return render_template("console/account.html", form=form)


# ---- language --------------------------------------------------------------------------------------------


@bp.post("/language")
def language():
    chosen = request.form.get("language")
    target = _safe_next(request.form.get("next")) if g.principal else url_for("console.auth.login")
    response = redirect(target)
    if chosen in ("mn", "en"):
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 86400, httponly=True, samesite="Lax",
                            secure=current_app.session_interface.get_cookie_secure(current_app))
    return response
