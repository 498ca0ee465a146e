"""`records: join` flows: a person says where they live, so notices for their khoroo or bag reach them."""
from __future__ import annotations

from flask import Flask

from gateway.clock import local_today
from gateway.logs import log_event
from gateway.records import completion_handler
from storage import runs
from storage.models import Contact, FlowRun

UNIT_RESULT = "unit"


@completion_handler("join")
def joined(app: Flask, contact: Contact, run: FlowRun, results: dict) -> list[str] | None:
    """Set the contact's admin unit from the flow's `unit` result (an admin-unit code)."""
    remember_unit(app, contact, results, replace=True)
    return None


def remember_unit(app: Flask, contact: Contact, results: dict, replace: bool = False) -> None:
    """Any flow's location answer puts a person in that area's audience; only `join` moves someone already placed."""
    code = (results.get(UNIT_RESULT) or {}).get("value")
    if not code or (contact.admin_unit_id and not replace):
        return
    unit = runs.admin_unit_by_code(str(code), local_today(app))
    if unit is not None:
        runs.set_admin_unit(contact, unit)
        log_event("contact.joined", contact=contact.id, unit=unit.code)
