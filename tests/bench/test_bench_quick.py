"""CI runs the benchmark's short mode: it must finish with every answer good. Speed is never judged here."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_gets_only_good_answers():
    env = {k: v for k, v in os.environ.items() if k != "GATEWAY_TEST_POSTGRES_URL"}  # SQLite only: CI runs PG tests
    done = subprocess.run([sys.executable, "bench/run.py", "--quick", "--only", "sql,inprocess,http"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "all answers good" in done.stdout
    assert "| gateway | returning |" in done.stdout and "| twilio | gateway |" in done.stdout


def test_load_script_loses_nothing_in_a_short_run():
    """scripts/load.py for two seconds on SQLite: it starts `gateway serve` itself, checks every answer, and
    compares what the database holds with what was sent; it exits 1 on any bad answer or anything lost."""
    env = {k: v for k, v in os.environ.items() if k != "GATEWAY_TEST_POSTGRES_URL"}
    done = subprocess.run([sys.executable, "scripts/load.py", "--seconds", "2", "--sessions", "10", "--sms-rate",
                           "10", "--engines", "sqlite"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "every answer good, nothing lost" in done.stdout
    assert "| sqlite | USSD, 10 sessions |" in done.stdout and "| sqlite | SMS, 10/s |" in done.stdout
