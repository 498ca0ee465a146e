"""API tokens (stored as SHA-256 hashes) and the audit log of who read what."""
from __future__ import annotations

import hashlib
import secrets

from storage.db import utcnow
from storage.models import ApiToken, AuditLog

ROLES = ("cso", "staff", "admin")  # each role can do everything the ones before it can


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(name: str, role: str) -> tuple[ApiToken, str]:
    """A new token; the plain text is returned once and never stored."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    plain = "gw_" + secrets.token_urlsafe(32)
    return ApiToken.create(name=name, role=role, token_hash=hash_token(plain)), plain


def token_for(plain: str) -> ApiToken | None:
    """The live (not revoked) token behind `plain`, with its last use recorded."""
    token = ApiToken.get_or_none((ApiToken.token_hash == hash_token(plain)) & ApiToken.revoked_at.is_null())
    if token is not None:
        token.last_used_at = utcnow()
        ApiToken.update(last_used_at=token.last_used_at).where(ApiToken.id == token.id).execute()
    return token


def role_allows(held: str, needed: str) -> bool:
    return held in ROLES and ROLES.index(held) >= ROLES.index(needed)


def list_tokens() -> list[ApiToken]:
    return list(ApiToken.select().order_by(ApiToken.id))


def revoke(token_id: int) -> bool:
    return bool(ApiToken.update(revoked_at=utcnow())
                .where((ApiToken.id == token_id) & ApiToken.revoked_at.is_null()).execute())


def audit(action: str, target: str | None, token: ApiToken | None = None, actor: str | None = None) -> None:
    """Record one access to a digest, an export or a restricted record."""
    AuditLog.create(token=token, actor=actor or (token.name if token else "cli"), action=action, target=target)
