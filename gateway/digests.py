"""Weekly CSO digests: JSON, tidy CSV, an HTML report with server-side charts, and an SMS summary.

The numbers come from `storage.digests.build_digest` (SQL); this module only formats and sends them.
The `digests.weekly` job runs Mondays at 08:00 local time and texts the summary of the week just ended to every
subscribed CSO focal point, once per week (recorded in DigestSend).
"""
from __future__ import annotations

import base64
import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence

from flask import Flask, Response, render_template

from flows.text import sms_segments
from gateway import clock, votes
from gateway.logs import log_event
from storage import digests as store
from storage.access import Scope, scope_unit_ids
from storage.db import utcnow

MAX_SMS_SEGMENTS = 2
GROUP_LABELS = {"women": ("Эмэгтэй", "Women"), "men": ("Эрэгтэй", "Men"), "youth": ("Залуу", "Youth"),
                "elderly": ("Ахмад", "Elderly"), "unspecified": ("Тодорхойгүй", "Not stated"),
                "all": ("Бүгд", "All")}
CSV_COLUMNS = ["week", "admin_unit", "service_point", "round", "indicator", "indicator_mn", "indicator_en",
               "group", "n", "mean", "median", "dist_1", "dist_2", "dist_3", "dist_4", "dist_5",
               "mean_of_group_means", "provider_score", "gap", "change_week", "change_round", "agenda", "hidden_why",
               "section", "project", "project_mn", "project_en", "rank"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def week_of(app: Flask, label: str | None) -> store.Week:
    """The named ISO week, or the last complete local week when `label` is None."""
    zone = app.config["GATEWAY"]["timezone"]
    if label:
        return clock.parse_week(label, zone)
    return clock.previous_week(clock.week_of(clock.local_today(app), zone), zone)


def current_week(app: Flask) -> store.Week:
    return clock.week_of(clock.local_today(app), app.config["GATEWAY"]["timezone"])


def build(app: Flask, week: store.Week, unit: str | None = None, scope: Scope | None = None) -> dict:
    """The digest of `week`, for the `unit` subtree if given, never beyond `scope` (None: national)."""
    config = app.config["GATEWAY"]
    digest = store.build_digest(week, unit, oldest_open=config["digests"]["oldest_open"], scope=scope)
    unit_ids = store.unit_subtree_ids(unit) if unit else (scope_unit_ids(scope) if scope else None)
    digest["votes"] = votes.digest_section(app, week, unit_ids)
    digest["timezone"] = config["timezone"]
    return digest


# --- CSV ---------------------------------------------------------------------------------------------------


def escape_cell(value: object) -> object:
    """Neutralise spreadsheet formulas: text starting with = + - @ tab or CR gets a leading apostrophe.
    Numbers we computed are left as numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_rows(digest: dict) -> Iterator[dict]:
    """Tidy rows: one per admin unit × service point × indicator × group (and 'all'), then one per vote × project
    × group ('all', each group, 'out_of_area'), with the vote count in `n`."""
    yield from _scorecard_rows(digest)
    for section in digest.get("votes", []):
        view = {**section, "vote": {**section["vote"], "admin_unit": section["admin_unit"]}}
        for row in votes.result_rows(view):
            named = dict(zip(votes.RESULT_COLUMNS, row, strict=True))
            yield {"week": digest["week"], "admin_unit": named["admin_unit"], "round": named["vote"],
                   "group": named["group"], "n": named["votes"], "section": "vote", "project": named["project"],
                   "project_mn": named["project_mn"], "project_en": named["project_en"], "rank": named["rank"]}


def _scorecard_rows(digest: dict) -> Iterator[dict]:
    for section in digest["scorecards"]:
        for ind in section["indicators"]:
            base = {"week": digest["week"], "admin_unit": section["admin_unit"]["code"],
                    "service_point": section["service_point"]["code"], "round": section["round"]["number"],
                    "indicator": ind["code"], "indicator_mn": ind["mn"], "indicator_en": ind["en"]}
            for group, cell in ind["groups"].items():
                yield {**base, "section": "scorecard", "group": group, **_cell_columns(cell)}
            overall = ind["overall"]
            yield {**base, "section": "scorecard", "group": "all", **_cell_columns(overall),
                   "mean": overall.get("mean_pooled"), "mean_of_group_means": overall.get("mean_of_group_means"),
                   "provider_score": ind["provider_score"], "gap": ind.get("gap"),
                   "change_week": ind.get("change_week"), "change_round": ind.get("change_round"),
                   "agenda": "yes" if ind["agenda"] else "no",
                   "hidden_why": _why(overall) or _why(ind.get("change_week_hidden", {}), "change_week: ")}


def _cell_columns(cell: dict) -> dict:
    dist = cell.get("distribution", {})
    return {"n": cell["n"], "mean": cell.get("mean"), "median": cell.get("median"),
            **{f"dist_{k}": dist.get(k) for k in "12345"}, "hidden_why": _why(cell)}


def _why(cell: dict, prefix: str = "") -> str | None:
    return f"{prefix}{cell['why_mn']} / {cell['why_en']}" if cell.get("suppressed") else None


def render_csv(digest: dict) -> str:
    return "".join(csv_lines(CSV_COLUMNS, ([row.get(c) for c in CSV_COLUMNS] for row in csv_rows(digest))))


def csv_lines(columns: list[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """CSV text one line at a time (for streaming), every text cell escaped against formula injection."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in itertools.chain([columns], rows):
        writer.writerow([escape_cell(value) for value in row])
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def vote_results_csv(app: Flask, round_) -> Response:
    """A vote's results as a CSV download (API and console alike): one row per project × (all, each group, out of
    area), as released (no fairness details)."""
    view = votes.results(app, round_, with_fairness=False)
    response = Response("".join(csv_lines(votes.RESULT_COLUMNS, votes.result_rows(view))),
                        content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="vote-{round_.id}.csv"'
    return response


# --- SMS -----------------------------------------------------------------------------------------------------


def render_sms(digest: dict, language: str = "mn") -> str:
    """At most two GSM-7 segments: rounds and respondents, the agenda indicators, complaint counts."""
    sections = digest["scorecards"]
    respondents = sum(s["respondents"]["total"] for s in sections if isinstance(s["respondents"]["total"], int))
    agenda = [f"{s['service_point']['code']} {ind['code']} {ind['overall'].get('mean_pooled')}"
              for s in sections for ind in s["indicators"] if ind["agenda"]]
    c = digest["complaints"]["totals"]
    if language == "en":
        head = f"Digest {digest['week']}: {len(sections)} scorecards, {respondents} respondents."
        tail = f" Complaints: {c['new']} new, {c['resolved']} resolved, {c['overdue']} overdue."
        label, more = " Agenda: ", " +{} more"
    else:
        head = f"Doloo honogiin dun {digest['week']}: {len(sections)} unelgee, {respondents} oroltsogch."
        tail = f" Gomdol: shine {c['new']}, shiidsen {c['resolved']}, hugatsaa hetersen {c['overdue']}."
        label, more = " Heleltseh: ", " +{} busad"
    for shown in range(len(agenda), -1, -1):
        items = "; ".join(agenda[:shown]) + (more.format(len(agenda) - shown) if shown < len(agenda) else "")
        text = head + (label + items + "." if agenda else "") + tail
        if sms_segments(text) <= MAX_SMS_SEGMENTS:
            return text
    return (head + tail)[:300]


# --- HTML ----------------------------------------------------------------------------------------------------


def render_html(app: Flask, digest: dict) -> str:
    """A self-contained page (charts embedded as PNG), readable offline and printable."""
    charts = round_charts(app, digest)
    vote_charts = {s["vote"]["id"]: _vote_chart(s) for s in digest.get("votes", [])}
    with app.app_context():
        return render_template("digest.html", digest=digest, charts=charts, vote_charts=vote_charts,
                               labels=GROUP_LABELS)


def round_charts(app: Flask, digest: dict, only: int | None = None) -> dict[int, dict[str, str | None]]:
    """Per round: the mean-by-group bars and the week-over-week trend, as PNG data URIs (one round: `only`)."""
    week = clock.parse_week(digest["week"], digest["timezone"])
    trend = _trend(digest, week, app.config["GATEWAY"]["digests"]["trend_weeks"])
    return {s["round"]["id"]: {"groups": _group_chart(s), "trend": _trend_chart(trend.get(s["round"]["id"], {}))}
            for s in digest["scorecards"] if only is None or s["round"]["id"] == only}


def _trend(digest: dict, week: store.Week, weeks: int) -> dict[int, dict[str, list]]:
    """Pooled mean per round and indicator for the last `weeks` weeks (suppressed weeks left as gaps)."""
    zone = digest["timezone"]
    unit_ids = store.readable_units(digest["unit"], Scope.parse(digest["scope"]) if digest["scope"] else None)
    series: dict[int, dict[str, list]] = {}
    labels = []
    current = week
    history = []
    for _ in range(weeks):
        history.append((current.label, {s["round"]["id"]: s for s in store.scorecard_section(current, unit_ids)}))
        current = clock.previous_week(current, zone)
    for label, by_round in reversed(history):
        labels.append(label)
        for section in digest["scorecards"]:
            rid = section["round"]["id"]
            past = by_round.get(rid)
            for ind in section["indicators"]:
                match = next((i for i in (past or {}).get("indicators", []) if i["code"] == ind["code"]), None)
                series.setdefault(rid, {"weeks": labels}).setdefault(ind["code"], []).append(
                    match["overall"].get("mean_pooled") if match else None)
    return series


def _figure():
    """A figure of its own, drawn with matplotlib's object API: pyplot's global state is not thread-safe, and
    `gateway serve` renders reports in threaded workers."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.0), dpi=100)
    return fig, fig.add_subplot()


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _group_chart(section: dict) -> str | None:
    """Bars per indicator, one colour per group; suppressed cells are simply not drawn."""
    indicators = section["indicators"]
    groups = sorted({g for ind in indicators for g, cell in ind["groups"].items() if "mean" in cell})
    if not indicators:
        return None
    fig, ax = _figure()
    columns = groups + ["all"]
    width = 0.8 / len(columns)
    for k, group in enumerate(columns):
        values = [(ind["overall"].get("mean_pooled") if group == "all" else ind["groups"].get(group, {}).get("mean"))
                  for ind in indicators]
        xs = [i + k * width for i, v in enumerate(values) if v is not None]
        ax.bar(xs, [v for v in values if v is not None], width, label=" / ".join(GROUP_LABELS.get(group, (group,))))
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(indicators))], [ind["code"] for ind in indicators])
    ax.set_ylim(0, 5)
    ax.set_ylabel("1–5")
    ax.set_title("Бүлгээр дундаж / Mean by group", fontsize=9)
    # Below the plot, so bars near 5 are never hidden behind it.
    ax.legend(fontsize=7, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    return _png(fig)


def _trend_chart(series: dict[str, list]) -> str | None:
    if not series or all(v is None for code, values in series.items() if code != "weeks" for v in values):
        return None
    fig, ax = _figure()
    weeks = series["weeks"]
    for code, values in series.items():
        if code != "weeks":
            ax.plot(range(len(weeks)), [float("nan") if v is None else v for v in values], marker="o", label=code)
    ax.set_xticks(range(len(weeks)), [w.split("-")[1] for w in weeks])
    ax.set_ylim(0, 5)
    ax.set_title("7 хоногоор, нийт дундаж / Week over week, pooled mean", fontsize=9)
    ax.legend(fontsize=7, ncols=6, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    return _png(fig)


def _vote_chart(section: dict) -> str | None:
    """Horizontal bars of votes per project, most votes on top; votes from other units in a lighter shade."""
    projects = sorted(section["projects"], key=lambda p: (-p["rank"], -p["number"]))
    if not projects or not any(p["votes"] or p["out_of_area_votes"] for p in projects):
        return None
    fig, ax = _figure()
    fig.set_figheight(max(2.0, 0.35 * len(projects) + 1))
    ys = range(len(projects))
    ax.barh(ys, [p["votes"] for p in projects], label="Санал / Votes")
    ax.barh(ys, [p["out_of_area_votes"] for p in projects], left=[p["votes"] for p in projects], alpha=0.35,
            label="Бусад нэгжээс / From other units")
    ax.set_yticks(list(ys), [f"{p['number']}. {p['mn']}" for p in projects], fontsize=8)
    ax.set_title("Төсөл тус бүрийн санал / Votes per project", fontsize=9)
    ax.legend(fontsize=7, ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    return _png(fig)


# --- the weekly job --------------------------------------------------------------------------------------


def send_weekly(app: Flask) -> int:
    """Text last week's summary to every active subscriber, once per week; returns how many were queued."""
    from gateway.outbox import enqueue

    week = week_of(app, None)
    sent = 0
    digests: dict[str | None, dict] = {}
    for subscriber in store.active_subscribers():
        if store.already_sent(week.label, subscriber):
            continue
        unit = subscriber.admin_unit.code if subscriber.admin_unit_id else None
        digest = digests.setdefault(unit, build(app, week, unit))
        text = render_sms(digest, subscriber.contact.language)
        enqueue(subscriber.contact, text, purpose="digest", origin=f"digest:{week.label}",
                idempotency_key=f"digest:{week.label}:{subscriber.id}")
        store.record_send(week.label, subscriber, text, sms_segments(text))
        sent += 1
    log_event("digest.sent", week=week.label, recipients=sent, at=utcnow().isoformat())
    return sent

