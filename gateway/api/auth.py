"""Bearer-token authentication and roles: cso < staff < admin.

401 for a missing, unknown or revoked token; 403 when the token's role is too low. Both answer JSON.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from flask import g, jsonify, request

from storage import tokens
from storage.models import ApiToken


def require_role(role: str) -> Callable:
    """Decorate a view so only tokens of `role` or above reach it; the token is in `g.api_token`."""
    if role not in tokens.ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            token = _token_from_request()
            if token is None:
                response = jsonify(error="unauthorized", detail="a valid API token is required: "
                                   "send 'Authorization: Bearer <token>'")
                response.headers["WWW-Authenticate"] = 'Bearer realm="gateway"'
                return response, 401
            if not tokens.role_allows(token.role, role):
                return jsonify(error="forbidden", detail=f"this needs the '{role}' role; "
                               f"the token has '{token.role}'"), 403
            g.api_token = token
            return view(*args, **kwargs)

        guarded.required_role = role  # read by the OpenAPI document
        return guarded
    return decorate


def current_token() -> ApiToken:
    return g.api_token


def _token_from_request() -> ApiToken | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return tokens.token_for(value.strip())
