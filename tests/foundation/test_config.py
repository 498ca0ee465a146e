"""Configuration: defaults, file, environment, secrets, and one-line errors."""
from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner

from gateway.cli import cli
from gateway.config import ConfigError, ensure_instance, load_config, masked


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_put_sqlite_in_the_instance_folder(tmp_path):
    config = load_config(None, {"instance_path": str(tmp_path / "inst")}, environ={})
    assert config["database_url"] == f"sqlite:///{tmp_path / 'inst' / 'gateway.db'}"
    assert config["server"] == {"host": "127.0.0.1", "port": 5000, "workers": 2, "timeout": 30}
    assert config["timezone"] == "Asia/Ulaanbaatar"


def test_environment_overrides_the_file(tmp_path):
    config_file = write(tmp_path / "c.yaml", "database_url: sqlite:////tmp/from-file.db\nflows: {paths: [a]}\n")
    env = {"GATEWAY_DATABASE_URL": "postgresql://u@h/db", "GATEWAY_FLOWS_PATH": "/x:/y",
           "GATEWAY_INSTANCE_PATH": str(tmp_path / "i"), "AT_API_KEY": "at-key-123"}
    config = load_config(config_file, environ=env)
    assert config["database_url"] == "postgresql://u@h/db"
    assert config["flows"]["paths"] == ["/x", "/y"]
    assert config["instance_path"] == str(tmp_path / "i")
    assert config["channels"]["africastalking"]["api_key"] == "at-key-123"


def test_a_commented_out_section_keeps_its_defaults(tmp_path):
    config = load_config(write(tmp_path / "c.yaml", "server:\n  # port: 1\n"), environ={})
    assert config["server"]["port"] == 5000


@pytest.mark.parametrize("text, key, value, allowed", [
    ("server: {port: 70000}", "server.port", "70000", "1-65535"),
    ("language: {default: fr}", "language.default", "'fr'", "mn or en"),
    ("timezone: Mars/Olympus", "timezone", "'Mars/Olympus'", "IANA time zone"),
    ("database_url: mysql://x", "database_url", "'mysql://x'", "postgresql://"),
    ("quiet_hours: {start: '25:00'}", "quiet_hours.start", "'25:00'", "HH:MM"),
])
def test_a_bad_value_names_the_key_the_value_and_what_is_allowed(tmp_path, text, key, value, allowed):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path / "c.yaml", text), environ={})
    message = str(error.value)
    assert f"'{key}'" in message and value in message and allowed in message
    assert "\n" not in message


def test_secrets_are_refused_in_the_file(tmp_path):
    with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN"):
        load_config(write(tmp_path / "c.yaml", "channels: {twilio: {auth_token: abc}}"), environ={})


def test_masked_hides_every_secret_but_shows_what_is_unset(tmp_path):
    config = load_config(None, {"instance_path": str(tmp_path)},
                         environ={"GATEWAY_SECRET_KEY": "s" * 32, "TWILIO_AUTH_TOKEN": "twilio-secret-zz9"})
    shown = masked(config)
    text = json.dumps(shown)
    assert "s" * 32 not in text and "twilio-secret-zz9" not in text
    assert shown["secret_key"] == "****" and shown["channels"]["android"]["password"] == "(not set)"


def test_a_missing_secret_key_is_generated_once_and_kept(tmp_path, caplog):
    config = load_config(None, {"instance_path": str(tmp_path / "inst")}, environ={})
    with caplog.at_level(logging.WARNING):
        ensure_instance(config)
    first = config["secret_key"]
    assert len(first) == 64 and "GATEWAY_SECRET_KEY is not set" in caplog.text
    again = load_config(None, {"instance_path": str(tmp_path / "inst")}, environ={})
    ensure_instance(again)
    assert again["secret_key"] == first


def test_config_check_prints_masked_values(tmp_path, monkeypatch):
    monkeypatch.setenv("GATEWAY_SECRET_KEY", "x" * 40)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert "x" * 40 not in result.output and '"secret_key": "****"' in result.output


def test_config_check_fails_with_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "config.yaml", "server: {workers: 0}\n")
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code != 0
    assert result.output.strip().count("\n") == 0
    assert "server.workers" in result.output and "1-64" in result.output
