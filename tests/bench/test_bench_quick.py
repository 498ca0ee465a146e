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
