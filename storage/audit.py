"""The audit log: every read of free text, every export, every change of status, token, scope or user, and every
forget, rekey or export of a person. Entries name the principal, never a phone number or a message text.

`record(principal, action, target=None, detail=None)`; `entries(action=…, actor=…, target=…, since=…, until=…)`.
Actions are dotted names: complaint.read, complaint.status, export.flow, export.rows, digest.read, token.create,
token.scope, contact.forget, contact.export, contacts.rekey, meeting.questions_read…
"""
from __future__ import annotations

import datetime as dt

from storage.access import Principal, Scope
from storage.db import utcnow
from storage.models import ApiToken, AuditLog

SYSTEM = Principal("system", None, "scheduler", "admin", Scope.NATIONAL)  # scheduled jobs (retention…)


def record(principal: Principal, action: str, target: str | None = None, detail: str | None = None) -> AuditLog:
    token_id = principal.id if principal.kind == "token" else None
    if token_id is not None and not ApiToken.select().where(ApiToken.id == token_id).exists():
        token_id = None
    return AuditLog.create(token=token_id, actor=principal.label[:255], actor_kind=principal.kind,
                           role=principal.role, organisation=principal.organisation, action=action,
                           target=(target or None) and target[:255], detail=detail, at=utcnow())


def entries(*, action: str | None = None, actor: str | None = None, target: str | None = None,
            since: dt.datetime | None = None, until: dt.datetime | None = None, limit: int = 200) -> list[AuditLog]:
    """Newest first. `action` matches a prefix ("export" finds export.flow and export.rows); `actor` and `target`
    match anywhere in the text; `since`/`until` are naive UTC bounds [since, until)."""
    query = AuditLog.select().order_by(AuditLog.at.desc(), AuditLog.id.desc())
    if action:
        query = query.where(AuditLog.action.startswith(action))
    if actor:
        query = query.where(AuditLog.actor.contains(actor))
    if target:
        query = query.where(AuditLog.target.contains(target))
    if since:
        query = query.where(AuditLog.at >= since)
    if until:
        query = query.where(AuditLog.at < until)
    return list(query.limit(limit))
