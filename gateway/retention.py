"""The retention purge: old message bodies and finished runs are deleted on schedule (Personal Data Protection Law)."""
from __future__ import annotations

from flask import Flask

from gateway.logs import log_event
from storage.retention import purge


def purge_expired(app: Flask) -> dict[str, int]:
    """Delete what is past its retention period; counts are logged, content never is."""
    retention = app.config["GATEWAY"]["retention"]
    counts = purge(retention["message_days"], retention["run_days"])
    log_event("retention.purged", **counts)
    return counts
