"""The closest Python peer, ussd-airflow-engine 0.0.8.3, behind an Africa's Talking USSD route.

It runs only in the benchmark's own virtualenv (bench/.venv-peer, made by bench/run.py): the engine pins old
PyYAML and attrs, so it is never a project dependency. Sessions live in the engine's own file-system store,
shared by every worker, as its documentation sets up; the journey is bench/apps/peer_journeys/default/water/1.yml.
"""
from __future__ import annotations

import collections
import collections.abc
import inspect
import logging
import os
import tempfile
from pathlib import Path

# Python 3.11 shims the 2019 engine and its dependencies need.
if not hasattr(inspect, "getargspec"):
    inspect.getargspec = lambda func: inspect.getfullargspec(func)[:4]
for _name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

import structlog  # noqa: E402
from flask import Flask, Response, request  # noqa: E402
from simplekv.fs import FilesystemStore  # noqa: E402
from ussd.core import UssdEngine, UssdRequest  # noqa: E402
from ussd.store.journey_store.YamlJourneyStore import YamlJourneyStore  # noqa: E402

JOURNEYS = Path(__file__).resolve().parent / "peer_journeys"
SESSIONS = os.environ.get("PEER_SESSION_DIR") or tempfile.mkdtemp(prefix="peer-sessions-")

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))  # production: no debug
app = Flask(__name__)
journeys = YamlJourneyStore(journey_directory=str(JOURNEYS))
sessions = FilesystemStore(SESSIONS)


@app.post("/ussd")
def ussd() -> Response:
    form = request.form
    text = form.get("text", "")
    ussd_request = UssdRequest(form["sessionId"], form["phoneNumber"], text.split("*")[-1] if text else "", "en",
                               journey_name="water", journey_version="1", journey_store=journeys,
                               session_store_backend=sessions)
    answer = UssdEngine(ussd_request).ussd_dispatcher()
    return Response(f"{'CON' if answer.status else 'END'} {answer}", content_type="text/plain")


@app.get("/healthz")
def healthz() -> str:
    return "ok"
