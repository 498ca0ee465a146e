"""The load generator: concurrent USSD journeys and inbound SMS over HTTP (asyncio + aiohttp), every answer checked.

Every connection has its own session ids and its own numbers. An answer counts as bad when it is not 200, not
`CON …`/`END …`, an `END` before the journey's last hop, no `END` at the last hop, an error screen, or (when a probe
journey recorded the expected screens) any other screen than the one expected. A run with a bad answer is reported
as failed, never as fast.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
import uuid
from dataclasses import dataclass

import aiohttp

from bench.journeys import Journey, Tally

TIMEOUT = aiohttp.ClientTimeout(total=30)


async def _post(session: aiohttp.ClientSession, url: str, **kwargs) -> tuple[int, str, float]:
    started = time.perf_counter()
    async with session.post(url, **kwargs) as response:
        body = await response.text()
    return response.status, body, time.perf_counter() - started


def _ussd_form(session_id: str, phone: str, text: str) -> dict:
    return {"sessionId": session_id, "serviceCode": "*1411#", "phoneNumber": phone, "text": text,
            "networkCode": "42899"}


async def ussd_journey(session: aiohttp.ClientSession, base: str, journey: Journey, phone: str, tally: Tally,
                       deadline: float | None = None) -> list[str]:
    """One session from dial to its last hop (or until the deadline); returns the screens."""
    session_id, screens = f"ATUid_{uuid.uuid4().hex}", []
    for hop in range(journey.hops):
        if deadline is not None and time.perf_counter() >= deadline:
            return screens
        try:
            status, body, seconds = await _post(session, base + journey.path,
                                                data=_ussd_form(session_id, phone, journey.text(hop)))
        except (TimeoutError, aiohttp.ClientError) as exc:
            tally.count_bad("no answer", repr(exc))
            return screens
        tally.answers += 1
        tally.latencies.append(seconds)
        problem = journey.problem(hop, status, body)
        if problem:
            tally.count_bad(problem, body)
            return screens
        screens.append(body)
    tally.journeys += 1
    return screens


async def _ussd_load(base: str, journey: Journey, concurrency: int, seconds: float, phones: list[list[str]]) -> Tally:
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
        started = time.perf_counter()
        deadline = started + seconds

        async def user(own) -> None:
            for phone in own:
                if time.perf_counter() >= deadline:
                    return
                await ussd_journey(session, base, journey, phone, tally, deadline)

        await asyncio.gather(*(user(own) for own in phones))
        tally.elapsed = time.perf_counter() - started
    return tally


def ussd_load(base: str, journey: Journey, concurrency: int, seconds: float, phones: list) -> Tally:
    """`concurrency` users for `seconds`; user i takes the number of each journey from its own iterator
    `phones[i]` (a cycle of one number for a returning caller, an endless supply for new ones)."""
    return asyncio.run(_ussd_load(base, journey, concurrency, seconds, phones))


def ussd_sessions(base: str, journey: Journey, concurrency: int, sessions: int, phones: list[str]) -> Tally:
    """Exactly `sessions` journeys, `concurrency` at a time, each a new session id from one of `phones`."""
    async def run() -> Tally:
        tally, queue = Tally(), iter(range(sessions))
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
            started = time.perf_counter()

            async def user(phone: str) -> None:
                for _ in queue:
                    await ussd_journey(session, base, journey, phone, tally)

            await asyncio.gather(*(user(phones[i % len(phones)]) for i in range(concurrency)))
            tally.elapsed = time.perf_counter() - started
        return tally
    return asyncio.run(run())


def probe(base: str, journey: Journey, phone: str) -> tuple[list[str], Tally]:
    """One journey on its own: the screens every later journey must show, checked by the usual rules."""
    async def run() -> tuple[list[str], Tally]:
        tally = Tally()
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            screens = await ussd_journey(session, base, journey, phone, tally)
        return screens, tally
    return asyncio.run(run())


def register(base: str, journey: Journey, phones: list[str]) -> Tally:
    """Run one whole journey per number, a few at a time, so those numbers are returning callers afterwards."""
    async def run() -> Tally:
        tally = Tally()
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            for start in range(0, len(phones), 8):
                await asyncio.gather(*(ussd_journey(session, base, journey, phone, tally)
                                       for phone in phones[start:start + 8]))
        return tally
    return asyncio.run(run())


# ------------------------------------------------------------------------------------------------------------ SMS

@dataclass
class SmsTarget:
    """How to post an inbound SMS to one app for one provider, signed as that provider signs."""

    provider: str  # twilio | africastalking | android
    path: str
    public_url: str = ""  # what Twilio signs (GATEWAY_PUBLIC_URL + path)
    secret: str = ""  # Twilio auth token, AT webhook token, Android signing key

    def request(self, phone: str, text: str) -> dict:
        if self.provider == "twilio":
            from twilio.request_validator import RequestValidator

            form = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": "AC" + "0" * 32, "From": phone,
                    "To": "+15005550006", "Body": text, "NumSegments": "1"}
            signature = RequestValidator(self.secret).compute_signature(self.public_url + self.path, form)
            return {"url": self.path, "data": form, "headers": {"X-Twilio-Signature": signature}}
        if self.provider == "africastalking":
            form = {"from": phone, "to": "1411", "text": text, "id": uuid.uuid4().hex, "date": "",
                    "networkCode": "42899"}
            return {"url": f"{self.path}?token={self.secret}", "data": form}
        body = json.dumps({"event": "sms:received", "id": uuid.uuid4().hex, "deviceId": "bench",
                           "payload": {"message": text, "phoneNumber": phone, "simNumber": 1,
                                       "receivedAt": "2026-12-01T10:00:00.000+08:00"}}).encode()
        stamp = str(int(time.time()))
        signature = hmac.new(self.secret.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
        return {"url": self.path, "data": body, "headers": {"Content-Type": "application/json",
                                                            "X-Signature": signature, "X-Timestamp": stamp}}


SMS_TEXTS = ("us", "1", "5")  # the water-kiosk flow by SMS: keyword, "open", rating


async def _sms_load(base: str, target: SmsTarget, concurrency: int, seconds: float, phones: list[str]) -> Tally:
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
        started = time.perf_counter()
        deadline = started + seconds

        async def user(phone: str) -> None:
            for text in itertools.cycle(SMS_TEXTS):
                if time.perf_counter() >= deadline:
                    return
                spec = target.request(phone, text)
                try:
                    status, body, elapsed = await _post(session, base + spec.pop("url"), **spec)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    tally.count_bad("no answer", repr(exc))
                    return
                tally.answers += 1
                tally.latencies.append(elapsed)
                if status != 200:
                    tally.count_bad(f"HTTP {status}", body)
                    return
                if text == SMS_TEXTS[-1]:
                    tally.journeys += 1

        await asyncio.gather(*(user(phone) for phone in phones[:concurrency]))
        tally.elapsed = time.perf_counter() - started
    return tally


def sms_load(base: str, target: SmsTarget, concurrency: int, seconds: float, phones: list[str]) -> Tally:
    return asyncio.run(_sms_load(base, target, concurrency, seconds, phones))


def sms_at_rate(base: str, targets: list[SmsTarget], rate: float, seconds: float, phones: list[str]) -> Tally:
    """Open loop: message i leaves at i / `rate` seconds, whatever the answers before it did, for `seconds`.
    Message i goes through provider i mod len(targets) from number i mod len(phones), each number walking through
    `SMS_TEXTS` in turn. Latency counts from when the message was due, so a server that falls behind shows it."""
    async def run() -> Tally:
        tally, total = Tally(), int(rate * seconds)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
            started = time.perf_counter()

            async def send(i: int, due: float) -> None:
                phone = phones[i % len(phones)]
                text = SMS_TEXTS[(i // len(phones)) % len(SMS_TEXTS)]
                spec = targets[i % len(targets)].request(phone, text)
                try:
                    status, body, _ = await _post(session, base + spec.pop("url"), **spec)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    tally.count_bad("no answer", repr(exc))
                    return
                tally.answers += 1
                tally.latencies.append(time.perf_counter() - due)
                if status != 200:
                    tally.count_bad(f"HTTP {status}", body)

            tasks = []
            for i in range(total):
                due = started + i / rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(send(i, due)))
            await asyncio.gather(*tasks)
            tally.elapsed = time.perf_counter() - started
        return tally
    return asyncio.run(run())
