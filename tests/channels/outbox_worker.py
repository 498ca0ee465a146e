"""A separate process that runs one outbox dispatch, for the crash-restart tests: `python outbox_worker.py cfg.json`."""
from __future__ import annotations

import json
import sys

from gateway.app import create_app
from gateway.outbox import dispatch
from storage.db import database

if __name__ == "__main__":
    overrides = json.loads(open(sys.argv[1]).read())
    app = create_app(None, **overrides)
    with app.app_context(), database.connection_context():
        print(json.dumps(dict(dispatch(app, budget_seconds=30))), flush=True)
