"""Console users, their scope, login throttling, and the staff ↔ citizen thread of a complaint.

A console user is a principal of the access model (storage.access), like an API token: a role (cso < staff < admin),
a scope of admin units stored as text like a token's ("BGD,ZAV-IDER": those units and everything below them;
"national": the whole country, admins only) and an organisation. Passwords are stored only as hashes made by the
caller (werkzeug's scrypt).
"""
from __future__ import annotations

import datetime as dt
import hashlib

import peewee as pw

from storage.access import ROLES, Principal, Scope, check_scope, organisation_named
from storage.complaints import Complaint
from storage.db import BaseModel, database, utcnow
from storage.models import AdminUnit, Contact, FlowRun, Message, Organisation, ServicePoint

USERNAME_MAX = 64


class ConsoleUser(BaseModel):
    username = pw.CharField(unique=True)  # lower case; never a phone number (refused when created)
    display_name = pw.CharField()
    role = pw.CharField()  # cso | staff | admin
    scope = pw.TextField(default="")  # storage.access.Scope as text: "national" or admin-unit codes "BGD,ZAV-IDER"
    organisation = pw.ForeignKeyField(Organisation, null=True, backref="console_users", on_delete="SET NULL")
    password_hash = pw.CharField(null=True)  # null until an invited user sets a password
    invite_hash = pw.CharField(null=True, unique=True)  # SHA-256 of the one-time invite token
    invite_expires_at = pw.DateTimeField(null=True)
    session_epoch = pw.IntegerField(default=0)  # bumped to end every session of this user at once
    created_by = pw.CharField(default="cli")
    created_at = pw.DateTimeField(default=utcnow)
    last_login_at = pw.DateTimeField(null=True)
    disabled_at = pw.DateTimeField(null=True)


class LoginThrottle(BaseModel):
    """Failed logins per key ("user:<sha256 of the name>" or "ip:<address>"): slowed, then locked."""

    key = pw.CharField(primary_key=True)
    failures = pw.IntegerField(default=0)
    last_failure_at = pw.DateTimeField(null=True)
    blocked_until = pw.DateTimeField(null=True)


class ComplaintMessage(BaseModel):
    """One message of the pseudonymous thread between staff and the citizen behind a complaint."""

    complaint = pw.ForeignKeyField(Complaint, backref="thread", on_delete="CASCADE")
    direction = pw.CharField()  # out (staff → citizen) | in (citizen → staff)
    text = pw.TextField()
    actor = pw.CharField()  # console user name, or "citizen"
    message = pw.ForeignKeyField(Message, null=True, backref="complaint_thread", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)


MODELS = [ConsoleUser, LoginThrottle, ComplaintMessage]


class UserError(ValueError):
    """A user that cannot be created or changed as asked; the message says why."""


def hash_invite(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---- users --------------------------------------------------------------------------------------------------


def create_user(username: str, display_name: str, role: str, unit_codes: list[str], organisation: str | None,
                password_hash: str | None, created_by: str, invite_token: str | None = None,
                invite_days: int = 7) -> ConsoleUser:
    name = (username or "").strip().lower()
    if not name or len(name) > USERNAME_MAX or not all(c.isalnum() or c in "._-" for c in name):
        raise UserError("a user name is 1-64 letters, digits, dots, dashes or underscores")
    if sum(c.isdigit() for c in name) >= 6:
        raise UserError("a user name must not be a phone number")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    scope = scope_text(role, unit_codes)
    if ConsoleUser.get_or_none(ConsoleUser.username == name) is not None:
        raise UserError(f"there is already a user {name!r}")
    expires = utcnow() + dt.timedelta(days=invite_days) if invite_token else None
    return ConsoleUser.create(username=name, display_name=(display_name or name).strip()[:120], role=role,
                              scope=scope, organisation=organisation_named(organisation),
                              password_hash=password_hash, invite_hash=hash_invite(invite_token) if invite_token
                              else None, invite_expires_at=expires, created_by=created_by)


def scope_text(role: str, unit_codes: list[str]) -> str:
    """The stored scope: the given admin units, or national for an admin given none (storage.access rules)."""
    scope = Scope.of(unit_codes) if any(c and c.strip() for c in unit_codes) else Scope.NATIONAL
    if scope.national and role != "admin":
        raise UserError("a cso or staff user needs at least one admin unit (--unit CODE)")
    try:
        return str(check_scope(role, scope))
    except ValueError as exc:
        raise UserError(str(exc)) from None


def principal_of(user: ConsoleUser) -> Principal:
    organisation = Organisation.get_or_none(Organisation.id == user.organisation_id) if user.organisation_id else None
    return Principal("user", user.id, user.username, user.role, Scope.parse(user.scope),
                     organisation.name if organisation else None)


def organisation_of(user: ConsoleUser) -> str | None:
    return principal_of(user).organisation


def user_by_id(user_id: int) -> ConsoleUser | None:
    return ConsoleUser.get_or_none(ConsoleUser.id == user_id)


def user_by_name(username: str) -> ConsoleUser | None:
    return ConsoleUser.get_or_none(ConsoleUser.username == (username or "").strip().lower())


def user_by_invite(token: str) -> ConsoleUser | None:
    user = ConsoleUser.get_or_none(ConsoleUser.invite_hash == hash_invite(token))
    if user is None or user.disabled_at or (user.invite_expires_at and user.invite_expires_at < utcnow()):
        return None
    return user


def accept_invite(user: ConsoleUser, password_hash: str) -> None:
    (ConsoleUser.update(password_hash=password_hash, invite_hash=None, invite_expires_at=None,
                        session_epoch=ConsoleUser.session_epoch + 1)
     .where(ConsoleUser.id == user.id).execute())


def reinvite(user: ConsoleUser, token: str, days: int = 7) -> None:
    (ConsoleUser.update(invite_hash=hash_invite(token), invite_expires_at=utcnow() + dt.timedelta(days=days))
     .where(ConsoleUser.id == user.id).execute())


def set_password(user: ConsoleUser, password_hash: str) -> None:
    (ConsoleUser.update(password_hash=password_hash, session_epoch=ConsoleUser.session_epoch + 1)
     .where(ConsoleUser.id == user.id).execute())


def update_user(user: ConsoleUser, role: str, unit_codes: list[str], organisation: str | None) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    (ConsoleUser.update(role=role, scope=scope_text(role, unit_codes), organisation=organisation_named(organisation),
                        session_epoch=ConsoleUser.session_epoch + 1)
     .where(ConsoleUser.id == user.id).execute())


def set_disabled(user: ConsoleUser, disabled: bool) -> None:
    (ConsoleUser.update(disabled_at=utcnow() if disabled else None, session_epoch=ConsoleUser.session_epoch + 1)
     .where(ConsoleUser.id == user.id).execute())


def record_login(user: ConsoleUser) -> None:
    ConsoleUser.update(last_login_at=utcnow()).where(ConsoleUser.id == user.id).execute()


def list_users() -> list[ConsoleUser]:
    return list(ConsoleUser.select().order_by(ConsoleUser.username))


def unit_codes_of(user: ConsoleUser) -> list[str]:
    """The admin-unit codes of the user's scope; [] for national."""
    return list(Scope.parse(user.scope).codes)


def count_admins() -> int:
    return ConsoleUser.select().where((ConsoleUser.role == "admin") & ConsoleUser.disabled_at.is_null()).count()


# ---- login throttling ---------------------------------------------------------------------------------------


def throttle_of(key: str) -> LoginThrottle | None:
    return LoginThrottle.get_or_none(LoginThrottle.key == key)


def record_failure(key: str, now: dt.datetime, blocked_until: dt.datetime | None) -> int:
    """Count one failure for `key`; returns the new count."""
    row, _ = LoginThrottle.get_or_create(key=key)
    (LoginThrottle.update(failures=LoginThrottle.failures + 1, last_failure_at=now, blocked_until=blocked_until)
     .where(LoginThrottle.key == key).execute())
    return row.failures + 1


def set_blocked_until(key: str, until: dt.datetime | None) -> None:
    LoginThrottle.update(blocked_until=until).where(LoginThrottle.key == key).execute()


def clear_failures(key: str) -> None:
    LoginThrottle.delete().where(LoginThrottle.key == key).execute()


def locked_keys(now: dt.datetime) -> list[LoginThrottle]:
    return list(LoginThrottle.select().where(LoginThrottle.blocked_until > now))


# ---- the complaint thread -----------------------------------------------------------------------------------


def add_thread_message(complaint_id: int, direction: str, text: str, actor: str,
                       message: Message | None = None) -> ComplaintMessage:
    return ComplaintMessage.create(complaint=complaint_id, direction=direction, text=text, actor=actor,
                                   message=message)


def thread_of(complaint_id: int) -> list[ComplaintMessage]:
    return list(ComplaintMessage.select(ComplaintMessage, Message).join(Message, pw.JOIN.LEFT_OUTER)
                .where(ComplaintMessage.complaint == complaint_id)
                .order_by(ComplaintMessage.created_at, ComplaintMessage.id))


# ---- scope ------------------------------------------------------------------------------------------------


def _within(field, scope: set[int] | None):
    """A condition: `field` (an admin unit id) lies in `scope`; everything when scope is None."""
    return pw.SQL("1 = 1") if scope is None else field.in_(sorted(scope))


def group_members_outside(group_name: str, scope: set[int]) -> int:
    """Members of a contact group who live outside `scope` (or whose area is unknown); -1 for no such group."""
    from storage.meetings import ContactGroup, ContactGroupMember

    group = ContactGroup.get_or_none(ContactGroup.name == group_name)
    if group is None:
        return -1
    return (ContactGroupMember.select().join(Contact, on=(ContactGroupMember.contact == Contact.id))
            .where((ContactGroupMember.group == group)
                   & (Contact.admin_unit.is_null() | Contact.admin_unit.not_in(sorted(scope)))).count())


def round_unit_id(round_id: int) -> int | None:
    from storage.scorecards import Round

    row = (Round.select(ServicePoint.admin_unit).join(ServicePoint).where(Round.id == round_id).tuples().first())
    return row[0] if row else None


# ---- the dashboard ----------------------------------------------------------------------------------------


def completed_runs(scope: set[int] | None, since: dt.datetime, until: dt.datetime) -> int:
    return (FlowRun.select().join(Contact, on=(FlowRun.contact == Contact.id))
            .where((FlowRun.status == "completed") & (FlowRun.ended_at >= since) & (FlowRun.ended_at < until)
                   & _within(Contact.admin_unit, scope)).count())


def inbound_count(scope: set[int] | None, since: dt.datetime, until: dt.datetime) -> int:
    return (Message.select().join(Contact, on=(Message.contact == Contact.id))
            .where((Message.direction == "in") & (Message.created_at >= since) & (Message.created_at < until)
                   & _within(Contact.admin_unit, scope)).count())


def complaint_counts(scope: set[int] | None, now: dt.datetime) -> dict[str, int]:
    from storage.complaints import OPEN_STATUSES, Complaint

    open_ = Complaint.select().where(Complaint.status.in_(OPEN_STATUSES) & _within(Complaint.admin_unit, scope))
    return {"open": open_.count(), "overdue": open_.where(Complaint.due_at < now).count()}


def sends_by_status(scope: set[int] | None, since: dt.datetime, until: dt.datetime) -> dict[str, int]:
    query = (Message.select(Message.status, pw.fn.COUNT(Message.id).alias("n"))
             .join(Contact, on=(Message.contact == Contact.id))
             .where((Message.direction == "out") & (Message.created_at >= since) & (Message.created_at < until)
                    & _within(Contact.admin_unit, scope))
             .group_by(Message.status))
    return {row["status"]: row["n"] for row in query.dicts()}


def segments_sent_by_channel(scope: set[int] | None, since: dt.datetime, until: dt.datetime) -> dict[str, int]:
    query = (Message.select(Message.channel, pw.fn.SUM(pw.fn.COALESCE(Message.segments, 1)).alias("n"))
             .join(Contact, on=(Message.contact == Contact.id))
             .where((Message.direction == "out") & Message.status.in_(("sent", "delivered"))
                    & (Message.sent_at >= since) & (Message.sent_at < until) & _within(Contact.admin_unit, scope))
             .group_by(Message.channel))
    return {row["channel"]: int(row["n"] or 0) for row in query.dicts()}


# ---- complaints -------------------------------------------------------------------------------------------


def complaint_inbox(scope: set[int] | None, *, statuses: tuple[str, ...] | None, category: str | None,
                    unit_ids: list[int] | None, overdue: bool, now: dt.datetime, sensitive: str, limit: int,
                    offset: int):
    """Complaints for the inbox, newest first. `sensitive`: "exclude", "include" or "only"."""
    from storage.complaints import OPEN_STATUSES, Complaint

    query = (Complaint.select().where(_within(Complaint.admin_unit, scope))
             .order_by(Complaint.created_at.desc(), Complaint.id.desc()))
    if statuses:
        query = query.where(Complaint.status.in_(statuses))
    if category:
        query = query.where(Complaint.category == category)
    if unit_ids is not None:
        query = query.where(Complaint.admin_unit.in_(unit_ids))
    if overdue:
        query = query.where(Complaint.status.in_(OPEN_STATUSES) & (Complaint.due_at < now))
    if sensitive == "exclude":
        query = query.where(Complaint.sensitive == False)  # noqa: E712  (peewee expression)
    elif sensitive == "only":
        query = query.where(Complaint.sensitive == True)  # noqa: E712
    return list(query.limit(limit).offset(offset)), query.count()


def complaint_categories() -> list[str]:
    from storage.complaints import Complaint

    return [row[0] for row in Complaint.select(Complaint.category).distinct().order_by(Complaint.category).tuples()]


def link_thread_message(entry: ComplaintMessage, message: Message) -> None:
    ComplaintMessage.update(message=message).where(ComplaintMessage.id == entry.id).execute()


def latest_out_thread_message(contact_id: int) -> ComplaintMessage | None:
    """The last staff message to this contact: the one their answer belongs to."""
    return (ComplaintMessage.select().join(Complaint, on=(ComplaintMessage.complaint == Complaint.id))
            .where((Complaint.contact == contact_id) & (ComplaintMessage.direction == "out"))
            .order_by(ComplaintMessage.id.desc()).first())


# ---- admin units ------------------------------------------------------------------------------------------


def current_units(scope: set[int] | None = None) -> list[AdminUnit]:
    """Units in use today (no end date), in tree order by code; only those in `scope` when given."""
    query = AdminUnit.select().where(AdminUnit.valid_to.is_null()).order_by(AdminUnit.code)
    return [unit for unit in query if scope is None or unit.id in scope]


def contact_groups(scope: set[int] | None) -> list:
    """Contact groups usable inside `scope` (every member lives there), with their member counts."""
    from storage.meetings import ContactGroup, ContactGroupMember

    counts = dict(ContactGroupMember.select(ContactGroupMember.group, pw.fn.COUNT(ContactGroupMember.id))
                  .group_by(ContactGroupMember.group).tuples())
    groups = []
    for group in ContactGroup.select().order_by(ContactGroup.name):
        if scope is None or group_members_outside(group.name, scope) == 0:
            group.member_count = counts.get(group.id, 0)
            groups.append(group)
    return groups


def contact_counts_by_unit(scope: set[int] | None) -> dict[int | None, dict[str, int]]:
    """Per admin unit: people who can be reached, and who opted out. Counts only; never a contact or a number."""
    reachable = pw.Case(None, [((Contact.consent_at.is_null(False)) & Contact.opted_out_at.is_null(), 1)], 0)
    opted_out = pw.Case(None, [(Contact.opted_out_at.is_null(False), 1)], 0)
    query = (Contact.select(Contact.admin_unit, pw.fn.SUM(reachable).alias("reachable"),
                            pw.fn.SUM(opted_out).alias("opted_out"))
             .where(_within(Contact.admin_unit, scope)).group_by(Contact.admin_unit))
    return {row["admin_unit"]: {"reachable": int(row["reachable"] or 0), "opted_out": int(row["opted_out"] or 0)}
            for row in query.dicts()}


def add_admin_units(rows: list[dict], valid_from: dt.date) -> list[AdminUnit]:
    """New current units from rows {code, kind, parent, name_mn, name_latn, name_en}, parents first (a parent
    may be an earlier row). The caller has checked the rows; a clash raises peewee.IntegrityError and adds none."""
    made = []
    with database.atomic():
        for row in rows:
            parent = AdminUnit.get((AdminUnit.code == row["parent"]) & AdminUnit.valid_to.is_null())
            made.append(AdminUnit.create(code=row["code"], kind=row["kind"], parent=parent, name_mn=row["name_mn"],
                                         name_latn=row["name_latn"], name_en=row["name_en"], valid_from=valid_from))
    return made
