"""PostgreSQL going away under load: how fast requests are answered while it is down, and how soon it all works again.

The shared PostgreSQL server is never restarted: a TCP proxy on 127.0.0.1 (tests/fakes/tcp_proxy.py) stands in front
of a scratch database, and cutting it does to `gateway serve` what a restart does (open connections closed under it,
new ones refused). Client threads send Africa's Talking inbound SMS and USSD hops the whole time.

    GATEWAY_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test python scripts/pg_outage.py --down 10

Prints answer times and statuses before, during and after the outage, and the time from PostgreSQL's return to
the first answer of 200 and to the last answer that was not. Everything stops by itself; the scratch database is
dropped.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.tcp_proxy import TcpProxy  # noqa: E402

GATEWAY = [sys.executable, "-c", "from gateway.cli import main; main()"]
TOKEN = "outage-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_sql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-qAtc", sql], check=True, capture_output=True)


def client(base: str, stop: threading.Event, results: list, worker: int) -> None:
    session = requests.Session()
    n = 0
    while not stop.is_set():
        n += 1
        number = f"+97699{worker:02d}{n % 10000:04d}"
        if n % 2:
            kind, path = "sms", "/webhooks/africastalking/sms"
            form = {"from": number, "to": "13131", "text": "Sain baina uu", "id": f"o-{worker}-{n}",
                    "date": "2026-12-05 10:00:00"}
        else:
            kind, path = "ussd", "/webhooks/africastalking/ussd"
            form = {"sessionId": f"o-{worker}-{n}", "serviceCode": "*131#", "phoneNumber": number, "text": ""}
        started = time.monotonic()
        try:
            status = session.post(f"{base}{path}?token={TOKEN}", data=form, timeout=30).status_code
        except requests.RequestException:
            status = "no answer"
        results.append((started, time.monotonic() - started, kind, status))
        time.sleep(0.02)


def describe(rows: list) -> str:
    if not rows:
        return "no requests"
    times = sorted(row[1] * 1000 for row in rows)
    statuses = Counter(f"{row[2]} {row[3]}" for row in rows)
    return (f"{len(rows)} requests, answer p50 {statistics.median(times):.0f} ms, max {times[-1]:.0f} ms; "
            + ", ".join(f"{key}: {value}" for key, value in sorted(statuses.items())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=10, help="seconds PostgreSQL stays away")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--server-log", help="write gateway serve's output (warnings and errors) to this file")
    args = parser.parse_args()
    base_url = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
    if not base_url:
        sys.exit("set GATEWAY_TEST_POSTGRES_URL to a PostgreSQL server where scratch databases may be made")
    parts = urlsplit(base_url)
    name = f"gw_outage_{uuid.uuid4().hex[:8]}"
    admin_sql(base_url, f'CREATE DATABASE "{name}"')
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = (f"{parts.username}@" if parts.username else "") + f"127.0.0.1:{proxy.port}"
    port = free_port()
    stop, results = threading.Event(), []
    with tempfile.TemporaryDirectory() as folder:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "AT_"))},
               "PYTHONPATH": str(ROOT), "GATEWAY_INSTANCE_PATH": folder, "GATEWAY_SECRET_KEY": "k" * 32,
               "GATEWAY_DATABASE_URL": urlunsplit(parts._replace(netloc=netloc, path="/" + name)),
               "GATEWAY_CONFIG": str(Path(folder) / "config.yaml"), "AT_USERNAME": "gw", "AT_API_KEY": "k",
               "AT_WEBHOOK_TOKEN": TOKEN}
        Path(folder, "config.yaml").write_text("log_level: WARNING\nchannels: {africastalking: {enabled: true}}\n"
                                               "inbound_limit: {messages: 100000, minutes: 1}\n")
        log = open(args.server_log, "wb") if args.server_log else subprocess.DEVNULL
        server = subprocess.Popen([*GATEWAY, "serve", "--port", str(port), "--workers", "2"], env=env, cwd=folder,
                                  stdout=log, stderr=log, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            threads = [threading.Thread(target=client, args=(base, stop, results, i)) for i in range(args.clients)]
            for thread in threads:
                thread.start()
            time.sleep(5)
            cut_at = time.monotonic()
            proxy.cut()
            time.sleep(args.down)
            back_at = time.monotonic()
            proxy.restore()
            time.sleep(10)
            stop.set()
            for thread in threads:
                thread.join()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            proxy.stop()
            admin_sql(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    before = [r for r in results if r[0] < cut_at]
    down = [r for r in results if cut_at <= r[0] < back_at]
    after = [r for r in results if r[0] >= back_at]
    first_ok = min((r[0] + r[1] for r in after if r[3] == 200), default=None)
    last_bad = max((r[0] + r[1] for r in after if r[3] != 200), default=None)
    print(f"before ({5} s): {describe(before)}")
    print(f"PostgreSQL away ({args.down:g} s): {describe(down)}")
    print(f"after it is back (10 s): {describe(after)}")
    print("first 200 after its return: " + (f"{first_ok - back_at:.2f} s" if first_ok else "none")
          + "; last answer other than 200: " + (f"{last_bad - back_at:.2f} s after its return" if last_bad
                                                 else "none after its return"))


if __name__ == "__main__":
    main()
