"""Reading a JWT's expiry without verifying it, so that a 401 can say *why* (never the token itself)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from .text import utc_stamp


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The unverified payload of a JWT, or None when the token is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


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
