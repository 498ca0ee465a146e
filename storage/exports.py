"""Streaming CSV exports of round scores and flow results: no phone numbers, no contact ids, constant memory.

Rows come from a server-side cursor on PostgreSQL (a named cursor fetching `BATCH` rows at a time) and from
SQLite's lazy cursor, so a million rows never sit in memory at once.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence

from storage.db import database, is_postgres
from storage.phones import mask_phones_in

BATCH = 2000

ROUND_COLUMNS = ["service_point", "admin_unit", "round", "indicator", "group", "score", "channel", "scored_on"]
# Groups smaller than the round's minimum cell are exported as 'merged', so no small group's answers stand out.
ROUND_SQL = """
WITH sizes AS (
    SELECT round_id, "group" AS grp, COUNT(*) AS n FROM respondent WHERE round_id = ? GROUP BY round_id, "group"
)
SELECT sp.code, u.code, r.number, i.code,
       CASE WHEN sizes.n < r.min_cell THEN 'merged' ELSE resp."group" END,
       s.score, s.channel, s.scored_at
FROM score s
JOIN round r ON r.id = s.round_id
JOIN service_point sp ON sp.id = r.service_point_id
JOIN admin_unit u ON u.id = sp.admin_unit_id
JOIN indicator i ON i.id = s.indicator_id
JOIN respondent resp ON resp.round_id = s.round_id AND resp.contact_id = s.contact_id
JOIN sizes ON sizes.round_id = resp.round_id AND sizes.grp = resp."group"
WHERE s.round_id = ? AND s.scored_at >= ? AND s.scored_at < ?
ORDER BY s.id
"""

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
    with database.atomic():  # a named cursor lives inside a transaction
        cursor = database.connection().cursor(name=f"export_{uuid.uuid4().hex}")
        cursor.itersize = BATCH
        try:
            cursor.execute(sql, tuple(params))
            yield from cursor
        finally:
            cursor.close()


def round_rows(round_id: int, since: dt.datetime | None, until: dt.datetime | None) -> Iterator[tuple]:
    for sp, unit, number, code, group, score, channel, scored_at in stream(
            ROUND_SQL, [round_id, round_id, since or FAR_PAST, until or FAR_FUTURE]):
        yield sp, unit, number, code, group, score, channel, _date(scored_at)


def flow_rows(flow_id: str, since: dt.datetime | None, until: dt.datetime | None) -> Iterator[tuple]:
    """Flow results, with anything that looks like a phone number inside free text masked."""
    for run, flow, channel, name, value, category, created in stream(
            FLOW_SQL, [flow_id, since or FAR_PAST, until or FAR_FUTURE]):
        yield run, flow, channel, name, mask_phones_in(value or ""), category, _date(created)


def _date(value) -> str:
    return str(value)[:10]
