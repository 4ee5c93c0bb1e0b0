"""Who is calling: one stable name per credential, for audit lines, and one binding for what a caller may redeem.

Over HTTP the inbound auth middleware (neev_mcp/inbound.py) turns every accepted credential into the SDK's
`AccessToken` and sets it as the request's user, in every auth mode; the SDK carries it into the handler (the
`get_access_token()` context variable). From it:

- OAuth (`NEEV_MCP_AUTH=oauth`): `sub:<subject>`, or `client:<client_id>` for a token without a subject;
- a static or pass-through bearer: `bearer:<first 12 hex of its sha256>` (never the bearer itself);
- stdio, or HTTP with `NEEV_MCP_AUTH=none`: `local`.

`caller_binding` is what confirmation tokens and sealed request state are bound to: the whole principal (issuer,
client, subject; for a bearer its full sha256), so another caller cannot redeem them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken, principal_components

from .registry import ALL_SCOPES

LOCAL = "local"
BEARER_PREFIX = "bearer:"


class BearerAccess(AccessToken):
    """A static or pass-through bearer accepted at the door: every scope, no OAuth identity. A distinct type, so no
    OAuth token (whatever its claims or client id say) can pass for one."""


def bearer_access(bearer: str, expires_at: int | None = None) -> BearerAccess:
    return BearerAccess(token=bearer, client_id=bearer_caller(bearer), scopes=list(ALL_SCOPES),
                        expires_at=expires_at, subject=bearer_fingerprint(bearer))


def bearer_fingerprint(bearer: str) -> str:
    """The full sha256 (hex) of a bearer: identifies it without keeping or showing it."""
    return hashlib.sha256(bearer.encode("utf-8", "surrogatepass")).hexdigest()


def bearer_caller(bearer: str) -> str:
    return BEARER_PREFIX + bearer_fingerprint(bearer)[:12]


def access_token_of(context: Any = None) -> AccessToken | None:
    """The accepted credential of the request `context` belongs to (None: stdio or no inbound auth)."""
    request = getattr(getattr(context, "request_context", None), "request", None)
    user = (getattr(request, "scope", None) or {}).get("user") if request is not None else None
    if isinstance(user, AuthenticatedUser):
        return user.access_token
    return get_access_token()


def caller_name(token: AccessToken) -> str:
    if isinstance(token, BearerAccess):
        return token.client_id
    return f"sub:{token.subject}" if token.subject else f"client:{token.client_id}"


def caller_of(context: Any = None) -> str:
    """`sub:<subject>`, `client:<id>`, `bearer:<12 hex>` or `local` (see the module docstring)."""
    token = access_token_of(context)
    return LOCAL if token is None else caller_name(token)


def caller_binding(context: Any = None) -> str:
    """The principal a confirmation is bound to, as canonical JSON; `local` without inbound auth."""
    token = access_token_of(context)
    return LOCAL if token is None else json.dumps(principal_components(token), separators=(",", ":"))


def granted_scopes(context: Any = None) -> frozenset[str] | None:
    """The scopes the caller's token carries; None when nothing restricts the caller (stdio, static, pass-through)."""
    token = access_token_of(context)
    if token is None or isinstance(token, BearerAccess):
        return None
    return frozenset(token.scopes)
