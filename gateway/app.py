"""The app factory: configuration, database, flows, blueprints. No work happens at import time."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, ServiceUnavailable
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.config import ConfigError, ensure_instance, load_config, trusted_proxy_count
from gateway.config import warnings as config_warnings
from gateway.logs import configure_logging, init_request_logging, log_event
from gateway.scheduler import process_id
from gateway.secrets import resolve_pseudonym_key
from storage.db import (
    DATABASE_ERRORS,
    connection_is_usable,
    database,
    drop_connection,
    is_unavailable,
    open_database,
    upgrade,
)

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

    app = Flask(__name__, instance_path=config["instance_path"], static_folder=None)  # every route needs a role
    app.config.update(GATEWAY=config, SECRET_KEY=config["secret_key"], MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
                      TESTING=testing)
    app.extensions["gateway.process_id"] = process_id()
    app.extensions["gateway.warnings"] = config_warnings(config)
    if trusted_proxy_count(config):  # client address, scheme: the right-most values our own proxies added
        proxies = trusted_proxy_count(config)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    open_database(config["database_url"])
    with database.connection_context():
        if migrate:
            upgrade()
        resolve_pseudonym_key(config)
    flowset = app.extensions["gateway.flows"] = load_flowset(config)
    app.extensions["gateway.lexicon"] = load_lexicon(config["flows"]["lexicon_paths"])
    if flowset.errors:
        broken = ", ".join(sorted({issue.file for issue in flowset.errors}))
        app.extensions.setdefault("gateway.warnings", []).append(f"broken flows left out: {broken}")
    _register_conversation(app)
    _register_jobs(app)
    _register_blueprints(app)
    _register_error_handlers(app)
    init_request_logging(app)
    app.before_request(_usable_connection)
    app.teardown_appcontext(_release_database)
    return app


def load_lexicon(paths: list[str]):
    """The bundled words people use for yes, no, numbers and RSVPs, plus staff's own files (a broken file
    stops the start with its path and the reason, like any other bad configuration)."""
    from flows.lexicon import LexiconError
    from flows.lexicon import load_lexicon as load

    try:
        return load(tuple(paths))
    except LexiconError as error:
        raise ConfigError(f"flows.lexicon_paths: {error}") from None


def load_flowset(config: dict):
    """Compile every flow once. A broken flow is left out, logged here and listed on /healthz."""
    from flows.loader import load_flows

    flowset = load_flows(config["flows"]["paths"], bundled=config["flows"]["bundled"])
    for issue in flowset.errors:
        log_event("flows.broken", logging.WARNING, issue=str(issue))
    return flowset


def _register_conversation(app: Flask) -> None:
    """What flows read (by flow id or `records` kind) and what finished runs mean (by effect type)."""
    from flows import effects
    from gateway import complaint_thread, complaints, conversation, join, meetings, scorecards, votes

    conversation.init_app(
        app,
        data={"complaint_followup": complaints.followup_data, "scorecard": scorecards.rounds_near,
              "rsvp": meetings.meeting_data, "complaint_reply": complaint_thread.reply_data,
              "ldf_vote": votes.vote_data},
        records={effects.RecordComplaint: complaints.record_complaint,
                 effects.RecordFollowup: complaints.record_followup, effects.RecordScores: scorecards.record_scores,
                 effects.RecordRsvp: meetings.record_rsvp, effects.JoinUnit: join.join_unit,
                 effects.RecordCitizenReply: complaint_thread.record_citizen_reply,
                 effects.RecordVote: votes.record_vote})


def _register_jobs(app: Flask) -> None:
    from gateway import conversation_jobs, digests, meetings, outbox_jobs, retention, scheduler, votes
    from gateway.scheduler import Job

    scheduler.init_app(app, [
        Job("outbox.dispatch", outbox_jobs.dispatch_outbox, "interval", {"seconds": 2}),
        Job("android.watchdog", outbox_jobs.poll_phone, "interval", {"minutes": 1}),
        Job("meetings.due", meetings.run_due, "interval", {"seconds": 15}),
        Job("conversation.expire", conversation_jobs.expire_runs, "interval", {"minutes": 1}),
        Job("digests.weekly", digests.send_weekly, "cron", {"day_of_week": "mon", "hour": 8, "minute": 0}),
        Job("retention.purge", retention.purge_expired, "cron", {"hour": 3, "minute": 30}),
        Job("votes.close_due", votes.close_due, "interval", {"minutes": 5}),
    ])


def _register_blueprints(app: Flask) -> None:
    from gateway import api, console, health, webhooks

    app.register_blueprint(health.bp)
    webhooks.init_app(app)
    api.init_app(app)
    console.init_app(app)


DATABASE_AWAY = ("Өгөгдлийн сан түр ажиллахгүй байна, дахин оролдоно уу. / "
                 "The database is unavailable for a moment; try again.")
RETRY_AFTER_SECONDS = 5


def _register_error_handlers(app: Flask) -> None:
    def _database_unavailable(exc: Exception):
        """PostgreSQL restarting (or SQLite busy too long): 503 at once, not a 500 or a hang. The connection is
        dropped, so the first request after the database is back opens a fresh one: recovery needs nobody."""
        if not is_unavailable(exc):
            raise exc  # a fault of ours (SQLite's "no such table"…): Flask's own 500, with its traceback logged
        drop_connection()
        log_event("database.unavailable", logging.WARNING, error=f"{type(exc).__name__}: {str(exc)[:120]}")
        return _http_error(ServiceUnavailable(DATABASE_AWAY, retry_after=RETRY_AFTER_SECONDS))

    for error in DATABASE_ERRORS:
        app.register_error_handler(error, _database_unavailable)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        response = jsonify(error=exc.name, detail=exc.description)
        response.status_code = exc.code
        for name, value in exc.get_headers():  # e.g. `Allow` on a 405, which RFC 9110 requires
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response


def _usable_connection() -> None:
    """Each serving thread keeps its connection between requests (opening one, with its PRAGMAs, cost more than a
    whole USSD hop); one that broke (PostgreSQL restarted) is dropped, and the next query opens a fresh one."""
    if not database.is_closed() and not connection_is_usable():
        database.close()


def _release_database(exc) -> None:
    # A failed request gives its connection back; so does one inside no enclosing `connection_context()` of a job,
    # a CLI command or a test, when it is left in a transaction (it never should be).
    if database.is_closed() or database._state.ctx:
        return
    if exc is not None or database.in_transaction():
        database.close()
