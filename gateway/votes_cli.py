"""`gateway votes create|open|close|show|results`: Local Development Fund (ОНХС) votes."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from gateway.cli import with_app


def _fail(message: str) -> None:
    raise click.ClickException(message)


def load_projects(path: str) -> list[dict]:
    """Projects from YAML (a list, or {projects: [...]}, of {mn, en, latn?, description?: {mn, en, latn?}})
    or CSV (columns mn,en[,latn,description_mn,description_en,description_latn])."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    text = Path(path).read_text(encoding="utf-8-sig")
    if path.lower().endswith(".csv"):
        return [_csv_project(row) for row in csv.DictReader(text.splitlines())]
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError as exc:
        _fail(f"{path}: not valid YAML: {exc}")
    rows = data.get("projects") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        _fail(f"{path}: expected a list of projects with mn and en")
    return rows


def _csv_project(row: dict) -> dict:
    project = {key: row.get(key) for key in ("mn", "en", "latn") if row.get(key)}
    description = {key: row.get(f"description_{key}") for key in ("mn", "en", "latn") if row.get(f"description_{key}")}
    return {**project, "description": description} if description else project


@click.group("votes")
def votes_group() -> None:
    """Local Development Fund (ОНХС) votes: create, open, close, show, results."""


@votes_group.command("create")
@click.option("--unit", "unit_code", required=True, help="The khoroo or bag code, e.g. BGD-07.")
@click.option("--projects", "projects_file", required=True, type=click.Path(exists=True, dir_okay=False),
              help="YAML or CSV file of 2-12 projects (mn, en, latn, description).")
@click.option("--max-choices", default=1, show_default=True, type=int, help="1 = one choice; K = up to K choices.")
@click.option("--fund", "fund_amount", type=int, help="The fund amount in tögrög, for information.")
@click.option("--opens-on", type=click.DateTime(["%Y-%m-%d"]), help="Planned opening date (local).")
@click.option("--closes-on", type=click.DateTime(["%Y-%m-%d"]), help="Last day of voting (local); closes after it.")
@click.option("--min-cell", default=5, show_default=True, type=int, help="Smallest group cell shown in results.")
@click.option("--next-steps-mn", help="What happens next (Mongolian), for the results SMS.")
@click.option("--next-steps-en", help="What happens next (English).")
@click.option("--next-steps-latn", help="What happens next (Latin Mongolian; default: transliterated).")
@with_app
def votes_create(app, unit_code, projects_file, max_choices, fund_amount, opens_on, closes_on, min_cell,
                 next_steps_mn, next_steps_en, next_steps_latn) -> None:
    """Create a draft vote for a khoroo or bag with its shortlist of projects."""
    from gateway.clock import local_today
    from storage import votes as store
    from storage.runs import admin_unit_by_code

    unit = admin_unit_by_code(unit_code, local_today(app)) or _fail(f"no admin unit with code {unit_code!r}")
    try:
        round_ = store.create_round(
            unit, load_projects(projects_file), max_choices=max_choices, fund_amount=fund_amount,
            opens_on=opens_on.date() if opens_on else None, closes_on=closes_on.date() if closes_on else None,
            min_cell=min_cell, next_steps={"mn": next_steps_mn, "en": next_steps_en, "latn": next_steps_latn})
    except store.VoteError as exc:
        _fail(str(exc))
    click.echo(f"created vote {round_.id}: {unit.code}, {len(store.projects_of(round_))} projects, "
               f"up to {round_.max_choices} choice(s), draft")


def _round(round_id: int):
    from storage import votes as store

    return store.get_round(round_id) or _fail(f"no vote {round_id}")


@votes_group.command("open")
@click.argument("vote_id", type=int)
@with_app
def votes_open(app, vote_id: int) -> None:
    """Open a vote: people can vote (and change their vote) until it closes."""
    from storage import votes as store

    try:
        store.set_status(_round(vote_id), "open")
    except store.VoteError as exc:
        _fail(str(exc))
    click.echo(f"vote {vote_id} is open")


@votes_group.command("close")
@click.argument("vote_id", type=int)
@with_app
def votes_close(app, vote_id: int) -> None:
    """Close a vote for good and text the ranking to everyone who voted (opt-outs excepted)."""
    from gateway import votes
    from storage import votes as store

    try:
        queued = votes.close(app, _round(vote_id))
    except store.VoteError as exc:
        _fail(str(exc))
    click.echo(f"vote {vote_id} is closed; results SMS queued for {queued} voter(s)")


@votes_group.command("show")
@click.argument("vote_id", type=int, required=False)
@with_app
def votes_show(app, vote_id: int | None) -> None:
    """Show one vote as JSON, or list all votes."""
    from gateway import votes
    from storage import votes as store

    if vote_id is None:
        for r in store.list_rounds():
            click.echo(f"{r.id:5}  {r.status:6}  {r.admin_unit.code:10} closes {r.closes_on or '-'}")
        return
    click.echo(json.dumps(votes.results(app, _round(vote_id), with_fairness=False)["vote"], ensure_ascii=False,
                          indent=2))


@votes_group.command("results")
@click.argument("vote_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@with_app
def votes_results(app, vote_id: int, fmt: str) -> None:
    """Counts and rank per project, turnout, the group split (small cells hidden) and the fairness checks."""
    from gateway import votes
    from gateway.digests import csv_lines
    from storage.access import cli_principal
    from storage.audit import record

    view = votes.results(app, _round(vote_id), with_fairness=True)
    record(cli_principal(), "vote.results", f"vote:{vote_id}.{fmt}")
    if fmt == "json":
        click.echo(json.dumps(view, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        sys.stdout.write("".join(csv_lines(votes.RESULT_COLUMNS, votes.result_rows(view))))
    else:
        click.echo("\n".join(votes.results_lines(view)))


commands = [votes_group]
