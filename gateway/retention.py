"""The retention purge (Personal Data Protection Law): message bodies, finished runs, free texts and the numbers of
people long inactive are deleted on schedule; see `storage.retention` for exactly what goes and what stays."""
from __future__ import annotations

from flask import Flask

from gateway.logs import log_event
from storage.retention import purge


def purge_expired(app: Flask) -> dict[str, int]:
    """Delete what is past its retention period; counts are logged, content never is."""
    retention = app.config["GATEWAY"]["retention"]
    counts = purge(retention["message_days"], retention["run_days"], retention["free_text_days"],
                   retention["contact_days"])
    log_event("retention.purged", **counts)
    return counts
