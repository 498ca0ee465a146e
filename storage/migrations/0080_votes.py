"""0080: participatory-budgeting votes (Local Development Fund). Frozen copies of the models as they were."""
from __future__ import annotations

import peewee as pw

from storage.db import BaseModel, utcnow


class AdminUnit(BaseModel):  # frozen stubs: only what the foreign keys need
    class Meta:
        table_name = "admin_unit"


class Contact(BaseModel):
    class Meta:
        table_name = "contact"


class VoteRound(BaseModel):
    admin_unit = pw.ForeignKeyField(AdminUnit, backref="vote_rounds", on_delete="RESTRICT")
    status = pw.CharField(default="draft", index=True)
    max_choices = pw.SmallIntegerField(default=1)
    fund_amount = pw.BigIntegerField(null=True)
    opens_on = pw.DateField(null=True)
    closes_on = pw.DateField(null=True)
    opened_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True)
    min_cell = pw.IntegerField(default=5)
    next_steps_mn = pw.TextField(null=True)
    next_steps_en = pw.TextField(null=True)
    next_steps_latn = pw.TextField(null=True)
    results_sent_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)


class VoteProject(BaseModel):
    round = pw.ForeignKeyField(VoteRound, backref="projects", on_delete="CASCADE", index=False)
    number = pw.SmallIntegerField()
    name_mn = pw.CharField()
    name_en = pw.CharField()
    name_latn = pw.CharField(null=True)
    description_mn = pw.CharField(null=True)
    description_en = pw.CharField(null=True)
    description_latn = pw.CharField(null=True)

    class Meta:
        indexes = ((("round", "number"), True),)


class Ballot(BaseModel):
    round = pw.ForeignKeyField(VoteRound, backref="ballots", on_delete="CASCADE", index=False)
    contact = pw.ForeignKeyField(Contact, backref="ballots", on_delete="CASCADE")
    choice_bits = pw.IntegerField()
    out_of_area = pw.BooleanField(default=False)
    group = pw.CharField(default="unspecified")
    channel = pw.CharField(default="sms")
    changes = pw.IntegerField(default=0)
    first_voted_at = pw.DateTimeField(default=utcnow)
    voted_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("round", "contact"), True),)


class VoteCast(BaseModel):
    round = pw.ForeignKeyField(VoteRound, backref="casts", on_delete="CASCADE", index=False)
    choice_bits = pw.IntegerField()
    new_contact = pw.BooleanField(default=False)
    replaced = pw.BooleanField(default=False)
    cast_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("round", "cast_at"), False),)


MODELS = [VoteRound, VoteProject, Ballot, VoteCast]


def up(migrator, db):
    db.create_tables(MODELS)


def down(migrator, db):
    db.drop_tables(list(reversed(MODELS)))
