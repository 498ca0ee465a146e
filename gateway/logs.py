"""Structured logging: one JSON line per request and per event, with phone numbers masked."""
from __future__ import annotations

import json
import logging
import time

from flask import Flask, g, request

from storage.phones import mask_phones_in

logger = logging.getLogger("gateway")


class JsonLineFormatter(logging.Formatter):
    """Render a record as one JSON line; `extra={"fields": {...}}` adds keys. Numbers are masked last."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                "logger": record.name, "event": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return mask_phones_in(json.dumps(line, ensure_ascii=False, default=str))


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonLineFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonLineFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # it logs every tick at INFO


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
