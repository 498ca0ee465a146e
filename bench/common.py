"""What the benchmark scripts share: paths, bench secrets, the gateway's bench config, servers, scratch databases."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PUBLIC_URL = "https://bench.gateway.test"  # what Twilio signs; never contacted
NOWHERE = "http://127.0.0.1:9"  # the discard port: a reply that somehow got sent goes nowhere
SECRETS = {
    "GATEWAY_SECRET_KEY": "bench-secret-key-0123456789abcdef",
    "GATEWAY_PUBLIC_URL": PUBLIC_URL,
    "AT_USERNAME": "bench", "AT_API_KEY": "bench-at-key", "AT_WEBHOOK_TOKEN": "bench-at-token",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "bench-twilio-token",
    "ANDROID_GATEWAY_URL": NOWHERE, "ANDROID_GATEWAY_LOGIN": "bench", "ANDROID_GATEWAY_PASSWORD": "bench",
    "ANDROID_GATEWAY_SIGNING_KEY": "bench-android-key",
}


def bench_env(**extra: str) -> dict:
    env = {**os.environ, **SECRETS, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def write_gateway_config(folder: Path, database_url: str) -> Path:
    """The gateway as deployed, with every channel on. The scheduler is off so nothing is ever sent out; replies
    still go to the outbox as usual. Logging stays at its default level (INFO), written to a file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(f"""instance_path: {folder}
database_url: {database_url}
public_url: {PUBLIC_URL}
scheduler:
  enabled: false
channels:
  africastalking:
    enabled: true
    base_url: {NOWHERE}
  twilio:
    enabled: true
    base_url: {NOWHERE}
    from_number: "+15005550006"
  android:
    enabled: true
    base_url: {NOWHERE}
""", encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, interval: float = 0.01) -> float:
    """Seconds until `url` answers at all (any HTTP status: /healthz says 503 while, e.g., the scheduler is off);
    raises TimeoutError."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return time.perf_counter() - started
        except urllib.error.HTTPError:
            return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(interval)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


class Server:
    """A server process (gunicorn arbiter and its workers) in its own process group, stopped with SIGTERM."""

    def __init__(self, name: str, command: list[str], env: dict, log: Path, ready_url: str) -> None:
        self.name, self.command, self.env, self.log, self.ready_url = name, command, env, log, ready_url
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait until ready; returns the seconds it took."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as sink:
            started = time.perf_counter()
            self.process = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=sink, stderr=sink,
                                            start_new_session=True)
        try:
            wait_http(self.ready_url, timeout)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: see {self.log}") from None
        return time.perf_counter() - started

    def pids(self) -> list[int]:
        """The arbiter and its workers."""
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [self.process.pid, *map(int, children.read_text().split())] if children.exists() else []

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class ScratchPostgres:
    """A fresh PostgreSQL database next to `url`'s, dropped afterwards."""

    def __init__(self, url: str) -> None:
        self.parts = urlsplit(url)
        self.name = f"gw_bench_{uuid.uuid4().hex[:8]}"
        self.url = urlunsplit(self.parts._replace(path="/" + self.name))

    def _admin(self):
        import peewee

        admin = peewee.PostgresqlDatabase(self.parts.path.lstrip("/") or "postgres", host=self.parts.hostname,
                                          port=self.parts.port or 5432, user=self.parts.username or "postgres",
                                          password=self.parts.password)
        admin.connect()
        admin.connection().autocommit = True
        return admin

    def __enter__(self) -> str:
        admin = self._admin()
        admin.execute_sql(f'CREATE DATABASE "{self.name}"')
        admin.close()
        return self.url

    def __exit__(self, *exc) -> None:
        admin = self._admin()
        admin.execute_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        admin.close()


def postgres_url() -> str | None:
    """GATEWAY_TEST_POSTGRES_URL when PostgreSQL answers there, else None."""
    url = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
    if not url:
        return None
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=2).close()
    except OSError:
        return None
    return url


def python() -> str:
    return sys.executable
