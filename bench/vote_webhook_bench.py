"""Benchmark: votes per second through the SMS webhook, against USSD hops per second measured in the same run.

    python bench/vote_webhook_bench.py                    # SQLite (a temporary file)
    GATEWAY_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test python bench/vote_webhook_bench.py
                                                          # … and PostgreSQL, in a scratch database dropped afterwards
    python bench/vote_webhook_bench.py --seconds 1 --rounds 2   # a quick run

Both sides post to the real Africa's Talking webhooks through Flask's test client, one caller at a time, on the same
app and database, in interleaved slices (the order alternating each round), so the machine's load falls on both:
- a vote: a returning voter registered in the khoroo texts ONHS, 1 (my khoroo), 1 (group), "1 3", 1 (yes): five
  SMS and one vote counted. The voters rotate over a pool, so after the first lap every vote replaces one;
- the baseline: a returning caller's USSD journey in the water-kiosk flow (dial, its menu number, 1, 5): four hops;
- for context, the same water-kiosk answers by SMS (us, 1, 5): what any SMS costs, whatever the flow.
It prints votes/s, vote SMS/s, hops/s, the ratio of vote SMS to hops per second, and of vote SMS to water SMS.
Every answer is checked: each HTTP status, each USSD screen's CON/END, no inbound message in `error`, and
afterwards the tally must hold exactly one vote per voter used (none lost, none counted twice). Nothing here
asserts on time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ScratchPostgres  # noqa: E402

TOKEN = "bench-vote-token"
VOTE = ("ONHS", "1", "1", "1 3", "1")
VOTERS = 2000


def make_app(url: str, folder: str):
    os.environ["AT_WEBHOOK_TOKEN"] = TOKEN
    from gateway.app import create_app

    return create_app(None, database_url=url, instance_path=folder, secret_key="bench-secret-key-0123456789abcdef",
                      scheduler={"enabled": False}, log_level="WARNING",
                      channels={"africastalking": {"enabled": True, "allow_ips": []}})


def prepare(app, voters: int, callers: int) -> int:
    """An open vote in BGD-07, voters registered there and callers who already consented; the water flow's
    number in the USSD menu."""
    from gateway.secrets import pseudonym_key
    from storage import votes
    from storage.contacts import contact_for_number, opt_in
    from storage.db import database
    from storage.models import AdminUnit, Contact

    key = pseudonym_key(app)  # the key the webhooks find contacts by (not the session secret)
    with app.app_context(), database.connection_context():
        unit = AdminUnit.get(AdminUnit.code == "BGD-07")
        projects = [{"mn": f"Төсөл {n}", "en": f"Project {n}"} for n in range(1, 7)]
        votes.set_status(votes.create_round(unit, projects, max_choices=2, closes_on=dt.date(2099, 1, 1)), "open")
        for number in [voter(n) for n in range(voters)] + [caller(n) for n in range(callers)]:
            contact, _ = contact_for_number(number, key)
            opt_in(contact, app.config["GATEWAY"]["consent"]["version"], "bench")  # the current notice: not shown again
            if number.startswith("+97688"):
                Contact.update(admin_unit=unit).where(Contact.id == contact.id).execute()
    flows = app.extensions["gateway.flows"].ussd_flows()
    return 1 + [flow.id for flow in flows].index("water_kiosk_check")


def voter(n: int) -> str:
    return f"+97688{n:06d}"


def caller(n: int) -> str:
    return f"+97699{n:06d}"


class Side:
    """One kind of traffic: its unit of work, how many it did, the time it took and every bad answer."""

    def __init__(self, name: str, steps_per_unit: int, run_one) -> None:
        self.name, self.steps_per_unit, self.run_one = name, steps_per_unit, run_one
        self.units, self.seconds, self.bad = 0, 0.0, []

    def slice(self, seconds: float) -> None:
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            problem = self.run_one()
            if problem:
                self.bad.append(problem)
            self.units += 1
        self.seconds += time.perf_counter() - started

    @property
    def steps_per_second(self) -> float:
        return self.units * self.steps_per_unit / self.seconds


def sides(app, water: int) -> tuple[Side, Side, Side, itertools.count]:
    client = app.test_client()
    voters, callers, texters = itertools.count(), itertools.count(), itertools.count()

    def sms(number: str, text: str) -> str | None:
        form = {"from": number, "to": "1411", "text": text, "id": uuid.uuid4().hex, "date": ""}
        response = client.post(f"/webhooks/africastalking/sms?token={TOKEN}", data=form)
        return None if response.status_code == 200 else f"SMS {text!r}: HTTP {response.status_code}"

    def vote() -> str | None:
        number = voter(next(voters) % VOTERS)
        return next((problem for text in VOTE if (problem := sms(number, text))), None)

    def journey() -> str | None:
        number, session, inputs = caller(next(callers) % VOTERS), uuid.uuid4().hex, []
        for index, press in enumerate(("", str(water), "1", "5")):
            inputs += [press] if press else []
            form = {"sessionId": session, "serviceCode": "*1411#", "phoneNumber": number, "networkCode": "42899",
                    "text": "*".join(inputs)}
            response = client.post(f"/webhooks/africastalking/ussd?token={TOKEN}", data=form)
            body = response.get_data(as_text=True)
            wanted = "END " if index == 3 else "CON "
            if response.status_code != 200 or not body.startswith(wanted):
                return f"USSD hop {index}: HTTP {response.status_code} {body[:60]!r}"
        return None

    def water_sms() -> str | None:
        number = caller(next(texters) % VOTERS)
        return next((problem for text in ("us", "1", "5") if (problem := sms(number, text))), None)

    return (Side("vote by SMS", len(VOTE), vote), Side("USSD hop", 4, journey), Side("water by SMS", 3, water_sms),
            voters)


def run_engine(label: str, url: str, seconds: float, rounds: int) -> None:
    from storage import votes
    from storage.db import database
    from storage.models import Message

    with tempfile.TemporaryDirectory() as folder:
        app = make_app(url, folder)
        water = prepare(app, VOTERS, VOTERS)
        vote_side, hop_side, water_side, used = sides(app, water)
        everyone = [vote_side, hop_side, water_side]
        for side in everyone:  # warm up (the admin-unit catalog, the flows' templates) before measuring
            side.slice(0.3)
            side.units, side.seconds = 0, 0.0
        for number in range(rounds):
            for side in everyone[number % 3:] + everyone[:number % 3]:
                side.slice(seconds)
        with app.app_context(), database.connection_context():
            counted = votes.tally(votes.VoteRound.get())
            errors = Message.select().where((Message.direction == "in") & (Message.status == "error")).count()
            casts = votes.VoteCast.select().count()
        voted = min(next(used), VOTERS)
        bad = vote_side.bad + hop_side.bad + water_side.bad
        if counted["turnout"]["voters"] != voted or errors:
            bad.append(f"tally holds {counted['turnout']['voters']} voters for {voted} who voted; {errors} errors")
        votes_per_second = vote_side.units / vote_side.seconds
        print(f"[{label}] {vote_side.units:,} votes ({casts:,} cast in all, {voted:,} voters counted once each) and "
              f"{hop_side.units:,} USSD journeys, {rounds} rounds of {seconds:g} s each side")
        print(f"[{label}] votes by SMS: {votes_per_second:,.1f} votes/s = {vote_side.steps_per_second:,.1f} SMS/s; "
              f"USSD: {hop_side.steps_per_second:,.1f} hops/s; water by SMS: {water_side.steps_per_second:,.1f} SMS/s")
        print(f"[{label}] vote SMS/s ÷ USSD hops/s = {vote_side.steps_per_second / hop_side.steps_per_second:.2f}; "
              f"vote SMS/s ÷ water SMS/s = {vote_side.steps_per_second / water_side.steps_per_second:.2f}")
        print(f"[{label}] bad answers: {len(bad)}" + (f" e.g. {bad[:2]}" if bad else ""))
        if not database.is_closed():
            database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one slice")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run_engine("sqlite", f"sqlite:///{folder}/bench.db", args.seconds, args.rounds)
    pg_url = os.environ.get("GATEWAY_TEST_POSTGRES_URL")
    if pg_url:
        with ScratchPostgres(pg_url) as url:
            run_engine("postgresql", url, args.seconds, args.rounds)
    else:
        print("[postgresql] skipped: set GATEWAY_TEST_POSTGRES_URL to run it")


if __name__ == "__main__":
    main()
