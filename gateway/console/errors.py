"""Console errors as pages in the reader's language (the rest of the app answers JSON)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def register(console: Blueprint) -> None:
    @console.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return render_template("console/message.html", title=_("The form expired"),
                               text=_("The page was open too long or was sent twice. Go back, reload it and try "
                                      "again.")), 400

    @console.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        titles = {401: _("Please sign in"), 403: _("Not allowed"), 404: _("Not found"),
                  413: _("The file is too large"), 400: _("Bad request")}
        texts = {401: _("Sign in to see this page."),
                 403: _("Your role or your area does not include this page."),
                 404: _("There is nothing here. It may have been removed."),
                 413: _("The file is too large.")}
        text = texts.get(exc.code) or (exc.description if exc.code == 400 else "")
        return render_template("console/message.html", title=titles.get(exc.code, exc.name), text=text), exc.code
