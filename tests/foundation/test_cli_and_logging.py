"""`gateway db upgrade`, /healthz failure, and log lines that mask numbers."""
from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from gateway.cli import FEATURE_COMMANDS, cli
from gateway.logs import JsonLineFormatter, log_event
from storage.db import database

ROOT = Path(__file__).resolve().parents[2]


def test_db_upgrade_applies_then_reports_up_to_date(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEWAY_SECRET_KEY", "k" * 32)
    runner = CliRunner()
    first = runner.invoke(cli, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert "0001_core" in first.output and "0002_seed_admin_units" in first.output
    second = runner.invoke(cli, ["db", "upgrade"])
    assert "up to date" in second.output
    assert (tmp_path / "instance" / "gateway.db").exists()


def test_healthz_is_503_when_the_database_is_unreachable(app, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(database.obj, "execute_sql", broken)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"].startswith("error")


def test_log_lines_are_json_and_mask_numbers(caplog):
    formatter = JsonLineFormatter()
    with caplog.at_level(logging.INFO, logger="gateway"):
        log_event("sms.received", phone="+97699112233", channel="android")
    line = json.loads(formatter.format(caplog.records[-1]))
    assert line["event"] == "sms.received" and line["channel"] == "android"
    assert line["phone"] == "+976****2233"


def test_every_command_has_a_one_line_help():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = [line for line in result.output.splitlines() if line.startswith("  ") and not line.startswith("   ")]
    commands = [line.split()[0] for line in listed if not line.strip().startswith("-")]
    assert {"serve", "config", "db"} <= set(commands)
    for name in cli.list_commands(None):
        command = cli.get_command(None, name)
        assert command.help or command.short_help, f"{name} has no help text"


def test_help_lines_of_lazy_commands_are_the_commands_own():
    for module in {module for module, _ in FEATURE_COMMANDS.values()}:
        for command in importlib.import_module(module).commands:
            assert command.name in FEATURE_COMMANDS, f"{module}.{command.name} is missing from FEATURE_COMMANDS"
            listed_module, line = FEATURE_COMMANDS[command.name]
            assert (listed_module, line) == (module, command.get_short_help_str(120))


def test_help_loads_no_feature_module_nor_flask():
    """`gateway --help` stays quick: it prints the command list without importing what the commands need."""
    script = ("import sys; from click.testing import CliRunner; from gateway.cli import cli; "
              "result = CliRunner().invoke(cli, ['--help']); assert result.exit_code == 0, result.output; "
              "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
                 .stdout.split())
    assert not loaded & {"flask", "peewee", "storage.db", "gateway.app", *(m for m, _ in FEATURE_COMMANDS.values())}


def run_gateway(tmp_path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The real command in a fresh process, from this checkout, in a fresh folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "TWILIO_", "AT_", "ANDROID_"))}
    env.update(PYTHONPATH=str(ROOT), GATEWAY_SECRET_KEY="k" * 32)
    return subprocess.run([sys.executable, "-c", "from gateway.cli import main; main()", *args], cwd=tmp_path,
                          env=env, input=stdin, capture_output=True, text=True, timeout=120)


def test_commands_and_the_simulator_print_no_log_lines_for_staff(tmp_path):
    for args, stdin in ((("db", "upgrade"), None), (("outbox", "list"), None),
                        (("simulate", "--channel", "sms"), "help\n/quit\n")):
        result = run_gateway(tmp_path, *args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        assert '{"ts"' not in result.stdout, args
        assert '"level": "INFO"' not in result.stderr, args
