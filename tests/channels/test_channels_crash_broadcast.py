"""The short version of scripts/crash_broadcast.py that CI runs: a broadcast through Twilio (the provider whose
exactly-once after a crash rests on asking its message list), kill -9 of the leader worker and then of the whole
`gateway serve`, at random points; every recipient gets the SMS exactly once. The long runs, for each provider,
are in docs/reliability.md ("Crash during a broadcast")."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_kill_9_twice_during_a_twilio_broadcast_sends_to_every_recipient_exactly_once():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "crash_broadcast.py"), "--providers", "twilio",
                           "--runs", "1", "--recipients", "500", "--lease-seconds", "2", "--json"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])["providers"]["twilio"]
    assert figures == {"runs": 1, "recipients": 500, "kills": 2, "duplicates": 0, "missing": 0}
