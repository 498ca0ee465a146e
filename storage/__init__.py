"""Peewee models, migrations and queries. All SQL lives here; nothing here imports `gateway` or a channel."""
