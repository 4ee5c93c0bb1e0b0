"""Reading a JWT's expiry without verifying it, so that a 401 can say *why* (never the token itself)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from .text import utc_stamp

_B64URL = re.compile(r"[A-Za-z0-9_-]+")
MAX_BEARER_LENGTH = 16 * 1024


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The unverified payload of a JWT, or None when the token is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    claims = _json_part(parts[1])
    return claims if isinstance(claims, dict) else None


def looks_like_jwt(token: str) -> bool:
    """Three base64url parts, a JSON header naming an `alg` and a JSON object payload (expired or not): the shape of a
    NeevCloud token. Shape only, never the signature."""
    parts = token.split(".")
    if len(token) > MAX_BEARER_LENGTH or len(parts) != 3 or not all(_B64URL.fullmatch(part) for part in parts):
        return False
    header = _json_part(parts[0])
    return isinstance(header, dict) and isinstance(header.get("alg"), str) and jwt_claims(token) is not None


def well_formed_jwt(token: str, now: float | None = None) -> dict[str, Any] | None:
    """The claims of `token` if it has the shape of an unexpired JWT (three base64url parts, a JSON header naming an
    `alg`, a JSON object payload, `exp` absent or in the future), else None. Shape only: the signature is whoever
    issued the token's business (NeevCloud, in pass-through mode)."""
    if not token or len(token) > MAX_BEARER_LENGTH:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not all(_B64URL.fullmatch(part) for part in parts):
        return None
    header = _json_part(parts[0])
    claims = jwt_claims(token)
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str) or claims is None:
        return None
    exp = claims.get("exp")
    if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float)
                            or exp <= (time.time() if now is None else now)):
        return None
    return claims


def _json_part(part: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def token_expiry(token: str) -> dt.datetime | None:
    claims = jwt_claims(token) or {}
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    try:
        return dt.datetime.fromtimestamp(exp, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def expired_at(token: str, now: dt.datetime | None = None) -> str | None:
    """When the JWT expired (`2026-01-01T00:00:00Z`), or None when it has not expired or carries no `exp`."""
    expiry = token_expiry(token)
    if expiry is None or expiry > (now or dt.datetime.now(dt.UTC)):
        return None
    return utc_stamp(expiry)


def describe_expiry(token: str, now: dt.datetime | None = None) -> str:
    """` (the token expired at 2026-01-01T00:00:00Z)` when the JWT says so, else an empty string."""
    when = expired_at(token, now)
    return f" (the token expired at {when})" if when else ""


def request_bearer(headers: Mapping[str, str] | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None (any other scheme, or none)."""
    scheme, _, token = (headers.get("authorization", "") if headers else "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
