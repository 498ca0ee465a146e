"""USSD journeys and the rules for a good answer, shared by the HTTP load generator and the in-process runner.

Standard library only: the peer's virtualenv imports this too.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Screens that mean something went wrong, in the gateway's and the baselines' words.
ERROR_MARKERS = ("Uuchlaarai, aldaa garlaa", "Уучлаарай, алдаа гарлаа", "Sorry, something went wrong",
                 "Buruu songolt", "Буруу сонголт", "Invalid choice", "Traceback", "Internal Server Error")
# Mongolian mobile prefixes: numbers made from them pass the gateway's phone-number validation.
PREFIXES = ("99", "88", "95", "94", "91", "96", "85", "86", "89", "80")


def number(serial: int) -> str:
    """The serial-th distinct valid Mongolian mobile number (10 million of them)."""
    prefix, rest = divmod(serial, 1_000_000)
    return f"+976{PREFIXES[prefix % len(PREFIXES)]}{rest:06d}"


@dataclass
class Journey:
    """A USSD journey: the inputs typed after dialling; each hop sends the `*`-joined inputs so far."""

    path: str
    inputs: list[str]
    must_end: bool = True  # the last hop must be END (false only for the bare app's constant screen)
    expected: list[str] | None = None  # screens recorded by a probe journey

    @property
    def hops(self) -> int:
        return len(self.inputs) + 1

    def text(self, hop: int) -> str:
        return "*".join(self.inputs[:hop])

    def problem(self, hop: int, status: int, body: str) -> str | None:
        """Why this answer is bad, or None."""
        last = hop == self.hops - 1
        if status != 200:
            return f"HTTP {status}"
        if not body.startswith(("CON ", "END ")):
            return "neither CON nor END"
        if any(marker in body for marker in ERROR_MARKERS):
            return "error screen"
        if body.startswith("END ") and not last and self.must_end:
            return "END too early"
        if last and self.must_end and not body.startswith("END "):
            return "no END at the last hop"
        if self.expected is not None and body != self.expected[hop]:
            return "unexpected screen"
        return None


@dataclass
class Tally:
    """What one run saw: answers, bad answers by reason, latencies (seconds)."""

    answers: int = 0
    journeys: int = 0
    bad: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    examples: list[str] = field(default_factory=list)

    def count_bad(self, reason: str, detail: str) -> None:
        self.bad[reason] = self.bad.get(reason, 0) + 1
        if len(self.examples) < 3:
            self.examples.append(f"{reason}: {detail[:160]!r}")

    def merge(self, other: Tally) -> None:
        self.answers += other.answers
        self.journeys += other.journeys
        self.latencies += other.latencies
        self.elapsed += other.elapsed
        for reason, count in other.bad.items():
            self.bad[reason] = self.bad.get(reason, 0) + count
        self.examples = (self.examples + other.examples)[:3]

    def summary(self) -> dict:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2) if ordered else None

        return {"answers": self.answers, "journeys": self.journeys, "seconds": round(self.elapsed, 3),
                "per_second": round(self.answers / self.elapsed, 1) if self.elapsed else 0.0,
                "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
                "max_ms": round(ordered[-1] * 1000, 2) if ordered else None, "bad": sum(self.bad.values()),
                "bad_reasons": dict(self.bad), "examples": self.examples}


BASELINE_INPUTS = ["1", "1", "5"]  # main menu → water, kiosk open → yes, rating → 5: four hops with the dial


def journey_for(app: str, mode: str, water: int, token: str) -> Journey:
    """The 4-hop water-kiosk journey as each app spells it. `water` is the flow's number in the gateway's main
    menu; a new number first sees the gateway's one-time privacy notice (one hop more)."""
    if app.startswith("gateway"):
        inputs = [str(water), "1", "5"]
        return Journey(f"/webhooks/africastalking/ussd?token={token}", ["1", *inputs] if mode == "new" else inputs)
    if app == "bare":
        return Journey("/ussd", BASELINE_INPUTS, must_end=False)
    return Journey(f"/ussd?token={token}", BASELINE_INPUTS)


def run_journeys(post, journey: Journey, seconds: float, phones) -> Tally:
    """One caller after another for `seconds`, in this process. `post(path, form)` → (status, body);
    `phones` yields the number of each journey."""
    import time
    import uuid

    tally = Tally()
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        phone, session_id = next(phones), f"ATUid_{uuid.uuid4().hex}"
        for hop in range(journey.hops):
            form = {"sessionId": session_id, "serviceCode": "*1411#", "phoneNumber": phone,
                    "text": journey.text(hop), "networkCode": "42899"}
            begun = time.perf_counter()
            status, body = post(journey.path, form)
            tally.latencies.append(time.perf_counter() - begun)
            tally.answers += 1
            problem = journey.problem(hop, status, body)
            if problem:
                tally.count_bad(problem, body)
                break
        else:
            tally.journeys += 1
    tally.elapsed = time.perf_counter() - started
    return tally


def probe_journey(post, journey: Journey, phone: str) -> tuple[list[str], Tally]:
    """One journey on its own, checked by the usual rules: its screens become what every later journey must show."""
    import uuid

    tally, screens, session_id = Tally(), [], f"ATUid_{uuid.uuid4().hex}"
    for hop in range(journey.hops):
        status, body = post(journey.path, {"sessionId": session_id, "serviceCode": "*1411#", "phoneNumber": phone,
                                           "text": journey.text(hop), "networkCode": "42899"})
        tally.answers += 1
        problem = journey.problem(hop, status, body)
        if problem:
            tally.count_bad(problem, body)
            break
        screens.append(body)
    return screens, tally
