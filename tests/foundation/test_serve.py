"""The real `gateway serve` as a subprocess: migrates, serves /healthz with gunicorn, stops cleanly on SIGTERM."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

GATEWAY = str(Path(sys.executable).with_name("gateway"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen, seconds: float = 30) -> tuple[int, dict]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited early with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
            if body.get("scheduler") == "running":
                return exc.code, body
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.3)
    raise AssertionError("serve did not answer /healthz in time")


@pytest.fixture
def serve_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "TWILIO_", "AT_", "ANDROID_"))}
    env["GATEWAY_INSTANCE_PATH"] = str(tmp_path / "instance")
    return env


def test_serve_answers_healthz_and_stops_cleanly_on_sigterm(serve_env, tmp_path):
    port = free_port()
    process = subprocess.Popen([GATEWAY, "serve", "--port", str(port), "--workers", "1"], cwd=tmp_path,
                               env=serve_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status, body = wait_for_health(f"http://127.0.0.1:{port}/healthz", process)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert status == 200, body
    assert body["database"] == "ok" and body["scheduler"] == "running" and body["flows"]["loaded"] >= 3
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}/webhooks/africastalking/ussd" in output
    assert "gateway simulate" in output
    assert (tmp_path / "instance" / "gateway.db").exists()
    assert "Traceback" not in output


def test_serve_with_bad_config_fails_with_one_line_and_no_traceback(serve_env, tmp_path):
    (tmp_path / "config.yaml").write_text("server:\n  port: eighty\n")
    result = subprocess.run([GATEWAY, "serve"], cwd=tmp_path, env=serve_env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "server.port" in result.stderr and "'eighty'" in result.stderr and "1-65535" in result.stderr
