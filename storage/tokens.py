"""API tokens: stored as SHA-256 hashes, each with a role, a scope of admin units, an organisation and an expiry."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from storage.access import ROLES, Principal, Scope, check_scope, organisation_named, role_at_least
from storage.db import utcnow
from storage.models import ApiToken, Organisation

__all__ = ["ROLES", "DEFAULT_DAYS", "MAX_DAYS", "create_token", "token_for", "principal_of", "list_tokens",
           "revoke", "set_scope", "hash_token", "role_allows"]

DEFAULT_DAYS = 90
MAX_DAYS = 366


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(name: str, role: str, scope: Scope | str | None = None, organisation: str | None = None,
                 days: int = DEFAULT_DAYS) -> tuple[ApiToken, str]:
    """A new token; the plain text is returned once and never stored. An admin's scope defaults to national;
    every other role must be given admin units. ValueError says what is wrong."""
    if scope is None and role == "admin":
        scope = Scope.NATIONAL
    scope = check_scope(role, scope if isinstance(scope, Scope) else Scope.parse(scope))
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a token lives 1 to {MAX_DAYS} days, not {days}")
    plain = "gw_" + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken.create(name=name, role=role, scope=str(scope), organisation=organisation_named(organisation),
                            token_hash=hash_token(plain), created_at=now, expires_at=now + dt.timedelta(days=days))
    return token, plain


def token_for(plain: str) -> ApiToken | None:
    """The live token behind `plain` (not revoked, not expired), with its last use recorded."""
    now = utcnow()
    token = ApiToken.get_or_none((ApiToken.token_hash == hash_token(plain)) & ApiToken.revoked_at.is_null()
                                 & (ApiToken.expires_at > now))
    if token is not None:
        token.last_used_at = now
        ApiToken.update(last_used_at=now).where(ApiToken.id == token.id).execute()
    return token


def principal_of(token: ApiToken) -> Principal:
    organisation = Organisation.get_or_none(Organisation.id == token.organisation_id) \
        if token.organisation_id else None
    return Principal("token", token.id, token.name, token.role, Scope.parse(token.scope),
                     organisation.name if organisation else None)


def role_allows(held: str, needed: str) -> bool:
    return role_at_least(held, needed)


def list_tokens() -> list[ApiToken]:
    return list(ApiToken.select().order_by(ApiToken.id))


def revoke(token_id: int) -> bool:
    return bool(ApiToken.update(revoked_at=utcnow())
                .where((ApiToken.id == token_id) & ApiToken.revoked_at.is_null()).execute())


def set_scope(token_id: int, scope: Scope | str) -> ApiToken:
    """Give a live token a new scope (checked against its role); LookupError when there is no such token."""
    token = ApiToken.get_or_none((ApiToken.id == token_id) & ApiToken.revoked_at.is_null())
    if token is None:
        raise LookupError(f"no active token {token_id}")
    scope = check_scope(token.role, scope if isinstance(scope, Scope) else Scope.parse(scope))
    ApiToken.update(scope=str(scope)).where(ApiToken.id == token.id).execute()
    token.scope = str(scope)
    return token
