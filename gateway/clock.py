"""Local time: the configured zone (Asia/Ulaanbaatar by default), read in one place."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask


def local_zone(app: Flask) -> ZoneInfo:
    return ZoneInfo(app.config["GATEWAY"]["timezone"])


def local_now(app: Flask) -> dt.datetime:
    return dt.datetime.now(local_zone(app))


def local_today(app: Flask) -> dt.date:
    return local_now(app).date()
