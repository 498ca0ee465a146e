"""Every scheduled job, imported for registration. Each feature module adds its jobs with `@job(...)`."""
from __future__ import annotations

import importlib

# Feature modules that register jobs; a missing one is skipped so a partial checkout still starts.
JOB_MODULES = [
    "gateway.outbox_jobs",
    "gateway.conversation_jobs",
    "gateway.meetings",
    "gateway.digests",
    "gateway.retention",
]

for _module in JOB_MODULES:
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:
        if exc.name != _module:
            raise
