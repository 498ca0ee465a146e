"""A scorecard with no open round near the person says so instead of asking questions."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flows import engine
from flows.loader import load_flows

NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=ZoneInfo("Asia/Ulaanbaatar"))


def test_no_open_round_ends_the_run_with_a_polite_message():
    flow = load_flows([], bundled=True).get("scorecard")
    for language, script, expected in (("mn", "cyrl", "нээлттэй үнэлгээ алга"), ("mn", "latn", "neelttei unelgee alga"),
                                       ("en", "latn", "No scorecard is open")):
        ctx = engine.Context(channel="sms", language=language, script=script, now=NOW, vars={"rounds": []})
        outcome = engine.start(flow, ctx)
        assert outcome.status == "completed"
        assert len(outcome.replies) == 1 and expected in outcome.replies[0]
        assert outcome.results == {}
