"""Benchmark: the weekly digest over 1,000,000 scores and 100,000 complaints, and a 1,000,000-row export.

    python bench/digest_bench.py                    # SQLite (a temporary file)
    GATEWAY_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test python bench/digest_bench.py
                                                    # … and PostgreSQL, in a scratch database dropped afterwards
    python bench/digest_bench.py --scores 100000 --complaints 10000   # a quick run

It prints, per engine:
- the digest's time against a hand-written raw-SQL aggregate of the same data (one GROUP BY over every score
  and one over every complaint), as a ratio (target: within 1.5×);
- the digest's peak Python memory (tracemalloc; target: under 100 MB);
- the export's memory at checkpoints while streaming every score row: it should stay flat.
Nothing here asserts on time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from bench.common import ScratchPostgres  # noqa: E402
from gateway import clock  # noqa: E402
from storage import digests, exports  # noqa: E402
from storage.complaints import Complaint, encode_ref  # noqa: E402
from storage.db import database, open_database, upgrade  # noqa: E402
from storage.models import AdminUnit, Contact, ServicePoint  # noqa: E402
from storage.scorecards import Indicator, ProviderSelfScore, Respondent, Round, Score  # noqa: E402

WEEK = "2026-W47"
TIMEZONE = "Asia/Ulaanbaatar"
SERVICE_POINTS = 100
INDICATORS = "ABCDE"
GROUPS = ("women", "men", "youth", "elderly", "unspecified")
CATEGORIES = ("water", "waste", "heating", "roads", "school", "health", "other")
BATCH = 2000
QUIET = False  # --json: figures only, no export run

BASELINE_SCORES = """
SELECT s.round_id, s.indicator_id, resp."group", COUNT(*), AVG(s.score),
       SUM(CASE WHEN s.score = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN s.score = 2 THEN 1 ELSE 0 END),
       SUM(CASE WHEN s.score = 3 THEN 1 ELSE 0 END), SUM(CASE WHEN s.score = 4 THEN 1 ELSE 0 END),
       SUM(CASE WHEN s.score = 5 THEN 1 ELSE 0 END)
FROM score s JOIN respondent resp ON resp.round_id = s.round_id AND resp.contact_id = s.contact_id
GROUP BY s.round_id, s.indicator_id, resp."group"
"""
BASELINE_COMPLAINTS = """
SELECT category, admin_unit_id, COUNT(*), SUM(CASE WHEN status IN ('resolved', 'closed') THEN 1 ELSE 0 END)
FROM complaint GROUP BY category, admin_unit_id
"""


def insert(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        model.insert_many(rows[start:start + BATCH]).execute()


def populate(scores: int, complaints: int, seed: int = 47) -> None:
    """Rounds 1 (closed) and 2 (open) at each service point; a fifth of the scores in round 1."""
    rng = random.Random(seed)
    week = clock.parse_week(WEEK, TIMEZONE)
    units = [u.id for u in AdminUnit.select(AdminUnit.id).where(AdminUnit.kind.in_(("khoroo", "soum")))]
    per_round_people = {1: scores // (SERVICE_POINTS * len(INDICATORS) * 5),
                        2: scores * 4 // (SERVICE_POINTS * len(INDICATORS) * 5)}
    pool = max(per_round_people.values())
    with database.atomic():
        insert(Contact, [{"key": f"bench-{n}", "created_at": week.start} for n in range(pool)])
    contact_ids = [c.id for c in Contact.select(Contact.id).order_by(Contact.id)]
    for sp_number in range(SERVICE_POINTS):
        with database.atomic():
            sp = ServicePoint.create(code=f"SP{sp_number:03}", kind="kindergarten", name_mn=f"{sp_number}-р цэцэрлэг",
                                     name_en=f"Kindergarten {sp_number}", admin_unit=rng.choice(units))
            previous = None
            for number in (1, 2):
                opened = week.start - dt.timedelta(days=120 if number == 1 else 28)
                round_ = Round.create(service_point=sp, number=number, previous=previous, opened_at=opened,
                                      status="closed" if number == 1 else "open",
                                      closed_at=opened + dt.timedelta(days=30) if number == 1 else None)
                indicators = [Indicator.create(round=round_, code=code, position=i, text_mn=f"Үзүүлэлт {code}",
                                               text_en=f"Indicator {code}") for i, code in enumerate(INDICATORS)]
                ProviderSelfScore.create(round=round_, indicator=indicators[0], score=4.0)
                people = contact_ids[:per_round_people[number]]
                span = (opened, min(opened + dt.timedelta(days=30), week.end))
                insert(Respondent, [{"round": round_.id, "contact": cid, "group": rng.choice(GROUPS),
                                     "created_at": span[0], "updated_at": span[0]} for cid in people])
                insert(Score, [{"round": round_.id, "indicator": ind.id, "contact": cid,
                                "score": rng.choice((1, 2, 3, 3, 4, 4, 5)), "channel": "sms",
                                "scored_at": span[0] + (span[1] - span[0]) * rng.random()}
                               for cid in people for ind in indicators])
                previous = round_
    now = week.end
    rows = []
    for n in range(complaints):
        created = now - dt.timedelta(days=60 * rng.random())
        status = rng.choice(("new", "routed", "answered", "resolved", "closed"))
        resolved = created + dt.timedelta(days=20 * rng.random()) if status in ("resolved", "closed") else None
        rows.append({"ref": encode_ref(n + 1), "category": rng.choice(CATEGORIES), "admin_unit": rng.choice(units),
                     "text": "…", "status": status, "created_at": created, "updated_at": created,
                     "due_at": created + dt.timedelta(days=30), "resolved_at": resolved})
    with database.atomic():
        insert(Complaint, rows)


def best_of(runs: int, func) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - started)
    return best, result


def baseline() -> int:
    rows = database.execute_sql(BASELINE_SCORES).fetchall()
    rows += database.execute_sql(BASELINE_COMPLAINTS).fetchall()
    return len(rows)


def run_engine(label: str, url: str, scores: int, complaints: int) -> dict:
    open_database(url)
    with database.connection_context():
        upgrade()
        started = time.perf_counter()
        populate(scores, complaints)
        total = Score.select().count()
        print(f"[{label}] loaded {total:,} scores and {Complaint.select().count():,} complaints "
              f"in {time.perf_counter() - started:.1f}s")
        if url.startswith("postgres"):
            database.execute_sql("ANALYZE")
        week = clock.parse_week(WEEK, TIMEZONE)
        digests.build_digest(week)  # warm the caches for both sides alike
        baseline()
        base_time = digest_time = float("inf")
        for _ in range(3):  # interleaved, best of each
            base_time = min(base_time, best_of(1, baseline)[0])
            elapsed, digest = best_of(1, lambda: digests.build_digest(week))
            digest_time = min(digest_time, elapsed)
        tracemalloc.start()
        digests.build_digest(week)
        _, digest_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        cells = sum(len(s["indicators"]) for s in digest["scorecards"])
        print(f"[{label}] digest {WEEK}: {len(digest['scorecards'])} rounds, {cells} indicator rows, "
              f"{digest['complaints']['totals']} complaints")
        print(f"[{label}] raw-SQL baseline {base_time * 1000:.0f} ms, digest {digest_time * 1000:.0f} ms, "
              f"ratio {digest_time / base_time:.2f}x (target <= 2x)")
        print(f"[{label}] digest peak Python memory {digest_peak / 2**20:.1f} MB (target < 100 MB)")
        if not QUIET:
            export_memory(label, total)
    database.close()
    return {"baseline_ms": base_time * 1000, "digest_ms": digest_time * 1000, "ratio": digest_time / base_time,
            "peak_mb": digest_peak / 2**20, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def rss_mb() -> float:
    """Resident memory now (Linux /proc), in MB: cheap enough to sample while streaming."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def export_memory(label: str, total: int) -> None:
    """Stream every score row through the real export (round by round) and sample memory as it goes."""
    from gateway.digests import csv_lines

    round_ids = [r.id for r in Round.select(Round.id).order_by(Round.id)]
    rows, checkpoints, started = 0, [], time.perf_counter()
    step = max(total // 5, 1)
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for round_id in round_ids:
            rows = exports.round_rows(round_id, None, None, clock.local_date_function(TIMEZONE))
            lines = csv_lines(exports.ROUND_COLUMNS, rows)
            sink.write(next(lines))  # the header
            for line in lines:
                sink.write(line)
                rows += 1
                if rows % step == 0 or rows == 1:
                    checkpoints.append((rows, rss_mb()))
    elapsed = time.perf_counter() - started
    print(f"[{label}] export: {rows:,} rows in {elapsed:.1f}s ({rows / elapsed:,.0f} rows/s); resident memory: "
          + ", ".join(f"{n:,} rows {mb:.0f} MB" for n, mb in checkpoints))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", type=int, default=1_000_000)
    parser.add_argument("--complaints", type=int, help="default: a tenth of --scores")
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end (no export run)")
    args = parser.parse_args()
    global QUIET
    QUIET = args.json
    complaints = args.complaints if args.complaints is not None else args.scores // 10
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = run_engine("sqlite", f"sqlite:///{folder}/bench.db", args.scores, complaints)
    pg_url = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
    if pg_url:
        with ScratchPostgres(pg_url) as url:
            results["postgresql"] = run_engine("postgresql", url, args.scores, complaints)
    else:
        print("[postgresql] skipped: set GATEWAY_TEST_POSTGRES_URL to run it")
    print(f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (includes loading)")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
