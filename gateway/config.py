"""Configuration: defaults ← config.yaml ← environment variables, validated against a JSON Schema.

Secrets come only from the environment (or the generated instance key); they are never read from or written to
config.yaml. A bad value raises ConfigError with one line naming the key, the value and what is allowed.
"""
from __future__ import annotations

import copy
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import jsonschema
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gateway.clock import LocalTimeError, zone_named
from gateway.config_schema import DEFAULTS, SCHEMA, phone_env

# Environment variable → dotted config key. Secrets are marked so they are masked and refused in the file.
ENV_KEYS = {
    "GATEWAY_DATABASE_URL": "database_url",
    "GATEWAY_INSTANCE_PATH": "instance_path",
    "GATEWAY_PUBLIC_URL": "public_url",
    "GATEWAY_FLOWS_PATH": "flows.paths",
}
SECRET_ENV = {
    "GATEWAY_SECRET_KEY": "secret_key",
    "GATEWAY_PSEUDONYM_KEY": "pseudonym_key",  # keys contact ids; see gateway.secrets
    "TWILIO_ACCOUNT_SID": "channels.twilio.account_sid",
    "TWILIO_AUTH_TOKEN": "channels.twilio.auth_token",
    "AT_USERNAME": "channels.africastalking.username",
    "AT_API_KEY": "channels.africastalking.api_key",
    "AT_WEBHOOK_TOKEN": "channels.africastalking.webhook_token",
    "ANDROID_GATEWAY_URL": "channels.android.url",
    "ANDROID_GATEWAY_LOGIN": "channels.android.login",
    "ANDROID_GATEWAY_PASSWORD": "channels.android.password",
    "ANDROID_GATEWAY_SIGNING_KEY": "channels.android.signing_key",
}
# Of the secrets, these are not confidential enough to mask, only kept out of the file.
UNMASKED_SECRETS = {"channels.android.url", "channels.africastalking.username", "channels.twilio.account_sid"}
# Each phone of an Android pool has its own secrets: ANDROID_<NAME>_URL, _LOGIN, _PASSWORD, _SIGNING_KEY.
PHONE_SECRETS = ("url", "login", "password", "signing_key")
DEFAULT_CONFIG_FILE = "config.yaml"


class ConfigError(Exception):
    """A configuration problem, described in one line for the person starting the service."""


def load_config(config_path: str | os.PathLike | None = None, overrides: dict | None = None,
                environ: dict | None = None) -> dict:
    """Build the effective configuration. `overrides` use dotted keys (`{"server.port": 8000}`) or nested dicts."""
    environ = os.environ if environ is None else environ
    config = copy.deepcopy(DEFAULTS)
    file_values = _read_file(config_path)
    _refuse_secrets_in_file(file_values)
    _deep_merge(config, file_values)
    for env, key in {**ENV_KEYS, **SECRET_ENV}.items():
        if environ.get(env):
            value: Any = environ[env]
            if key == "flows.paths":
                value = [p for p in value.split(os.pathsep) if p]
            _set(config, key, value)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and "." not in key and isinstance(config.get(key), dict):
            _deep_merge(config[key], value)
        else:
            _set(config, key, value)
    _phone_secrets_from_env(config, environ)
    _validate(config)
    config["instance_path"] = str(Path(config["instance_path"]).resolve())
    if not config["database_url"]:
        config["database_url"] = f"sqlite:///{Path(config['instance_path']) / 'gateway.db'}"
    return config


def load_yaml(text: str) -> Any:
    """Plain data from YAML 1.2, the version flows use too: `no`, `off` and `yes` stay words, not booleans."""
    yaml = YAML(typ="safe", pure=True)  # the C loader follows YAML 1.1
    yaml.version = (1, 2)
    return yaml.load(text)


def ensure_instance(config: dict) -> None:
    """Create the instance folder and, when no secret key is set, a local one kept there (with a warning)."""
    instance = Path(config["instance_path"])
    instance.mkdir(parents=True, exist_ok=True)
    if config.get("secret_key"):
        return
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
        logging.getLogger("gateway").warning(
            f"GATEWAY_SECRET_KEY is not set: generated a local key in {key_file}. Set GATEWAY_SECRET_KEY in "
            "production (changing it later only signs everyone out; contacts are keyed with the pseudonym key).")
    config["secret_key"] = key_file.read_text().strip()


def warnings(config: dict) -> list[str]:
    """Settings that are valid but leave part of the service unable to work; printed by `serve` and `config check`."""
    found = []
    channels = config["channels"]
    if channels["twilio"]["enabled"] and channels["twilio"]["verify"] and not config["public_url"]:
        found.append("channel 'twilio' needs GATEWAY_PUBLIC_URL (the https:// address Twilio calls): until it is "
                     "set, every Twilio webhook is refused with 403, because its signature covers that address")
    for name, settings in channels.items():
        if settings.get("enabled") and not settings.get("verify", True):
            found.append(f"channel '{name}' has verify: false — ANYONE can post fake messages to its webhooks. "
                         "Development only!")
    return found


def trusted_proxy_count(config: dict) -> int:
    """`trust_proxy_headers`: false → 0, true → 1, or a number of proxies."""
    value = config["trust_proxy_headers"]
    return int(value) if not isinstance(value, bool) else (1 if value else 0)


def masked(config: dict) -> dict:
    """A copy safe to print: every secret value replaced by `****` (or `(not set)`)."""
    shown = copy.deepcopy(config)
    for key in SECRET_ENV.values():
        if key in UNMASKED_SECRETS:
            continue
        value = get(shown, key)
        _set(shown, key, "****" if value else "(not set)")
    for phone in _phones(shown):
        for key in PHONE_SECRETS[1:]:
            phone[key] = "****" if phone.get(key) else "(not set)"
    return shown


def get(config: dict, dotted: str, default: Any = None) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def _read_file(config_path: str | os.PathLike | None) -> dict:
    path = Path(config_path) if config_path else Path(DEFAULT_CONFIG_FILE)
    if not path.exists():
        if config_path:
            raise ConfigError(f"config file not found: {path}")
        return {}
    try:
        data = load_yaml(path.read_text(encoding="utf-8")) or {}
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return data


def _refuse_secrets_in_file(values: dict) -> None:
    for env, key in SECRET_ENV.items():
        if get(values, key) not in (None, ""):
            raise ConfigError(f"config key '{key}' is a secret: set it with the environment variable {env}, "
                              "not in config.yaml")
    for index, phone in enumerate(_phones(values)):
        for key in PHONE_SECRETS:
            if key != "url" and phone.get(key) not in (None, ""):
                raise ConfigError(f"config key 'channels.android.phones.{index}.{key}' is a secret: set it with "
                                  f"the environment variable {phone_env(phone.get('name', ''), key)}, "
                                  "not in config.yaml")


def _phones(config: dict) -> list[dict]:
    phones = get(config, "channels.android.phones") or []
    return [phone for phone in phones if isinstance(phone, dict)] if isinstance(phones, list) else []


def _phone_secrets_from_env(config: dict, environ) -> None:
    for phone in _phones(config):
        for key in PHONE_SECRETS:
            value = environ.get(phone_env(phone.get("name", ""), key))
            if value:
                phone[key] = value


def _validate(config: dict) -> None:
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        key = ".".join(str(p) for p in error.path) or "(top level)"
        allowed = error.schema.get("description") or error.message
        raise ConfigError(f"config key '{key}' has value {error.instance!r}: {allowed}")
    names = [phone["name"] for phone in _phones(config)]
    if len(set(names)) < len(names):
        raise ConfigError(f"config key 'channels.android.phones' names a phone twice ({', '.join(names)}): "
                          "each phone needs a name of its own")
    try:
        zone_named(config["timezone"])
    except LocalTimeError:
        raise ConfigError(f"config key 'timezone' has value {config['timezone']!r}: must be an IANA time zone "
                          "such as Asia/Ulaanbaatar") from None


def _deep_merge(base: dict, extra: dict) -> None:
    for key, value in extra.items():
        if value is None and isinstance(base.get(key), dict):
            continue  # a section whose keys are all commented out
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _set(config: dict, dotted: str, value: Any) -> None:
    node = config
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
