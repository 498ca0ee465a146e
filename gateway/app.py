"""The app factory: configuration, database, flows, blueprints. No work happens at import time."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from gateway.config import ensure_instance, load_config
from gateway.logs import configure_logging, init_request_logging, log_event
from gateway.scheduler import process_id
from storage.db import database, open_database, upgrade

MAX_BODY_BYTES = 64 * 1024
BUNDLED_FLOWS = Path(__file__).resolve().parent.parent / "flows"


def create_app(config_path: str | None = None, **overrides) -> Flask:
    """Build the app. `overrides` use config keys (`database_url=…`, `scheduler={"enabled": False}`);
    `testing=True` sets Flask's TESTING; `migrate=False` skips applying pending migrations."""
    testing = overrides.pop("testing", False)
    migrate = overrides.pop("migrate", True)
    config = load_config(config_path, overrides)
    configure_logging(config["log_level"])
    ensure_instance(config)

    app = Flask(__name__, instance_path=config["instance_path"])
    app.config.update(GATEWAY=config, SECRET_KEY=config["secret_key"], MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
                      TESTING=testing)
    app.extensions["gateway.process_id"] = process_id()
    open_database(config["database_url"])
    if migrate:
        with database.connection_context():
            upgrade()
    flowset = app.extensions["gateway.flows"] = load_flowset(config)
    if flowset.errors:
        broken = ", ".join(sorted({issue.file for issue in flowset.errors}))
        app.extensions.setdefault("gateway.warnings", []).append(f"broken flows left out: {broken}")
    _register_blueprints(app)
    _register_error_handlers(app)
    init_request_logging(app)
    app.teardown_appcontext(_close_database)
    return app


def load_flowset(config: dict):
    """Compile every flow once. A broken flow is left out, logged here and listed on /healthz."""
    from flows.loader import load_flows

    flowset = load_flows(config["flows"]["paths"], bundled=config["flows"]["bundled"])
    for issue in flowset.errors:
        log_event("flows.broken", logging.WARNING, issue=str(issue))
    return flowset


def _register_blueprints(app: Flask) -> None:
    from gateway import api, console, health, records, webhooks

    records.load_record_modules()  # complaints, scorecards, meetings, join: what finished flows mean

    app.register_blueprint(health.bp)
    webhooks.init_app(app)
    api.init_app(app)
    console.init_app(app)


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return jsonify(error=exc.name, detail=exc.description), exc.code


def _close_database(_exc) -> None:
    # Leave the connection to an enclosing `connection_context()` (a job, a CLI command, a test) to close.
    if not database.is_closed() and not database._state.ctx and not database.in_transaction():
        database.close()
