"""Engine steps per second, in-process: no HTTP, no database. One step is one `start` or `resume` call.

    python -m bench.engine_steps [--seconds 1.0] [--json]

Every bundled flow is replayed with the conversations of the golden tests (tests/flows/fixtures/conversations:
SMS and USSD, Mongolian in both scripts and English), each checked against the transcript the tests expect, so a
fast but wrong engine does not count. complaint_followup has no golden file; it gets both of its answers here.
Targets: 50,000 steps/s on water_kiosk_check, 20,000 on complaint.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ruamel.yaml import YAML

from flows import AdminCatalog, Context, load_flows, resume, start
from tests.flows.flows_support import NOW, UNITS
from tests.flows.test_flows_golden import REAL_UNITS

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "flows" / "fixtures" / "conversations"
FOLLOWUP = [{"channel": channel, "language": "mn", "script": "latn", "vars": {"ref": "G-0412", "note": "Zassan."},
             "send": [answer]} for channel in ("sms", "ussd") for answer in ("1", "2")]
TARGETS = {"water_kiosk_check": 50_000, "complaint": 20_000}


def conversations() -> dict[str, list[dict]]:
    """Per flow, its golden conversations; a file with `units: real` is played on the real admin units."""
    by_flow: dict[str, list[dict]] = {"complaint_followup": FOLLOWUP}
    for path in sorted(GOLDEN.glob("*.yaml")):
        document = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        real = document.get("units") == "real"
        by_flow.setdefault(document["flow"], []).extend({**item, "real_units": real}
                                                        for item in document["conversations"])
    return by_flow


def replay(flow, ctx: Context, inputs: list[str]) -> list:
    outcomes = [start(flow, ctx)]
    for text in inputs:
        outcomes.append(resume(flow, outcomes[-1].state, text, ctx))
    return outcomes


def measure(flow, scripts: list[tuple[Context, list[str]]], seconds: float) -> tuple[int, float]:
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for ctx, inputs in scripts:
            replay(flow, ctx, inputs)
            steps += 1 + len(inputs)
    return steps, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per flow")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    flowset, catalog = load_flows([], bundled=True), AdminCatalog(UNITS)
    real_catalog = AdminCatalog.from_csv(REAL_UNITS)
    results = {}
    for flow_id, recorded in sorted(conversations().items()):
        flow = flowset.get(flow_id)
        scripts, wrong = [], 0
        for conversation in recorded:
            ctx = Context(conversation["channel"], conversation["language"], conversation["script"], NOW,
                          dict(conversation.get("vars") or {}),
                          real_catalog if conversation.get("real_units") else catalog)
            inputs = [str(text) for text in conversation["send"]]
            outcomes = replay(flow, ctx, inputs)
            expected = (conversation.get("expect") or {}).get("transcript")
            # a conversation may end `failed` on purpose (too many unclear answers): only a wrong transcript counts
            if expected and [[*o.replies] for o in outcomes] != [step["replies"] for step in expected]:
                wrong += 1
            scripts.append((ctx, inputs))
        steps, elapsed = measure(flow, scripts, args.seconds)
        results[flow_id] = {"steps_per_second": round(steps / elapsed), "conversations": len(scripts),
                            "wrong": wrong, "target": TARGETS.get(flow_id)}
    if args.json:
        print(json.dumps(results))
        return
    for flow_id, result in results.items():
        target = f"(target {result['target']:,})" if result["target"] else ""
        print(f"{flow_id:20} {result['steps_per_second']:>9,} steps/s over {result['conversations']} conversations"
              f"{', WRONG ' + str(result['wrong']) if result['wrong'] else ''} {target}")


if __name__ == "__main__":
    main()
