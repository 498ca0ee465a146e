"""Template filters: local times (Asia/Ulaanbaatar by config), names in the reader's language, money."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app

from gateway.broadcasts import to_local
from storage.phones import mask_phones_in


def local(value: dt.datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A stored naive-UTC time as local wall-clock text (never bare UTC)."""
    if value is None:
        return ""
    return to_local(current_app, value).strftime(pattern)


def local_input(value: dt.datetime | None) -> str:
    """The value of an <input type="datetime-local">."""
    return local(value, "%Y-%m-%dT%H:%M")


def money(value: float | int | None) -> str:
    currency = current_app.config["GATEWAY"]["prices"]["currency"]
    amount = 0 if value is None else value
    text = f"{amount:,.0f}" if float(amount).is_integer() else f"{amount:,.2f}"
    return f"{text.replace(',', ' ')} {currency}"


def named(item, language: str) -> str:
    """`name_mn` or `name_en` of a unit or service point (or `title_…` of a meeting)."""
    for stem in ("name", "title", "text"):
        mn, en = getattr(item, f"{stem}_mn", None), getattr(item, f"{stem}_en", None)
        if mn is not None or en is not None:
            return (en or mn) if language == "en" else (mn or en)
    return str(item)


def register(console: Blueprint) -> None:
    console.add_app_template_filter(local, "local")
    console.add_app_template_filter(local_input, "local_input")
    console.add_app_template_filter(money, "money")
    console.add_app_template_filter(named, "named")
    console.add_app_template_filter(lambda text: mask_phones_in(str(text or "")), "masked")
