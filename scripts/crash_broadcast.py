"""`kill -9` during a broadcast: does every recipient get the SMS exactly once?

For each provider (android, africastalking, twilio) and each run: a fresh SQLite database with N consented contacts
in one group, a broadcast to that group queued with `gateway broadcast`, and `gateway serve` (2 workers) sending it
to that provider's fake (tests/fakes: loopback HTTP servers speaking the documented wire format). At a random point
the scheduler's leader (the worker that dispatches) is killed with SIGKILL; gunicorn starts a new worker and the
other one takes the lease. At a second random point the whole server (master and workers) is killed with SIGKILL
and started again. When the outbox is empty the fake's log is counted: duplicates and missing recipients.

    python scripts/crash_broadcast.py --runs 3 --recipients 10000
    python scripts/crash_broadcast.py --providers twilio --runs 1 --recipients 1000 --json   # what CI runs

Everything runs on 127.0.0.1 and stops by itself. Exit status 1 if any android or twilio recipient got the SMS
other than once, or any recipient got nothing (Africa's Talking can cost one duplicate per kill: see
docs/reliability.md, "Exactly once, per provider").
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes import FakeAfricasTalking, FakeAndroid, FakeTwilio  # noqa: E402
from tests.fakes.signing import (  # noqa: E402
    ANDROID_KEY,
    ANDROID_LOGIN,
    ANDROID_PASSWORD,
    AT_KEY,
    AT_TOKEN,
    AT_USER,
    TWILIO_SID,
    TWILIO_TOKEN,
)

GATEWAY = [sys.executable, "-c", "from gateway.cli import main; main()"]
PROVIDERS = ("android", "africastalking", "twilio")
SECRETS = {"TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "AT_USERNAME": AT_USER,
           "AT_API_KEY": AT_KEY, "AT_WEBHOOK_TOKEN": AT_TOKEN, "ANDROID_GATEWAY_LOGIN": ANDROID_LOGIN,
           "ANDROID_GATEWAY_PASSWORD": ANDROID_PASSWORD, "ANDROID_GATEWAY_SIGNING_KEY": ANDROID_KEY}
TEXT = "Khoroony irgediin khural 12-r sariin 10-nd 18:00 tsagt. / Khoroo meeting on 10 Dec at 18:00."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_fake(provider: str):
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fakes' request lines
    fake = {"android": lambda: FakeAndroid(ANDROID_LOGIN, ANDROID_PASSWORD),
            "africastalking": lambda: FakeAfricasTalking(AT_USER, AT_KEY),
            "twilio": lambda: FakeTwilio(TWILIO_SID, TWILIO_TOKEN)}[provider]()
    return fake.start()


def config_yaml(provider: str, fake_url: str, lease_seconds: int) -> str:
    extra = '    from_number: "+15005550006"\n' if provider == "twilio" else ""
    return f"""log_level: WARNING
quiet_hours: {{start: "00:00", end: "00:00"}}
scheduler: {{lease_seconds: {lease_seconds}}}
routing: {{sms: [{provider}], bulk: [{provider}]}}
outbox: {{send_timeout_seconds: 3, stale_sending_seconds: 4, dispatch_seconds: 8}}
inbound_limit: {{messages: 100000, minutes: 1}}
channels:
  {provider}:
    enabled: true
    base_url: {fake_url}
    rate_per_second: 1000
{extra}"""


def outbox_counts(db: Path) -> Counter:
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return Counter(dict(conn.execute("SELECT status, COUNT(*) FROM message WHERE direction = 'out' "
                                             "GROUP BY status").fetchall()))
    except sqlite3.Error:
        return Counter()


def leader_pid(db: Path) -> int | None:
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            row = conn.execute("SELECT holder FROM lease WHERE name = 'scheduler-leader' AND expires_at >= "
                               "strftime('%Y-%m-%d %H:%M:%f', 'now')").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0].split(":")[1]) if row else None


def wait_for(condition, seconds: float, step: float = 0.02, server: Server | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server is not None:
            server.check()
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("gave up waiting")


class Server:
    def __init__(self, env: dict, folder: str):
        self.env, self.folder, self.process = env, folder, None

    def start(self) -> None:
        self.log = open(Path(self.folder) / "serve.log", "ab")
        self.process = subprocess.Popen([*GATEWAY, "serve", "--port", str(free_port()), "--workers", "2"],
                                        env=self.env, cwd=self.folder, stdout=self.log, stderr=self.log,
                                        start_new_session=True)

    def check(self) -> None:
        if self.process.poll() is None:
            return
        tail = (Path(self.folder) / "serve.log").read_text(errors="replace")[-3000:]
        if "in use" in tail[-500:]:  # another program took the free port first (the machine is shared): again
            self.start()
            return
        raise RuntimeError(f"gateway serve exited with {self.process.returncode}:\n{tail}")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def one_run(provider: str, recipients: int, rng: random.Random, log, lease_seconds: int = 6) -> dict:
    fake = start_fake(provider)
    with tempfile.TemporaryDirectory() as folder:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "TWILIO_", "AT_", "ANDROID_"))},
               **SECRETS, "PYTHONPATH": str(ROOT), "GATEWAY_INSTANCE_PATH": folder, "GATEWAY_SECRET_KEY": "k" * 32,
               "GATEWAY_CONFIG": str(Path(folder) / "config.yaml")}
        Path(folder, "config.yaml").write_text(config_yaml(provider, fake.url, lease_seconds))
        numbers = [f"+97699{i:06d}" for i in range(recipients)]
        Path(folder, "people.csv").write_text("phone\n" + "\n".join(numbers) + "\n")
        Path(folder, "text.txt").write_text(TEXT)
        log(f"  {provider}: setting up {recipients:,} contacts and the broadcast")
        for command in (["db", "upgrade"], ["contacts", "import", "people.csv", "--group", "crash", "--consented"],
                        ["broadcast", "--to", "group:crash", "--text-file", "text.txt", "--yes"]):
            subprocess.run([*GATEWAY, *command], env=env, cwd=folder, check=True, capture_output=True)
        db = Path(folder) / "gateway.db"
        server = Server(env, folder)
        started = time.monotonic()
        try:
            server.start()
            log(f"  {provider}: serving")
            leader_at, server_at = sorted(rng.sample(range(recipients // 20, recipients * 19 // 20), 2))
            wait_for(lambda: len(fake.accepted) >= leader_at, 600, server=server)
            killed = leader_pid(db)
            os.kill(killed, signal.SIGKILL)
            log(f"  {provider}: leader worker {killed} killed at {len(fake.accepted)} sent")
            wait_for(lambda: len(fake.accepted) >= server_at, 600, server=server)
            server.kill()
            log(f"  {provider}: whole server killed at {len(fake.accepted)} sent; restarting")
            server.start()
            wait_for(lambda: (c := outbox_counts(db)) and not c["queued"] and not c["sending"], 900, 0.2, server)
        finally:
            server.stop()
            fake.stop()
        counts = outbox_counts(db)
    got = Counter(item["to"] for item in fake.accepted)
    result = {"provider": provider, "recipients": recipients, "kills": 2,
              "duplicates": sum(n - 1 for n in got.values() if n > 1),
              "missing": sum(1 for number in numbers if number not in got),
              "outbox": dict(counts), "seconds": round(time.monotonic() - started, 1)}
    # Evidence that the crashes hit sends in flight: Twilio asked before a resend (GET of its message list), the
    # phone refusing an id it already had (POSTs the fake did not accept: 409).
    result["twilio_lookups"] = sum(1 for r in fake.requests if r.method == "GET" and r.path.endswith("Messages.json"))
    result["refused_as_known"] = sum(1 for r in fake.requests if r.method == "POST") - len(fake.accepted)
    times = [r.at for r in fake.requests if r.method == "POST"]
    result["sends_per_second"] = round(len(times) / max(times[-1] - times[0], 1e-9), 1) if times else 0
    log(f"  {provider}: {json.dumps(result)}")
    return result


def summary(results: list[dict]) -> dict:
    table: dict = {}
    for result in results:
        row = table.setdefault(result["provider"], {"runs": 0, "recipients": 0, "kills": 0, "duplicates": 0,
                                                    "missing": 0})
        for key in ("recipients", "kills", "duplicates", "missing"):
            row[key] += result[key]
        row["runs"] += 1
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--lease-seconds", type=int, default=6, help="scheduler.lease_seconds (default 6, as shipped)")
    parser.add_argument("--json", action="store_true", help="Print only the summary, as JSON.")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    log = (lambda _text: None) if args.json else (
        lambda text, t0=time.monotonic(): print(f"{time.monotonic() - t0:7.1f} s {text}", flush=True))
    log(f"seed {seed}")
    results = [one_run(provider, args.recipients, rng, log, args.lease_seconds)
               for provider in args.providers.split(",") for _ in range(args.runs)]
    table = summary(results)
    if args.json:
        print(json.dumps({"seed": seed, "providers": table}))
    else:
        print("| provider | runs | recipients | kill -9 | duplicates | missing |\n|---|---|---|---|---|---|")
        for provider, row in table.items():
            print(f"| {provider} | {row['runs']} | {row['recipients']:,} | {row['kills']} | {row['duplicates']} "
                  f"| {row['missing']} |")
    bad = any(row["missing"] or (row["duplicates"] and provider != "africastalking")
              for provider, row in table.items())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
