"""Structured logging: one JSON line per request and per event; phone numbers masked in every record."""
from __future__ import annotations

import json
import logging
import time

from flask import Flask, g, request

from storage.phones import mask_phones_in

logger = logging.getLogger("gateway")


class JsonLineFormatter(logging.Formatter):
    """Render a record as one JSON line; `extra={"fields": {...}}` adds keys. Numbers are already masked."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                "logger": record.name, "event": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class PhoneMaskFilter(logging.Filter):
    """Masks every phone number in a record: its message and arguments, `fields`, traceback and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def mask_record(record: logging.LogRecord) -> None:
    """Mask in place. `extra` fields are attached after the record is created, so they are checked every time."""
    fields = getattr(record, "fields", None)
    if isinstance(fields, dict):
        record.fields = {key: _masked_value(value) for key, value in fields.items()}
    if getattr(record, "phones_masked", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not lose the record
        message = f"{record.msg} {record.args}"
    masked = mask_phones_in(message)
    if masked != message:  # otherwise keep msg and args as they are (peewee's query log keeps its tuple)
        record.msg, record.args = masked, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_phones_in(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_phones_in(record.stack_info)
    record.phones_masked = True


def _masked_value(value):
    """A field as it was when it holds no number (so counts stay numbers), else its masked text."""
    if isinstance(value, (bool, type(None))):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    masked = mask_phones_in(text)
    return value if masked == text else masked


def install_phone_masking() -> None:
    """Mask numbers in every log record of this process: a filter on the root logger, and the same masking at
    record creation, which also covers loggers that do not propagate to the root (gunicorn's error log)."""
    root = logging.getLogger()
    if not any(isinstance(f, PhoneMaskFilter) for f in root.filters):
        root.addFilter(PhoneMaskFilter())
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "masks_phones", False):
        return

    def masked_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        mask_record(record)
        return record

    masked_record.masks_phones = True
    logging.setLogRecordFactory(masked_record)


def configure_logging(level: str) -> None:
    install_phone_masking()
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonLineFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLineFormatter())
        root.addHandler(handler)
    for handler in root.handlers:  # records of child loggers reach these handlers without the root's filter
        if not any(isinstance(f, PhoneMaskFilter) for f in handler.filters):
            handler.addFilter(PhoneMaskFilter())
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every tick at INFO
    # peewee's DEBUG lines are SQL with message bodies as parameters: never below INFO, never below the root
    numeric = logging.getLevelName(level) if isinstance(level, str) else level
    logging.getLogger("peewee").setLevel(max(logging.INFO, numeric if isinstance(numeric, int) else logging.INFO))


def log_event(event: str, level: int = logging.INFO, exc_info: bool = False, **fields) -> None:
    logger.log(level, event, exc_info=exc_info, extra={"fields": fields})


def init_request_logging(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        elapsed = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
        log_event("request", method=request.method, path=request.path, status=response.status_code,
                  ms=round(elapsed, 1))
        return response
