"""A separate gateway process for the crash-restart and multi-process tests (run with `python worker.py …`).

    python worker.py enqueue '<settings json>' <broadcast id> <pause seconds per chunk>
    python worker.py dispatch '<settings json>' <seconds> [leader-only]

`enqueue` queues one broadcast, pausing after each chunk so a test can kill it half-way. `dispatch` runs the
due-work and outbox jobs in a loop, as a scheduler would, until nothing is left or time is up; with
`leader-only` it runs them only while it holds the scheduler's leader lease, as production schedulers on SQLite do.
"""
from __future__ import annotations

import json
import sys
import time

from gateway import broadcasts as bc
from gateway.app import create_app
from gateway.scheduler import is_leader, run_job
from storage import meetings as store
from storage.db import database
from storage.models import Message


def main() -> None:
    action, settings = sys.argv[1], json.loads(sys.argv[2])
    app = create_app(None, **settings)
    if action == "enqueue":
        broadcast_id, pause = int(sys.argv[3]), float(sys.argv[4])
        with app.app_context(), database.connection_context():
            bc.enqueue(app, store.Broadcast.get_by_id(broadcast_id), progress=lambda _n: time.sleep(pause))
        return
    deadline = time.monotonic() + float(sys.argv[3])
    leader_only = sys.argv[4:] == ["leader-only"]
    while time.monotonic() < deadline:
        if not leader_only or is_leader(app):
            run_job(app, "meetings.due")
            run_job(app, "outbox.dispatch")
        else:
            time.sleep(0.2)
        with app.app_context(), database.connection_context():
            left = Message.select().where(Message.status.in_(("queued", "sending"))).count()
            pending = store.Broadcast.select().where(store.Broadcast.status != "queued").count()
        if not left and not pending:
            return


if __name__ == "__main__":
    main()
