"""The JSON API under /api/v1: one sub-blueprint per feature, all behind bearer tokens (see `auth`).

A feature adds its module to API_MODULES; the module exposes `bp`, a Blueprint whose views use
`gateway.api.auth.require_role`, and `gateway.api.validation.accepts`/`responds` with the models of
`gateway.api.schemas`. /api/v1/openapi.json is built from the registered routes and those models.
"""
from __future__ import annotations

import importlib

from flask import Blueprint, Flask

from gateway.api import validation

API_MODULES = [
    "gateway.api.openapi",
    "gateway.api.digests",
    "gateway.api.rounds",
    "gateway.api.complaints",
    "gateway.api.exports",
    "gateway.api.meetings",
    "gateway.api.broadcasts",
    "gateway.api.votes",
]


def init_app(app: Flask) -> None:
    api = Blueprint("api", __name__, url_prefix="/api/v1")
    validation.init_api(app, api)
    for name in API_MODULES:
        api.register_blueprint(importlib.import_module(name).bp)
    app.register_blueprint(api)
