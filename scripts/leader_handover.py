"""How long sending stops when the scheduler's leader is killed with `kill -9`.

Two `gateway serve` processes (one worker each) share one SQLite database, as two hosts share PostgreSQL. The
script finds the worker holding the leader lease, kills it with SIGKILL, and times how long until another process
holds the lease (and so runs `outbox.dispatch` again). Everything runs on 127.0.0.1 and stops by itself.

    python scripts/leader_handover.py --rounds 3
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = [sys.executable, "-c", "from gateway.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def holder(db: Path) -> str | None:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            row = conn.execute("SELECT holder FROM lease WHERE name = 'scheduler-leader' "
                               "AND expires_at >= strftime('%Y-%m-%d %H:%M:%f', 'now')").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def wait_for(condition, seconds: float, step: float = 0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("gave up waiting")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "TWILIO_", "AT_", "ANDROID_"))},
               "PYTHONPATH": str(ROOT), "GATEWAY_INSTANCE_PATH": folder, "GATEWAY_SECRET_KEY": "k" * 32}
        subprocess.run([*GATEWAY, "db", "upgrade"], env=env, cwd=folder, check=True, capture_output=True)
        servers = [subprocess.Popen([*GATEWAY, "serve", "--port", str(free_port()), "--workers", "1"], env=env,
                                    cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True) for _ in range(2)]
        db = Path(folder) / "gateway.db"
        gaps = []
        try:
            for _ in range(args.rounds):
                leader = wait_for(lambda: holder(db), 60)
                os.kill(int(leader.split(":")[1]), signal.SIGKILL)
                killed = time.monotonic()
                wait_for(lambda old=leader: (h := holder(db)) and h != old and h, 60)
                gaps.append(time.monotonic() - killed)
                print(f"leader {leader} killed; another process leads after {gaps[-1]:.1f} s", flush=True)
                time.sleep(1)
        finally:
            for server in servers:
                os.killpg(server.pid, signal.SIGTERM)
            for server in servers:
                server.wait(timeout=30)
    print(f"hand-over after kill -9: median {statistics.median(gaps):.1f} s, max {max(gaps):.1f} s "
          f"over {len(gaps)} rounds")


if __name__ == "__main__":
    main()
