"""Who may read what: roles, scopes, organisations and the principal behind a request.

The API the rest of the code (API, CLI, console, exports, digests) builds on:

- `ROLES = ("cso", "staff", "admin")`: each role may do everything the ones before it may.
  `role_at_least(held, needed) -> bool`.
- `Scope`: the admin units a principal may read. A unit covers every unit below it (a district its khoroos, an aimag
  its soums, a soum its bags). `Scope.parse("BGD, ZVK-03")`, `Scope.parse("national")`, `Scope.NATIONAL`,
  `Scope.of(["BGD"])`; `str(scope)` is the stored text ("BGD,ZVK-03" or "national"). Only an admin may be
  national: `check_scope(role, scope)` raises ValueError otherwise, and for codes that name no unit.
- `Principal(kind, id, name, role, scope, organisation)`: a token today ("token"), a console user tomorrow
  ("user"), or the operator at the server's shell ("cli", see `cli_principal()`: admin, national).
  `principal.at_least("staff")`, `principal.national`, `principal.covers(unit_id)`.
- Filtering storage queries by scope:
  `scope_unit_ids(scope) -> list[int] | None`: every unit id the scope covers (None = national, no filter);
  `in_scope(field, scope)`: a peewee expression for `.where()`, e.g.
  `Complaint.select().where(in_scope(Complaint.admin_unit, principal.scope))`. A row with no unit is outside
  every scope except national.
- `Organisation` (storage.models: a CSO, a district office…): `organisation_named(name)` gets or creates one.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import peewee as pw

from storage.models import AdminUnit, Organisation

ROLES = ("cso", "staff", "admin")
NATIONAL = "national"


def role_at_least(held: str, needed: str) -> bool:
    if needed not in ROLES:
        raise ValueError(f"unknown role {needed!r}")
    return held in ROLES and ROLES.index(held) >= ROLES.index(needed)


@dataclass(frozen=True)
class Scope:
    """Admin-unit codes (each covering its subtree), or the whole country."""

    codes: tuple[str, ...] = ()
    national: bool = False

    @classmethod
    def of(cls, codes: Iterable[str]) -> Scope:
        return cls(tuple(sorted({c.strip() for c in codes if c and c.strip()})))

    @classmethod
    def parse(cls, text: str | None) -> Scope:
        """"national", or unit codes separated by commas or spaces; empty text is a scope that covers nothing."""
        parts = (text or "").replace(",", " ").split()
        if any(p.lower() == NATIONAL for p in parts):
            return cls.NATIONAL
        return cls.of(parts)

    def __str__(self) -> str:
        return NATIONAL if self.national else ",".join(self.codes)

    @property
    def empty(self) -> bool:
        return not self.national and not self.codes


Scope.NATIONAL = Scope((), True)


def check_scope(role: str, scope: Scope) -> Scope:
    """The scope itself when `role` may hold it; ValueError naming the problem otherwise."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if scope.national:
        if role != "admin":
            raise ValueError("only an admin may have national scope; give admin-unit codes, e.g. BGD or BGD-07")
        return scope
    if scope.empty:
        raise ValueError("a scope needs at least one admin-unit code (e.g. BGD, BGD-07, ZVK), or 'national' for "
                         "an admin")
    known = {u.code for u in AdminUnit.select(AdminUnit.code).where(AdminUnit.code.in_(scope.codes))}
    unknown = [c for c in scope.codes if c not in known]
    if unknown:
        raise ValueError(f"no admin unit with code {', '.join(unknown)}")
    return scope


def scope_unit_ids(scope: Scope) -> list[int] | None:
    """Ids of every admin unit `scope` covers, every version of each; None for national (no filter needed)."""
    if scope.national:
        return None
    if not scope.codes:
        return []
    found = {u.id for u in AdminUnit.select(AdminUnit.id).where(AdminUnit.code.in_(scope.codes))}
    frontier = list(found)
    while frontier:  # unit trees are a few levels deep: one query per level
        frontier = [u.id for u in AdminUnit.select(AdminUnit.id).where(AdminUnit.parent.in_(frontier))
                    if u.id not in found]
        found.update(frontier)
    return sorted(found)


def in_scope(field: pw.Field, scope: Scope) -> pw.Expression:
    """A `.where()` condition keeping rows whose admin unit (`field`) lies in `scope`."""
    ids = scope_unit_ids(scope)
    if ids is None:
        return pw.SQL("1 = 1")
    if not ids:
        return pw.SQL("1 = 0")
    return field.in_(ids)


@dataclass(frozen=True)
class Principal:
    """Whoever is asking: what they may do (role) and see (scope), and whom they act for."""

    kind: str  # token | user | cli
    id: int | None
    name: str
    role: str
    scope: Scope
    organisation: str | None = None

    def at_least(self, role: str) -> bool:
        return role_at_least(self.role, role)

    @property
    def national(self) -> bool:
        return self.scope.national

    def covers(self, unit_id: int | None) -> bool:
        """Whether a record of admin unit `unit_id` is inside this principal's scope (None: only national)."""
        ids = scope_unit_ids(self.scope)
        return ids is None or (unit_id is not None and unit_id in ids)

    @property
    def label(self) -> str:
        """How the audit log names this principal: "token:3 CSO Khoroo 7 (Ирээдүй ТББ)"."""
        who = f"{self.kind}:{self.id} {self.name}" if self.id is not None else f"{self.kind} {self.name}"
        return who + (f" ({self.organisation})" if self.organisation else "")


def cli_principal(name: str = "operator") -> Principal:
    """The person at the server's shell: they hold the database itself, so admin and national."""
    return Principal("cli", None, name, "admin", Scope.NATIONAL)


def organisation_named(name: str | None) -> Organisation | None:
    if not name or not name.strip():
        return None
    organisation, _ = Organisation.get_or_create(name=name.strip())
    return organisation


def audience_within(specs: Iterable[str], unit_ids: list[int] | None) -> bool:
    """Whether a broadcast or meeting audience (["khoroo:BGD-07", "group:volunteers", "round:3"]) lies wholly
    inside the units `unit_ids` (None: everywhere). A group counts as inside when all its members' units are."""
    if unit_ids is None:
        return True
    allowed = set(unit_ids)
    return all(_spec_units(spec) <= allowed for spec in specs) and bool(list(specs))


def _spec_units(spec: str) -> set[int | None]:
    """The admin units an audience spec reaches (None stands for people whose unit is unknown)."""
    from storage.meetings import ContactGroup, ContactGroupMember, unit_subtree_ids  # audience kinds live there
    from storage.models import Contact, ServicePoint
    from storage.scorecards import Round

    kind, _, value = spec.partition(":")
    kind, value = kind.strip().lower(), value.strip()
    if kind == "group":
        members = (Contact.select(Contact.admin_unit).join(ContactGroupMember).join(ContactGroup)
                   .where(ContactGroup.name == value))
        return {row.admin_unit_id for row in members} or {None}
    if kind == "round":
        point = (ServicePoint.select(ServicePoint.admin_unit).join(Round)
                 .where(Round.id == int(value) if value.isdigit() else Round.id == -1).first())
        return {point.admin_unit_id if point else None}
    try:
        return set(unit_subtree_ids(kind, value))
    except ValueError:
        return {None}


def unit_in_scope(code: str, scope: Scope) -> bool:
    """Whether the admin unit `code` exists and lies inside `scope` (so one answer serves missing and forbidden)."""
    ids = {u.id for u in AdminUnit.select(AdminUnit.id).where(AdminUnit.code == code)}
    allowed = scope_unit_ids(scope)
    return bool(ids) and (allowed is None or ids <= set(allowed))
