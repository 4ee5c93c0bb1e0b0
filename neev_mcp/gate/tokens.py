"""Signed, expiring confirmation tokens: proof that this server (or a replica sharing its secret) showed a preview.

A token is `c1.<expiry>.<nonce>.<mac>`: the expiry in Unix seconds, 9 random bytes, and HMAC-SHA256 truncated to
128 bits over the canonical JSON of everything it is bound to (purpose, tool, arguments without the token itself,
target id and name, expiry, nonce). Nothing is stored between the preview and the confirmed call: the verifier
recomputes the MAC from the call in hand and the target as it is *now*, so a token for another tool, other arguments,
another target, or a target that changed name cannot verify. Every character is URL-safe.

Stateless tokens can be replayed until they expire; `ReplayGuard` refuses a second use in the same process, and the
gate's re-check of the target (a VM already 'deleting' is refused) covers a replay on another replica.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..kinds import CONFIRMATION_ARG

VERSION = "c1"
MAC_BYTES = 16  # HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows truncation to half the output)
NONCE_BYTES = 9  # 12 URL-safe characters
# "token" is what the agent carries back; "elicit" seals the 2026-07-28 round state. Different purposes make the two
# non-interchangeable even though one key signs both.
Purpose = Literal["token", "elicit"]
Failure = Literal["malformed", "invalid", "expired"]


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, no NaN; identical on every replica."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def bound_arguments(args: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments a token is bound to: everything the call sends, not the token itself."""
    return {k: v for k, v in args.items() if k != CONFIRMATION_ARG}


@dataclass(frozen=True)
class Binding:
    """What a confirmation is for: one tool, its exact arguments, one target identity (both None for a create)."""

    tool: str
    args: Mapping[str, Any]
    target_id: str | None
    target_name: str | None

    def message(self, purpose: Purpose, expires: int, nonce: str) -> bytes:
        return canonical_json({
            "v": VERSION,
            "purpose": purpose,
            "tool": self.tool,
            "args": bound_arguments(self.args),
            "target": {"id": self.target_id, "name": self.target_name},
            "exp": expires,
            "nonce": nonce,
        }).encode()


class TokenRejected(Exception):
    """A token that must not be honoured; `failure` says which kind (never contains the token)."""

    def __init__(self, failure: Failure, expired_at: dt.datetime | None = None) -> None:
        super().__init__(failure)
        self.failure = failure
        self.expired_at = expired_at


@dataclass(frozen=True)
class Verified:
    nonce: str
    expires_at: dt.datetime


class TokenSigner:
    def __init__(self, key: bytes, ttl_seconds: float, now: Callable[[], dt.datetime]) -> None:
        if len(key) < 32:
            raise ValueError("confirmation key must be at least 32 bytes")
        self._key = key
        self.ttl_seconds = ttl_seconds
        self._now = now

    def mint(self, binding: Binding, purpose: Purpose = "token") -> tuple[str, dt.datetime]:
        """A fresh token for `binding` and the moment it stops being accepted."""
        expires = int(self._now().timestamp() + self.ttl_seconds)
        nonce = _b64(secrets.token_bytes(NONCE_BYTES))
        mac = _b64(self._mac(binding.message(purpose, expires, nonce)))
        return f"{VERSION}.{expires}.{nonce}.{mac}", _at(expires)

    def verify(self, token: str, binding: Binding, purpose: Purpose = "token") -> Verified:
        """Raise `TokenRejected` unless `token` was minted for exactly `binding` and has not expired."""
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 4 or parts[0] != VERSION or not parts[1].isdigit() or len(parts[1]) > 12:
            raise TokenRejected("malformed")
        expires, nonce, mac_text = int(parts[1]), parts[2], parts[3]
        expected = _b64(self._mac(binding.message(purpose, expires, nonce)))
        # Compare the canonical text, not decoded bytes: base64's spare low bits would let several spellings of one
        # MAC pass. Compare before looking at the expiry: an unauthenticated expiry says nothing.
        if not hmac.compare_digest(mac_text.encode(), expected.encode()):
            raise TokenRejected("invalid")
        if self._now().timestamp() >= expires:
            raise TokenRejected("expired", _at(expires))
        return Verified(nonce=nonce, expires_at=_at(expires))

    def _mac(self, message: bytes) -> bytes:
        return hmac.new(self._key, message, hashlib.sha256).digest()[:MAC_BYTES]


class ReplayGuard:
    """Nonces of confirmations already acted on in this process, kept until their token would have expired anyway."""

    def __init__(self, now: Callable[[], dt.datetime]) -> None:
        self._now = now
        self._used: dict[str, dt.datetime] = {}

    def claim(self, verified: Verified) -> bool:
        """True the first time a confirmation is used; False for every replay. Claim before acting."""
        now = self._now()
        for nonce in [n for n, until in self._used.items() if until <= now]:
            del self._used[nonce]
        if verified.nonce in self._used:
            return False
        self._used[verified.nonce] = verified.expires_at
        return True


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _at(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
