"""What a signed-in user may see: the admin units of their scope and everything below them.

The scope is the access model's (storage.access); an admin may be national (`ids()` is None). Audiences,
complaints, rounds and counts are filtered with these ids; a record outside the scope answers 404, as if it did
not exist."""
from __future__ import annotations

from flask import abort, g

from gateway.console.auth import current
from storage import console as queries
from storage import meetings as meeting_store
from storage.access import scope_unit_ids


def ids() -> set[int] | None:
    """The admin-unit ids the signed-in user's scope covers (storage.access), once per request; None = national."""
    principal = current()
    if principal is None or principal.national:
        return None
    if "scope_ids" not in g:
        g.scope_ids = set(scope_unit_ids(principal.scope) or [])
    return g.scope_ids


def id_list() -> list[int] | None:
    scope = ids()
    return None if scope is None else sorted(scope)


def includes_unit(unit_id: int | None) -> bool:
    scope = ids()
    return scope is None or (unit_id is not None and unit_id in scope)


def require_unit(unit_id: int | None) -> None:
    if not includes_unit(unit_id):
        abort(404)


def audience_allowed(specs: list[str]) -> bool:
    """Every part of an audience lies inside the scope: units below the user's, groups whose members all live
    there, rounds of service points there."""
    scope = ids()
    if scope is None:
        return True
    for spec in specs:
        kind, _, value = spec.partition(":")
        kind, value = kind.strip().lower(), value.strip()
        if kind in meeting_store.UNIT_KINDS or kind == "unit":
            root = meeting_store.current_unit_id(value)
            if root is None or root not in scope:
                return False
        elif kind == "group":
            if queries.group_members_outside(value, scope) != 0:
                return False
        elif kind == "round":
            if not value.isdigit() or not includes_unit(queries.round_unit_id(int(value))):
                return False
        else:
            return False
    return True
