"""`gateway simulate`: a basic phone in the terminal, talking to the real Africa's Talking webhooks over HTTP.

In-process (the default) it builds the app on a scratch SQLite database with the configured flows and the
Africa's Talking channel enabled under a generated webhook token, and posts through Flask's test client. With
`--url` it posts to a running server (token from AT_WEBHOOK_TOKEN) and reads that server's database.
SMS replies are not in the webhook's answer: they go to the outbox, and the phone reads them back from there.
"""
from __future__ import annotations

import secrets
import tempfile
import textwrap
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

import click
import requests
from flask import Flask

from flows.screens import ussd_limit
from flows.text import sms_size
from gateway.secrets import pseudonym_key
from storage.db import database

SHORT_CODE = "1411"
SERVICE_CODE = "*1411#"
DEFAULT_PHONE = "+97699000001"
PHONE_WIDTH = 24  # characters a basic phone shows on one line


class Transport:
    """POST a form to a webhook path; returns (status, body)."""

    def post(self, path: str, form: dict) -> tuple[int, str]:
        raise NotImplementedError


class InProcessTransport(Transport):
    def __init__(self, app: Flask, token: str) -> None:
        self.client, self.token = app.test_client(), token

    def post(self, path: str, form: dict) -> tuple[int, str]:
        response = self.client.post(f"{path}?token={self.token}", data=form)
        return response.status_code, response.get_data(as_text=True)


class HttpTransport(Transport):
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url.rstrip("/"), token

    def post(self, path: str, form: dict) -> tuple[int, str]:
        response = requests.post(f"{self.base_url}{path}", params={"token": self.token}, data=form, timeout=20)
        return response.status_code, response.text


@dataclass(frozen=True)
class SmsReply:
    text: str
    sent: bool  # False: the outbox holds it back (loop guard), so the phone would never get it
    reason: str | None = None


@dataclass
class Phone:
    """One simulated handset: sends through the webhooks, reads its SMS replies from the outbox."""

    app: Flask
    transport: Transport
    number: str
    session_id: str | None = None
    history: list[str] = field(default_factory=list)
    seen_id: int = 0

    def __post_init__(self) -> None:
        from storage.runs import last_message_id

        with self.app.app_context(), database.connection_context():
            self.seen_id = last_message_id()

    def send_sms(self, text: str) -> list[str]:
        return [reply.text for reply in self.send_sms_rows(text) if reply.sent]

    def sms_replies(self) -> list[str]:
        """Texts the outbox will send to this phone since the last look (held-back ones are left out)."""
        return [reply.text for reply in self.reply_rows() if reply.sent]

    def send_sms_rows(self, text: str) -> list[SmsReply]:
        """Send one SMS; every reply it caused, including any the outbox will not send (loop guard)."""
        form = {"from": self.number, "to": SHORT_CODE, "text": text, "id": str(uuid.uuid4()),
                "date": "", "networkCode": "42899"}
        status, body = self.transport.post("/webhooks/africastalking/sms", form)
        if status != 200:
            raise click.ClickException(f"the SMS webhook answered {status}: {body[:200]}")
        return self.reply_rows()

    def reply_rows(self) -> list[SmsReply]:
        from storage.contacts import contact_for_number
        from storage.runs import messages_to

        with self.app.app_context(), database.connection_context():
            contact, _ = contact_for_number(self.number, pseudonym_key(self.app))
            rows = messages_to(contact, self.seen_id)
        if rows:
            self.seen_id = rows[-1].id
        return [SmsReply(row.text, row.status != "cancelled", row.last_error) for row in rows]

    def ussd(self, text: str | None) -> tuple[str, bool]:
        """Dial (text None) or answer the current screen; returns (screen, ended)."""
        if text is None or self.session_id is None:
            self.session_id, self.history = f"ATUid_{uuid.uuid4().hex}", []
        if text is not None:
            self.history.append(text)
        form = {"sessionId": self.session_id, "serviceCode": SERVICE_CODE, "phoneNumber": self.number,
                "networkCode": "42899", "text": "*".join(self.history)}
        status, body = self.transport.post("/webhooks/africastalking/ussd", form)
        if status != 200:
            raise click.ClickException(f"the USSD webhook answered {status}: {body[:200]}")
        ended = not body.startswith("CON ")
        if ended:
            self.session_id = None
        return body[4:] if body[:4] in ("CON ", "END ") else body, ended

    def set_language(self, language: str) -> None:
        from storage.contacts import contact_for_number
        from storage.runs import update_contact

        with self.app.app_context(), database.connection_context():
            contact, _ = contact_for_number(self.number, pseudonym_key(self.app))
            update_contact(contact.id, {"language": language})


def describe_sms(text: str) -> str:
    size = sms_size(text)
    return f"({size.encoding}, {size.chars} chars, {size.segments} SMS)"


def describe_ussd(screen: str, ended: bool) -> str:
    size = sms_size(screen)
    return f"({'END' if ended else 'CON'}, {size.encoding}, {size.units} of {ussd_limit(screen)} chars)"


def phone_box(text: str) -> str:
    """The text as a small phone screen draws it: wrapped at PHONE_WIDTH, in a frame."""
    lines = [wrapped for line in text.split("\n") for wrapped in (textwrap.wrap(line, PHONE_WIDTH) or [""])]
    top, bottom = "┌" + "─" * (PHONE_WIDTH + 2) + "┐", "└" + "─" * (PHONE_WIDTH + 2) + "┘"
    return "\n".join([top] + [f"│ {line:<{PHONE_WIDTH}} │" for line in lines] + [bottom])


def transcript(phone: Phone, channel: str, inputs: Iterable[str], interactive: bool = False) -> Iterator[str]:
    """Lines of the conversation: `> input`, `< reply` (each line of a USSD screen), and a size note.
    Interactive mode draws replies as phone screens and does not repeat what was just typed."""
    def show(text: str, note: str) -> Iterator[str]:
        if interactive:
            yield phone_box(text)
        else:
            yield from (f"< {line}" for line in text.split("\n"))
        yield f"  {note}"

    if channel == "ussd":
        yield f"> (dial {SERVICE_CODE})"
        screen, ended = phone.ussd(None)
        yield from show(screen, describe_ussd(screen, ended))
    for text in inputs:
        if not interactive:
            yield f"> {text}"
        if channel == "sms":
            replies = phone.send_sms_rows(text)
            for reply in replies:
                yield from show(reply.text, describe_sms(reply.text) if reply.sent else f"(not sent: {reply.reason})")
            if not any(reply.sent for reply in replies):
                yield "  (no reply)"
            continue
        if phone.session_id is None:  # the last screen was END: a new dial, shown before the input is applied
            yield f"  (session ended: dialling {SERVICE_CODE} again)"
            screen, ended = phone.ussd(None)
            yield from show(screen, describe_ussd(screen, ended))
            if ended:
                continue
        screen, ended = phone.ussd(text)
        yield from show(screen, describe_ussd(screen, ended))


def _in_process_app(config_path: str | None, workdir: str) -> tuple[Flask, str]:
    from gateway.app import create_app

    token = secrets.token_urlsafe(16)
    app = create_app(config_path, database_url=f"sqlite:///{workdir}/simulate.db", instance_path=workdir,
                     secret_key=secrets.token_hex(32), scheduler={"enabled": False}, log_level="WARNING",
                     channels={"africastalking": {"enabled": True, "webhook_token": token, "allow_ips": []}})
    return app, token


def _remote(ctx: click.Context, url: str) -> tuple[Flask, Transport]:
    from gateway.cli import make_app

    app = make_app(ctx)
    token = app.config["GATEWAY"]["channels"]["africastalking"].get("webhook_token")
    if not token:
        raise click.ClickException("--url needs AT_WEBHOOK_TOKEN set to the server's Africa's Talking webhook token")
    return app, HttpTransport(url, token)


def _lines(source: TextIO) -> Iterator[str]:
    for line in source:
        yield line.rstrip("\n")


def _interactive() -> Iterator[str]:
    click.echo("Type a message and press Enter; Ctrl-D (or /quit) ends.", err=True)
    while True:
        try:
            text = input("> ")
        except EOFError:
            return
        if text.strip() == "/quit":
            return
        yield text


@click.command("simulate")
@click.option("--channel", type=click.Choice(["sms", "ussd"]), default="sms", show_default=True)
@click.option("--phone", "number", default=DEFAULT_PHONE, show_default=True, help="The simulated phone's number.")
@click.option("--lang", type=click.Choice(["mn", "en"]), default=None, help="Set the phone's language first.")
@click.option("--script", "script_file", type=click.File("r", encoding="utf-8"), default=None,
              help="Read one input per line from FILE and print the transcript.")
@click.option("--url", default=None, help="A running server's base URL (default: in-process, scratch database).")
@click.pass_context
def simulate(ctx: click.Context, channel: str, number: str, lang: str | None, script_file: TextIO | None,
             url: str | None) -> None:
    """Talk to the flows as a basic phone would, through the Africa's Talking webhooks."""
    from gateway.phones import InvalidPhoneNumber, normalize_phone

    try:
        number = normalize_phone(number)
    except InvalidPhoneNumber as exc:
        raise click.BadParameter(str(exc), param_hint="--phone") from None
    with tempfile.TemporaryDirectory(prefix="gateway-simulate-") as workdir:
        if url:
            app, transport = _remote(ctx, url)
        else:
            app, token = _in_process_app(ctx.find_root().obj["config_path"], workdir)
            transport = InProcessTransport(app, token)
        phone = Phone(app, transport, number)
        if lang:
            phone.set_language(lang)
        inputs = _lines(script_file) if script_file else _interactive()
        for line in transcript(phone, channel, inputs, interactive=script_file is None):
            click.echo(line)
        if not database.is_closed():
            database.close()


commands = [simulate]
