"""Streaming CSV exports of round scores and flow results: no phone numbers, no contact ids, constant memory.

Rows come from a server-side cursor on PostgreSQL (a named cursor fetching `BATCH` rows at a time) and from
SQLite's lazy cursor, so a million rows never sit in memory at once.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Sequence

from storage.db import database, is_postgres
from storage.phones import mask_phones_in

BATCH = 2000
LocalDate = Callable[[object], dt.date] | None

ROUND_COLUMNS = ["service_point", "admin_unit", "round", "indicator", "group", "score", "channel", "scored_on"]
# Groups that the digest would suppress (below the round's minimum cell, plus the complementary one) are
# exported together as 'merged', so no small group's answers can be picked out.
ROUND_SQL = """
SELECT sp.code, u.code, r.number, i.code,
       CASE WHEN resp."group" IN {hidden} THEN 'merged' ELSE resp."group" END,
       s.score, s.channel, s.scored_at
FROM score s
JOIN round r ON r.id = s.round_id
JOIN service_point sp ON sp.id = r.service_point_id
JOIN admin_unit u ON u.id = sp.admin_unit_id
JOIN indicator i ON i.id = s.indicator_id
JOIN respondent resp ON resp.round_id = s.round_id AND resp.contact_id = s.contact_id
WHERE s.round_id = ? AND s.scored_at >= ? AND s.scored_at < ?
ORDER BY s.id
"""
GROUP_SIZES_SQL = 'SELECT "group", COUNT(*) FROM respondent WHERE round_id = ? GROUP BY "group"'

FLOW_COLUMNS = ["run", "flow", "channel", "result", "value", "category", "saved_at"]
FLOW_SQL = """
SELECT fr.run_id, r.flow_id, r.channel, fr.name, fr.value, fr.category, fr.created_at
FROM flow_result fr JOIN flow_run r ON r.id = fr.run_id
WHERE r.flow_id = ? AND fr.created_at >= ? AND fr.created_at < ?
ORDER BY fr.id
"""

FAR_PAST, FAR_FUTURE = dt.datetime(1970, 1, 1), dt.datetime(9999, 1, 1)


def stream(sql: str, params: Sequence) -> Iterator[tuple]:
    """Rows of `sql` (written with `?`), fetched in batches."""
    if is_postgres():
        yield from _server_side(sql.replace("?", "%s"), params)
        return
    cursor = database.execute_sql(sql, tuple(params))
    try:
        while rows := cursor.fetchmany(BATCH):
            yield from rows
    finally:
        cursor.close()


def _server_side(sql: str, params: Sequence) -> Iterator[tuple]:
    """A named (server-side) cursor; psycopg2 needs a real transaction for it, so autocommit is paused."""
    connection = database.connection()
    autocommit = connection.autocommit
    connection.autocommit = False
    cursor = connection.cursor(name=f"export_{uuid.uuid4().hex}")
    cursor.itersize = BATCH
    try:
        cursor.execute(sql, tuple(params))
        yield from cursor
    finally:
        cursor.close()
        connection.rollback()  # read-only: nothing to keep
        connection.autocommit = autocommit


def round_rows(round_id: int, since: dt.datetime | None, until: dt.datetime | None,
               local_date: LocalDate = None) -> Iterator[tuple]:
    """A round's scores; `local_date` turns a stored UTC time into the local date shown (default: the UTC date)."""
    local_date = local_date or _utc_date
    hidden = sorted(_hidden_groups(round_id))
    sql = ROUND_SQL.format(hidden="(" + ",".join("?" * len(hidden)) + ")" if hidden else "(NULL)")
    for sp, unit, number, code, group, score, channel, scored_at in stream(
            sql, [*hidden, round_id, since or FAR_PAST, until or FAR_FUTURE]):
        yield sp, unit, number, code, group, score, channel, local_date(scored_at).isoformat()


def _hidden_groups(round_id: int) -> set[str]:
    from storage.digests import suppressed_keys
    from storage.scorecards import Round

    sizes = {group: int(n) for group, n in database.execute_sql(
        GROUP_SIZES_SQL.replace("?", database.param), (round_id,)).fetchall()}
    return suppressed_keys(sizes, Round.get_by_id(round_id).min_cell)


def flow_rows(flow_id: str, since: dt.datetime | None, until: dt.datetime | None,
              local_date: LocalDate = None) -> Iterator[tuple]:
    """Flow results, with anything that looks like a phone number inside free text masked."""
    local_date = local_date or _utc_date
    for run, flow, channel, name, value, category, created in stream(
            FLOW_SQL, [flow_id, since or FAR_PAST, until or FAR_FUTURE]):
        yield run, flow, channel, name, mask_phones_in(value or ""), category, local_date(created).isoformat()


def _utc_date(value) -> dt.date:
    """Dates, not times, so rows cannot be timed. Local dates come from the caller (gateway.clock)."""
    return value.date() if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value)).date()
