"""Weekly CSO digests, computed in SQL, and the record of what was sent to whom.

Every aggregate is a GROUP BY (and window functions for medians and "as of" comparisons) over the raw rows;
Python only walks the already-aggregated cells (rounds × indicators × groups) to suppress small ones.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

import peewee as pw

from storage.access import Scope, audience_within, scope_unit_ids
from storage.db import BaseModel, database, is_postgres, utcnow
from storage.models import AdminUnit, Contact
from storage.phones import mask_free_text
from storage.suppression import DEFAULT_K, NO_CHANGE_REASON, REASONS, SMALL, Released, release_counts


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


def readable_units(unit_code: str | None, scope: Scope | None) -> list[int] | None:
    """The admin units a digest covers: the `unit_code` subtree, within `scope` (None = everything)."""
    allowed = None if scope is None else scope_unit_ids(scope)
    if unit_code is None:
        return allowed
    subtree = unit_subtree_ids(unit_code)
    return subtree if allowed is None else sorted(set(subtree) & set(allowed))


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


# Who counts (storage.suppression: whole blocks of the round's min_cell): per round and group, people in the
# order they first answered (created_at, then id: it never changes, and whoever had answered by an earlier moment
# comes first, so the week's start is a prefix of its end). Everything is aggregated in one GROUP BY over all the
# scores, like any report; what is then taken away is only the tail of each group, the fewer than k people past
# its last whole block, found by ranking respondents (not scores) and looked up score by score.
SCORES_SQL = """
SELECT s.round_id, s.indicator_id, resp."group",
       SUM(CASE WHEN s.score = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN s.score = 2 THEN 1 ELSE 0 END),
       SUM(CASE WHEN s.score = 3 THEN 1 ELSE 0 END), SUM(CASE WHEN s.score = 4 THEN 1 ELSE 0 END),
       SUM(CASE WHEN s.score = 5 THEN 1 ELSE 0 END),
       SUM(CASE WHEN resp.created_at < ? THEN 1 ELSE 0 END), SUM(CASE WHEN resp.created_at < ? THEN s.score ELSE 0 END)
FROM score s JOIN respondent resp ON resp.round_id = s.round_id AND resp.contact_id = s.contact_id
WHERE s.round_id IN {rounds} AND resp.created_at < ?
GROUP BY s.round_id, s.indicator_id, resp."group"
"""
TAIL_SQL = """
WITH ranked AS (
    SELECT resp.round_id, resp.contact_id, resp."group" AS grp, r.min_cell AS k,
           CASE WHEN resp.created_at < ? THEN 1 ELSE 0 END AS early,
           ROW_NUMBER() OVER (PARTITION BY resp.round_id, resp."group" ORDER BY resp.created_at, resp.id) AS rn,
           COUNT(*) OVER (PARTITION BY resp.round_id, resp."group") AS cnt,
           SUM(CASE WHEN resp.created_at < ? THEN 1 ELSE 0 END)
               OVER (PARTITION BY resp.round_id, resp."group") AS cnt_before
    FROM respondent resp JOIN round r ON r.id = resp.round_id
    WHERE resp.round_id IN {rounds} AND resp.created_at < ?
), tail AS (
    SELECT round_id, contact_id, grp, CASE WHEN rn > (cnt / k) * k THEN 1 ELSE 0 END AS now_tail,
           CASE WHEN early = 1 AND rn > (cnt_before / k) * k THEN 1 ELSE 0 END AS before_tail
    FROM ranked WHERE rn > (cnt / k) * k OR (early = 1 AND rn > (cnt_before / k) * k)
)
SELECT t.round_id, i.id, t.grp, s.score, t.now_tail, t.before_tail
FROM tail t CROSS JOIN indicator i CROSS JOIN score s  -- in this order: one unique-index lookup per score
WHERE i.round_id = t.round_id AND s.round_id = t.round_id AND s.indicator_id = i.id AND s.contact_id = t.contact_id
"""
GROUP_SIZE_SQL = """
SELECT round_id, "group", COUNT(*), SUM(CASE WHEN created_at < ? THEN 1 ELSE 0 END)
FROM respondent WHERE round_id IN {rounds} AND created_at < ? GROUP BY round_id, "group"
"""


@dataclass
class Cell:
    distribution: dict[str, int]
    n_before: int = 0
    total_before: int = 0
    whole: bool = True  # False: someone counted skipped this indicator, so it is not whole blocks: never shown

    @property
    def n(self) -> int:
        return sum(self.distribution.values())

    @property
    def total(self) -> int:
        return sum(int(score) * n for score, n in self.distribution.items())

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def mean_before(self) -> float | None:
        return self.total_before / self.n_before if self.n_before else None

    @property
    def median(self) -> float | None:
        """From the running totals of the 1–5 distribution: the middle score (or the mean of the middle two)."""
        n, running, low = self.n, 0, None
        for score in sorted(self.distribution, key=int):
            running += self.distribution[score]
            if low is None and 2 * running >= n and self.distribution[score]:
                low = int(score)
            if 2 * running > n and self.distribution[score]:
                return (low + int(score)) / 2
        return None


def _cells(round_ids: list[int], week_start: dt.datetime, week_end: dt.datetime) -> dict[tuple[int, int, str], Cell]:
    """Released cells (round, indicator, group, and 'all') as of `week_end`, with n and sum as of `week_start`.
    A group cell that is not whole blocks (someone counted skipped that indicator) is left out, and so from 'all'."""
    if not round_ids:
        return {}
    rounds = _in_list(round_ids)
    found: dict[tuple[int, int, str], Cell] = {}
    for rid, iid, grp, d1, d2, d3, d4, d5, n_before, total_before in _rows(
            SCORES_SQL.format(rounds=rounds), [week_start, week_start, *round_ids, week_end]):
        found[(rid, iid, grp)] = Cell({"1": int(d1), "2": int(d2), "3": int(d3), "4": int(d4), "5": int(d5)},
                                      int(n_before or 0), int(total_before or 0))
    for rid, iid, grp, score, now_tail, before_tail in _rows(TAIL_SQL.format(rounds=rounds),
                                                              [week_start, week_start, *round_ids, week_end]):
        cell = found[(rid, iid, grp)]
        cell.distribution[str(score)] -= int(now_tail)
        cell.n_before -= int(before_tail)
        cell.total_before -= int(before_tail) * int(score)
    k = dict(_rows("SELECT id, min_cell FROM round WHERE id IN " + rounds, round_ids))
    cells = {key: cell for key, cell in found.items() if cell.n}
    for key, cell in cells.items():
        cell.whole = cell.n % k[key[0]] == 0 and cell.n_before % k[key[0]] == 0
    for (rid, iid, _group), cell in [(key, cell) for key, cell in cells.items() if cell.whole]:
        whole = cells.setdefault((rid, iid, "all"), Cell({str(score): 0 for score in range(1, 6)}))
        for score, n in cell.distribution.items():
            whole.distribution[score] += n
        whole.n_before += cell.n_before
        whole.total_before += cell.total_before
    return cells


def _group_sizes(round_ids: list[int], week_start: dt.datetime, week_end: dt.datetime
                 ) -> dict[int, dict[str, tuple[int, int]]]:
    """Round → group → (people now, people at the week's start)."""
    found: dict[int, dict[str, tuple[int, int]]] = {}
    if round_ids:
        for rid, grp, now, before in _rows(GROUP_SIZE_SQL.format(rounds=_in_list(round_ids)),
                                           [week_start, *round_ids, week_end]):
            found.setdefault(rid, {})[grp] = (int(now), int(before or 0))
    return found


# --- assembling the digest -------------------------------------------------------------------------------

AGENDA_MEAN = 2.5  # an indicator this low goes on the interface-meeting agenda
AGENDA_DROP = 0.5  # so does one that fell this much
DECLARED_GROUPS = ("women", "men", "youth", "elderly")  # 'unspecified' counts in the pooled mean only
FAR_FUTURE = dt.datetime(9999, 1, 1)


def build_digest(week: Week, unit_code: str | None = None, oldest_open: int = 5, scope: Scope | None = None) -> dict:
    """The whole digest for `week` as plain data (JSON-ready): for one admin unit's subtree when `unit_code` is
    given, and only ever within `scope` (None: the whole country)."""
    unit_ids = readable_units(unit_code, scope)
    return {
        "week": week.label, "from": week.first_day.isoformat(), "to": week.last_day.isoformat(),
        "unit": unit_code, "scope": None if scope is None else str(scope),
        "generated_at": utcnow().isoformat(timespec="seconds") + "Z",
        "counting": {"block": "people are counted in whole blocks of each round's min_cell (5): every figure, and "
                              "every difference between figures, is about at least that many people"},
        "scorecards": scorecard_section(week, unit_ids),
        "complaints": complaint_section(week, unit_ids, oldest_open),
        "meetings": meetings_section(week, unit_ids),
        "action_items": action_item_section(week, unit_ids),
    }


def scorecard_section(week: Week, unit_ids: list[int] | None) -> list[dict]:
    rounds = _active_rounds(week, unit_ids)
    round_ids = [r[0] for r in rounds]
    previous_ids = [r[4] for r in rounds if r[4] and r[4] not in round_ids]
    cells = _cells(round_ids + previous_ids, week.start, week.end)  # one pass: this week, last week, last round
    sizes = _group_sizes(round_ids, week.start, week.end)
    indicators = _indicators(round_ids + previous_ids)
    codes = {ind["id"]: ind["code"] for inds in indicators.values() for ind in inds}
    previous_by_code = {(rid, codes[iid]): cell for (rid, iid, grp), cell in cells.items()
                        if grp == "all" and rid in previous_ids}
    sections = []
    by_indicator: dict[tuple[int, int], dict[str, Cell]] = {}
    for (rid, iid, grp), cell in cells.items():
        by_indicator.setdefault((rid, iid), {})[grp] = cell
    for rid, number, status, min_cell, prev_id, sp_code, sp_mn, sp_en, u_code, u_mn, u_en in rounds:
        group_sizes = sizes.get(rid, {})
        sections.append({
            "admin_unit": {"code": u_code, "name_mn": u_mn, "name_en": u_en},
            "service_point": {"code": sp_code, "name_mn": sp_mn, "name_en": sp_en},
            "round": {"id": rid, "number": number, "status": status, "min_cell": min_cell},
            "respondents": _respondent_block(group_sizes, min_cell),
            "indicators": [_indicator_block(
                ind, by_indicator.get((rid, ind["id"]), {}), {g: now for g, (now, _) in group_sizes.items()}, min_cell,
                previous_by_code.get((prev_id, ind["code"]))) for ind in indicators.get(rid, [])],
        })
    return sections


def round_table(round_id: int, moment: dt.datetime) -> list[tuple[dict, str, dict]]:
    """A round's released cells as of `moment`: (indicator, group or 'all', cell) with hidden cells saying why.
    The same cells, by the same rule, as the digest, so an export adds nothing a digest would hide."""
    [k] = [row[0] for row in _rows("SELECT min_cell FROM round WHERE id = ?", [round_id])] or [5]
    cells = _cells([round_id], moment, moment)
    sizes = {g: now for g, (now, _) in _group_sizes([round_id], moment, moment).get(round_id, {}).items()}
    table = []
    for ind in _indicators([round_id]).get(round_id, []):
        block = _indicator_block(ind, {g: c for (_, i, g), c in cells.items() if i == ind["id"]}, sizes, k, None)
        table += [(ind, group, cell) for group, cell in block["groups"].items()]
        table.append((ind, "all", {**block["overall"], "mean": block["overall"].get("mean_pooled")}))
    return table


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


def hidden_cell(reason: str, k: int) -> dict:
    """A hidden cell, saying why in both languages (storage.suppression.REASONS)."""
    mn, en = REASONS[reason]
    return {"n": f"<{k}" if reason == SMALL else "hidden", "suppressed": True, "reason": reason,
            "why_mn": mn, "why_en": en}


def _released(released: Released, k: int):
    return released.n if released.shown else hidden_cell(released.reason, k)["n"]


def _respondent_block(sizes: dict[str, tuple[int, int]], k: int) -> dict:
    released = release_counts({g: now for g, (now, _) in sizes.items()}, k)
    total = sum(r.n for r in released.values() if r.shown)
    earlier = sum(r.n for r in release_counts({g: before for g, (_, before) in sizes.items()}, k).values()
                  if r.shown)
    return {"total": total, "new_this_week": total - earlier,  # both whole blocks: the change is 0 or >= k
            "by_group": {g: _released(r, k) for g, r in sorted(released.items())},
            "hidden": {g: hidden_cell(r.reason, k) for g, r in sorted(released.items()) if not r.shown}}


def _indicator_block(ind: dict, cells: dict[str, Cell], sizes: dict[str, int], k: int,
                     previous: Cell | None) -> dict:
    groups = {}
    for group, released in sorted(release_counts(sizes, k).items()):
        cell = cells.get(group)
        if released.n == 0 or (released.shown and cell is None):
            continue  # nobody in the group, or nobody in it answered this indicator
        groups[group] = _cell_view(cell) if released.shown and cell.whole else hidden_cell(SMALL, k)
    block = {"code": ind["code"], "mn": ind["mn"], "en": ind["en"], "latn": ind["latn"], "groups": groups,
             "provider_score": ind["provider_score"], "agenda": False, "agenda_reasons": []}
    overall = cells.get("all")
    if overall is None:
        block["overall"] = hidden_cell(SMALL, k) if groups else {"n": 0}
        return block
    shown_means = [cells[g].mean for g in DECLARED_GROUPS if g in cells and cells[g].whole]
    pooled = overall.mean
    block["overall"] = {**_cell_view(overall), "mean_pooled": _round(pooled),
                        "mean_of_group_means": _round(sum(shown_means) / len(shown_means)) if shown_means else None}
    del block["overall"]["mean"]
    if ind["provider_score"] is not None:
        block["gap"] = _round(pooled - ind["provider_score"])
    changed = overall.n_before not in (0, overall.n)  # whole blocks came this week (or none at all before)
    change_week = pooled - overall.mean_before if changed else None
    if not changed:
        block["change_week_hidden"] = hidden_cell(NO_CHANGE_REASON, k)
    change_round = pooled - previous.mean if previous is not None and previous.n else None
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
    """New and resolved this week, overdue now, by category and unit, counted in blocks of 5 like everything
    released: a digest for a district and one for its khoroo (or two scopes, or two weeks) can be subtracted, and
    the difference is then still whole blocks. Totals are the sums of the released cells."""
    unit_sql, unit_params = ("", []) if unit_ids is None else (
        " AND c.admin_unit_id IN " + _in_list(unit_ids), list(unit_ids))
    rows = _rows(COMPLAINT_COUNTS_SQL.format(unit=unit_sql),
                 [week.start, week.start, week.end, week.end, week.end, *unit_params])
    cells = {(cat, unit): {"new": int(new), "resolved": int(res), "overdue": int(over)}
             for cat, unit, new, res, over in rows if new or res or over}
    released = {key: release_counts({cell: values[key] for cell, values in cells.items()}, DEFAULT_K)
                for key in ("new", "resolved", "overdue")}
    totals = {key: sum(r.n for r in cells_of.values() if r.shown) for key, cells_of in released.items()}
    by_cell = [{"category": cat, "admin_unit": unit,
                **{key: _released(released[key][(cat, unit)], DEFAULT_K) for key in released},
                "hidden": {key: hidden_cell(released[key][(cat, unit)].reason, DEFAULT_K)
                           for key in released if not released[key][(cat, unit)].shown}}
               for cat, unit in sorted(cells, key=lambda c: (c[1] or "", c[0]))]
    median = _rows(MEDIAN_DAYS_SQL.format(days=_days_between("c.resolved_at", "c.created_at"), unit=unit_sql),
                   [week.start, week.end, *unit_params])[0][0]
    oldest = _rows("SELECT c.ref, c.category, u.code, c.created_at, c.redacted_text FROM complaint c "
                   "LEFT JOIN admin_unit u ON u.id = c.admin_unit_id WHERE c.status IN ('new', 'routed', 'answered') "
                   f"AND NOT c.sensitive AND c.created_at < ? {unit_sql} ORDER BY c.created_at, c.id "
                   f"LIMIT {int(oldest_open)}", [week.end, *unit_params])
    return {
        "totals": totals,
        "by_category_and_unit": by_cell,
        "median_days_to_resolve": None if median is None or totals["resolved"] < DEFAULT_K
        else round(float(median), 1),  # (a median needs no blocks: it is never a count)
        # the restricted queue never appears; free text only once staff redacted it, numbers masked even then
        "oldest_open": [{"ref": ref, "category": cat, "admin_unit": unit,
                         "age_days": (week.end - _as_datetime(created)).days, "text": mask_free_text(redacted)}
                        for ref, cat, unit, created, redacted in oldest],
    }


def _as_datetime(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def meetings_section(week: Week, unit_ids: list[int] | None = None) -> dict:
    """Notices sent/delivered and RSVPs for meetings with notices sent this week or held this week, whose whole
    audience lies in `unit_ids` (None: every meeting). RSVPs build up over time, so they are counted in blocks.

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
               COALESCE(s.delivered, 0), COALESCE(s.failed, 0), COALESCE(a.yes, 0), COALESCE(a.no, 0), mt.audience
        FROM meeting mt LEFT JOIN sent s ON s.meeting_id = mt.id LEFT JOIN answers a ON a.meeting_id = mt.id
        WHERE s.meeting_id IS NOT NULL OR (mt.starts_at >= ? AND mt.starts_at < ?)
        ORDER BY mt.starts_at, mt.id""", [week.start, week.end, week.start, week.end])
    meetings = []
    for mid, kind, t_mn, t_en, starts, status, sent, delivered, failed, yes, no, audience in rows:
        if not audience_within(json.loads(audience or "[]"), unit_ids):
            continue
        rsvp = release_counts({"yes": int(yes), "no": int(no)}, DEFAULT_K)
        meetings.append({"id": mid, "kind": kind, "title_mn": t_mn, "title_en": t_en,
                         "starts_at": _as_datetime(starts).isoformat(), "status": status, "sent": int(sent),
                         "delivered": int(delivered), "failed": int(failed),
                         "rsvp_yes": _released(rsvp["yes"], DEFAULT_K), "rsvp_no": _released(rsvp["no"], DEFAULT_K)})
    return {"available": True, "meetings": meetings}


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
