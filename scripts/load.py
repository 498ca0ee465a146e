"""Load against the real `gateway serve`: 200 concurrent USSD sessions and 50 inbound SMS a second, 60 s each.

For each database (SQLite, then PostgreSQL in a scratch database dropped afterwards, when GATEWAY_TEST_POSTGRES_URL
answers) the script starts `gateway serve` on 127.0.0.1 under its own settings (the configured 2 worker processes
and their threads; scheduler off and every provider pointed at the discard port, so nothing leaves the machine),
then runs:

- USSD: `--sessions` sessions at once for `--seconds`; each sends its next hop as soon as the last answer arrives,
  and every session is a new session id from a new number (the 5-hop water-kiosk journey with the privacy notice);
- SMS: `--sms-rate` inbound messages a second for `--seconds`, open loop, through the Africa's Talking, Twilio and
  Android webhooks in turn, each signed as that provider signs, from 1,000 numbers.

Every answer is checked (bench/loadgen.py): not 200, not CON/END, an error screen, or a screen other than the one a
probe journey saw is a bad answer. Afterwards the database must hold every hop and every message sent: the hops
recorded in `ussd_session.history` equal the hops answered, the inbound messages equal those sent, none in `error`.

    python scripts/load.py                       # the full run (about 5 minutes)
    python scripts/load.py --seconds 10 --sessions 50

Exits 1 on a bad answer or anything lost; the latency targets are reported, never a reason to fail.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen  # noqa: E402
from bench.common import (  # noqa: E402
    ROOT,
    SECRETS,
    ScratchPostgres,
    Server,
    bench_env,
    free_port,
    postgres_url,
    write_gateway_config,
)
from bench.journeys import Journey, journey_for, number  # noqa: E402
from bench.run import SMS_PATHS, SMS_SECRETS, water_index  # noqa: E402

GATEWAY = [sys.executable, "-c", "from gateway.cli import main; main()"]
P99_TARGET_MS = {"sqlite": 300, "postgresql": 600}
STORED = """
import json, sys
from gateway.app import create_app
from storage.db import database
from storage.models import Message
from storage.runs import UssdSession
app = create_app(sys.argv[1], migrate=False)
with database.connection_context():
    histories = [h for (h,) in UssdSession.select(UssdSession.history).tuples()]
    inbound = Message.select().where(Message.direction == "in")
    print(json.dumps({"sessions": len(histories),
                      "hops": sum(1 + (len(h.split("*")) if h else 0) for h in histories),
                      "inbound": inbound.count(),
                      "inbound_error": inbound.where(Message.status == "error").count()}))
"""


def cpu_seconds(server: Server) -> float:
    """User + system CPU the server's processes (arbiter and workers) have used so far."""
    total = 0.0
    for pid in server.pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def stored(config: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", STORED, str(config)], cwd=ROOT, env=bench_env(),
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def serve(name: str, config: Path, work: Path) -> Server:
    port = free_port()
    server = Server(name, [*GATEWAY, "--config", str(config), "serve", "--port", str(port)], bench_env(),
                    work / f"{name}.log", f"http://127.0.0.1:{port}/healthz")
    server.port = port
    return server


def run_engine(engine: str, database_url: str, work: Path, args: argparse.Namespace, serials) -> dict:
    config = write_gateway_config(work / engine, database_url)
    server = serve(engine, config, work)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        token = SECRETS["AT_WEBHOOK_TOKEN"]
        journey = journey_for("gateway", "new", water_index(), token)
        screens, probe = loadgen.probe(base, journey, number(next(serials)))
        journey = Journey(journey.path, journey.inputs, journey.must_end, screens)
        before = stored(config)
        load, cpu = os.getloadavg()[0], cpu_seconds(server)
        print(f"[{time.strftime('%H:%M:%S')}] {engine}: USSD, {args.sessions} sessions for {args.seconds:g} s",
              flush=True)
        fresh = (number(next(serials)) for _ in itertools.count())  # one generator: every journey a new number
        ussd = loadgen.ussd_load(base, journey, args.sessions, args.seconds, [fresh] * args.sessions)
        ussd_cpu = cpu_seconds(server) - cpu
        after_ussd = stored(config)
        print(f"[{time.strftime('%H:%M:%S')}] {engine}: SMS, {args.sms_rate:g}/s for {args.seconds:g} s", flush=True)
        targets = [loadgen.SmsTarget(provider, SMS_PATHS[provider], SECRETS["GATEWAY_PUBLIC_URL"],
                                     SMS_SECRETS[provider]) for provider in ("africastalking", "twilio", "android")]
        phones = [number(next(serials)) for _ in range(1000)]
        cpu = cpu_seconds(server)
        sms = loadgen.sms_at_rate(base, targets, args.sms_rate, args.seconds, phones)
        sms_cpu = cpu_seconds(server) - cpu
        after_sms = stored(config)
    finally:
        server.stop()
    ussd_sent = ussd.answers + ussd.bad.get("no answer", 0)
    sms_sent = sms.answers + sms.bad.get("no answer", 0)
    return {
        "engine": engine, "load_average_before": round(load, 2), "probe_bad": probe.bad,
        "ussd": {**ussd.summary(), "sent": ussd_sent, "stored": after_ussd["hops"] - before["hops"],
                 "server_cpu_ms": round(1000 * ussd_cpu / max(ussd.answers, 1), 2),
                 "sessions_stored": after_ussd["sessions"] - before["sessions"]},
        "sms": {**sms.summary(), "sent": sms_sent, "stored": after_sms["inbound"] - after_ussd["inbound"],
                "server_cpu_ms": round(1000 * sms_cpu / max(sms.answers, 1), 2),
                "stored_error": after_sms["inbound_error"]},
    }


def run_ceiling(work: Path, args: argparse.Namespace) -> dict:
    """The same USSD load against a bare Flask app answering one constant screen (bench/apps/bare.py) under the
    same gunicorn settings: what this machine allows any Python app at this concurrency."""
    from gateway.config import load_config
    from gateway.serve import WORKER_SETTINGS

    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w",
               str(load_config(None)["server"]["workers"]), "-k", WORKER_SETTINGS["worker_class"], "--threads",
               str(WORKER_SETTINGS["threads"]), "--log-level", "warning", "bench.apps.bare:app"]
    server = Server("bare", command, bench_env(), work / "bare.log", f"http://127.0.0.1:{port}/healthz")
    server.start()
    try:
        print(f"[{time.strftime('%H:%M:%S')}] bare Flask: USSD, {args.sessions} sessions for {args.seconds:g} s",
              flush=True)
        cpu = cpu_seconds(server)
        journey = Journey("/ussd", ["1", "1", "5"], must_end=False)
        phones = [itertools.repeat(number(serial)) for serial in range(args.sessions)]
        tally = loadgen.ussd_load(f"http://127.0.0.1:{port}", journey, args.sessions, args.seconds, phones)
        cpu = cpu_seconds(server) - cpu
    finally:
        server.stop()
    return {**tally.summary(), "server_cpu_ms": round(1000 * cpu / max(tally.answers, 1), 2)}


def problems(result: dict) -> list[str]:
    found = []
    for kind in ("ussd", "sms"):
        row = result[kind]
        if row["bad"]:
            found.append(f"{result['engine']} {kind}: {row['bad']} bad answer(s) {row['bad_reasons']} "
                         f"e.g. {row['examples'][:1]}")
        if row["stored"] != row["sent"]:
            found.append(f"{result['engine']} {kind}: {row['sent']} sent but {row['stored']} stored")
    if result["sms"]["stored_error"]:
        found.append(f"{result['engine']} sms: {result['sms']['stored_error']} stored with status 'error'")
    if result["probe_bad"]:
        found.append(f"{result['engine']}: the probe journey got a bad answer {result['probe_bad']}")
    return found


def table(results: list[dict], ceiling: dict | None, args: argparse.Namespace) -> str:
    lines = ["| database | load | sent | answers/s | p50 ms | p95 ms | p99 ms | max ms | server CPU ms/answer "
             "| errors + bad | stored | p99 target |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        for kind, what in (("ussd", f"USSD, {args.sessions} sessions"), ("sms", f"SMS, {args.sms_rate:g}/s")):
            row = result[kind]
            target = P99_TARGET_MS[result["engine"]] if kind == "ussd" else None
            met = "" if target is None else f"< {target} ms: {'met' if row['p99_ms'] < target else '**missed**'}"
            lines.append(f"| {result['engine']} | {what} | {row['sent']:,} | {row['per_second']:,.1f} | "
                         f"{row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | {row['max_ms']} | "
                         f"{row['server_cpu_ms']} | {row['bad']} | {row['stored']:,} | {met} |")
    if ceiling:
        lines.append(f"| *bare Flask, constant screen* | USSD, {args.sessions} sessions | {ceiling['answers']:,} | "
                     f"{ceiling['per_second']:,.1f} | {ceiling['p50_ms']} | {ceiling['p95_ms']} | "
                     f"{ceiling['p99_ms']} | {ceiling['max_ms']} | {ceiling['server_cpu_ms']} | {ceiling['bad']} | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each load (USSD, then SMS)")
    parser.add_argument("--sessions", type=int, default=200, help="concurrent USSD sessions")
    parser.add_argument("--sms-rate", type=float, default=50.0, help="inbound SMS a second")
    parser.add_argument("--engines", default="sqlite,postgresql", help="which databases, comma-separated")
    parser.add_argument("--ceiling", action="store_true",
                        help="also run the USSD load against a bare Flask app under the same gunicorn settings")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = parser.parse_args()
    if not 0 < args.seconds <= 600 or not 0 < args.sessions <= 1000 or not 0 < args.sms_rate <= 500:
        parser.error("the load is bounded: --seconds ≤ 600, --sessions ≤ 1000, --sms-rate ≤ 500")
    engines = [name for name in args.engines.split(",") if name]
    pg = postgres_url()
    serials = itertools.count(3_000_000)
    results, ceiling = [], None
    with tempfile.TemporaryDirectory(prefix="gateway-load-") as folder:
        work = Path(folder)
        if "sqlite" in engines:
            results.append(run_engine("sqlite", f"sqlite:///{work}/sqlite/gateway.db", work, args, serials))
        if "postgresql" in engines:
            if pg is None:
                print("PostgreSQL skipped: GATEWAY_TEST_POSTGRES_URL is not set or does not answer", file=sys.stderr)
            else:
                with ScratchPostgres(pg) as url:
                    results.append(run_engine("postgresql", url, work, args, serials))
        if args.ceiling:
            ceiling = run_ceiling(work, args)
        found = [problem for result in results for problem in problems(result)]
        if found:
            for result in results:
                print(f"server log ({result['engine']}): {work / result['engine']}.log", file=sys.stderr)
                print((work / f"{result['engine']}.log").read_text()[-3000:], file=sys.stderr)
    print("\n" + table(results, ceiling, args))
    print(f"\n{os.cpu_count()} cores; load average at the end {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        print(json.dumps({"results": results, "ceiling": ceiling}))
    if found:
        print("\nFAILED:\n" + "\n".join(f"- {problem}" for problem in found), file=sys.stderr)
        sys.exit(1)
    print("\nevery answer good, nothing lost")


if __name__ == "__main__":
    main()
