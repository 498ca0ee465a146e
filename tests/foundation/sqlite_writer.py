"""Writes to a gateway database until killed, for the storage-fault tests: `python sqlite_writer.py URL BATCH`.

Each transaction inserts BATCH inbound messages; after each commit the highest committed id is printed, so the
test knows exactly which rows the database promised to keep. The WAL is never checkpointed by the writer (as when a
long read holds checkpoints back), so committed rows live only in the WAL until someone else checkpoints it.
"""
from __future__ import annotations

import sys

from storage.db import database, open_database
from storage.outbox import create_inbound

if __name__ == "__main__":
    url, batch = sys.argv[1], int(sys.argv[2])
    open_database(url)
    with database.connection_context():
        database.execute_sql("PRAGMA wal_autocheckpoint = 0")
        while True:
            with database.atomic("IMMEDIATE"):
                for _ in range(batch):
                    last = create_inbound(contact=None, channel="android", kind="sms", text="x" * 200).id
            print(last, flush=True)
