"""House rules that code review keeps missing: channels stay out of storage, one module converts local time, one
YAML library (1.2) reads every file."""
from __future__ import annotations

import ast
import configparser
from pathlib import Path

import click
import pytest

from gateway.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "storage", "flows")


def python_files(*packages: str) -> list[Path]:
    """The project's own files: not what lives in hidden folders (bench/.venv-peer, the peer app's virtualenv)."""
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py")
                  if not any(part.startswith(".") for part in path.relative_to(ROOT).parts))


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_file(name: str) -> Path | None:
    candidate = ROOT / Path(*name.split("."))
    for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
        if path.exists() and path.name != "__init__.py":
            return path
    return None


def test_channels_import_nothing_from_storage_even_through_other_gateway_modules():
    seen: set[Path] = set()
    todo = list((ROOT / "gateway" / "channels").glob("*.py"))
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path):
            assert not name.startswith("storage"), f"{path.relative_to(ROOT)} imports {name}"
            if name.startswith("gateway.") and (found := module_file(name)):
                todo.append(found)


def test_zoneinfo_is_built_only_in_gateway_clock():
    exempt = {ROOT / "gateway" / "clock.py"}
    offenders = [str(path.relative_to(ROOT)) for path in python_files(*PACKAGES)
                 if path not in exempt and ("ZoneInfo(" in path.read_text(encoding="utf-8")
                                            or ".astimezone(" in path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_yaml_is_read_with_ruamel_only():
    offenders = [str(path.relative_to(ROOT)) for path in python_files(*PACKAGES, "tests", "bench")
                 if "yaml" in imported_modules(path)]
    assert offenders == []
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    assert "pyyaml" not in parser["options"]["install_requires"].lower()


def test_config_yaml_is_yaml_1_2_so_no_stays_a_word(tmp_path):
    """YAML 1.1 reads `NO` (Norway) as false; 1.2, which flows use too, keeps it a word."""
    config = tmp_path / "config.yaml"
    config.write_text("default_region: NO\nconsent:\n  version: off\n")
    loaded = load_config(config, environ={})
    assert (loaded["default_region"], loaded["consent"]["version"]) == ("NO", "off")
    config.write_text("server:\n  port: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(config, environ={})


def test_indicator_files_are_yaml_1_2(tmp_path):
    import gateway.cli  # noqa: F401  (the command modules import it back; it must come first)
    from gateway.scorecards_cli import load_indicators

    indicators = tmp_path / "indicators.yaml"
    indicators.write_text("- {code: NO, mn: Нээлттэй цаг, en: Opening hours}\n- {code: Y, mn: Үгүй, en: no}\n")
    assert [(row["code"], row["en"]) for row in load_indicators(str(indicators))] == [("NO", "Opening hours"),
                                                                                       ("Y", "no")]
    indicators.write_text("indicators: [unclosed\n")
    with pytest.raises(click.ClickException, match="not valid YAML"):
        load_indicators(str(indicators))
