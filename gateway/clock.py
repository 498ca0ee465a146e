"""Local time: the one module that knows the configured zone (Asia/Ulaanbaatar by default) and converts to and from it.

Everything stored is naive UTC (`storage.db.utcnow`). People read and type local times. Every conversion between
the two happens here, so DST rules, the zone name and the range of years we accept live in one place.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask

from storage.digests import Week

# Times people may type: far enough either way for any meeting, round or export range, and far enough from
# year 1 and 9999 that moving to or from UTC (or adding a week) never leaves the range Python can represent.
FIRST_YEAR, LAST_YEAR = 1900, 2999


class LocalTimeError(ValueError):
    """A time or date that cannot be a real local time for this service; the message says what was wrong."""


@functools.cache
def zone_named(name: str) -> ZoneInfo:
    """The zone called `name`; raises LocalTimeError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise LocalTimeError(f"unknown time zone {name!r}") from None


def local_zone(app: Flask) -> ZoneInfo:
    return zone_named(app.config["GATEWAY"]["timezone"])


def local_now(app: Flask, now: dt.datetime | None = None) -> dt.datetime:
    """Now (or the naive UTC `now`) as an aware local time."""
    return dt.datetime.now(local_zone(app)) if now is None else to_local(app, now)


def local_today(app: Flask) -> dt.date:
    return local_now(app).date()


def to_local(app: Flask, utc_naive: dt.datetime) -> dt.datetime:
    return in_zone(local_zone(app), utc_naive)


def in_zone(zone: dt.tzinfo, utc_naive: dt.datetime) -> dt.datetime:
    return utc_naive.replace(tzinfo=dt.UTC).astimezone(zone)


def to_utc(app: Flask, value: dt.datetime) -> dt.datetime:
    """Naive UTC from a local naive time (the configured zone) or an aware time."""
    return utc_of(local_zone(app), value)


def utc_of(zone: dt.tzinfo, value: dt.datetime) -> dt.datetime:
    check_year(value.year)
    aware = value if value.tzinfo else value.replace(tzinfo=zone)
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


def day_start_utc(zone: dt.tzinfo, day: dt.date) -> dt.datetime:
    """Naive UTC of local midnight at the start of `day`."""
    return utc_of(zone, dt.datetime.combine(day, dt.time()))


def local_date_of(zone: dt.tzinfo, value: dt.datetime | str) -> dt.date:
    """The local calendar date of a stored (naive UTC) time, given as a datetime or as stored text."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return in_zone(zone, moment).date()


def check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise LocalTimeError(f"the year {year} is out of range: use {FIRST_YEAR}–{LAST_YEAR}")


def parse_local_time(app: Flask, text: str) -> dt.datetime:
    """`2026-11-25 18:00` (local time) or ISO 8601 with an offset → naive UTC; LocalTimeError says what is wrong."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("T", " "))
    except ValueError:
        raise LocalTimeError(f"not a time: {text[:40]!r}; write it like 2026-11-25 18:00 (local time)") from None
    return to_utc(app, value)


def parse_date(text: str) -> dt.date:
    """A calendar date YYYY-MM-DD within the accepted years."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise LocalTimeError(f"not a date: {text[:40]!r}; write it like 2026-11-25") from None
    check_year(day.year)
    return day


# ---- ISO weeks (digests) ------------------------------------------------------------------------------------

def week_of(day: dt.date, timezone: str) -> Week:
    zone = zone_named(timezone)
    monday = day - dt.timedelta(days=day.weekday())
    year, number, _ = monday.isocalendar()
    return Week(f"{year}-W{number:02d}", monday, day_start_utc(zone, monday),
                day_start_utc(zone, monday + dt.timedelta(days=7)))


def parse_week(label: str, timezone: str) -> Week:
    match = re.fullmatch(r"(\d{4})-?W(\d{1,2})", label.strip().upper())
    if not match:
        raise LocalTimeError(f"a week must look like 2026-W47, not {label[:40]!r}")
    check_year(int(match[1]))
    try:
        monday = dt.date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise LocalTimeError(f"{label!r} is not a week of that year") from None
    return week_of(monday, timezone)


def previous_week(week: Week, timezone: str) -> Week:
    return week_of(week.first_day - dt.timedelta(days=7), timezone)


def local_date_function(timezone: str) -> Callable[[dt.datetime | str], dt.date]:
    """For code outside `gateway/` (storage streams rows): turns a stored UTC time into its local date."""
    return functools.partial(local_date_of, zone_named(timezone))
