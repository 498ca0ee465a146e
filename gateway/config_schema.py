"""Defaults and the JSON Schema of the configuration. config.yaml documents the same keys in comments.

Each property's `description` is what the error line says is allowed, so write it as "must be …".
"""
from __future__ import annotations

DEFAULTS: dict = {
    "instance_path": "./instance",
    "database_url": None,
    "secret_key": None,
    "pseudonym_key": None,
    "public_url": None,
    "trust_proxy_headers": False,
    "timezone": "Asia/Ulaanbaatar",
    "default_region": "MN",
    "log_level": "INFO",
    "server": {"host": "127.0.0.1", "port": 5000, "workers": 2, "timeout": 30},
    "scheduler": {"enabled": True, "tick_seconds": 10, "lease_seconds": 6},
    "language": {"default": "mn", "sms_script": "latn", "ussd_script": "latn"},
    "flows": {"paths": [], "bundled": True, "lexicon_paths": []},
    "channels": {
        "africastalking": {"enabled": False, "verify": True, "sms": True, "ussd": True, "sender_id": None,
                           "base_url": None, "allow_ips": [], "rate_per_second": 5},
        "twilio": {"enabled": False, "verify": True, "from_number": None, "messaging_service_sid": None,
                   "base_url": None, "rate_per_second": 1},
        "android": {"enabled": False, "verify": True, "sim_number": None, "silence_warning_minutes": 30,
                    "rate_per_second": 0.5, "base_url": None, "phones": [],
                    # Used where phonenumbers' carrier data names no operator (checked against the regulator's
                    # 2012 allocation and phonenumbers 9.0: it names all of these the same way).
                    "operator_prefixes": {"Mobicom": ["99", "95", "94", "85"], "Unitel": ["88", "89", "86", "80"],
                                          "Skytel": ["91", "96", "90"], "G-Mobile": ["98", "97", "93", "83"]}},
    },
    "routing": {"sms": ["android", "africastalking", "twilio"], "bulk": ["android", "africastalking", "twilio"]},
    "outbox": {"max_attempts": 5, "backoff_seconds": 30, "loop_guard_max": 3, "batch_size": 50,
               "send_timeout_seconds": 10, "stale_sending_seconds": 120, "failover_after": 3, "down_seconds": 300,
               "dispatch_seconds": 8, "validity_hours": 24},
    "inbound_limit": {"messages": 30, "minutes": 10},
    "prices": {"currency": "MNT", "per_segment": {"android": 20, "africastalking": 35, "twilio": 250}},
    "quiet_hours": {"start": "21:00", "end": "09:00"},
    "meetings": {"reminder_minutes": [4320, 120]},
    "broadcasts": {"stale_hours": 12, "chunk_size": 5000},
    "retention": {"message_days": 365, "run_days": 365, "free_text_days": 365, "contact_days": 730},
    "consent": {"version": "2026-11"},
    "complaints": {"due_days": 30, "followup_hours": 336, "restricted_readers": [],
                   "sensitive_keywords": ["авлига", "авилга", "хахууль", "хээл", "луйвар", "corruption", "bribe",
                                          "fraud"]},
    "digests": {"trend_weeks": 6, "oldest_open": 5},
}

_enabled = {"type": "boolean", "description": "must be true or false"}
_url_or_null = {"type": ["string", "null"], "description": "must be a URL or null"}
_rate = {"type": "number", "exclusiveMinimum": 0, "description": "must be a number of messages per second above 0"}
_string_or_null = {"type": ["string", "null"], "description": "must be a string or null"}
_time_of_day = {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "description": "must be a time HH:MM"}
_channel_names = {"type": "array", "items": {"enum": ["android", "africastalking", "twilio"]},
                  "description": "must be a list of channel names: android, africastalking, twilio"}
_seconds = {"type": "number", "exclusiveMinimum": 0, "description": "must be seconds above 0"}
_positive_int = {"type": "integer", "minimum": 1, "description": "must be a whole number of at least 1"}
def phone_env(name: str, key: str) -> str:
    """The environment variable of a pool phone's secret: `ANDROID_MOBICOM_1_LOGIN` for `login` of `mobicom-1`."""
    return "ANDROID_" + "".join(c if c.isalnum() else "_" for c in str(name).upper()) + "_" + key.upper()


OPERATORS = ["Mobicom", "Unitel", "Skytel", "G-Mobile"]
_operator = {"enum": OPERATORS, "description": "must be one of Mobicom, Unitel, Skytel, G-Mobile"}
_phone = {"type": "object", "required": ["name", "operator"], "properties": {
    "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$",
             "description": "must be a short name of letters, digits, - or _"},
    "operator": _operator, "base_url": _url_or_null, "rate_per_second": _rate,
    "sim_number": {"type": ["integer", "null"], "description": "must be a SIM slot number or null"}},
    "description": "must be a phone: {name, operator, base_url, rate_per_second, sim_number}"}

SCHEMA: dict = {
    "type": "object",
    "properties": {
        "instance_path": {"type": "string", "minLength": 1, "description": "must be a folder path"},
        "database_url": {"type": ["string", "null"], "pattern": r"^(sqlite|postgres(ql)?|postgresext)(\+\w+)?://",
                         "description": "must be a URL starting sqlite:/// or postgresql://"},
        "secret_key": {"type": ["string", "null"], "minLength": 16, "description": "must be at least 16 characters"},
        "pseudonym_key": {"type": ["string", "null"], "minLength": 16,
                          "description": "must be at least 16 characters"},
        "public_url": {"type": ["string", "null"], "pattern": r"^https?://",
                       "description": "must be an http:// or https:// URL"},
        "trust_proxy_headers": {"type": ["boolean", "integer"], "minimum": 0, "maximum": 5,
                                "description": "must be false, true (one proxy) or how many proxies you run in "
                                               "front of the service (0-5)"},
        "timezone": {"type": "string", "minLength": 1,
                     "description": "must be an IANA time zone such as Asia/Ulaanbaatar"},
        "default_region": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "must be a 2-letter region code"},
        "log_level": {"enum": ["DEBUG", "INFO", "WARNING", "ERROR"],
                      "description": "must be one of DEBUG, INFO, WARNING, ERROR"},
        "server": {"type": "object", "properties": {
            "host": {"type": "string", "description": "must be a host name or IP address"},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "must be a port 1-65535"},
            "workers": {"type": "integer", "minimum": 1, "maximum": 64, "description": "must be 1-64"},
            "timeout": _positive_int,
        }},
        "scheduler": {"type": "object", "properties": {
            "enabled": _enabled, "tick_seconds": _positive_int, "lease_seconds": _positive_int}},
        "language": {"type": "object", "properties": {
            "default": {"enum": ["mn", "en"], "description": "must be mn or en"},
            "sms_script": {"enum": ["cyrl", "latn"], "description": "must be cyrl or latn"},
            "ussd_script": {"enum": ["cyrl", "latn"], "description": "must be cyrl or latn"},
        }},
        "flows": {"type": "object", "properties": {
            "paths": {"type": "array", "items": {"type": "string"}, "description": "must be a list of folders"},
            "bundled": _enabled,
            "lexicon_paths": {"type": "array", "items": {"type": "string"},
                              "description": "must be a list of lexicon files"},
        }},
        "channels": {"type": "object", "properties": {
            "africastalking": {"type": "object", "properties": {
                "enabled": _enabled, "verify": _enabled, "sms": _enabled, "ussd": _enabled,
                "sender_id": _string_or_null, "base_url": _url_or_null, "rate_per_second": _rate,
                "allow_ips": {"type": "array", "items": {"type": "string"}, "description": "must be a list of IPs"}}},
            "twilio": {"type": "object", "properties": {
                "enabled": _enabled, "verify": _enabled, "from_number": _string_or_null,
                "messaging_service_sid": _string_or_null, "base_url": _url_or_null, "rate_per_second": _rate}},
            "android": {"type": "object", "properties": {
                "enabled": _enabled, "verify": _enabled, "rate_per_second": _rate, "base_url": _url_or_null,
                "sim_number": {"type": ["integer", "null"], "description": "must be a SIM slot number or null"},
                "silence_warning_minutes": _positive_int,
                "phones": {"type": "array", "items": _phone, "description": "must be a list of phones"},
                "operator_prefixes": {
                    "type": "object", "propertyNames": _operator,
                    "additionalProperties": {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{1,6}$"}},
                    "description": "must map an operator (Mobicom, Unitel, Skytel, G-Mobile) to a list of "
                                   "number prefixes after +976, such as \"99\""}}},
        }},
        "routing": {"type": "object", "properties": {"sms": _channel_names, "bulk": _channel_names}},
        "outbox": {"type": "object", "properties": {
            "max_attempts": _positive_int, "backoff_seconds": _positive_int, "loop_guard_max": _positive_int,
            "batch_size": _positive_int, "failover_after": _positive_int,
            "send_timeout_seconds": _seconds, "stale_sending_seconds": _seconds,
            "down_seconds": {"type": "number", "minimum": 0, "description": "must be seconds, 0 or more"},
            "dispatch_seconds": _seconds, "validity_hours": _positive_int}},
        "inbound_limit": {"type": "object", "properties": {"messages": _positive_int, "minutes": _positive_int}},
        "prices": {"type": "object", "properties": {
            "currency": {"type": "string", "description": "must be a currency code"},
            "per_segment": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0},
                            "description": "must map channel names to a price per segment (0 or more)"}}},
        "quiet_hours": {"type": "object", "properties": {"start": _time_of_day, "end": _time_of_day}},
        "meetings": {"type": "object", "properties": {
            "reminder_minutes": {"type": "array", "items": {"type": "integer", "minimum": 1},
                                 "description": "must be a list of whole minutes before the meeting, each 1 or more"}}},
        "broadcasts": {"type": "object", "properties": {
            "stale_hours": _positive_int, "chunk_size": _positive_int}},
        "retention": {"type": "object", "properties": {"message_days": _positive_int, "run_days": _positive_int,
                                                       "free_text_days": _positive_int, "contact_days": _positive_int}},
        "consent": {"type": "object", "properties": {"version": {"type": "string"}}},
        "complaints": {"type": "object", "properties": {
            "due_days": _positive_int, "followup_hours": _positive_int,
            "restricted_readers": {"type": "array", "items": {"type": "string"},
                                   "description": "must be a list of API token names"},
            "sensitive_keywords": {"type": "array", "items": {"type": "string", "minLength": 1},
                                   "description": "must be a list of words"}}},
        "digests": {"type": "object", "properties": {
            "trend_weeks": {"type": "integer", "minimum": 1, "maximum": 52, "description": "must be 1-52"},
            "oldest_open": _positive_int}},
    },
}
