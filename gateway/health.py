"""GET /healthz: database, scheduler, flows, version, and any check a channel registers."""
from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from flask import Blueprint, current_app, jsonify

from storage.db import ping

bp = Blueprint("health", __name__)

# A check returns (name, ok, detail). Channels register theirs (e.g. "phone last seen") in app.extensions.
HealthCheck = Callable[[], tuple[str, bool, object]]


def package_version() -> str:
    try:
        return version("mn-feedback-gateway")
    except PackageNotFoundError:
        return "0+unknown"


def add_health_check(app, check: HealthCheck) -> None:
    app.extensions.setdefault("gateway.health_checks", []).append(check)


@bp.get("/healthz")
def healthz():
    checks = [_database(), _scheduler(), _flows()]
    checks += [check() for check in current_app.extensions.get("gateway.health_checks", [])]
    body = {name: detail for name, _, detail in checks}
    body["ok"] = all(ok for _, ok, _ in checks)
    body["version"] = package_version()
    return jsonify(body), 200 if body["ok"] else 503


def _database() -> tuple[str, bool, object]:
    try:
        ping()
        return "database", True, "ok"
    except Exception as exc:  # any driver error means "not healthy", never a 500
        return "database", False, f"error: {type(exc).__name__}"


def _scheduler() -> tuple[str, bool, object]:
    if not current_app.config["GATEWAY"]["scheduler"]["enabled"]:
        return "scheduler", True, "disabled in config"
    scheduler = current_app.extensions.get("gateway.scheduler")
    running = bool(scheduler and scheduler.running)
    return "scheduler", running, "running" if running else "not running"


def _flows() -> tuple[str, bool, object]:
    flowset = current_app.extensions.get("gateway.flows")
    if flowset is None:
        return "flows", False, {"loaded": 0, "broken": []}
    broken = sorted({str(issue.file) for issue in flowset.issues if issue.severity == "error"})
    return "flows", bool(flowset.flows), {"loaded": len(flowset.flows), "ids": sorted(flowset.flows), "broken": broken}
