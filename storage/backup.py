"""Consistent copies of the database while the service runs, and putting one back.

SQLite: the online backup API (sqlite3 `Connection.backup`) copies the database in one step, a snapshot as of one
moment: writers go on meanwhile (WAL), and the copy holds whole transactions only. PostgreSQL: `pg_dump` (custom
format, itself one consistent snapshot) and `pg_restore`; both come with the PostgreSQL client tools.

The pseudonym key (`instance/pseudonym_key` or GATEWAY_PSEUDONYM_KEY) is not in the database: keep it with the copy,
or the restored contacts can never be matched to a number again.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from playhouse.db_url import parse


class BackupError(Exception):
    """The copy could not be made or put back; the message says why and what to do."""


def sqlite_path(url: str) -> Path | None:
    """The file of a sqlite:/// URL, else None."""
    return Path(parse(url)["database"]) if url.startswith("sqlite") else None


def backup(url: str, target: Path) -> int:
    """Copy the database at `url` to the new file `target`; returns its size in bytes."""
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file name")
    partial = target.with_name(target.name + ".partial")
    source = sqlite_path(url)
    if source is not None:
        _sqlite_copy(sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30), partial)
    else:
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}"], url)
    partial.rename(target)
    return target.stat().st_size


def restore(url: str, source: Path) -> None:
    """Replace the contents of the database at `url` with the copy `source` (stop the service first)."""
    path = sqlite_path(url)
    if path is None:
        _run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction", str(source)],
             url)
        return
    copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        check_sqlite(copy, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path, timeout=30) as live:
            copy.backup(live)
    finally:
        copy.close()


def check_sqlite(conn: sqlite3.Connection, name: Path | str) -> None:
    """BackupError unless `conn` is an intact database of this gateway."""
    try:
        verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
        ours = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_migration'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{name} is not a readable SQLite database ({exc})") from None
    if verdict != "ok":
        raise BackupError(f"{name} failed SQLite's integrity check: {verdict}")
    if not ours:
        raise BackupError(f"{name} is not a gateway database (it has no migration history)")


def _sqlite_copy(source: sqlite3.Connection, target: Path) -> None:
    try:
        with sqlite3.connect(target) as copy:
            source.backup(copy)  # all pages in one step: a snapshot of one moment
            check_sqlite(copy, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        source.close()


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} was not found: install the PostgreSQL client tools of the server's version "
                          f"(Debian: apt install postgresql-client) and try again")
    return path


def _run(command: list[str], url: str) -> None:
    """Run a PostgreSQL tool on `url`; the password goes in the environment, never on a command line `ps` shows."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    bare = urlunsplit(parts._replace(netloc=(f"{user}@" if user else "") + netloc[2]))
    env = {**os.environ, **({"PGPASSWORD": unquote(parts.password)} if parts.password else {})}
    done = subprocess.run([*command, f"--dbname={bare}"], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-500:]}")
