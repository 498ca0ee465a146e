"""The whole benchmark suite, one command: every figure a ratio against a baseline measured in the same run.

    python bench/run.py            # everything (a few minutes), writes bench/RESULTS.md
    python bench/run.py --quick    # the CI check (well under a minute): fails on any bad answer, never on speed

See bench/README.md for what is measured and how to read it. PostgreSQL figures need GATEWAY_TEST_POSTGRES_URL.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadgen  # noqa: E402
from bench.common import (  # noqa: E402
    BENCH,
    ROOT,
    SECRETS,
    ScratchPostgres,
    Server,
    bench_env,
    free_port,
    postgres_url,
    rss_mb,
    write_gateway_config,
)
from bench.journeys import Journey, journey_for, number  # noqa: E402

PEER_VENV = BENCH / ".venv-peer"
PEER_REQUIREMENTS = ["ussd-airflow-engine==0.0.8.3", "marshmallow<4"]
TOKEN = SECRETS["AT_WEBHOOK_TOKEN"]
SMS_PATHS = {"twilio": "/webhooks/twilio/sms", "africastalking": "/webhooks/africastalking/sms",
             "android": "/webhooks/android"}
SMS_SECRETS = {"twilio": SECRETS["TWILIO_AUTH_TOKEN"], "africastalking": TOKEN,
               "android": SECRETS["ANDROID_GATEWAY_SIGNING_KEY"]}


class Suite:
    """Runs the sections, keeps every figure, and remembers each bad answer as a failure."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.quick = args.quick
        self.failures: list[str] = []
        self.sections: list[tuple[str, list[str]]] = []
        self.targets: list[tuple[str, str, str, bool | None]] = []  # (target, figure, wanted, met)
        self.serials = itertools.count(1)  # numbers never repeat within a run
        self.water = water_index()
        self.pg = postgres_url()

    # ---------------------------------------------------------------------------------------------- helpers
    def log(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def section(self, title: str, lines: list[str]) -> None:
        self.sections.append((title, lines))
        print("\n## " + title + "\n" + "\n".join(lines) + "\n", flush=True)

    def target(self, what: str, figure: str, wanted: str, met: bool | None) -> None:
        self.targets.append((what, figure, wanted, met))

    def check(self, label: str, summary: dict) -> dict:
        if summary.get("bad"):
            self.failures.append(f"{label}: {summary['bad']} bad answer(s) {summary['bad_reasons']} "
                                 f"e.g. {summary['examples'][:1]}")
        return summary

    def script(self, module: str, *args: str, timeout: float = 900) -> dict:
        """Run `python -m bench.<module> … --json` and return its JSON."""
        command = [sys.executable, "-m", f"bench.{module}", *args, "--json"]
        done = subprocess.run(command, cwd=ROOT, env=bench_env(), capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            self.failures.append(f"bench.{module} failed: {(done.stderr or done.stdout).strip()[-400:]}")
            return {}
        return json.loads(done.stdout.strip().splitlines()[-1])

    def fresh_numbers(self):
        while True:
            yield number(next(self.serials))

    # ---------------------------------------------------------------------------------------------- sections
    def cli_and_start(self) -> None:
        self.log("cold start and gateway --help")
        help_cmd = [sys.executable, "-c", "import sys; from gateway.cli import main; sys.exit(main())", "--help"]
        click_cmd = [sys.executable, "-c", "import click; click.group(help='x')(lambda: None)(['--help'])"]
        runs = 3 if self.quick else 7
        gateway_help = median_seconds(help_cmd, runs)
        click_help = median_seconds(click_cmd, runs)
        folder = self.work / "coldstart"
        config = write_gateway_config(folder, f"sqlite:///{folder}/gateway.db")
        first = self.gateway_server("coldstart", config, workers=2)
        first_seconds = first.start()
        first.stop()
        starts, bare_starts = [], []
        for _ in range(2 if self.quick else 3):
            server = self.gateway_server("coldstart", config, workers=2)
            starts.append(server.start())
            server.stop()
            bare = self.baseline_server("bare", workers=2)
            bare_starts.append(bare.start())
            bare.stop()
        start, bare_start = statistics.median(starts), statistics.median(bare_starts)
        self.section("8. Cold start and `gateway --help`", [
            "| what | gateway | baseline | ratio (gateway ÷ baseline) |", "|---|---|---|---|",
            f"| `gateway --help` (fresh interpreter, median of {runs}) | {gateway_help * 1000:.0f} ms | "
            f"{click_help * 1000:.0f} ms (a one-command click CLI) | {gateway_help / click_help:.2f} |",
            f"| `gateway serve` → `/healthz` answers (migrated database, median) | {start * 1000:.0f} ms | "
            f"{bare_start * 1000:.0f} ms (bare Flask app, same gunicorn settings) | {start / bare_start:.2f} |",
            f"| first start on an empty database (migrations) | {first_seconds * 1000:.0f} ms | | |",
            "", "Times are from process launch; the interpreter's own start-up is included on both sides. "
                "Through the pyenv shim (`gateway` on this machine) add about 70 ms."])
        self.target("`gateway --help`", f"{gateway_help:.2f} s", "< 0.3 s", gateway_help < 0.3)
        self.target("cold start to /healthz", f"{start:.2f} s", "< 1 s", start < 1.0)

    def engine(self) -> None:
        self.log("engine steps per second")
        result = self.script("engine_steps", "--seconds", "0.3" if self.quick else "1.5")
        lines = ["| flow | steps/s | conversations replayed | target |", "|---|---|---|---|"]
        for flow_id, row in result.items():
            if row["wrong"]:
                self.failures.append(f"engine: {flow_id} answered {row['wrong']} golden conversation(s) wrongly")
            lines.append(f"| {flow_id} | {row['steps_per_second']:,} | {row['conversations']} | "
                         f"{'≥ ' + format(row['target'], ',') if row['target'] else ''} |")
            if row["target"]:
                self.target(f"engine steps/s, {flow_id}", f"{row['steps_per_second']:,}", f"≥ {row['target']:,}",
                            row["steps_per_second"] >= row["target"])
        lines += ["", "One step is one `flows.engine.start` or `resume` call, replaying the golden conversations "
                      "(tests/flows/fixtures/conversations), each checked against its expected transcript. "
                      "No baseline: this is the engine's own ceiling, for comparing commits."]
        self.section("4. Engine steps per second (in-process, no HTTP, no database)", lines)

    def sql(self) -> None:
        self.log("SQL statements per hop and per SMS")
        lines = ["`total` counts every statement the driver ran, BEGIN/COMMIT/SAVEPOINT/RELEASE and the per-connection "
                 "PRAGMAs included; `queries` leaves those out. One number per hop (USSD) or per message (SMS: "
                 "`us`, `1`, `5`). `connection` is the first request of a process (`/readyz`): it opens the serving "
                 "thread's connection, which every later request reuses.", "",
                 "| engine | what | total per hop/message | queries per hop/message |",
                 "|---|---|---|---|"]
        engines = ["sqlite"] + (["postgresql"] if self.pg else [])
        mid_flow = None
        for engine in engines:
            result = self.script("sql_statements", "--water", str(self.water), "--engine", engine)
            for name, items in result.items():
                lines.append(f"| {engine} | {name.replace('_', ' ')} | {[i['total'] for i in items]} | "
                             f"{[i['queries'] for i in items]} |")
            if engine == "sqlite" and result:
                mid_flow = result["ussd_returning"]
                new_session = result["ussd_new"][0]["total"]
                worst_mid = max(i["total"] for i in mid_flow[1:])
                self.target("SQL statements, mid-flow USSD hop (SQLite, all counted)", str(worst_mid), "≤ 6",
                            worst_mid <= 6)
                self.target("SQL statements, new USSD session (SQLite, all counted)", str(new_session), "≤ 10",
                            new_session <= 10)
        if mid_flow:
            lines += ["", "The statements of a mid-flow hop (returning number, the kiosk question answered), SQLite:",
                      "", "```", *mid_flow[2]["statements"], "```"]
        self.section("3. SQL statements per USSD hop and per inbound SMS", lines)

    def inprocess(self) -> None:
        self.log("USSD hops in-process")
        folder = self.work / "inprocess"
        config = write_gateway_config(folder, f"sqlite:///{folder}/gateway.db")
        apps = ["gateway", "bare", "handwritten"] + ([] if self.args.no_peer else ["peer"])
        workers = {}
        for index, app in enumerate(apps):
            python = str(PEER_VENV / "bin" / "python") if app == "peer" else sys.executable
            log = (self.work / f"inprocess-{app}.log").open("w")
            workers[app] = subprocess.Popen(
                [python, "-m", "bench.inprocess", "--app", app, "--config", str(config), "--water", str(self.water),
                 "--serial", str(2_000_000 + index * 100_000)], cwd=ROOT, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, text=True,
                env=bench_env(PEER_SESSION_DIR=str(self.work / "peer-sessions-inprocess")))
        scenarios = [("gateway", "new"), ("gateway", "returning")] + [(app, "returning") for app in apps[1:]]
        tallies: dict[tuple[str, str], list[dict]] = {}
        seconds = 0.5 if self.quick else self.args.seconds
        for round_ in range(1 if self.quick else self.args.rounds):
            for app, mode in rotate(scenarios, round_):
                worker = workers[app]
                worker.stdin.write(json.dumps({"seconds": seconds, "mode": mode}) + "\n")
                worker.stdin.flush()
                line = worker.stdout.readline()
                if not line.startswith("{"):
                    raise SystemExit(f"the in-process {app} worker stopped: see {self.work}/inprocess-{app}.log")
                tallies.setdefault((app, mode), []).append(json.loads(line))
        for worker in workers.values():
            worker.stdin.close()
            worker.wait(timeout=30)
        rates = {key: self.check(f"in-process {key[0]} {key[1]}", merge(values)) for key, values in tallies.items()}
        lines = ["| app | journey | hops/s | p50 ms | p99 ms | bad | gateway (new) ÷ this | "
                 "gateway (returning) ÷ this |", "|---|---|---|---|---|---|---|---|"]
        for (app, mode), row in rates.items():
            lines.append(f"| {app} | {mode} | {row['per_second']:,.0f} | {row['p50_ms']} | {row['p99_ms']} | "
                         f"{row['bad']} | {ratio(rates[('gateway', 'new')], row)} | "
                         f"{ratio(rates[('gateway', 'returning')], row)} |")
        lines += ["", f"One caller at a time through Flask's test client, {seconds} s slices × "
                      f"{1 if self.quick else self.args.rounds} rounds, apps interleaved. A new number sees the "
                      "gateway's one-time privacy notice first (5 hops instead of 4)."]
        self.section("1a. USSD hop in-process (Flask test client)", lines)

    def http(self) -> None:
        self.log("starting the servers")
        servers: dict[str, Server] = {}
        scratch = None
        try:
            folder = self.work / "gateway-sqlite"
            servers["gateway"] = self.gateway_server("gateway", write_gateway_config(
                folder, f"sqlite:///{folder}/gateway.db"))
            if self.pg:
                scratch = ScratchPostgres(self.pg)
                servers["gateway-pg"] = self.gateway_server("gateway-pg", write_gateway_config(
                    self.work / "gateway-pg", scratch.__enter__()))
            servers["bare"] = self.baseline_server("bare")
            servers["handwritten"] = self.baseline_server("handwritten")
            if not self.args.no_peer:
                servers["peer"] = self.baseline_server("peer")
            for server in servers.values():
                server.start()
            self.ussd_http(servers)
            self.sms_http(servers)
            self.count_errors_stored(servers)
        finally:
            for server in servers.values():
                server.stop()
            if scratch is not None:
                scratch.__exit__()

    def ussd_http(self, servers: dict[str, Server]) -> None:
        gateways = [name for name in servers if name.startswith("gateway")]
        baselines = [name for name in servers if not name.startswith("gateway")]
        scenarios = [(g, mode) for g in gateways for mode in ("new", "returning")] + [(b, "returning")
                                                                                       for b in baselines]
        levels = [4] if self.quick else [4, 32]
        seconds = 1.0 if self.quick else self.args.seconds
        rounds = 1 if self.quick else self.args.rounds
        results: dict[tuple[str, int, str], dict] = {}
        for concurrency in levels:
            journeys, phones = {}, {}
            for name, mode in scenarios:
                base = f"http://127.0.0.1:{servers[name].port}"
                journey = journey_for(name, mode, self.water, TOKEN)
                if mode == "returning":
                    own = [number(next(self.serials)) for _ in range(concurrency)]
                    self.check(f"{name} registering callers", loadgen.register(
                        base, journey_for(name, "new", self.water, TOKEN), own).summary())
                    phones[name, mode] = [itertools.cycle([phone]) for phone in own]
                    probe_phone = own[0]
                else:
                    phones[name, mode] = [self.fresh_numbers() for _ in range(concurrency)]
                    probe_phone = number(next(self.serials))
                screens, tally = loadgen.probe(base, journey, probe_phone)
                self.check(f"{name} {mode} probe", tally.summary())
                journeys[name, mode] = Journey(journey.path, journey.inputs, journey.must_end, screens)
            self.log(f"USSD over HTTP, {concurrency} concurrent sessions")
            tallies: dict[tuple[str, str], loadgen.Tally] = {}
            for round_ in range(rounds):
                for name, mode in rotate(scenarios, round_):
                    base = f"http://127.0.0.1:{servers[name].port}"
                    tally = loadgen.ussd_load(base, journeys[name, mode], concurrency, seconds, phones[name, mode])
                    tallies.setdefault((name, mode), loadgen.Tally()).merge(tally)
            for (name, mode), tally in tallies.items():
                results[name, concurrency, mode] = self.check(f"HTTP {name} {mode} ×{concurrency}", tally.summary())
        lines = ["| sessions | gateway | journey | hops/s | ÷ bare | ÷ hand-written | ÷ peer | p50 ms | p99 ms | bad |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for concurrency in levels:
            base_rows = {b: results[b, concurrency, "returning"] for b in baselines}
            for name in gateways:
                for mode in ("new", "returning"):
                    row = results[name, concurrency, mode]
                    lines.append(f"| {concurrency} | {name} | {mode} | {row['per_second']:,.0f} | "
                                 f"{ratio(row, base_rows.get('bare'))} | {ratio(row, base_rows.get('handwritten'))} | "
                                 f"{ratio(row, base_rows.get('peer'))} | {row['p50_ms']} | {row['p99_ms']} | "
                                 f"{row['bad']} |")
            for name in baselines:
                row = base_rows[name]
                lines.append(f"| {concurrency} | *{name}* | | {row['per_second']:,.0f} | | | | {row['p50_ms']} | "
                             f"{row['p99_ms']} | {row['bad']} |")
        lines += ["", f"gunicorn with `gateway serve`'s settings for every app ({self.workers} workers × "
                      f"{self.worker_settings['threads']} threads, {self.worker_settings['worker_class']}); "
                      f"{seconds} s slices × {rounds} rounds, apps interleaved; each session its own id and number. "
                      "Baselines do the same 4-hop journey (the bare app answers one constant screen)."]
        self.section("1b. USSD hop over HTTP", lines)
        if not self.quick:
            for name, engine in (("gateway", "SQLite"), ("gateway-pg", "PostgreSQL")):
                if (name, 32, "returning") not in results:
                    continue
                row = results[name, 32, "returning"]
                hand, bare, peer = (results.get((b, 32, "returning")) for b in ("handwritten", "bare", "peer"))
                if engine == "SQLite":
                    self.target("USSD hop ÷ hand-written (HTTP, 32, SQLite)", ratio(row, hand), "≥ 1.0",
                                hand and row["per_second"] >= hand["per_second"])
                    self.target("USSD hop ÷ bare Flask (HTTP, 32, SQLite)", ratio(row, bare), "≥ 0.5",
                                bare and row["per_second"] >= 0.5 * bare["per_second"])
                    self.target("USSD hop ÷ peer (HTTP, 32, SQLite)", ratio(row, peer), "≥ 5",
                                peer and row["per_second"] >= 5 * peer["per_second"] if peer else None)
                limit = 50 if engine == "SQLite" else 100
                self.target(f"USSD p99 at 32 sessions, {engine}", f"{row['p99_ms']} ms", f"≤ {limit} ms",
                            row["p99_ms"] is not None and row["p99_ms"] <= limit)

    def sms_http(self, servers: dict[str, Server]) -> None:
        self.log("inbound SMS over HTTP")
        targets = [name for name in servers if name != "peer"]
        providers = list(SMS_PATHS)
        seconds = 0.7 if self.quick else max(1.0, self.args.seconds / 2)
        rounds = 1 if self.quick else self.args.rounds
        concurrency = 4
        phones = {(name, provider): [number(next(self.serials)) for _ in range(concurrency)]
                  for name in targets for provider in providers}
        tallies: dict[tuple[str, str], loadgen.Tally] = {}
        scenarios = [(name, provider) for provider in providers for name in targets]
        for round_ in range(rounds):
            for name, provider in rotate(scenarios, round_):
                path = SMS_PATHS[provider] if name.startswith("gateway") else f"/sms/{provider}"
                target = loadgen.SmsTarget(provider, path, SECRETS["GATEWAY_PUBLIC_URL"], SMS_SECRETS[provider])
                tally = loadgen.sms_load(f"http://127.0.0.1:{servers[name].port}", target, concurrency, seconds,
                                         phones[name, provider])
                tallies.setdefault((name, provider), loadgen.Tally()).merge(tally)
        results = {key: self.check(f"SMS {key[0]} {key[1]}", tally.summary()) for key, tally in tallies.items()}
        lines = ["| provider | app | messages/s | ÷ bare | ÷ hand-written | p50 ms | p99 ms | bad |",
                 "|---|---|---|---|---|---|---|---|"]
        for provider in providers:
            for name in targets:
                row = results[name, provider]
                gateway = name.startswith("gateway")
                lines.append(f"| {provider} | {name if gateway else '*' + name + '*'} | {row['per_second']:,.0f} | "
                             f"{ratio(row, results[('bare', provider)]) if gateway else ''} | "
                             f"{ratio(row, results[('handwritten', provider)]) if gateway else ''} | "
                             f"{row['p50_ms']} | {row['p99_ms']} | {row['bad']} |")
        lines += ["", f"{concurrency} senders, each with its own number, sending `us`, `1`, `5` in turn (the "
                      "water-kiosk flow by SMS), signed as each provider signs. The gateway queues its replies in "
                      "the outbox; the hand-written app checks the signature, stores the message and a queued reply; "
                      "the peer has no SMS. An answer other than 200 is a bad answer."]
        self.section("2. Inbound SMS webhook over HTTP", lines)

    def count_errors_stored(self, servers: dict[str, Server]) -> None:
        """The gateway answers 200 even when the conversation crashed: such messages are stored as 'error'."""
        for name, server in servers.items():
            if not name.startswith("gateway"):
                continue
            done = subprocess.run([sys.executable, "-c", ERRORS_STORED, str(server.config)], cwd=ROOT,
                                  env=bench_env(), capture_output=True, text=True)
            errors = int(done.stdout.strip() or -1)
            if errors != 0:
                self.failures.append(f"{name}: {errors} inbound message(s) stored with status 'error' "
                                     f"(see {server.log}) {done.stderr[-300:]}")

    def memory(self) -> None:
        counts = [500, 1000] if self.quick else self.args.memory_sessions
        self.log(f"memory of one serving process after {counts} sessions")
        folder = self.work / "memory"
        server = self.gateway_server("memory", write_gateway_config(folder, f"sqlite:///{folder}/gateway.db"),
                                     workers=1)
        bare = self.baseline_server("bare", workers=1)
        try:
            server.start()
            bare.start()
            journey = journey_for("gateway", "returning", self.water, TOKEN)
            dial = Journey(journey.path, [], must_end=False)  # one hop: a session that shows the main menu
            own = [number(next(self.serials)) for _ in range(8)]
            base = f"http://127.0.0.1:{server.port}"
            self.check("memory: registering", loadgen.register(base, journey_for("gateway", "new", self.water,
                                                                                 TOKEN), own).summary())
            worker = server.pids()[-1]
            bare_worker = bare.pids()[-1]
            samples, done = [("after start-up", rss_mb(worker), rss_mb(bare_worker))], 0
            for count in counts:
                tally = loadgen.ussd_sessions(base, dial, 8, count - done, own)
                self.check(f"memory: {count} sessions", tally.summary())
                done = count
                samples.append((f"after {count:,} sessions", rss_mb(worker), rss_mb(bare_worker)))
        finally:
            server.stop()
            bare.stop()
        lines = ["| when | gateway worker RSS | bare Flask worker RSS | ratio |", "|---|---|---|---|"]
        lines += [f"| {when} | {ours:.0f} MB | {theirs:.0f} MB | {ours / theirs:.2f} |"
                  for when, ours, theirs in samples]
        growth = samples[-1][1] - samples[-2][1] if len(samples) > 2 else 0.0
        lines += ["", f"`gateway serve --workers 1` (4 threads); each session is a new session id dialling from one "
                      f"of 8 returning numbers and getting the main menu. Growth between the last two samples: "
                      f"{growth:+.1f} MB."]
        self.section("7. Memory of one serving process", lines)
        self.target("RSS of one serving process", f"{samples[-1][1]:.0f} MB", "≤ 150 MB", samples[-1][1] <= 150)
        self.target("RSS growth 10,000 → 50,000 sessions", f"{growth:+.1f} MB", "none (≤ +2 MB)", growth <= 2.0)

    def broadcast(self) -> None:
        self.log("broadcast enqueue against a raw INSERT … SELECT")
        result = self.script("broadcast_enqueue", "--contacts", str(self.args.contacts))
        if not result:
            return
        lines = ["| path | seconds | recipients/s | ÷ this |", "|---|---|---|---|"]
        for name, row in result["paths"].items():
            lines.append(f"| {name} | {row['seconds']:.2f} | {row['per_second']:,.0f} | "
                         f"{result['paths']['broadcast enqueue']['per_second'] / row['per_second']:.2f} |")
        lines += ["", f"{self.args.contacts:,} consented contacts on SQLite, each side on a fresh database with the "
                      f"same rows, best of {result['runs']} runs, interleaved."]
        self.section("5a. Broadcast enqueue", lines)
        value = result["ratio_insert_select"]
        self.target("broadcast enqueue ÷ raw INSERT … SELECT", f"{value:.2f}", "≥ 0.8", value >= 0.8)

    def dispatch(self) -> None:
        self.log("dispatch-rate accuracy")
        result = self.script("dispatch_rate", "--rates", "5,20,50", "--seconds", "4")
        if not result:
            return
        lines = ["| configured/s | sent | measured/s | deviation |", "|---|---|---|---|"]
        worst = 0.0
        for row in result:
            worst = max(worst, abs(row["deviation"]))
            lines.append(f"| {row['rate']:g} | {row['sent']} | {row['measured']:.2f} | {row['deviation']:+.1f} % |")
        lines += ["", "A broadcast sent through the outbox to the fake Android phone (tests/fakes) on loopback; "
                      "the rate is measured at the phone, first to last request."]
        self.section("5b. Dispatch-rate accuracy", lines)
        self.target("dispatch rate accuracy", f"±{worst:.1f} %", "±5 %", worst <= 5)

    def digest(self) -> None:
        self.log("digest against a raw SQL aggregate")
        result = self.script("digest_bench", "--scores", str(self.args.scores), timeout=1800)
        if not result:
            return
        lines = ["| engine | raw aggregate | digest | ratio | digest peak memory (tracemalloc) | process RSS |",
                 "|---|---|---|---|---|---|"]
        for engine, row in result.items():
            lines.append(f"| {engine} | {row['baseline_ms']:.0f} ms | {row['digest_ms']:.0f} ms | {row['ratio']:.2f} | "
                         f"{row['peak_mb']:.1f} MB | {row['rss_mb']:.0f} MB |")
            self.target(f"digest ÷ raw aggregate ({engine})", f"{row['ratio']:.2f}", "≤ 1.5", row["ratio"] <= 1.5)
            self.target(f"digest peak memory ({engine})", f"{row['peak_mb']:.1f} MB", "< 100 MB",
                        row["peak_mb"] < 100)
        lines += ["", f"{self.args.scores:,} scores and {self.args.scores // 10:,} complaints; best of 3 each, "
                      "interleaved; the raw aggregate is one GROUP BY over the scores and one over the complaints."]
        self.section("6. Digest", lines)

    # ---------------------------------------------------------------------------------------------- servers
    @property
    def workers(self) -> int:
        from gateway.config import load_config

        return load_config(None)["server"]["workers"]

    @property
    def worker_settings(self) -> dict:
        from gateway.serve import WORKER_SETTINGS

        return WORKER_SETTINGS

    def gateway_server(self, name: str, config: Path, workers: int | None = None) -> Server:
        port = free_port()
        command = [sys.executable, "-m", "gateway.cli", "--config", str(config), "serve", "--port", str(port)]
        if workers:
            command += ["--workers", str(workers)]
        server = Server(name, command, bench_env(), self.work / f"{name}.log", f"http://127.0.0.1:{port}/healthz")
        server.port, server.config = port, config
        return server

    def baseline_server(self, name: str, workers: int | None = None) -> Server:
        port = free_port()
        python = str(PEER_VENV / "bin" / "python") if name == "peer" else sys.executable
        settings = self.worker_settings
        command = [python, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers or self.workers),
                   "-k", settings["worker_class"], "--threads", str(settings["threads"]), "--log-level", "warning",
                   f"bench.apps.{name}:app"]
        env = bench_env(PEER_SESSION_DIR=str(self.work / f"peer-sessions-{port}"),
                        HANDWRITTEN_DB=str(self.work / f"handwritten-{port}.db"))
        if name == "handwritten":
            from bench.apps.handwritten import create_schema

            create_schema(env["HANDWRITTEN_DB"])
        server = Server(name, command, env, self.work / f"{name}.log", f"http://127.0.0.1:{port}/healthz")
        server.port = port
        return server

    # ---------------------------------------------------------------------------------------------- report
    def write(self, path: Path, started: float) -> None:
        lines = ["# Benchmark results", "",
                 f"Written by `python bench/run.py` on {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z} in "
                 f"{(time.perf_counter() - started) / 60:.1f} min. Re-run it to refresh every figure; "
                 "see bench/README.md for how each is measured.", "",
                 "| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in machine().items()], "",
                 "Every ratio compares two figures measured side by side in this run (interleaved slices), so the "
                 "machine's other load affects both sides alike. Absolute numbers are context only.", "",
                 "## Targets", "", "| target | now | wanted | met |", "|---|---|---|---|"]
        lines += [f"| {what} | {figure} | {wanted} | {'yes' if met else 'n/a' if met is None else '**no**'} |"
                  for what, figure, wanted, met in self.targets]
        if self.failures:
            lines += ["", "## FAILED: bad answers", "", *[f"- {failure}" for failure in self.failures]]
        for title, body in sorted(self.sections, key=lambda item: item[0]):
            lines += ["", f"## {title}", "", *body]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


ERRORS_STORED = """
import sys
from gateway.app import create_app
from storage.db import database
from storage.models import Message
app = create_app(sys.argv[1], migrate=False)
with database.connection_context():
    print(Message.select().where(Message.status == "error").count())
"""


# -------------------------------------------------------------------------------------------------- helpers

def water_index() -> int:
    from flows.loader import load_flows

    return 1 + [flow.id for flow in load_flows([], bundled=True).ussd_flows()].index("water_kiosk_check")


def rotate(items: list, by: int) -> list:
    """The same scenarios, starting one further each round, so none always runs first."""
    by %= max(len(items), 1)
    return items[by:] + items[:by]


def merge(summaries: list[dict]) -> dict:
    """Slices of one in-process scenario → one figure (answers over total time, latencies approximated)."""
    answers = sum(s["answers"] for s in summaries)
    seconds = sum(s["seconds"] for s in summaries)
    bad = {}
    for s in summaries:
        for reason, count in s["bad_reasons"].items():
            bad[reason] = bad.get(reason, 0) + count
    return {"answers": answers, "seconds": seconds, "per_second": answers / seconds if seconds else 0.0,
            "p50_ms": statistics.median(s["p50_ms"] for s in summaries if s["p50_ms"] is not None)
            if any(s["p50_ms"] is not None for s in summaries) else None,
            "p99_ms": max((s["p99_ms"] for s in summaries if s["p99_ms"] is not None), default=None),
            "bad": sum(bad.values()), "bad_reasons": bad,
            "examples": [e for s in summaries for e in s["examples"]][:3]}


def ratio(ours: dict | None, theirs: dict | None) -> str:
    if not ours or not theirs or not theirs.get("per_second"):
        return "–"
    return f"{ours['per_second'] / theirs['per_second']:.2f}"


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=bench_env(), stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def machine() -> dict:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "gateway", "storage", "flows", "bench"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    branch = subprocess.run(["git", "branch", "--show-current"], cwd=ROOT, capture_output=True, text=True)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "0")
    return {"commit": f"{commit.stdout.strip()} on {branch.stdout.strip() or '(detached)'}"
                      f"{' (with uncommitted changes)' if dirty else ''}",
            "machine": f"{os.cpu_count()} cores, {cpu}, {int(memory) / 2**20:.0f} GB",
            "load average at the end (1/5/15 min)": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
            "software": f"Python {platform.python_version()}, Flask {version('flask')}, gunicorn "
                        f"{version('gunicorn')}, peewee {version('peewee')}, aiohttp {version('aiohttp')} (load "
                        f"generator), ussd-airflow-engine 0.0.8.3 (own virtualenv)"}


def ensure_peer_venv() -> None:
    """bench/.venv-peer: the peer and the same Flask and gunicorn versions as the project, never the project's deps."""
    wanted = [*PEER_REQUIREMENTS, f"flask=={importlib.metadata.version('flask')}",
              f"gunicorn=={importlib.metadata.version('gunicorn')}"]
    marker = PEER_VENV / "bench-requirements.txt"
    if marker.exists() and marker.read_text() == "\n".join(wanted):
        return
    print(f"installing the peer into {PEER_VENV} (once): {' '.join(wanted)}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
    subprocess.run([str(PEER_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *wanted], check=True)
    marker.write_text("\n".join(wanted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the CI check: short, no peer, fails on bad answers")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one measured slice")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per comparison")
    parser.add_argument("--no-peer", action="store_true", help="skip ussd-airflow-engine (no virtualenv)")
    parser.add_argument("--contacts", type=int, default=100_000, help="broadcast recipients")
    parser.add_argument("--scores", type=int, default=1_000_000, help="digest scores")
    parser.add_argument("--memory-sessions", type=lambda text: [int(x) for x in text.split(",")],
                        default=[10_000, 50_000])
    parser.add_argument("--only", help="comma-separated sections: cli,engine,sql,inprocess,http,memory,"
                                       "broadcast,dispatch,digest")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    args.no_peer = args.no_peer or args.quick
    if not args.no_peer:
        ensure_peer_venv()
    started = time.perf_counter()
    sections = ["cli", "engine", "sql", "inprocess", "http"]
    if not args.quick:
        sections += ["memory", "broadcast", "dispatch", "digest"]
    if args.only:
        sections = [name for name in args.only.split(",") if name]
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as folder:
        suite = Suite(args, Path(folder))
        for name in sections:
            getattr(suite, {"cli": "cli_and_start", "engine": "engine", "sql": "sql", "inprocess": "inprocess",
                            "http": "http", "memory": "memory", "broadcast": "broadcast", "dispatch": "dispatch",
                            "digest": "digest"}[name])()
        if not args.quick:
            suite.write(args.out, started)
            print(f"wrote {args.out}")
    if suite.failures:
        print("\nFAILED: bad answers\n" + "\n".join(f"- {failure}" for failure in suite.failures), file=sys.stderr)
        sys.exit(1)
    print(f"\nall answers good ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
