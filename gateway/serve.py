"""`gateway serve`: migrate, print where things are, and run gunicorn with the scheduler in each worker."""
from __future__ import annotations

import click
from gunicorn.app.base import BaseApplication

WEBHOOK_PATHS = [
    ("Africa's Talking USSD", "/webhooks/africastalking/ussd"),
    ("Africa's Talking USSD events", "/webhooks/africastalking/ussd/events"),
    ("Africa's Talking SMS", "/webhooks/africastalking/sms"),
    ("Africa's Talking delivery reports", "/webhooks/africastalking/delivery"),
    ("Africa's Talking bulk SMS opt-out", "/webhooks/africastalking/optout"),
    ("Twilio SMS", "/webhooks/twilio/sms"),
    ("Twilio status", "/webhooks/twilio/status"),
    ("Android SMS gateway", "/webhooks/android"),
]
# How each worker serves requests; bench/ runs its baseline apps under the same settings.
WORKER_SETTINGS = {"worker_class": "gthread", "threads": 4}


class GatewayServer(BaseApplication):
    """Gunicorn, configured in code. The app is built once before the fork (a worker is then ready at once);
    each worker takes its own process identity and scheduler after the fork."""

    def __init__(self, config_path: str | None, options: dict, app=None):
        self.config_path = config_path
        self.options = options
        self.app = app
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from gateway.app import create_app
        from gateway.scheduler import process_id, start_scheduler

        app = self.app or create_app(self.config_path, migrate=False)
        app.extensions["gateway.process_id"] = process_id()  # the leader lease tells workers apart by it
        if app.config["GATEWAY"]["scheduler"]["enabled"]:
            start_scheduler(app)
        return app


def _on_worker_exit(server, worker) -> None:
    from gateway.scheduler import stop_scheduler

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        stop_scheduler(app)


def banner(app, host: str, port: int, workers: int) -> str:
    config = app.config["GATEWAY"]
    base = config["public_url"] or f"http://{host}:{port}"
    flows = app.extensions["gateway.flows"]
    lines = [f"Mongolia feedback gateway on http://{host}:{port} ({workers} worker(s), gunicorn)",
             f"  database: {_describe_database(config['database_url'])}",
             f"  flows:    {', '.join(sorted(flows.flows)) or '(none loaded)'}",
             "  webhooks (paste into each provider's dashboard):"]
    lines += [f"    {name:34} {base}{path}" for name, path in WEBHOOK_PATHS]
    lines += [f"  health:   {base}/healthz",
              "  try it:   gateway simulate --channel sms   (or --channel ussd)"]
    lines += [f"  WARNING:  {warning}" for warning in app.extensions.get("gateway.warnings", [])]
    return "\n".join(lines)


def _describe_database(url: str) -> str:
    if url.startswith("sqlite"):
        return url.split(":///", 1)[-1]
    return url.split("@")[-1]  # never print credentials


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default from config: 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port to listen on (default from config: 5000).")
@click.option("--workers", default=None, type=int, help="Gunicorn worker processes (default from config: 2).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Migrate the database and serve the webhooks, API and scheduler with gunicorn."""
    from gateway.cli import make_app  # here: gateway.cli imports this module to list its commands
    from storage.db import database, upgrade

    app = make_app(ctx, migrate=False)
    server = app.config["GATEWAY"]["server"]
    host, port, workers = host or server["host"], port or server["port"], workers or server["workers"]
    with database.connection_context():
        upgrade()
    database.close()
    click.echo(banner(app, host, port, workers))
    GatewayServer(ctx.find_root().obj["config_path"], {
        "bind": f"{host}:{port}", "workers": workers, **WORKER_SETTINGS,
        "timeout": server["timeout"], "graceful_timeout": 10, "accesslog": None, "errorlog": "-",
        "loglevel": "warning", "worker_exit": _on_worker_exit,
    }, app).run()


commands = [serve]
