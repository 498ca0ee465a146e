"""What a finished flow run means, and the data a flow reads while it runs.

A flow declares `records: complaint` (or scorecard, rsvp, join…). Feature modules register here:
- a *context provider* returns the `vars` the engine may read for such a flow (e.g. `rounds`, a lazy `ref`);
- a *completion handler* turns the run's results into domain rows (a complaint, scores, an RSVP).
The conversation layer calls both; it knows nothing of complaints or scorecards itself.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

ContextProvider = Callable[..., dict[str, Any]]  # (app, contact, run) -> vars
CompletionHandler = Callable[..., list[str] | None]  # (app, contact, run, results) -> extra replies or None

CONTEXT_PROVIDERS: dict[str, ContextProvider] = {}
COMPLETION_HANDLERS: dict[str, CompletionHandler] = {}


def context_provider(records: str) -> Callable[[ContextProvider], ContextProvider]:
    def register(func: ContextProvider) -> ContextProvider:
        CONTEXT_PROVIDERS[records] = func
        return func
    return register


def completion_handler(records: str) -> Callable[[CompletionHandler], CompletionHandler]:
    def register(func: CompletionHandler) -> CompletionHandler:
        COMPLETION_HANDLERS[records] = func
        return func
    return register


def load_record_modules() -> None:
    """Import the modules that register providers and handlers (here, not at import time: they import us)."""
    from gateway import complaints, join, meetings, scorecards  # noqa: F401
