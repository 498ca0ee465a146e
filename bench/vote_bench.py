"""Benchmark: the tally of a 500,000-vote round against a raw SQL count of the same ballots.

    python bench/vote_bench.py                      # SQLite (a temporary file)
    GATEWAY_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test python bench/vote_bench.py
                                                    # … and PostgreSQL, in a scratch database dropped afterwards
    python bench/vote_bench.py --votes 50000        # a quick run

One round with 12 projects and "up to 3 choices"; every voter voted once or more (a fifth changed their vote),
2 % live in another unit, groups as people gave them. It prints, per engine, as ratios against the raw count
measured in the same run (`SELECT choice_bits, COUNT(*) … GROUP BY choice_bits`, the least work that counts
the projects):
- `storage.votes.tally`: counts, ranks, turnout, out-of-area apart, the suppressed group split;
- `storage.votes.fairness`: votes per hour, new numbers, jumps per project in 10-minute windows (over every vote
  cast, replaced ones too).
Votes per second through the webhooks are measured by bench/vote_webhook_bench.py. Nothing here asserts on time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.common import ScratchPostgres  # noqa: E402
from storage import votes  # noqa: E402
from storage.db import database, open_database, upgrade  # noqa: E402
from storage.models import AdminUnit, Contact  # noqa: E402

PROJECTS = 12
GROUPS = ("women", "men", "youth", "elderly", "unspecified")
OPENED = dt.datetime(2026, 11, 16, 1, 0)
BASELINE = "SELECT choice_bits, COUNT(*) FROM ballot WHERE round_id = {p} GROUP BY choice_bits"
BATCH = 2000


def insert(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        model.insert_many(rows[start:start + BATCH]).execute()


def best_of(runs: int, func) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - started)
    return best, result


def populate(voters: int, seed: int = 12) -> votes.VoteRound:
    rng = random.Random(seed)
    unit = AdminUnit.get(AdminUnit.code == "BGD-07")
    round_ = votes.create_round(unit, [{"mn": f"Төсөл {n}", "en": f"Project {n}"} for n in range(1, PROJECTS + 1)],
                                max_choices=3)
    votes.set_status(round_, "open")
    with database.atomic():
        insert(Contact, [{"key": f"bench-{n}", "created_at": OPENED - dt.timedelta(days=rng.randint(0, 400)),
                          "admin_unit": unit.id} for n in range(voters)])
    contact_ids = [c.id for c in Contact.select(Contact.id).order_by(Contact.id)]
    ballots, casts = [], []
    for cid in contact_ids:
        first = OPENED + dt.timedelta(minutes=rng.randint(0, 14 * 24 * 60))
        history = [_choice(rng) for _ in range(2 if rng.random() < 0.2 else 1)]
        for n, bits in enumerate(history):
            casts.append({"round": round_.id, "choice_bits": bits, "new_contact": rng.random() < 0.1,
                          "replaced": n > 0, "cast_at": first + dt.timedelta(hours=n)})
        ballots.append({"round": round_.id, "contact": cid, "choice_bits": history[-1],
                        "out_of_area": rng.random() < 0.02, "group": rng.choice(GROUPS), "channel": "sms",
                        "changes": len(history) - 1, "first_voted_at": first,
                        "voted_at": first + dt.timedelta(hours=len(history) - 1)})
    with database.atomic():
        insert(votes.Ballot, ballots)
        insert(votes.VoteCast, casts)
    return round_


def _choice(rng: random.Random) -> int:
    popular = rng.choices(range(1, PROJECTS + 1), weights=range(PROJECTS, 0, -1), k=rng.randint(1, 3))
    return votes.choice_bits(popular)


def baseline(round_id: int) -> int:
    rows = database.execute_sql(BASELINE.format(p=database.param), (round_id,)).fetchall()
    return sum(count for _, count in rows)


def run_engine(label: str, url: str, voters: int) -> None:
    open_database(url)
    with database.connection_context():
        upgrade()
        started = time.perf_counter()
        round_ = populate(voters)
        print(f"[{label}] loaded {votes.Ballot.select().count():,} ballots and {votes.VoteCast.select().count():,} "
              f"votes cast in {time.perf_counter() - started:.1f}s")
        if url.startswith("postgres"):
            database.execute_sql("ANALYZE")
        votes.tally(round_)  # warm the caches for both sides alike
        baseline(round_.id)
        base_time, counted = best_of(5, lambda: baseline(round_.id))
        tally_time, result = best_of(5, lambda: votes.tally(round_))
        fairness_time, report = best_of(3, lambda: votes.fairness(round_))
        assert result["turnout"]["voters"] + result["turnout"]["out_of_area"] == counted
        top = min(result["projects"], key=lambda p: p["rank"])
        print(f"[{label}] {counted:,} ballots; project {top['number']} leads with {top['votes']:,} votes; "
              f"{len(report['flags'])} fairness flags over {report['casts']:,} votes cast")
        print(f"[{label}] raw count {base_time * 1000:.0f} ms, tally {tally_time * 1000:.0f} ms "
              f"({tally_time / base_time:.2f}x), fairness {fairness_time * 1000:.0f} ms "
              f"({fairness_time / base_time:.2f}x)")
    database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run_engine("sqlite", f"sqlite:///{folder}/bench.db", args.votes)
    pg_url = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
    if pg_url:
        with ScratchPostgres(pg_url) as url:
            run_engine("postgresql", url, args.votes)
    else:
        print("[postgresql] skipped: set GATEWAY_TEST_POSTGRES_URL to run it")


if __name__ == "__main__":
    main()
