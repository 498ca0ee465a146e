"""Weekly CSO digests, computed in SQL, and the record of what was sent to whom.

Every aggregate is a GROUP BY (and window functions for medians and "as of" comparisons) over the raw rows;
Python only walks the already-aggregated cells (rounds × indicators × groups) to suppress small ones.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import peewee as pw

from storage.db import BaseModel, database, is_postgres, utcnow
from storage.models import AdminUnit, Contact


class DigestSubscriber(BaseModel):
    """A CSO focal point who gets the weekly SMS summary (for one admin unit subtree, or everything)."""

    contact = pw.ForeignKeyField(Contact, backref="digest_subscriptions", on_delete="CASCADE")
    admin_unit = pw.ForeignKeyField(AdminUnit, null=True, backref="digest_subscribers", on_delete="CASCADE")
    label = pw.CharField()  # organisation / role, never a number
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)


class DigestSend(BaseModel):
    """One scheduled digest delivery: makes the Monday job safe to run twice."""

    week = pw.CharField()  # 2026-W47
    subscriber = pw.ForeignKeyField(DigestSubscriber, backref="sends", on_delete="CASCADE")
    kind = pw.CharField(default="sms")
    text = pw.TextField()
    segments = pw.IntegerField()
    sent_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("week", "subscriber", "kind"), True),)


MODELS = [DigestSubscriber, DigestSend]


# --- the week ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    """An ISO week in local time, with its bounds in naive UTC for querying (built by gateway.clock)."""

    label: str  # 2026-W47
    first_day: dt.date  # Monday, local
    start: dt.datetime  # Monday 00:00 local, as naive UTC
    end: dt.datetime  # next Monday 00:00 local, as naive UTC

    @property
    def last_day(self) -> dt.date:
        return self.first_day + dt.timedelta(days=6)

    # Built from a label or a day by gateway.clock (week_of, parse_week), where local time is converted.


# --- small-cell suppression ------------------------------------------------------------------------------


def suppressed_keys(counts: dict[str, int], min_cell: int) -> set[str]:
    """Cells to hide: every count below `min_cell` and, when exactly one is hidden, the next smallest too, so
    no hidden count (or mean) can be recovered by subtracting the shown cells from the shown total."""
    hidden = {key for key, n in counts.items() if 0 < n < min_cell}
    if len(hidden) == 1:
        shown = sorted((n, key) for key, n in counts.items() if n > 0 and key not in hidden)
        if shown:
            hidden.add(shown[0][1])
    return hidden


# --- queries ---------------------------------------------------------------------------------------------


def _params(sql: str) -> str:
    """Write queries with `?`; PostgreSQL's driver wants `%s`."""
    return sql.replace("?", database.param) if database.param != "?" else sql


def _rows(sql: str, params: Sequence = ()) -> list[tuple]:
    return list(database.execute_sql(_params(sql), tuple(params)).fetchall())


def _in_list(values: Sequence) -> str:
    return "(" + ",".join("?" * len(values)) + ")" if values else "(NULL)"


def unit_subtree_ids(code: str) -> list[int]:
    """The admin unit `code` (current version) and everything below it."""
    return [row[0] for row in _rows(
        "WITH RECURSIVE sub(id) AS (SELECT id FROM admin_unit WHERE code = ? AND valid_to IS NULL "
        "UNION SELECT a.id FROM admin_unit a JOIN sub ON a.parent_id = sub.id) SELECT id FROM sub", (code,))]


def _active_rounds(week: Week, unit_ids: list[int] | None) -> list[tuple]:
    """Rounds open at some time during the week, with their service point and admin unit."""
    sql = ("SELECT r.id, r.number, r.status, r.min_cell, r.previous_id, sp.code, sp.name_mn, sp.name_en, "
           "u.code, u.name_mn, u.name_en FROM round r JOIN service_point sp ON sp.id = r.service_point_id "
           "JOIN admin_unit u ON u.id = sp.admin_unit_id "
           "WHERE r.opened_at IS NOT NULL AND r.opened_at < ? AND (r.closed_at IS NULL OR r.closed_at >= ?)")
    params: list = [week.end, week.start]
    if unit_ids is not None:
        sql += " AND sp.admin_unit_id IN " + _in_list(unit_ids)
        params += unit_ids
    return _rows(sql + " ORDER BY u.code, sp.code, r.number", params)


# Per round × indicator × group (and 'all'): n, score sum, 1–5 distribution and the median, as of the week's
# end, plus n and sum as of its start (for the week-over-week change). The median comes from running totals
# over the distribution (a window function), so no row-level sort is needed.
CELL_SQL = """
WITH base AS (
    SELECT s.round_id, s.indicator_id, resp."group" AS grp, s.score,
           COUNT(*) AS n_now, SUM(CASE WHEN s.scored_at < ? THEN 1 ELSE 0 END) AS n_before
    FROM score s
    JOIN respondent resp ON resp.round_id = s.round_id AND resp.contact_id = s.contact_id
    WHERE s.round_id IN {rounds} AND s.scored_at < ?
    GROUP BY s.round_id, s.indicator_id, resp."group", s.score
), cells AS (
    SELECT round_id, indicator_id, grp, score, n_now, n_before FROM base
    UNION ALL
    SELECT round_id, indicator_id, 'all', score, SUM(n_now), SUM(n_before)
    FROM base GROUP BY round_id, indicator_id, score
), running AS (
    SELECT cells.*,
           SUM(n_now) OVER (PARTITION BY round_id, indicator_id, grp ORDER BY score
                            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cum,
           SUM(n_now) OVER (PARTITION BY round_id, indicator_id, grp) AS total
    FROM cells
)
SELECT round_id, indicator_id, grp, SUM(n_now), SUM(score * n_now), SUM(n_before), SUM(score * n_before),
       SUM(CASE WHEN score = 1 THEN n_now ELSE 0 END), SUM(CASE WHEN score = 2 THEN n_now ELSE 0 END),
       SUM(CASE WHEN score = 3 THEN n_now ELSE 0 END), SUM(CASE WHEN score = 4 THEN n_now ELSE 0 END),
       SUM(CASE WHEN score = 5 THEN n_now ELSE 0 END),
       MIN(CASE WHEN n_now > 0 AND 2 * cum >= total THEN score END),
       MIN(CASE WHEN n_now > 0 AND 2 * cum > total THEN score END)
FROM running GROUP BY round_id, indicator_id, grp
"""

PREVIOUS_SQL = """
SELECT i.code, s.round_id, COUNT(*), SUM(s.score)
FROM score s JOIN indicator i ON i.id = s.indicator_id
WHERE s.round_id IN {rounds}
GROUP BY s.round_id, i.code
"""

RESPONDENT_SQL = """
SELECT round_id, "group", COUNT(*), SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END)
FROM respondent WHERE round_id IN {rounds} AND created_at < ?
GROUP BY round_id, "group"
"""


@dataclass
class Cell:
    n: int
    total: int
    n_before: int
    total_before: int
    distribution: dict[str, int]
    median: float | None

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def mean_before(self) -> float | None:
        return self.total_before / self.n_before if self.n_before else None


def _cells(round_ids: list[int], week: Week) -> dict[tuple[int, int, str], Cell]:
    if not round_ids:
        return {}
    rows = _rows(CELL_SQL.format(rounds=_in_list(round_ids)), [week.start, *round_ids, week.end])
    cells = {}
    for rid, iid, grp, n, total, n_before, total_before, d1, d2, d3, d4, d5, med_lo, med_hi in rows:
        median = (float(med_lo) + float(med_hi)) / 2 if med_lo is not None else None
        cells[(rid, iid, grp)] = Cell(int(n), int(total), int(n_before or 0), int(total_before or 0),
                                      {"1": int(d1), "2": int(d2), "3": int(d3), "4": int(d4), "5": int(d5)},
                                      median)
    return cells


def _previous_means(previous_ids: list[int]) -> dict[int, dict[str, tuple[int, float]]]:
    """Previous round id → indicator code → (n, pooled mean)."""
    found: dict[int, dict[str, tuple[int, float]]] = {}
    if previous_ids:
        for code, rid, n, total in _rows(PREVIOUS_SQL.format(rounds=_in_list(previous_ids)), previous_ids):
            found.setdefault(rid, {})[code] = (int(n), int(total) / int(n))
    return found


def _respondents(round_ids: list[int], week: Week) -> dict[int, dict[str, tuple[int, int]]]:
    found: dict[int, dict[str, tuple[int, int]]] = {}
    if round_ids:
        sql = RESPONDENT_SQL.format(rounds=_in_list(round_ids))
        for rid, grp, n, new in _rows(sql, [week.start, *round_ids, week.end]):
            found.setdefault(rid, {})[grp] = (int(n), int(new))
    return found


# --- assembling the digest -------------------------------------------------------------------------------

AGENDA_MEAN = 2.5  # an indicator this low goes on the interface-meeting agenda
AGENDA_DROP = 0.5  # so does one that fell this much
DECLARED_GROUPS = ("women", "men", "youth", "elderly")  # 'unspecified' counts in the pooled mean only


def build_digest(week: Week, unit_code: str | None = None, oldest_open: int = 5) -> dict:
    """The whole digest for `week` as plain data (JSON-ready), optionally for one admin unit's subtree."""
    unit_ids = unit_subtree_ids(unit_code) if unit_code else None
    return {
        "week": week.label, "from": week.first_day.isoformat(), "to": week.last_day.isoformat(),
        "unit": unit_code, "generated_at": utcnow().isoformat(timespec="seconds") + "Z",
        "scorecards": scorecard_section(week, unit_ids),
        "complaints": complaint_section(week, unit_ids, oldest_open),
        "meetings": meetings_section(week),
        "action_items": action_item_section(week, unit_ids),
    }


def scorecard_section(week: Week, unit_ids: list[int] | None) -> list[dict]:
    rounds = _active_rounds(week, unit_ids)
    round_ids = [r[0] for r in rounds]
    cells = _cells(round_ids, week)
    previous_ids = [r[4] for r in rounds if r[4]]
    previous = _previous_means(previous_ids)
    previous_min = dict(_rows("SELECT id, min_cell FROM round WHERE id IN " + _in_list(previous_ids),
                              previous_ids)) if previous_ids else {}
    respondents = _respondents(round_ids, week)
    indicators = _indicators(round_ids)
    by_indicator: dict[tuple[int, int], dict[str, Cell]] = {}
    for (rid, iid, grp), cell in cells.items():
        by_indicator.setdefault((rid, iid), {})[grp] = cell
    sections = []
    for rid, number, status, min_cell, prev_id, sp_code, sp_mn, sp_en, u_code, u_mn, u_en in rounds:
        prev_of = {code: stats for code, stats in previous.get(prev_id, {}).items()
                   if stats[0] >= previous_min.get(prev_id, min_cell)}
        sections.append({
            "admin_unit": {"code": u_code, "name_mn": u_mn, "name_en": u_en},
            "service_point": {"code": sp_code, "name_mn": sp_mn, "name_en": sp_en},
            "round": {"id": rid, "number": number, "status": status, "min_cell": min_cell},
            "respondents": _respondent_block(respondents.get(rid, {}), min_cell),
            "indicators": [_indicator_block(ind, by_indicator.get((rid, ind["id"]), {}), min_cell,
                                            prev_of.get(ind["code"])) for ind in indicators.get(rid, [])],
        })
    return sections


def _indicators(round_ids: list[int]) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {}
    if not round_ids:
        return found
    rows = _rows("SELECT i.round_id, i.id, i.code, i.text_mn, i.text_en, i.text_latn, p.score FROM indicator i "
                 "LEFT JOIN provider_self_score p ON p.indicator_id = i.id WHERE i.round_id IN "
                 + _in_list(round_ids) + " ORDER BY i.round_id, i.position, i.code", round_ids)
    for rid, iid, code, mn, en, latn, provider in rows:
        found.setdefault(rid, []).append({"id": iid, "code": code, "mn": mn, "en": en, "latn": latn,
                                          "provider_score": provider})
    return found


def _hidden(min_cell: int) -> dict:
    return {"n": f"<{min_cell}", "suppressed": True}


def _respondent_block(by_group: dict[str, tuple[int, int]], min_cell: int) -> dict:
    total = sum(n for n, _ in by_group.values())
    new = sum(new for _, new in by_group.values())
    hidden = suppressed_keys({g: n for g, (n, _) in by_group.items()}, min_cell)
    return {
        "total": total if total >= min_cell else f"<{min_cell}",
        "new_this_week": new if new >= min_cell or new == 0 else f"<{min_cell}",
        "by_group": {g: f"<{min_cell}" if g in hidden else n for g, (n, _) in sorted(by_group.items())},
    }


def _indicator_block(ind: dict, cells: dict[str, Cell], min_cell: int, previous: tuple[int, float] | None) -> dict:
    groups = {grp: cell for grp, cell in cells.items() if grp != "all"}
    overall = cells.get("all")
    hidden = suppressed_keys({g: c.n for g, c in groups.items()}, min_cell)
    block = {"code": ind["code"], "mn": ind["mn"], "en": ind["en"], "latn": ind["latn"],
             "groups": {g: _hidden(min_cell) if g in hidden else _cell_view(c) for g, c in sorted(groups.items())},
             "provider_score": ind["provider_score"], "agenda": False, "agenda_reasons": []}
    if overall is None or overall.n < min_cell:
        block["overall"] = _hidden(min_cell) if overall else {"n": 0}
        return block
    shown_means = [c.mean for g, c in groups.items() if g not in hidden and g in DECLARED_GROUPS]
    pooled = overall.mean
    block["overall"] = {**_cell_view(overall), "mean_pooled": _round(pooled),
                        "mean_of_group_means": _round(sum(shown_means) / len(shown_means)) if shown_means else None}
    del block["overall"]["mean"]
    if ind["provider_score"] is not None:
        block["gap"] = _round(pooled - ind["provider_score"])
    change_week = pooled - overall.mean_before if overall.n_before >= min_cell else None
    change_round = pooled - previous[1] if previous else None
    block["change_week"], block["change_round"] = _round(change_week), _round(change_round)
    reasons = [reason for reason, hit in (
        ("low_mean", pooled <= AGENDA_MEAN),
        ("drop_since_last_round", change_round is not None and change_round <= -AGENDA_DROP),
        ("drop_since_last_week", change_week is not None and change_week <= -AGENDA_DROP)) if hit]
    block["agenda"], block["agenda_reasons"] = bool(reasons), reasons
    return block


def _cell_view(cell: Cell) -> dict:
    return {"n": cell.n, "mean": _round(cell.mean), "median": cell.median, "distribution": cell.distribution}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value + 0.0, 2)


def _days_between(later: str, earlier: str) -> str:
    if is_postgres():
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"
    return f"(julianday({later}) - julianday({earlier}))"


COMPLAINT_COUNTS_SQL = """
SELECT c.category, u.code,
       SUM(CASE WHEN c.created_at >= ? THEN 1 ELSE 0 END),
       SUM(CASE WHEN c.resolved_at >= ? AND c.resolved_at < ? THEN 1 ELSE 0 END),
       SUM(CASE WHEN c.status IN ('new', 'routed', 'answered') AND c.due_at < ? THEN 1 ELSE 0 END)
FROM complaint c LEFT JOIN admin_unit u ON u.id = c.admin_unit_id
WHERE c.created_at < ? {unit}
GROUP BY c.category, u.code
"""

MEDIAN_DAYS_SQL = """
WITH d AS (SELECT {days} AS days FROM complaint c WHERE c.resolved_at >= ? AND c.resolved_at < ? {unit}),
ranked AS (SELECT days, ROW_NUMBER() OVER (ORDER BY days) AS rn, COUNT(*) OVER () AS cnt FROM d)
SELECT AVG(days) FROM ranked WHERE 2 * rn BETWEEN cnt AND cnt + 2
"""


def complaint_section(week: Week, unit_ids: list[int] | None, oldest_open: int) -> dict:
    unit_sql, unit_params = ("", []) if unit_ids is None else (
        " AND c.admin_unit_id IN " + _in_list(unit_ids), list(unit_ids))
    rows = _rows(COMPLAINT_COUNTS_SQL.format(unit=unit_sql),
                 [week.start, week.start, week.end, week.end, week.end, *unit_params])
    by_cell = [{"category": cat, "admin_unit": unit, "new": int(new), "resolved": int(res), "overdue": int(over)}
               for cat, unit, new, res, over in rows if new or res or over]
    by_cell.sort(key=lambda row: (row["admin_unit"] or "", row["category"]))
    median = _rows(MEDIAN_DAYS_SQL.format(days=_days_between("c.resolved_at", "c.created_at"), unit=unit_sql),
                   [week.start, week.end, *unit_params])[0][0]
    oldest = _rows("SELECT c.ref, c.category, u.code, c.created_at, c.sensitive, c.redacted_text FROM complaint c "
                   "LEFT JOIN admin_unit u ON u.id = c.admin_unit_id WHERE c.status IN ('new', 'routed', 'answered') "
                   f"AND c.created_at < ? {unit_sql} ORDER BY c.created_at, c.id LIMIT {int(oldest_open)}",
                   [week.end, *unit_params])
    return {
        "totals": {key: sum(row[key] for row in by_cell) for key in ("new", "resolved", "overdue")},
        "by_category_and_unit": by_cell,
        "median_days_to_resolve": None if median is None else round(float(median), 1),
        "oldest_open": [{"ref": ref, "category": cat, "admin_unit": unit,
                         "age_days": (week.end - _as_datetime(created)).days,
                         # free text only once staff redacted it, and never for the restricted queue
                         "text": None if sensitive else redacted}
                        for ref, cat, unit, created, sensitive, redacted in oldest],
    }


def _as_datetime(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def meetings_section(week: Week) -> dict:
    """Notices sent/delivered and RSVPs for meetings with notices sent this week or held this week.

    Reads the meetings tables (storage.meetings) when they exist; otherwise says so.
    """
    if not {"meeting", "broadcast", "rsvp"} <= set(database.get_tables()):
        return {"available": False, "meetings": []}
    rows = _rows("""
        WITH sent AS (
            SELECT b.meeting_id,
                   SUM(CASE WHEN m.status IN ('sent', 'delivered') THEN 1 ELSE 0 END) AS sent,
                   SUM(CASE WHEN m.status = 'delivered' THEN 1 ELSE 0 END) AS delivered,
                   SUM(CASE WHEN m.status = 'failed' THEN 1 ELSE 0 END) AS failed
            FROM broadcast b JOIN message m ON m.origin = 'broadcast:' || CAST(b.id AS TEXT)
            WHERE b.meeting_id IS NOT NULL AND m.created_at >= ? AND m.created_at < ?
            GROUP BY b.meeting_id
        ), answers AS (
            SELECT meeting_id, SUM(CASE WHEN answer = 'yes' THEN 1 ELSE 0 END) AS yes,
                   SUM(CASE WHEN answer = 'no' THEN 1 ELSE 0 END) AS no
            FROM rsvp GROUP BY meeting_id
        )
        SELECT mt.id, mt.kind, mt.title_mn, mt.title_en, mt.starts_at, mt.status, COALESCE(s.sent, 0),
               COALESCE(s.delivered, 0), COALESCE(s.failed, 0), COALESCE(a.yes, 0), COALESCE(a.no, 0)
        FROM meeting mt LEFT JOIN sent s ON s.meeting_id = mt.id LEFT JOIN answers a ON a.meeting_id = mt.id
        WHERE s.meeting_id IS NOT NULL OR (mt.starts_at >= ? AND mt.starts_at < ?)
        ORDER BY mt.starts_at, mt.id""", [week.start, week.end, week.start, week.end])
    return {"available": True, "meetings": [
        {"id": mid, "kind": kind, "title_mn": t_mn, "title_en": t_en, "starts_at": _as_datetime(starts).isoformat(),
         "status": status, "sent": int(sent), "delivered": int(delivered), "failed": int(failed),
         "rsvp_yes": int(yes), "rsvp_no": int(no)}
        for mid, kind, t_mn, t_en, starts, status, sent, delivered, failed, yes, no in rows]}


def action_item_section(week: Week, unit_ids: list[int] | None) -> list[dict]:
    """Action items not done and due by the end of the week: 'due' this week or 'overdue' before it."""
    sql = ("SELECT a.id, sp.code, r.number, i.code, a.action, a.owner_role, a.owner_org, a.due_on, a.status "
           "FROM action_item a JOIN round r ON r.id = a.round_id JOIN service_point sp ON sp.id = r.service_point_id "
           "LEFT JOIN indicator i ON i.id = a.indicator_id "
           "WHERE a.status IN ('planned', 'in_progress') AND a.due_on <= ?")
    params: list = [week.last_day]
    if unit_ids is not None:
        sql += " AND sp.admin_unit_id IN " + _in_list(unit_ids)
        params += unit_ids
    items = []
    for aid, sp_code, number, code, action, role, org, due_on, status in _rows(sql + " ORDER BY a.due_on, a.id",
                                                                                params):
        due = due_on if isinstance(due_on, dt.date) else dt.date.fromisoformat(str(due_on))
        items.append({"id": aid, "service_point": sp_code, "round": number, "indicator": code, "action": action,
                      "owner_role": role, "owner_org": org, "due_on": due.isoformat(), "status": status,
                      "overdue": due < week.first_day})
    return items


# --- subscribers and what was sent -----------------------------------------------------------------------


def subscribe(contact: Contact, label: str, admin_unit: AdminUnit | None = None) -> DigestSubscriber:
    existing = DigestSubscriber.get_or_none((DigestSubscriber.contact == contact)
                                            & (DigestSubscriber.admin_unit == admin_unit))
    if existing:
        existing.active, existing.label = True, label
        existing.save()
        return existing
    return DigestSubscriber.create(contact=contact, label=label, admin_unit=admin_unit)


def unsubscribe(subscriber_id: int) -> bool:
    return bool(DigestSubscriber.update(active=False).where(DigestSubscriber.id == subscriber_id).execute())


def active_subscribers() -> list[DigestSubscriber]:
    """Active subscribers who can still be texted (consented, not opted out)."""
    return list(DigestSubscriber.select(DigestSubscriber, Contact).join(Contact)
                .where(DigestSubscriber.active & Contact.opted_out_at.is_null())
                .order_by(DigestSubscriber.id))


def already_sent(week: str, subscriber: DigestSubscriber, kind: str = "sms") -> bool:
    return DigestSend.select().where((DigestSend.week == week) & (DigestSend.subscriber == subscriber)
                                     & (DigestSend.kind == kind)).exists()


def record_send(week: str, subscriber: DigestSubscriber, text: str, segments: int, kind: str = "sms") -> None:
    DigestSend.insert(week=week, subscriber=subscriber, kind=kind, text=text, segments=segments,
                      sent_at=utcnow()).on_conflict_ignore().execute()
