"""In-process USSD hops through Flask's test client: no HTTP, no server. A long-lived worker, so run.py can
interleave apps: each stdin line `{"seconds": S, "mode": "new"|"returning"}` runs journeys for S seconds and
prints one JSON line with the tally.

    python -m bench.inprocess --app gateway --config CONFIG --water N   # or --app bare | handwritten | peer
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile

from bench.journeys import journey_for, number, probe_journey, run_journeys

TOKEN = "bench-at-token"


def load_app(name: str, config: str | None):
    if name == "gateway":
        from gateway.app import create_app

        return create_app(config)
    if name == "handwritten":
        from bench.apps import handwritten

        folder = tempfile.mkdtemp(prefix="handwritten-")
        os.environ["HANDWRITTEN_DB"] = os.path.join(folder, "hand.db")
        handwritten.create_schema(os.environ["HANDWRITTEN_DB"])
        return handwritten.app
    if name == "peer":
        from bench.apps import peer

        return peer.app
    from bench.apps import bare

    return bare.app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", required=True, choices=["gateway", "bare", "handwritten", "peer"])
    parser.add_argument("--config")
    parser.add_argument("--water", type=int, default=1, help="the water flow's number in the gateway's menu")
    parser.add_argument("--serial", type=int, default=0, help="first number to use (numbers never repeat)")
    args = parser.parse_args()
    results, sys.stdout = sys.stdout, sys.stderr  # the apps' own chatter (the peer prints) stays off the results
    client = load_app(args.app, args.config).test_client()

    def post(path: str, form: dict) -> tuple[int, str]:
        response = client.post(path, data=form)
        return response.status_code, response.get_data(as_text=True)

    serials = itertools.count(args.serial)
    journeys, callers = {}, {}
    for line in sys.stdin:
        command = json.loads(line)
        mode = command["mode"]
        if mode not in journeys:
            journey = journey_for(args.app, mode, args.water, TOKEN)
            phone = number(next(serials))
            if mode == "returning":  # a caller who has been here before: one whole journey first
                probe_journey(post, journey_for(args.app, "new", args.water, TOKEN), phone)
                callers[mode] = itertools.repeat(phone)
            else:
                callers[mode] = (number(serial) for serial in serials)
            journey.expected, tally = probe_journey(post, journey, phone)
            journeys[mode] = journey
            if tally.bad:
                print(json.dumps({"probe": True, **tally.summary()}), file=results, flush=True)
                continue
        tally = run_journeys(post, journeys[mode], command["seconds"], callers[mode])
        print(json.dumps(tally.summary()), file=results, flush=True)


if __name__ == "__main__":
    main()
