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

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = [sys.executable, "-c", "from gateway.cli import main; main()"]  # this checkout, whatever is installed


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
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_serve_answers_healthz_and_stops_cleanly_on_sigterm(serve_env, tmp_path):
    port = free_port()
    process = subprocess.Popen([*GATEWAY, "serve", "--port", str(port), "--workers", "1"], cwd=tmp_path,
                               env=serve_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status, body = wait_for_health(f"http://127.0.0.1:{port}/healthz", process)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert status == 200, body
    assert body["database"] == "ok" and body["scheduler"] == "running" and body["flows"]["loaded"] >= 3
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}/healthz" in output
    assert "gateway simulate" in output
    assert (tmp_path / "instance" / "gateway.db").exists()
    assert "Traceback" not in output
    assert "webhooks: none" in output  # no channel is enabled: no URL that would answer 404


def test_serve_answers_413_with_connection_close_and_closes(serve_env, tmp_path):
    """A body over 64 kB: 413, and the server says it closes the connection, and does."""
    port = free_port()
    (tmp_path / "config.yaml").write_text("channels:\n  android:\n    enabled: true\n")
    serve_env.update(ANDROID_GATEWAY_URL="http://127.0.0.1:9", ANDROID_GATEWAY_LOGIN="phone",
                     ANDROID_GATEWAY_PASSWORD="p", ANDROID_GATEWAY_SIGNING_KEY="k")
    process = subprocess.Popen([*GATEWAY, "serve", "--port", str(port), "--workers", "1"], cwd=tmp_path,
                               env=serve_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_health(f"http://127.0.0.1:{port}/healthz", process)
        for headers in ({"Content-Length": str(70_000)}, {"Transfer-Encoding": "chunked"}):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                body = b"x" * 70_000 if "Content-Length" in headers else b"11170\r\n" + b"x" * 70_000 + b"\r\n0\r\n\r\n"
                sock.sendall(f"POST /webhooks/android HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n"
                             f"Content-Type: application/json\r\n{head}\r\n".encode() + body)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            status_line, _, rest = answer.partition(b"\r\n")
            # Werkzeug reads no chunked body it cannot bound: such a request is refused unread (403 here).
            assert (b" 413 " if "Content-Length" in headers else b" 403 ") in status_line, answer[:200]
            assert b"connection: close" in rest.lower().split(b"\r\n\r\n")[0], answer[:400]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def test_serve_with_bad_config_fails_with_one_line_and_no_traceback(serve_env, tmp_path):
    (tmp_path / "config.yaml").write_text("server:\n  port: eighty\n")
    result = subprocess.run([*GATEWAY, "serve"], cwd=tmp_path, env=serve_env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "server.port" in result.stderr and "'eighty'" in result.stderr and "1-65535" in result.stderr
