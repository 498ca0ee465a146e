"""Where people live: a `join` flow (or any flow's location answer) puts a person in that unit's audience, so
notices for their khoroo or bag reach them."""
from __future__ import annotations

from flask import Flask

from flows.effects import JoinUnit
from gateway.clock import local_today
from gateway.conversation import AppliedRun
from gateway.logs import log_event
from storage import runs
from storage.models import Contact


def join_unit(app: Flask, source: AppliedRun, effect: JoinUnit) -> None:
    """Only `join` moves someone already placed; any other flow's answer places only the unplaced."""
    if not effect.replace and Contact.select(Contact.admin_unit).where(Contact.id == source.contact_id).scalar():
        return
    unit = runs.admin_unit_by_code(effect.unit, local_today(app))
    if unit is not None:
        Contact.update(admin_unit=unit).where(Contact.id == source.contact_id).execute()
        log_event("contact.joined", contact=source.contact_id, unit=unit.code)
