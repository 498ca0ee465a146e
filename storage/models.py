"""Core tables: contacts, the phone-number vault, the message log/outbox, flow runs, admin units, tokens.

Feature tables (meetings, scorecards, complaints…) live in their own modules beside this one.
Every datetime is naive UTC (see `storage.db.utcnow`).
"""
from __future__ import annotations

import peewee as pw

from storage.db import BaseModel, JSONField, utcnow
from storage.phones import MaskedTextField


class AdminUnit(BaseModel):
    """Versioned reference data: a unit may be split or renumbered, so rows carry valid_from/valid_to."""

    code = pw.CharField(index=True)
    kind = pw.CharField()  # capital | aimag | district | soum | khoroo | bag | kheseg
    parent = pw.ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    name_mn = pw.CharField()
    name_latn = pw.CharField()
    name_en = pw.CharField()
    valid_from = pw.DateField()
    valid_to = pw.DateField(null=True)

    class Meta:
        indexes = ((("code", "valid_from"), True),)


class ServicePoint(BaseModel):
    code = pw.CharField(unique=True)
    kind = pw.CharField()  # kindergarten | school | health_centre | water_kiosk | waste_route | hospital | …
    name_mn = pw.CharField()
    name_en = pw.CharField()
    admin_unit = pw.ForeignKeyField(AdminUnit, backref="service_points", on_delete="RESTRICT")


class Contact(BaseModel):
    """A person, known only by a pseudonymous key; the number itself sits in PhoneNumber."""

    key = pw.CharField(unique=True)  # HMAC(secret key, E.164)
    language = pw.CharField(default="mn")  # mn | en
    script = pw.CharField(null=True)  # cyrl | latn; null = follow the script the person last wrote in
    last_script = pw.CharField(null=True)
    admin_unit = pw.ForeignKeyField(AdminUnit, null=True, backref="contacts", on_delete="SET NULL")
    consent_at = pw.DateTimeField(null=True)
    consent_version = pw.CharField(null=True)
    consent_source = pw.CharField(null=True)  # sms | ussd | import
    opted_out_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    last_seen_at = pw.DateTimeField(null=True)

    @property
    def reachable(self) -> bool:
        return self.consent_at is not None and self.opted_out_at is None


class PhoneNumber(BaseModel):
    """The PII vault: read only by the code that sends."""

    contact = pw.ForeignKeyField(Contact, unique=True, backref="phone", on_delete="CASCADE")
    e164 = pw.CharField(unique=True)


class OptOutTombstone(BaseModel):
    """A STOP that outlives the person's data: retention deleted their number, but an imported list must not sign
    them up again. Only the pseudonymous key is kept (storage.retention)."""

    key = pw.CharField(unique=True)
    opted_out_at = pw.DateTimeField()


class Message(BaseModel):
    """Inbound log and outbound outbox in one table.

    Outbound status moves queued → sending → sent → delivered | failed (or cancelled); see `storage.outbox`.
    """

    direction = pw.CharField()  # in | out
    contact = pw.ForeignKeyField(Contact, null=True, backref="messages", on_delete="CASCADE")
    channel = pw.CharField()  # africastalking | twilio | android | …
    phone = pw.CharField(null=True)  # android: the pool phone it is assigned to ("android" or "android:<name>")
    kind = pw.CharField(default="sms")  # sms | ussd
    provider_id = pw.CharField(null=True)
    text = pw.TextField()  # exactly as received / as sent
    text_norm = pw.TextField(null=True)  # normalised copy for matching
    status = pw.CharField(index=True)
    priority = pw.IntegerField(default=0)  # 0 = reply, 10 = bulk: lower goes first
    purpose = pw.CharField(default="reply")  # reply | notice | reminder | broadcast | digest | loop_close …
    origin = pw.CharField(null=True)  # e.g. "broadcast:12", "meeting:3:reminder:1"
    idempotency_key = pw.CharField(null=True, unique=True)  # makes an enqueue safe to repeat
    encoding = pw.CharField(null=True)  # GSM-7 | UCS-2
    segments = pw.IntegerField(null=True)
    attempts = pw.IntegerField(default=0)
    last_error = MaskedTextField(null=True)  # numbers masked when written: provider errors quote them
    next_attempt_at = pw.DateTimeField(null=True, index=True)
    response = pw.TextField(null=True)  # what we answered (USSD screen, TwiML) so a redelivery gets the same
    in_reply_to = pw.ForeignKeyField("self", null=True, backref="replies", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("channel", "direction", "provider_id"), True),)


class FlowRun(BaseModel):
    """One walk of one person through one flow; `state` is the engine's plain-data state."""

    contact = pw.ForeignKeyField(Contact, backref="runs", on_delete="CASCADE")
    flow_id = pw.CharField(index=True)
    flow_version = pw.IntegerField(default=1)
    channel = pw.CharField()  # sms | ussd
    session_key = pw.CharField(null=True, index=True)  # USSD provider session id
    status = pw.CharField(default="active", index=True)  # active | completed | interrupted | expired | failed
    state = JSONField(default=dict)
    started_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField(null=True, index=True)
    ended_at = pw.DateTimeField(null=True)


class FlowResult(BaseModel):
    run = pw.ForeignKeyField(FlowRun, backref="results", on_delete="CASCADE")
    name = pw.CharField()
    value = pw.TextField(null=True)
    category = pw.CharField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("run", "name"), True),)


class Organisation(BaseModel):
    """The body a token or a console user acts for (a CSO, a district office); see `storage.access`."""

    name = pw.CharField(unique=True)
    created_at = pw.DateTimeField(default=utcnow)


class ApiToken(BaseModel):
    """A bearer token: a role, a scope of admin units (`storage.access.Scope` as text) and an expiry."""

    name = pw.CharField()
    role = pw.CharField()  # cso | staff | admin
    scope = pw.TextField(default="")  # "national" or admin-unit codes "BGD,ZVK-03"
    organisation = pw.ForeignKeyField(Organisation, null=True, backref="tokens", on_delete="SET NULL")
    token_hash = pw.CharField(unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField(null=True)
    last_used_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)


class AuditLog(BaseModel):
    """Who read or changed what (see `storage.audit`); never a phone number or a message text."""

    token = pw.ForeignKeyField(ApiToken, null=True, backref="audit", on_delete="SET NULL")
    actor = pw.CharField()  # the principal's label: "token:3 CSO Khoroo 7 (org)", "cli operator", "user:5 …"
    actor_kind = pw.CharField(null=True)  # token | user | cli | system
    role = pw.CharField(null=True)  # the actor's role at the time
    organisation = pw.CharField(null=True)
    action = pw.CharField(index=True)  # complaint.read, export.flow, token.create, contact.forget…
    target = pw.CharField(null=True)  # complaint:G-0412, flow:complaint, token:7, contact:12…
    detail = pw.TextField(null=True)  # e.g. the filters of an export, a status change "new -> routed"
    at = pw.DateTimeField(default=utcnow, index=True)


class Lease(BaseModel):
    """A named lease held by one process at a time: it makes scheduled jobs run once across processes."""

    name = pw.CharField(primary_key=True)
    holder = pw.CharField()
    expires_at = pw.DateTimeField()


CORE_MODELS = [AdminUnit, ServicePoint, Contact, PhoneNumber, OptOutTombstone, Message, FlowRun, FlowResult,
               Organisation, ApiToken, AuditLog, Lease]
