"""`gateway flows check|list`: validate and list the conversation flows this configuration loads."""
from __future__ import annotations

import json

import click

from gateway.config import ConfigError, load_config


def configured_flow_paths(config: dict) -> list[str]:
    """The folders the app loads: bundled flows first (unless disabled), then `flows.paths`."""
    from flows.loader import BUNDLED_DIR

    return ([str(BUNDLED_DIR)] if config["flows"]["bundled"] else []) + list(config["flows"]["paths"])


def _config(ctx: click.Context) -> dict:
    try:
        return load_config(ctx.find_root().obj["config_path"])
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


@click.group("flows")
def flows_group() -> None:
    """Conversation flows: validate and list them."""


@flows_group.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def check(ctx: click.Context, paths: tuple[str, ...], as_json: bool) -> None:
    """Validate flow files (default: the configured and bundled flows); exit status 1 on any error."""
    from flows.validate import run_check

    targets = list(paths) or configured_flow_paths(_config(ctx))
    if not targets:
        raise click.ClickException("no flows to check: flows.bundled is false and flows.paths is empty")
    exit_code, output = run_check(targets, as_json)
    click.echo(output)
    ctx.exit(exit_code)


@flows_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_flows(ctx: click.Context, as_json: bool) -> None:
    """List the flows that load, with their keywords, USSD menu entry and source file."""
    from flows.loader import load_flows

    config = _config(ctx)
    flowset = load_flows(config["flows"]["paths"], bundled=config["flows"]["bundled"])
    rows = [{"id": flow.id, "version": flow.version, "name": flow.name, "keywords": list(flow.keywords),
             "ussd": flow.ussd, "records": flow.records, "source": flow.source}
            for flow in sorted(flowset.flows.values(), key=lambda f: f.id)]
    if as_json:
        click.echo(json.dumps({"flows": rows, "broken": sorted({i.file for i in flowset.errors})},
                              ensure_ascii=False, indent=2))
        return
    for row in rows:
        ussd = "ussd" if row["ussd"] else "    "
        keywords = ", ".join(row["keywords"]) or "-"
        click.echo(f"{row['id']:<20} v{row['version']:<3} {ussd} {row['name'].get('en', ''):<22} "
                   f"keywords: {keywords}  ({row['source']})")
    for file in sorted({issue.file for issue in flowset.errors}):
        click.echo(f"BROKEN (left out): {file}  -- run `gateway flows check` for details", err=True)


commands = [flows_group]
