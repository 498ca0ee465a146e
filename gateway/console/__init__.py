"""The web console under /console: server-rendered pages for staff, CSOs and admins, Mongolian first.

Each page module exposes `bp`, a Blueprint nested under the console's own; every view is wrapped by
`gateway.console.auth.role` (or listed in auth.PUBLIC_ENDPOINTS), and the console refuses any endpoint that is
neither, so a page added without a role is unreachable rather than open. Pages call the feature modules
(gateway.meetings, gateway.broadcasts, storage.complaints…): the console is a thin layer over them.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from flask import Blueprint, Flask
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

PAGE_MODULES = [
    "gateway.console.auth",
    "gateway.console.dashboard",
    "gateway.console.meetings",
    "gateway.console.broadcasts",
    "gateway.console.complaints",
    "gateway.console.scorecards",
    "gateway.console.votes",
    "gateway.console.digests",
    "gateway.console.people",
    "gateway.console.flows",
    "gateway.console.admin",
]
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("mn", "en")

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    from gateway.console import auth, fmt

    app.config.update(
        BABEL_DEFAULT_LOCALE="mn", BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
        WTF_CSRF_CHECK_DEFAULT=False,  # only console forms are checked: webhooks and the API carry no cookie
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as the session (auth.SESSION_HOURS)
        SESSION_COOKIE_NAME="gw_console", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=auth.SESSION_LIFETIME,
    )
    app.session_interface = auth.ConsoleSessionInterface()
    Babel(app, locale_selector=auth.current_language)
    csrf.init_app(app)
    console = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                        static_folder="static", static_url_path="/static")
    auth.guard(console)
    fmt.register(console)
    for name in PAGE_MODULES:
        console.register_blueprint(importlib.import_module(name).bp)
    app.register_blueprint(console)
