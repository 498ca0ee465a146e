"""Shared form pieces: GET filter forms carry no CSRF token (they change nothing); everything else does."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations
from flask_babel import get_locale
from flask_wtf import FlaskForm

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


@lru_cache(maxsize=4)
def _form_messages(locale: str) -> NullTranslations:
    return Translations.load(str(TRANSLATIONS), [locale], domain="wtforms")


class FormMessages:
    """WTForms' own messages ("This field is required.") in the page's language. WTForms ships no Mongolian, so the
    console carries that catalogue itself (translations/mn/LC_MESSAGES/wtforms.po)."""

    def gettext(self, string: str) -> str:
        return _form_messages(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _form_messages(str(get_locale())).ungettext(singular, plural, n)


class ConsoleForm(FlaskForm):
    """Every console form: CSRF protected, WTForms' messages in the page's language."""

    class Meta:
        def get_translations(self, form):
            return FormMessages()


class FilterForm(ConsoleForm):
    """A GET form that only narrows a list: no CSRF token, values read from the query string."""

    class Meta:
        csrf = False

    def __init__(self, *args, **kwargs):
        from flask import request

        super().__init__(request.args, *args, **kwargs)


def page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 100_000 else 1
