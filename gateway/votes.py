"""Participatory budgeting on the gateway side: the vote flow's data and what a finished vote means, results in
local time, the results SMS, closing on schedule, and the votes part of the weekly digest. The counting itself
is SQL in `storage.votes`.

Who may see what: a reader sees the votes of the admin units in their scope (`visible_unit_ids`, `can_see`), and
every group split goes through the small-cell rule (`storage.votes.tally`'s `suppress`).
"""
from __future__ import annotations

import datetime as dt
import logging

from flask import Flask

from flows.catalog import AdminCatalog
from flows.catalog import AdminUnit as CatalogUnit
from flows.decision import Person
from flows.effects import RecordVote
from flows.text import sms_size, to_latin
from gateway.clock import local_today, to_local
from gateway.conversation import AppliedRun, admin_catalog
from gateway.logs import log_event
from storage import votes as store
from storage.access import Principal, scope_unit_ids
from storage.db import utcnow
from storage.digests import Week
from storage.models import AdminUnit

MAX_RESULTS_SEGMENTS = 2
DEFAULT_NEXT_STEPS = {
    "mn": "ИНХ-аар хэлэлцэж батална.",  # Иргэдийн Нийтийн Хурал: the citizens' general meeting approves the list
    "en": "The Citizens' General Meeting will approve the list.",
}


# --- scope ---------------------------------------------------------------------------------------------------


def visible_unit_ids(reader: Principal) -> list[int] | None:
    """Admin units whose votes `reader` may see (a unit covers its subtree); None = all of them."""
    return scope_unit_ids(reader.scope)


def can_see(reader: Principal, round_: store.VoteRound) -> bool:
    return reader.covers(round_.admin_unit_id)


# --- the vote flow ---------------------------------------------------------------------------------------------

GROUP_ALIASES = {"undisclosed": "unspecified"}
RECENTLY_CLOSED = dt.timedelta(days=30)  # a late voter is told their unit's vote closed, rather than "none open"


def vote_data(app: Flask, person: Person) -> dict:
    """The `ldf_vote` flow's data: `votes` (every vote taking votes: key, unit, near (the units around it),
    unit name in mn/en/latn, most (choices allowed), closes, fund, projects [{key, mn, en, latn?, about?}],
    voted (the person's current choices)); `home` (the vote of the unit the person is registered in); and
    `closed_here` (their unit's vote, when it closed lately)."""
    catalog, today = admin_catalog(app), local_today(app)
    papers = store.papers_for(person.id, person.unit_id, utcnow() - RECENTLY_CLOSED)
    items = [_paper_item(paper, catalog) for paper in papers
             if paper.status == "open" and (paper.closes_on is None or paper.closes_on >= today)]
    data: dict = {"votes": items}
    home = next((item for item in items if item["unit"] == person.unit), None)
    closed = [paper for paper in papers if paper.status == "closed" and paper.closed_at]
    if home is not None:
        data["home"] = home
    elif closed:
        data["closed_here"] = {"closed": local_date(app, max(p.closed_at for p in closed)).isoformat()}
    return data


def _paper_item(paper: store.Paper, catalog: AdminCatalog) -> dict:
    unit = catalog.get(paper.unit_code)
    names = short = {"mn": paper.unit_code, "en": paper.unit_code}
    near = [paper.unit_code]
    if unit is not None:
        styles = (("mn", ("mn", "cyrl")), ("latn", ("mn", "latn")), ("en", ("en", "latn")))
        names = {key: catalog.confirmation(unit, *style).rstrip(".") for key, style in styles}
        short = {key: unit.short_name(*style) for key, style in styles}
        near = [sibling.code for sibling in catalog.children(unit.parent)] if unit.parent else near
    return {"key": str(paper.round_id), "unit": paper.unit_code, "near": near, **names, "short": short,
            "most": paper.max_choices,
            "closes": paper.closes_on.isoformat() if paper.closes_on else None, "fund": _fund(paper.fund_amount),
            "projects": list(paper.projects), "voted": [str(number) for number in paper.voted]}


def _fund(amount: int | None) -> dict | None:
    """150000000 → "150 сая ₮" / "MNT 150 million"."""
    if amount is None:
        return None
    millions = f"{amount / 1_000_000:,.1f}".rstrip("0").rstrip(".")
    if amount < 1_000_000:
        return {"mn": f"{amount:,} ₮", "en": f"MNT {amount:,}", "latn": f"{amount:,} tug"}
    return {"mn": f"{millions} сая ₮", "en": f"MNT {millions} million", "latn": f"{millions} saya tug"}


def record_vote(app: Flask, source: AppliedRun, effect: RecordVote) -> None:
    """Count a finished vote, replacing the person's earlier one: never after the close, never with choices the
    round does not allow. One read and two writes."""
    round_id = _int(effect.vote_key)
    context = store.vote_context(round_id, source.contact_id) if round_id is not None else None
    numbers = sorted({number for choice in effect.choices if (number := _int(choice)) is not None})
    if context is None or context.status != "open" or (context.closes_on and context.closes_on < local_today(app)):
        log_event("vote.not_counted", logging.WARNING, run=source.run_id, vote=effect.vote_key, reason="closed")
        return
    if not numbers or len(numbers) > context.max_choices or not all(1 <= n <= context.projects for n in numbers):
        log_event("vote.not_counted", logging.WARNING, run=source.run_id, vote=round_id, reason="choices")
        return
    group = GROUP_ALIASES.get(effect.group or "", effect.group or "unspecified")
    away = not lives_in(admin_catalog(app), context.voter_unit_code, context.unit_code)
    new = context.voter_since is not None and context.voter_since > utcnow() - store.NEW_CONTACT_AGE
    store.record_vote(source.contact_id, store.CastVote(round_id, tuple(numbers), group, source.channel, away, new))
    log_event("vote.cast", run=source.run_id, vote=round_id, choices=len(numbers), out_of_area=away)


def lives_in(catalog: AdminCatalog, registered: str | None, voted: str) -> bool:
    """Whether someone registered in unit `registered` counts as a resident of `voted`: no unit yet (the vote
    places them), the same unit, one inside it, or the district or soum around it (they said "don't know")."""
    if registered is None or registered == voted:
        return True
    return _is_inside(catalog, registered, voted) or _is_inside(catalog, voted, registered)


def _is_inside(catalog: AdminCatalog, code: str, around: str) -> bool:
    unit = catalog.get(code)
    for _ in range(10):  # unit trees are a few levels deep
        if unit is None or unit.parent is None:
            return False
        if unit.parent == around:
            return True
        unit = catalog.get(unit.parent)
    return False


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def local_date(app: Flask, naive_utc: dt.datetime) -> dt.date:
    return to_local(app, naive_utc).date()


# --- results -------------------------------------------------------------------------------------------------


def results(app: Flask, round_: store.VoteRound, *, with_fairness: bool) -> dict:
    """The round, its tally, and (for staff) the fairness report, with times in local time."""
    view = {"vote": _local_summary(app, round_), **store.tally(round_)}
    if with_fairness:
        view["fairness"] = fairness(app, round_)
    return view


def fairness(app: Flask, round_: store.VoteRound) -> dict:
    report = store.fairness(round_)
    for row in report["hourly"] + report["flags"]:
        row["from"] = local_iso(app, row["from"])
    return report


def local_iso(app: Flask, naive_utc: dt.datetime | None) -> str | None:
    if naive_utc is None:
        return None
    return to_local(app, naive_utc).isoformat(timespec="minutes")


def _local_summary(app: Flask, round_: store.VoteRound) -> dict:
    summary = store.round_summary(round_)
    for name in ("opened_at", "closed_at", "results_sent_at"):
        summary[name] = local_iso(app, getattr(round_, name))
    return summary


def unit_name(unit: AdminUnit, language: str, script: str = "cyrl") -> str:
    """"7-р хороо" for a khoroo or bag (the voters know their district), the whole name otherwise."""
    row = CatalogUnit(unit.code, unit.kind, None, unit.name_mn, unit.name_latn, unit.name_en)
    return row.short_name(language, script)


RESULT_COLUMNS = ["vote", "admin_unit", "status", "project", "project_mn", "project_en", "group", "votes", "rank",
                  "share"]


def result_rows(view: dict) -> list[list]:
    """Tidy rows: per project, all in-area voters, each group (hidden cells as "<5"), and the out-of-area votes."""
    vote, rows = view["vote"], []
    for project in view["projects"]:
        base = [vote["id"], vote["admin_unit"]["code"], vote["status"], project["number"], project["mn"],
                project["en"]]
        rows.append(base + ["all", project["votes"], project["rank"], project["share"]])
        for group, cell in view["by_group"].items():
            votes = cell["voters"] if cell.get("suppressed") else cell["votes"][str(project["number"])]
            rows.append(base + [group, votes, None, None])
        rows.append(base + ["out_of_area", project["out_of_area_votes"], None, None])
    return rows


def results_lines(view: dict) -> list[str]:
    """The results as a terminal shows them."""
    vote, turnout = view["vote"], view["turnout"]
    unit = vote["admin_unit"]
    fund = f", fund {vote['fund_amount']:,} MNT" if vote["fund_amount"] is not None else ""
    lines = [f"Vote {vote['id']}: {unit['name_mn']} / {unit['name_en']}, {vote['status']}, "
             f"up to {vote['max_choices']} choice(s){fund}, closes {vote['closes_on'] or '-'}",
             f"Voters {turnout['voters']} (registered in the unit: {turnout['registered_in_unit']}; "
             f"changed their vote: {turnout['changed_their_vote']}); "
             f"from other units, counted apart: {turnout['out_of_area']}",
             "rank  votes  share  project"]
    for p in sorted(view["projects"], key=lambda p: (p["rank"], p["number"])):
        share = f"{p['share']:.0%}" if p["share"] is not None else "-"
        away = f"  (+{p['out_of_area_votes']} from other units)" if p["out_of_area_votes"] else ""
        lines.append(f"{p['rank']:4}  {p['votes']:5}  {share:>5}  {p['number']}. {p['mn']} / {p['en']}{away}")
    if view["by_group"]:
        lines.append(f"By group (cells under {vote['min_cell']} hidden):")
        for group, cell in view["by_group"].items():
            votes = ", ".join(f"{n}: {v}" for n, v in cell.get("votes", {}).items())
            lines.append(f"  {group}: voters {cell['voters']}" + (f"; {votes}" if votes else ""))
    fairness = view.get("fairness")
    if fairness is not None:
        lines.append(f"Fairness checks: {len(fairness['flags'])} flag(s) over {fairness['casts']} votes cast "
                     "(flags never change a count)")
        lines += [f"  {flag['kind']} {flag['from']}: {_flag_detail(flag)}" for flag in fairness["flags"]]
    return lines


def _flag_detail(flag: dict) -> str:
    if flag["kind"] == "busy_hour":
        return f"{flag['votes']} votes in the hour (median hour {flag['median_hour']})"
    if flag["kind"] == "new_numbers":
        return f"{flag['from_new_numbers']} of {flag['votes']} votes from numbers first seen in the last day"
    return (f"project {flag['project']} got {flag['votes']} votes in {flag['minutes']} minutes "
            f"(usually {flag['usual_per_window']})")


# --- closing and the results SMS ---------------------------------------------------------------------------


def close(app: Flask, round_: store.VoteRound) -> int:
    """Close the vote and text its ranking to every voter who can be reached; returns the SMS queued."""
    store.set_status(round_, "closed")
    log_event("vote.closed", vote=round_.id)
    return send_results(app, round_)


def send_results(app: Flask, round_: store.VoteRound) -> int:
    from gateway.outbox import route_for  # the outbox imports channels: only needed when sending

    texts = {variant: _sized(text) for variant, text in results_texts(round_, store.tally(round_)).items()}
    route = route_for(app, "notice")
    config = app.config["GATEWAY"]
    queued = store.enqueue_results(round_, texts, config["language"]["sms_script"],
                                   route[0] if route else "none", _after_quiet_hours(app))
    log_event("vote.results_queued", vote=round_.id, recipients=queued)
    return queued


def _sized(text: str) -> tuple[str, str, int]:
    size = sms_size(text)
    return text, size.encoding, size.segments


def _after_quiet_hours(app: Flask) -> dt.datetime | None:
    from gateway.broadcasts import quiet_until

    return quiet_until(app, utcnow())


def results_texts(round_: store.VoteRound, tally: dict) -> dict[str, str]:
    """The results SMS in 'mn-cyrl', 'mn-latn' and 'en': the ranking (as much as fits in two SMS) and what
    happens next. Latin Mongolian is the Cyrillic in texting style, except where staff wrote a Latin text."""
    unit, ranked = round_.admin_unit, sorted(tally["projects"], key=lambda p: (p["rank"], p["number"]))
    mn_steps = round_.next_steps_mn or DEFAULT_NEXT_STEPS["mn"]
    parts = {  # head, project name, "next steps" label and text, "+N more"
        "mn-cyrl": (f"ОНХС санал хураалтын дүн, {unit_name(unit, 'mn')}:", lambda p: p["mn"], "Дараа нь: ",
                    mn_steps, " +{} бусад"),
        "mn-latn": (to_latin(f"ОНХС санал хураалтын дүн, {unit_name(unit, 'mn')}:"),
                    lambda p: p["latn"] or to_latin(p["mn"]), "Daraa ni: ",
                    round_.next_steps_latn or to_latin(mn_steps), " +{} busad"),
        "en": (f"Local Development Fund vote, {unit_name(unit, 'en')}:", lambda p: p["en"], "Next: ",
               round_.next_steps_en or DEFAULT_NEXT_STEPS["en"], " +{} more"),
    }
    texts = {}
    for variant, (head, name, label, next_steps, more) in parts.items():
        items = [f"{p['rank']}) {name(p)} {p['votes']}" for p in ranked]
        texts[variant] = _fitting(head, items, more, f" {label}{next_steps}")
    return texts


def _fitting(head: str, items: list[str], more: str, tail: str) -> str:
    """As many ranked items as fit in MAX_RESULTS_SEGMENTS (at least the first)."""
    for shown in range(len(items), 0, -1):
        rest = more.format(len(items) - shown) if shown < len(items) else ""
        text = f"{head} {'; '.join(items[:shown])}{rest}.{tail}"
        if sms_size(text).segments <= MAX_RESULTS_SEGMENTS or shown == 1:
            return text
    return f"{head}{tail}"


def close_due(app: Flask) -> int:
    """Close every open vote whose last day has passed (local time) and send its results; returns how many."""
    closed = 0
    for round_ in store.due_to_close(local_today(app)):
        close(app, store.get_round(round_.id))
        closed += 1
    return closed


# --- the weekly digest ---------------------------------------------------------------------------------------


def digest_section(app: Flask, week: Week, unit_ids: list[int] | None) -> list[dict]:
    """Each vote open during the week, counted as of the week's end (with the latest choices of those who voted
    by then): turnout, new voters this week, projects ranked, the group split. The fairness checks are for staff
    (API and CLI), not for this CSO report."""
    sections = []
    for round_ in store.active_in(week.start, week.end, unit_ids):
        counted = store.tally(round_, counted_before=week.end)
        counted["turnout"]["new_this_week"] = store.new_voters(round_, week.start, week.end)
        unit = round_.admin_unit
        sections.append({
            "admin_unit": {"code": unit.code, "name_mn": unit.name_mn, "name_en": unit.name_en},
            "vote": {"id": round_.id, "status": round_.status, "max_choices": round_.max_choices,
                     "fund_amount": round_.fund_amount, "min_cell": round_.min_cell,
                     "opens_on": _iso(round_.opens_on), "closes_on": _iso(round_.closes_on)},
            **counted,
        })
    return sections


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
