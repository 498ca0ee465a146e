"""``gateway flows check``: every issue in the flow files, plus the size of every message they send.

The CLI command is a thin wrapper around ``run_check``; tests call the functions directly.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from flows.checks import message_sizes, system_message_sizes
from flows.definition import Issue
from flows.loader import FlowSet, load_flows


def check_flows(paths: Sequence[str | Path], bundled: bool | None = None) -> list[Issue]:
    """All issues (errors and warnings) in the given files or folders; no paths means the bundled flows."""
    return _load(paths, bundled).issues


def size_report(paths: Sequence[str | Path], bundled: bool | None = None) -> list[dict]:
    """One row per message, channel, language and script: encoding, characters and SMS segments."""
    return _sizes(_load(paths, bundled))


def run_check(paths: list[str], as_json: bool) -> tuple[int, str]:
    """(exit code, printable output): exit code 1 when any flow has an error."""
    flow_set = _load(paths, None)
    sizes = _sizes(flow_set)
    exit_code = 1 if flow_set.errors else 0
    if as_json:
        return exit_code, json.dumps(_json_report(flow_set, sizes), ensure_ascii=False, indent=2)
    return exit_code, _text_report(flow_set, sizes)


def _sizes(flow_set: FlowSet) -> list[dict]:
    """Every message a flow can send, then the gateway's own (STOP, START, the switch question…)."""
    messages = [message for flow in flow_set.flows.values() for message in message_sizes(flow)]
    messages += system_message_sizes(flow_set.messages, "messages")
    return [message.as_dict() for message in messages]


def _load(paths: Sequence[str | Path], bundled: bool | None) -> FlowSet:
    return load_flows(list(paths), bundled=not paths if bundled is None else bundled)


def _json_report(flow_set: FlowSet, sizes: list[dict]) -> dict:
    return {
        "ok": not flow_set.errors,
        "flows": sorted(flow_set.flows),
        "issues": [issue.as_dict() for issue in flow_set.issues],
        "messages": sizes,
    }


def _text_report(flow_set: FlowSet, sizes: list[dict]) -> str:
    lines = [f"{issue}  [{issue.severity}: {issue.code}]" for issue in flow_set.issues]
    if sizes:
        lines += ["", "Message sizes (channel, language/script, encoding, characters, SMS segments):"]
        lines += [_size_line(row) for row in sizes]
    errors = len(flow_set.errors)
    warnings = len(flow_set.issues) - errors
    lines += ["", f"{len(flow_set.flows)} flow(s) loaded, {errors} error(s), {warnings} warning(s)"]
    return "\n".join(lines).strip("\n")


def _size_line(row: dict) -> str:
    script = f"/{row['script']}" if row["language"] == "mn" else ""
    where = f"{row['flow']}.{row['step']} {row['part']}"
    limit = f" of {row['ussd_limit']}" if row["ussd_limit"] else ""
    parts = "" if row["channel"] == "ussd" else f", {row['segments']} segment(s)"
    flag = "  <-- more than 2 segments" if row["channel"] == "sms" and row["segments"] > 2 else ""
    return (f"  {where:<42} {row['channel']:<4} {row['language']}{script:<5} {row['encoding']:<5} "
            f"{row['units']}{limit} chars{parts}{flag}")
