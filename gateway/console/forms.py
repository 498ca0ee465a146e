"""Shared form pieces: GET filter forms carry no CSRF token (they change nothing); everything else does."""
from __future__ import annotations

from flask_wtf import FlaskForm


class FilterForm(FlaskForm):
    """A GET form that only narrows a list: no CSRF token, values read from the query string."""

    class Meta:
        csrf = False

    def __init__(self, *args, **kwargs):
        from flask import request

        super().__init__(request.args, *args, **kwargs)


def page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 100_000 else 1
