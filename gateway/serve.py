"""`gateway serve`: migrate, print where things are, and run gunicorn with the scheduler in each worker."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click
from gunicorn.app.base import BaseApplication

# How each worker serves requests; bench/ runs its baseline apps under the same settings.
WORKER_SETTINGS = {"worker_class": "gthread", "threads": 4}
SERVING_FILE = "serving.json"  # in the instance folder: where a running `serve` listens, for `channels check`


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


def _close_after_an_oversized_body(worker, req) -> None:
    """Flask answers 413 without reading a body over the limit, so the rest of that body is still on the
    connection: answer `Connection: close` and close it, rather than promise keep-alive and then drop it."""
    from gateway.app import MAX_BODY_BYTES

    for name, value in req.headers:
        fits = value.isascii() and value.isdigit() and len(value) < 10 and int(value) <= MAX_BODY_BYTES
        too_long = name == "CONTENT-LENGTH" and not fits
        if too_long or (name == "TRANSFER-ENCODING" and "chunked" in value.lower()):
            req.force_close()


def banner(app, host: str, port: int, workers: int, show_token: bool = False) -> str:
    from gateway.channels.base import load_channel_class
    from gateway.webhooks import webhook_urls

    config = app.config["GATEWAY"]
    base = config["public_url"] or f"http://{host}:{port}"
    flows = app.extensions["gateway.flows"]
    lines = [f"Mongolia feedback gateway on http://{host}:{port} ({workers} worker(s), gunicorn)",
             f"  database: {_describe_database(config['database_url'])}",
             f"  flows:    {', '.join(sorted(flows.flows)) or '(none loaded)'}"]
    urls = webhook_urls(app, base, show_token)
    if urls:
        lines.append("  webhooks (paste into each provider's dashboard):")
        lines += [f"    {load_channel_class(name).display_name + ' ' + action:34} {url}" for name, action, url in urls]
    else:
        lines.append("  webhooks: none (no channel is enabled: set channels.<name>.enabled in config.yaml)")
    lines += [f"  health:   {base}/healthz (live)   {base}/readyz (ready)",
              "  try it:   gateway simulate --channel sms   (or --channel ussd)"]
    lines += [f"  WARNING:  {warning}" for warning in app.extensions.get("gateway.warnings", [])]
    return "\n".join(lines)


def record_serving(app, host: str, port: int) -> None:
    path = Path(app.config["GATEWAY"]["instance_path"]) / SERVING_FILE
    path.write_text(json.dumps({"host": host, "port": port, "pid": os.getpid()}))


def public_base(app) -> str:
    """The base URL people paste: GATEWAY_PUBLIC_URL, else where the running `serve` listens, else the config."""
    config = app.config["GATEWAY"]
    if config["public_url"]:
        return config["public_url"].rstrip("/")
    host, port = config["server"]["host"], config["server"]["port"]
    try:
        serving = json.loads((Path(config["instance_path"]) / SERVING_FILE).read_text())
        os.kill(int(serving["pid"]), 0)  # still running?
        host, port = serving["host"], int(serving["port"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return f"http://{host}:{port}"


def _describe_database(url: str) -> str:
    if url.startswith("sqlite"):
        return url.split(":///", 1)[-1]
    return url.split("@")[-1]  # never print credentials


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default from config: 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port to listen on (default from config: 5000).")
@click.option("--workers", default=None, type=int, help="Gunicorn worker processes (default from config: 2).")
@click.option("--show-token", is_flag=True, help="Print the real AT_WEBHOOK_TOKEN in the URLs, not a placeholder.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None, show_token: bool) -> None:
    """Migrate the database and serve the webhooks, API and scheduler with gunicorn."""
    from gateway.cli import make_app  # here: gateway.cli imports this module to list its commands
    from storage.db import database, upgrade

    app = make_app(ctx, migrate=False)
    server = app.config["GATEWAY"]["server"]
    host, port, workers = host or server["host"], port or server["port"], workers or server["workers"]
    with database.connection_context():
        upgrade()
    database.close()
    click.echo(banner(app, host, port, workers, show_token))
    record_serving(app, host, port)
    GatewayServer(ctx.find_root().obj["config_path"], {
        "bind": f"{host}:{port}", "workers": workers, **WORKER_SETTINGS,
        "timeout": server["timeout"], "graceful_timeout": 10, "accesslog": None, "errorlog": "-",
        "loglevel": "warning", "worker_exit": _on_worker_exit, "pre_request": _close_after_an_oversized_body,
    }, app).run()


commands = [serve]
