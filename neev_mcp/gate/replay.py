"""At most once per confirmation: the first redeem of a token (or of a 2026-07-28 round state) claims its nonce, every
later one is refused. The claim is made before anything is sent upstream.

- `LocalReplays` (default): a dict in this process. Enough for one process; with several replicas a token can be
  redeemed once *per replica* (see README "Several replicas").
- `RedisReplays` (`NEEV_MCP_REPLAY_STORE=redis://host:port/db`): `SET neev-mcp:confirmation:<nonce> 1 NX PX <ttl>`
  on a Redis all replicas share, so exactly one redeem wins across all of them. A store that cannot answer fails
  closed: the caller refuses the call (`ReplayStoreUnavailable`) and sends nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from typing import Protocol

from ..resp import RedisError, RedisURL, run

log = logging.getLogger("neev_mcp.gate")

KEY_PREFIX = "neev-mcp:confirmation:"
# A claim outlives the token by this much: replicas whose clocks run behind still see it while they accept the token.
CLOCK_SKEW = dt.timedelta(seconds=120)
TIMEOUT_SECONDS = 3.0


class ReplayStoreUnavailable(Exception):
    """The shared store could not say whether a confirmation was already used; the message names it, never a
    password."""


class ReplayStore(Protocol):
    description: str

    async def claim(self, nonce: str, expires_at: dt.datetime) -> bool:
        """True the first time `nonce` is claimed, False for every later claim; may raise ReplayStoreUnavailable."""
        ...


class LocalReplays:
    """Nonces of confirmations already acted on in this process, kept until their token would have expired anyway."""

    description = "in-process (this replica only)"

    def __init__(self, now: Callable[[], dt.datetime]) -> None:
        self._now = now
        self._used: dict[str, dt.datetime] = {}

    async def claim(self, nonce: str, expires_at: dt.datetime) -> bool:
        now = self._now()
        for old in [n for n, until in self._used.items() if until <= now]:
            del self._used[old]
        if nonce in self._used:
            return False
        self._used[nonce] = expires_at
        return True


class RedisReplays:
    """Claims in a Redis shared by every replica (`SET … NX PX`): one winner per nonce, whichever replica it is."""

    def __init__(self, url: RedisURL, now: Callable[[], dt.datetime], timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self.description = f"shared, {url.display}"
        self._now = now
        self._timeout = timeout

    async def claim(self, nonce: str, expires_at: dt.datetime) -> bool:
        ttl_ms = max(1, math.ceil((expires_at - self._now() + CLOCK_SKEW).total_seconds() * 1000))
        command = ["SET", KEY_PREFIX + nonce, "1", "NX", "PX", str(ttl_ms)]
        try:
            (reply,) = await run(self.url, [command], timeout=self._timeout)
        except RedisError as exc:
            log.error("replay store unavailable: %s", exc)
            raise ReplayStoreUnavailable(str(exc)) from None
        if reply == "OK":
            return True
        if reply is None:  # NX: the key exists, another redeem (on any replica) claimed it first
            return False
        raise ReplayStoreUnavailable(f"{self.url.display}: unexpected answer to SET NX")


def replay_store(url: str | None, now: Callable[[], dt.datetime]) -> ReplayStore:
    """The store NEEV_MCP_REPLAY_STORE names, or the in-process one."""
    return RedisReplays(RedisURL.parse(url), now) if url else LocalReplays(now)
