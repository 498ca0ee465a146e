"""CSV exports: released aggregates for everyone, per-respondent rows for admins. No numbers, no contact ids.

- `round_aggregate_rows` / `flow_aggregate_rows`: cumulative tables (as of a date) under the small-cell rule of
  `storage.suppression` (whole blocks of 5), the same cells a digest releases. No free text at all.
- `round_rows` / `flow_rows`: one row per score or per saved result, for admins only (the API and CLI check the
  role and audit each export). Free text leaves only as staff-redacted text (complaint descriptions), never from
  the restricted queue, with numbers masked; otherwise it is withheld.

Rows come from a server-side cursor on PostgreSQL (a named cursor fetching `BATCH` rows at a time) and from
SQLite's lazy cursor, so a million rows never sit in memory at once.
"""
from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Sequence

from storage.db import database, is_postgres
from storage.phones import mask_free_text
from storage.suppression import DEFAULT_K, REASONS, release_counts

BATCH = 2000
LocalDate = Callable[[object], dt.date] | None
WITHHELD = "[чөлөөт текст нуусан / free text withheld]"
UNIT_KINDS = ("capital", "aimag", "district", "soum", "khoroo", "bag", "kheseg")
NOT_COUNTED = ("text", "number", "date")  # result categories that are free answers, not choices

ROUND_AGGREGATE_COLUMNS = ["service_point", "admin_unit", "round", "indicator", "group", "n", "mean", "median",
                           "dist_1", "dist_2", "dist_3", "dist_4", "dist_5", "hidden_why"]
FLOW_AGGREGATE_COLUMNS = ["flow", "result", "value", "n", "hidden_why"]

ROUND_COLUMNS = ["service_point", "admin_unit", "round", "indicator", "group", "score", "channel", "scored_on"]
# Per-respondent rows (admins only). Groups under the round's minimum cell are still exported together as
# 'merged', as one more layer of care.
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
WHERE r.flow_id = ? AND fr.created_at >= ? AND fr.created_at < ? {scope}
ORDER BY fr.id
"""
# A run's admin unit: the unit it saved (a complaint's place), else the person's own unit.
RUN_UNIT = f"""COALESCE((SELECT MIN(au.id) FROM flow_result ur JOIN admin_unit au ON au.code = ur.value
                        WHERE ur.run_id = r.id AND ur.category IN ({", ".join(f"'{k}'" for k in UNIT_KINDS)})),
                       (SELECT c.admin_unit_id FROM contact c WHERE c.id = r.contact_id))"""
FLOW_COUNTS_SQL = """
SELECT fr.name, fr.value, COUNT(DISTINCT fr.run_id)
FROM flow_result fr JOIN flow_run r ON r.id = fr.run_id
WHERE r.flow_id = ? AND fr.created_at < ? AND fr.category IS NOT NULL
      AND fr.category NOT IN ('text', 'number', 'date')
      {scope}
GROUP BY fr.name, fr.value
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


def _scope_sql(unit_ids: list[int] | None) -> tuple[str, list]:
    if unit_ids is None:
        return "", []
    return f" AND {RUN_UNIT} IN (" + ",".join("?" * len(unit_ids)) + ")" if unit_ids else " AND 1 = 0", unit_ids


# --- aggregates (every role) ----------------------------------------------------------------------------------


def round_aggregate_rows(round_id: int, until: dt.datetime | None) -> Iterator[tuple]:
    """A round's released cells (indicator × group, and all), cumulative up to `until`."""
    from storage.digests import round_table

    sp, unit, number = database.execute_sql(_param(
        "SELECT sp.code, u.code, r.number FROM round r JOIN service_point sp ON sp.id = r.service_point_id "
        "JOIN admin_unit u ON u.id = sp.admin_unit_id WHERE r.id = ?"), (round_id,)).fetchone()
    for ind, group, cell in round_table(round_id, until or FAR_FUTURE):
        dist = cell.get("distribution", {})
        why = f"{cell['why_mn']} / {cell['why_en']}" if cell.get("suppressed") else None
        yield (sp, unit, number, ind["code"], group, cell["n"], cell.get("mean"), cell.get("median"),
               *(dist.get(k) for k in "12345"), why)


def flow_aggregate_rows(flow_id: str, until: dt.datetime | None, unit_ids: list[int] | None) -> Iterator[tuple]:
    """How many runs gave each answer (choices and places; never free text), cumulative up to `until`, within
    `unit_ids` (None: everywhere), in whole blocks of 5 per result."""
    scope, scope_params = _scope_sql(unit_ids)
    rows = database.execute_sql(_param(FLOW_COUNTS_SQL.format(scope=scope)),
                                (flow_id, until or FAR_FUTURE, *scope_params)).fetchall()
    by_result: dict[str, dict[str, int]] = {}
    for name, value, n in rows:
        by_result.setdefault(name, {})[value or ""] = int(n)
    for name in sorted(by_result):
        for value, released in sorted(release_counts(by_result[name], DEFAULT_K).items()):
            why = None if released.shown else " / ".join(REASONS[released.reason])
            yield flow_id, name, value, released.label(DEFAULT_K), why


def _param(sql: str) -> str:
    return sql.replace("?", database.param) if database.param != "?" else sql


# --- per-respondent rows (admins only) --------------------------------------------------------------------------


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
    from storage.scorecards import Round

    sizes = {group: int(n) for group, n in database.execute_sql(
        GROUP_SIZES_SQL.replace("?", database.param), (round_id,)).fetchall()}
    return {g for g, r in release_counts(sizes, Round.get_by_id(round_id).min_cell).items() if not r.shown}


def flow_rows(flow_id: str, since: dt.datetime | None, until: dt.datetime | None,
              local_date: LocalDate = None, unit_ids: list[int] | None = None) -> Iterator[tuple]:
    """Saved results, one row each. A free-text answer leaves only as the redacted text of the complaint it
    became (not in the restricted queue), numbers masked; any other free text is withheld."""
    local_date = local_date or _utc_date
    scope, scope_params = _scope_sql(unit_ids)
    for run, flow, channel, name, value, category, created in stream(
            FLOW_SQL.format(scope=scope), [flow_id, since or FAR_PAST, until or FAR_FUTURE, *scope_params]):
        if category == "text" or (category is None and not _is_token(value)):
            value = _redacted_for(run) if name == "description" else None
        yield (run, flow, channel, name, WITHHELD if value is None else mask_free_text(value), category,
               local_date(created).isoformat())


def _is_token(value: str | None) -> bool:
    """A short value without spaces (an id, a code): not free text even when it was saved without a category."""
    return value is None or (len(value) <= 20 and " " not in value)


def _redacted_for(run_id: int) -> str | None:
    """The staff-redacted text of the complaint a run became, unless it is in the restricted queue."""
    from storage.complaints import Complaint, ComplaintRef

    reserved = ComplaintRef.get_or_none(ComplaintRef.run_id == run_id)
    complaint = Complaint.get_or_none(Complaint.ref == reserved.ref) if reserved else None
    return None if complaint is None or complaint.sensitive else complaint.redacted_text


def _utc_date(value) -> dt.date:
    """Dates, not times, so rows cannot be timed. Local dates come from the caller (gateway.clock)."""
    return value.date() if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value)).date()
