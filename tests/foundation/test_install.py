"""Install from a clean checkout into a fresh virtualenv, as the README says, and run `gateway --help`.

This catches a dependency missing from setup.cfg or a package file left out of the distribution.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def clean_checkout(dest: Path) -> Path:
    if shutil.which("git") and (REPO / ".git").exists():
        subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True)
    else:  # a source tarball: copy it without build leftovers
        shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns("*.egg-info", "instance", "__pycache__", ".git"))
    return dest


@pytest.mark.slow
def test_fresh_virtualenv_install_runs_gateway_help(tmp_path):
    checkout = clean_checkout(tmp_path / "checkout")
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", "."], cwd=checkout,
                             capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stderr[-3000:]
    result = subprocess.run([str(tmp_path / "venv" / "bin" / "gateway"), "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for command in ("serve", "config", "db", "flows", "simulate", "channels", "outbox", "meetings", "broadcast",
                    "rounds", "complaints", "digest", "tokens"):
        assert f"  {command} " in result.stdout, f"{command} missing from gateway --help"
    imports = subprocess.run([str(python), "-c", "import gateway, flows, storage; gateway.create_app"],
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert imports.returncode == 0, imports.stderr
    assert sys.version_info >= (3, 11)
