"""The pseudonymisation key: its own secret, apart from Flask's session key (GATEWAY_SECRET_KEY).

A contact's id is HMAC(pseudonym key, E.164 number). The key comes from GATEWAY_PSEUDONYM_KEY, or from
`<instance>/pseudonym_key`, generated once. It is checked at start against a contact whose number is still held,
so a wrong key stops the service with a clear line instead of splitting everyone into new, unknown contacts.
Code that needs the key calls `pseudonym_key(app)`; `gateway contacts rekey` moves every contact to a new one.
"""
from __future__ import annotations

import logging
import secrets as random_source
from pathlib import Path

from flask import Flask

from gateway.config import ConfigError
from storage.contacts import key_sample
from storage.phones import contact_key

KEY_FILE = "pseudonym_key"
BACKUP_ADVICE = ("Back this file up together with the database: without it nobody who has texted before can be "
                 "recognised again (their STOP, their scores, their complaints' follow-ups). Never edit it; to change "
                 "the key, run `gateway contacts rekey`.")
logger = logging.getLogger("gateway")


def pseudonym_key(app: Flask) -> str:
    """The key contacts are made with: the only accessor the rest of the code uses."""
    return app.config["GATEWAY"]["pseudonym_key"]


def key_file(config: dict) -> Path:
    return Path(config["instance_path"]) / KEY_FILE


def resolve_pseudonym_key(config: dict) -> None:
    """Set `config["pseudonym_key"]` (and `pseudonym_key_from`: env | file) and check it against the database.
    Needs an open database connection; runs once at start."""
    path = key_file(config)
    key, source = config.get("pseudonym_key"), "env"
    if not key and path.exists():
        key, source = path.read_text().strip(), "file"
    sample = key_sample()
    if not key:
        key, source = _first_key(config, path, sample), "file"
    elif sample and contact_key(sample[1], key) != sample[0]:
        key = _finish_interrupted_rekey(path, source, sample)
    config["pseudonym_key"], config["pseudonym_key_from"] = key, source


def _first_key(config: dict, path: Path, sample: tuple[str, str] | None) -> str:
    """A new key, or, for a database whose contacts were keyed with the secret key (before the two were kept
    apart), that key's value, kept from now on in its own file."""
    if sample is None:
        key, why = random_source.token_hex(32), "generated a new pseudonymisation key"
    elif contact_key(sample[1], config["secret_key"]) == sample[0]:
        key, why = config["secret_key"], "the contacts were keyed with the secret key; that key is now kept"
    else:
        raise ConfigError("GATEWAY_PSEUDONYM_KEY is not set and the contacts in the database were not made with "
                          "GATEWAY_SECRET_KEY: set GATEWAY_PSEUDONYM_KEY to the secret key they were made with")
    write_key(path, key)
    logger.warning(f"GATEWAY_PSEUDONYM_KEY is not set: {why} in {path}. {BACKUP_ADVICE}")
    return key


def _finish_interrupted_rekey(path: Path, source: str, sample: tuple[str, str]) -> str:
    pending = path.with_suffix(".new")
    new_key = pending.read_text().strip() if pending.exists() else None
    if new_key and contact_key(sample[1], new_key) == sample[0]:
        if source == "file":
            pending.replace(path)
            logger.warning(f"finished moving to the new pseudonymisation key in {path}. {BACKUP_ADVICE}")
            return new_key
        raise ConfigError(f"`gateway contacts rekey` moved the contacts to the key in {pending}: set "
                          "GATEWAY_PSEUDONYM_KEY to that file's contents, then delete the file")
    where = "GATEWAY_PSEUDONYM_KEY" if source == "env" else str(path)
    raise ConfigError(f"the pseudonymisation key in {where} is not the one this database's contacts were made with: "
                      "restore the key you backed up (to change keys, use `gateway contacts rekey`)")


def write_key(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(key)
    path.chmod(0o600)


def new_key() -> str:
    return random_source.token_hex(32)
