"""Signed, expiring confirmation tokens: proof that this server (or a replica sharing its secret) showed a preview.

A token is `c2.<expiry>.<nonce>.<facts>.<mac>`, read by one strict grammar (`parse_token`):

    c2            the version, literally
    <expiry>      Unix seconds, ASCII decimal, no leading zero, at most 11 digits
    <nonce>       9 random bytes          = 12 characters of unpadded base64url
    <facts>       4 × 6-byte fingerprints = 32 characters of unpadded base64url
    <mac>         HMAC-SHA256 truncated to 128 bits = 22 characters of unpadded base64url, spare bits zero

Anything else (other characters, Unicode digits, padding, extra dots, another length) is `malformed`. The MAC
covers the canonical JSON of everything the token is bound to: purpose, tool, arguments without the token itself,
target id and name, the caller it was shown to (neev_mcp/caller.py), expiry, nonce and the facts field. Each fact
fingerprint is a keyed hash of one decisive fact the preview stated (a VM's status class, whether its root disk goes
with it, …; see `previews.decisive_facts`), so the verifier can say *which* fact no longer holds. Nothing is stored
between the preview and the confirmed call: the verifier recomputes everything from the call in hand and the target
as it is *now*.

A stateless token can be presented again until it expires; the replay store (`replay.py`) makes it run once.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..kinds import CONFIRMATION_ARG

VERSION = "c2"
MAC_BYTES = 16  # HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows truncation to half the output)
NONCE_BYTES = 9  # 12 URL-safe characters
FACT_SLOTS = 4  # the most decisive facts one preview binds (a VM delete: status, delete_root_disk, root disk, data)
FACT_BYTES = 6  # per fact: a keyed 48-bit fingerprint, enough to tell "changed" from "same" for an honest change
# The whole grammar, ASCII only ([0-9] and [A-Za-z0-9_-] never match other scripts' digits or letters, unlike \d/\w).
_TOKEN = re.compile(
    rf"{VERSION}\.([1-9][0-9]{{0,10}})\.([A-Za-z0-9_-]{{12}})\.([A-Za-z0-9_-]{{32}})\.([A-Za-z0-9_-]{{22}})"
)
MAX_TOKEN_CHARS = 2 + 1 + 11 + 1 + 12 + 1 + 32 + 1 + 22
# "token" is what the agent carries back; "elicit" seals the 2026-07-28 round state. Different purposes make the two
# non-interchangeable even though one key signs both.
Purpose = Literal["token", "elicit"]
Failure = Literal["malformed", "invalid", "expired", "changed"]
Facts = Sequence[tuple[str, str]]  # (name, value) in a fixed order, at most FACT_SLOTS


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, no NaN; identical on every replica."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def bound_arguments(args: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments a token is bound to: everything the call sends, not the token itself."""
    return {k: v for k, v in args.items() if k != CONFIRMATION_ARG}


@dataclass(frozen=True)
class Binding:
    """What a confirmation is for: one tool, its exact arguments, one target identity (both None for a create), the
    decisive facts the preview stated about it, and the caller it was shown to (neev_mcp/caller.py), so that another
    caller cannot redeem it."""

    tool: str
    args: Mapping[str, Any]
    target_id: str | None
    target_name: str | None
    facts: Facts = ()
    caller: str = "local"

    def message(self, purpose: Purpose, expires: int, nonce: str, facts_field: str) -> bytes:
        return canonical_json({
            "v": VERSION,
            "purpose": purpose,
            "tool": self.tool,
            "args": bound_arguments(self.args),
            "target": {"id": self.target_id, "name": self.target_name},
            "caller": self.caller,
            "exp": expires,
            "nonce": nonce,
            "facts": facts_field,
        }).encode()


class TokenRejected(Exception):
    """A token that must not be honoured; `failure` says which kind (never contains the token). For `changed`,
    `changed` names the facts that no longer hold."""

    def __init__(self, failure: Failure, expired_at: dt.datetime | None = None, changed: tuple[str, ...] = ()):
        super().__init__(failure)
        self.failure = failure
        self.expired_at = expired_at
        self.changed = changed


@dataclass(frozen=True)
class ParsedToken:
    expires: int
    nonce: str
    facts: str
    mac: str


def parse_token(text: object) -> ParsedToken:
    """The token's fields, or `TokenRejected("malformed")`: one grammar, canonical spellings only, never a crash."""
    if not isinstance(text, str) or len(text) > MAX_TOKEN_CHARS or not text.isascii():
        raise TokenRejected("malformed")
    match = _TOKEN.fullmatch(text)
    if match is None:
        raise TokenRejected("malformed")
    expires, nonce, facts, mac = match.groups()
    # Exact lengths leave spare low bits only in the MAC's last character; a spelling that does not round-trip is
    # another text for the same bytes, and only the canonical one is accepted.
    if not all(_canonical_b64(field) for field in (nonce, facts, mac)):
        raise TokenRejected("malformed")
    return ParsedToken(int(expires), nonce, facts, mac)


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
        facts = _b64(b"".join(self._fingerprints(binding.facts)))
        mac = _b64(self._mac(binding.message(purpose, expires, nonce, facts)))
        return f"{VERSION}.{expires}.{nonce}.{facts}.{mac}", _at(expires)

    def verify(self, token: object, binding: Binding, purpose: Purpose = "token") -> Verified:
        """Raise `TokenRejected` unless `token` was minted for exactly `binding`, has not expired, and every decisive
        fact it was minted with still holds."""
        parsed = parse_token(token)
        expected = _b64(self._mac(binding.message(purpose, parsed.expires, parsed.nonce, parsed.facts)))
        # Compare before looking at the expiry or the facts: unauthenticated fields say nothing.
        if not hmac.compare_digest(parsed.mac.encode(), expected.encode()):
            raise TokenRejected("invalid")
        if self._now().timestamp() >= parsed.expires:
            raise TokenRejected("expired", _at(parsed.expires))
        then = base64.urlsafe_b64decode(parsed.facts)
        now = self._fingerprints(binding.facts)
        changed = tuple(
            binding.facts[i][0] for i, fingerprint in enumerate(now)
            if i < len(binding.facts) and not hmac.compare_digest(fingerprint, then[i * FACT_BYTES:][:FACT_BYTES])
        )
        if changed or not hmac.compare_digest(b"".join(now), then):
            raise TokenRejected("changed", changed=changed)
        return Verified(nonce=parsed.nonce, expires_at=_at(parsed.expires))

    def _fingerprints(self, facts: Facts) -> list[bytes]:
        if len(facts) > FACT_SLOTS:
            raise ValueError(f"at most {FACT_SLOTS} decisive facts fit in a token")
        padded = [*facts, *[("", "")] * (FACT_SLOTS - len(facts))]
        return [hmac.new(self._key, f"fact/{i}/{name}\0{value}".encode(), hashlib.sha256).digest()[:FACT_BYTES]
                for i, (name, value) in enumerate(padded)]

    def _mac(self, message: bytes) -> bytes:
        return hmac.new(self._key, message, hashlib.sha256).digest()[:MAC_BYTES]


def _canonical_b64(text: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return False
    return _b64(raw) == text


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _at(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
