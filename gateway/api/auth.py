"""Bearer-token authentication, roles (cso < staff < admin) and scope for the API.

401 for a missing, unknown, revoked or expired token; 403 when the token's role is too low. Both answer JSON.
A guarded view finds the caller in `g.principal` (a `storage.access.Principal`: role, scope, organisation) and
the token row in `g.api_token`. `audit(action, target, detail)` records what the caller read or changed.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from flask import g, jsonify, request

from storage import audit as audit_log
from storage import tokens
from storage.access import ROLES, Principal
from storage.models import ApiToken


def require_role(role: str) -> Callable:
    """Decorate a view so only tokens of `role` or above reach it; the caller is in `g.principal`."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            token = _token_from_request()
            if token is None:
                response = jsonify(error="unauthorized", detail="a valid API token is required: "
                                   "send 'Authorization: Bearer <token>' (tokens expire: ask for a new one)")
                response.headers["WWW-Authenticate"] = 'Bearer realm="gateway"'
                return response, 401
            principal = tokens.principal_of(token)
            if not principal.at_least(role):
                return jsonify(error="forbidden", detail=f"this needs the '{role}' role; "
                               f"the token has '{token.role}'"), 403
            g.api_token, g.principal = token, principal
            return view(*args, **kwargs)

        guarded.required_role = role  # read by the OpenAPI document and the route-walking test
        return guarded
    return decorate


def current_token() -> ApiToken:
    return g.api_token


def current_principal() -> Principal:
    return g.principal


def audit(action: str, target: str | None = None, detail: str | None = None) -> None:
    """Record in the audit log that the current caller did `action` on `target`."""
    audit_log.record(g.principal, action, target, detail)


def _token_from_request() -> ApiToken | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return tokens.token_for(value.strip())
