"""The layering the developers' guide asks for, read from the source: who may import whom, and no cycles.

Imports inside functions count too: they hide a loop, they do not remove it.
"""
from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "storage", "flows")


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # frozen models, run by the migration runner, never imported by the code
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(path: Path, module: str) -> set[str]:
    names = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def project_imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module → the project modules it imports (a name resolves to the longest module it names)."""
    graph = {}
    for module, path in modules.items():
        found = set()
        for name in imported_names(path, module):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):
                found.add(name)
        graph[module] = found
    return graph


MODULES = project_modules()
GRAPH = project_imports(MODULES)


def test_there_is_no_import_cycle_in_gateway_storage_or_flows():
    try:
        tuple(TopologicalSorter(GRAPH).static_order())
    except CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def external_imports(prefix: str) -> dict[str, set[str]]:
    return {module: {name.split(".")[0] for name in imported_names(path, module)}
            for module, path in MODULES.items() if module == prefix or module.startswith(prefix + ".")}


def test_flows_is_pure():
    forbidden = {"flask", "werkzeug", "peewee", "playhouse", "psycopg2", "sqlite3", "gateway", "storage", "twilio",
                 "africastalking", "android_sms_gateway", "requests"}
    found = {module: sorted(names & forbidden) for module, names in external_imports("flows").items()}
    assert {module: names for module, names in found.items() if names} == {}


def test_storage_imports_neither_gateway_nor_a_channel():
    found = {module: sorted(names & {"gateway", "flask"}) for module, names in external_imports("storage").items()}
    assert {module: names for module, names in found.items() if names} == {}


def test_channels_import_nothing_from_storage():
    found = {module: sorted(name for name in GRAPH[module] if name.startswith("storage"))
             for module in GRAPH if module.startswith("gateway.channels.")}
    assert {module: names for module, names in found.items() if names} == {}


def test_local_time_is_converted_in_one_module_and_yaml_read_with_one_library():
    zones = sorted(module for module, path in MODULES.items() if "ZoneInfo(" in path.read_text(encoding="utf-8"))
    assert zones == ["gateway.clock"]
    assert not any("yaml" in names for names in external_imports("gateway").values())
    assert not any("yaml" in names for names in {**external_imports("storage"), **external_imports("flows")}.values())


def test_nothing_registers_itself_by_being_imported():
    """`create_app` names the record handlers and the jobs; no module imports the modules registering with it."""
    assert "gateway.records" not in MODULES and "gateway.jobs" not in MODULES
    decorated = [module for module, path in MODULES.items() if "@job(" in path.read_text(encoding="utf-8")]
    assert decorated == []
