"""Importing a consented contact list (CSV: phone, language, script, unit, consent), for the CLI and the console.

`plan` checks every line and writes nothing: the valid rows, and the reason for each rejected line (numbers in a
reason are masked). `apply` imports the valid rows: normalised, deduplicated, and never re-subscribing someone
who said STOP.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from flask import Flask

from gateway.phones import InvalidPhoneNumber, normalize_phone
from gateway.secrets import pseudonym_key
from storage import meetings as store
from storage.db import utcnow
from storage.phones import mask_phones_in

CONSENT_YES = {"yes", "y", "true", "1", "тийм", "tiim"}
MAX_ROWS = 100_000


class ImportProblem(ValueError):
    """The file as a whole cannot be read (no header with a phone column, not UTF-8, too many rows)."""


@dataclass
class Plan:
    rows: int = 0
    valid: list[tuple[int, str, dict]] = field(default_factory=list)  # (line, E.164, fields)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def read_rows(text: str) -> list[tuple[int, dict]]:
    """(line number, row with lower-case keys) for each data row."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    if not reader.fieldnames or "phone" not in [f.strip().lower() for f in reader.fieldnames if f]:
        raise ImportProblem("the CSV needs a header row with a 'phone' column (optional: language, script, unit, "
                            "consent)")
    rows = []
    for row in reader:
        rows.append((reader.line_num, {(k or "").strip().lower(): (v or "").strip() if isinstance(v, str) else ""
                                       for k, v in row.items()}))
        if len(rows) > MAX_ROWS:
            raise ImportProblem(f"the CSV has more than {MAX_ROWS} rows: split it")
    return rows


def check_row(app: Flask, row: dict, consented: bool, allowed_unit_ids: set[int] | None = None,
              default_unit: str | None = None) -> tuple[str, dict]:
    """(E.164, fields) for one row, or raise ValueError with the reason (the number masked)."""
    config = app.config["GATEWAY"]
    e164 = normalize_phone(row.get("phone", ""), config["default_region"])
    language = (row.get("language") or config["language"]["default"]).lower()
    if language not in ("mn", "en"):
        raise ValueError(f"language must be mn or en, not {mask_phones_in(language)[:20]!r}")
    script = (row.get("script") or "").lower() or None
    if script not in (None, "cyrl", "latn"):
        raise ValueError(f"script must be cyrl or latn, not {mask_phones_in(script)[:20]!r}")
    code = row.get("unit") or default_unit
    unit_id = store.current_unit_id(code) if code else None
    if code and unit_id is None:
        raise ValueError(f"unknown admin unit code {mask_phones_in(code)[:40]!r}")
    if allowed_unit_ids is not None and unit_id not in allowed_unit_ids:
        raise ValueError("the admin unit is missing or outside your area")
    if not consented and (row.get("consent") or "").lower() not in CONSENT_YES:
        raise ValueError("no consent recorded for this person (the consent column must say yes)")
    return e164, {"language": language, "script": script, "unit_id": unit_id}


def plan(app: Flask, rows: list[tuple[int, dict]], consented: bool, allowed_unit_ids: set[int] | None = None,
         default_unit: str | None = None) -> Plan:
    result, seen = Plan(rows=len(rows)), {}
    for line, row in rows:
        try:
            e164, fields = check_row(app, row, consented, allowed_unit_ids, default_unit)
        except (ValueError, InvalidPhoneNumber) as exc:
            result.rejected.append((line, mask_phones_in(str(exc))))  # a number typed in the wrong column
            continue
        if e164 in seen:
            result.rejected.append((line, f"duplicate of line {seen[e164]}"))
            continue
        seen[e164] = line
        result.valid.append((line, e164, fields))
    return result


def apply(app: Flask, checked: Plan, group_name: str | None = None, progress=None) -> dict[str, int]:
    """Import the valid rows; returns how many were created, updated, or left alone because they opted out."""
    config = app.config["GATEWAY"]
    outcomes = {"created": 0, "updated": 0, "opted_out": 0}
    imported: list[int] = []
    now = utcnow()
    for _line, e164, fields in checked.valid:
        with store.write_transaction():
            contact_id, outcome = store.import_contact(e164, pseudonym_key(app), consent_at=now,
                                                       consent_version=config["consent"]["version"], **fields)
        outcomes[outcome] += 1
        if outcome != "opted_out":
            imported.append(contact_id)
        if progress:
            progress(1)
    if group_name and imported:
        store.add_to_group(store.group_named(group_name), imported)
    return outcomes
