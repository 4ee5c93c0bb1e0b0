"""Inbound auth for `/mcp` in every mode, built on the SDK's own auth middleware so that the SDK itself binds each
session to the credential that opened it (it compares the request's user with the session creator's: 404 otherwise).

    client ─► FailureThrottle        429 + Retry-After once an address has used up its budget of failed bearers
           ─► AuthenticationMiddleware(BearerAuthBackend(verifier))   scope["user"] = the accepted credential
           ─► AuthContextMiddleware  the credential reaches handlers (`get_access_token()`, neev_mcp.caller)
           ─► RequireAuthMiddleware  401 + WWW-Authenticate (with resource_metadata= in oauth mode)
           ─► ScopeGuard             oauth: 403 insufficient_scope + scope="…" for a call the token may not make
           ─► SessionCap             stateful: at most N open sessions per caller
           ─► the SDK's streamable HTTP app

Verifiers: `StaticVerifier` (NEEV_MCP_AUTH_TOKEN, constant-time), `PassthroughVerifier` (a well-formed, unexpired
JWT: NeevCloud judges its signature on every call) and `oauth.OAuthVerifier`. The first two yield a `BearerAccess`
(all scopes, identified by the bearer's hash).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, authorization_context
from mcp.server.auth.provider import AccessToken
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, RequestBodyLimitMiddleware
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .bearer import well_formed_jwt
from .caller import bearer_access

log = logging.getLogger("neev_mcp.inbound")

ScopeFor = Callable[[str, Any], "str | None"]  # (JSON-RPC method, params) → the scope it needs, or None


class StaticVerifier:
    """NEEV_MCP_AUTH=static: the one shared bearer, compared in constant time."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        presented = token.encode("utf-8", "surrogatepass")
        return bearer_access(token) if hmac.compare_digest(presented, self._token) else None


class PassthroughVerifier:
    """NEEV_MCP_AUTH=passthrough: only a bearer shaped like an unexpired JWT is let in (NeevCloud's tokens are)."""

    async def verify_token(self, token: str) -> AccessToken | None:
        claims = well_formed_jwt(token)
        if claims is None:
            return None
        exp = claims.get("exp")
        return bearer_access(token, int(exp) if exp is not None else None)


def _client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class FailureThrottle:
    """Token bucket per client address, spent by every 401: `burst` failures at once, then `rate` per second.

    While an address's bucket is empty every request from it is answered 429 with `Retry-After`, before any token is
    looked at, so guessing bearers costs the guesser time, not us. The table is bounded (`max_addresses`): full
    buckets are forgotten first.
    """

    def __init__(self, app: ASGIApp, *, burst: float = 20, rate: float = 0.5, max_addresses: int = 10_000,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.app, self.burst, self.rate, self.max_addresses, self._now = app, burst, rate, max_addresses, now
        self._buckets: dict[str, tuple[float, float]] = {}  # address → (tokens, at)

    def _tokens(self, address: str) -> float:
        tokens, at = self._buckets.get(address, (self.burst, self._now()))
        return min(self.burst, tokens + (self._now() - at) * self.rate)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = _client_address(scope)
        available = self._tokens(address)
        if available < 1:
            wait = max(1, int((1 - available) / self.rate + 0.999))
            log.info("throttled %s: too many failed bearer tokens", address)
            response = JSONResponse({"error": "too_many_requests", "error_description": "too many failed "
                                     f"authentication attempts from this address; retry in {wait} s"},
                                    status_code=429, headers={"Retry-After": str(wait)})
            await response(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self._spend(address)
            await send(message)

        await self.app(scope, receive, counting_send)

    def _spend(self, address: str) -> None:
        tokens = self._tokens(address) - 1
        if address not in self._buckets and len(self._buckets) >= self.max_addresses:
            self._forget_full_buckets()
        self._buckets[address] = (tokens, self._now())

    def _forget_full_buckets(self) -> None:
        for address in [a for a in self._buckets if self._tokens(a) >= self.burst]:
            del self._buckets[address]
        while len(self._buckets) >= self.max_addresses:  # still full: drop the oldest entries
            del self._buckets[next(iter(self._buckets))]


class ScopeGuard:
    """OAuth step-up: a JSON-RPC request needing a scope the token lacks is refused with HTTP 403 and
    `WWW-Authenticate: Bearer error="insufficient_scope", scope="<needed>"` (the SDK's middleware adds no `scope=`).

    Bodies are read whole (the SDK's size limit applies first) and handed on unchanged.
    """

    def __init__(self, app: ASGIApp, scope_for: ScopeFor, resource_metadata_url: str | None) -> None:
        self.app = RequestBodyLimitMiddleware(self._guard, DEFAULT_MAX_REQUEST_BODY_SIZE)
        self._inner = app
        self._scope_for = scope_for
        self._metadata_url = resource_metadata_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        restricted = isinstance(user, AuthenticatedUser) and type(user.access_token) is AccessToken
        if scope["type"] != "http" or scope.get("method") != "POST" or not restricted:
            await self._inner(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _guard(self, scope: Scope, receive: Receive, send: Send) -> None:
        messages: list[Message] = []
        body = b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        granted = set(scope["auth"].scopes)
        missing = sorted({s for s in self._needed(body) if s not in granted})
        if missing:
            await self._insufficient(missing)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self._inner(scope, replay, send)

    def _needed(self, body: bytes) -> set[str]:
        try:
            payload = json.loads(body)
        except ValueError:
            return set()  # not JSON: the SDK answers with a parse error; nothing runs
        requests = payload if isinstance(payload, list) else [payload]
        needed = set()
        for request in requests:
            if isinstance(request, dict) and isinstance(request.get("method"), str):
                scope = self._scope_for(request["method"], request.get("params"))
                if scope:
                    needed.add(scope)
        return needed

    def _insufficient(self, missing: list[str]) -> JSONResponse:
        wanted = " ".join(missing)
        description = f"this call needs the scope {wanted}; ask the authorization server for a token that has it"
        challenge = f'Bearer error="insufficient_scope", scope="{wanted}", error_description="{description}"'
        if self._metadata_url:
            challenge += f', resource_metadata="{self._metadata_url}"'
        return JSONResponse({"error": "insufficient_scope", "error_description": description, "scope": wanted},
                            status_code=403, headers={"WWW-Authenticate": challenge})


class SessionCap:
    """At most `limit` open stateful sessions per caller, so no caller can exhaust the server's global limit.

    Open sessions are the SDK session manager's own record of who created which session (the same record it uses to
    refuse a session to another credential); requests already opening a session count too, so a burst of parallel
    initializes cannot slip past the cap.
    """

    def __init__(self, app: ASGIApp, manager: Callable[[], StreamableHTTPSessionManager], limit: int) -> None:
        self.app, self._manager, self.limit = app, manager, limit
        self._opening: dict[str, int] = {}

    def _open(self, owner: Any) -> int:
        # the SDK keeps no per-owner count; its owner table is the only record of who holds which session
        owners = getattr(self._manager(), "_session_owners", {})
        return sum(1 for o in owners.values() if o == owner)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if not (scope["type"] == "http" and scope.get("method") == "POST" and isinstance(user, AuthenticatedUser)):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
        # a request that may open a session: handshake era (as the SDK routes it) and no session id yet
        if "mcp-session-id" in headers or (version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS):
            await self.app(scope, receive, send)
            return
        owner = authorization_context(user)
        key = json.dumps(owner, sort_keys=True)
        if self._open(owner) + self._opening.get(key, 0) >= self.limit:
            log.warning("refused a new session: the caller already holds %d (NEEV_MCP_MAX_SESSIONS_PER_CALLER)",
                        self.limit)
            body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": (
                f"Too many open sessions for this caller (limit {self.limit}): end unused ones (HTTP DELETE with "
                "their Mcp-Session-Id) or wait until they expire")}}
            await JSONResponse(body, status_code=429, headers={"Retry-After": "60"})(scope, receive, send)
            return
        self._opening[key] = self._opening.get(key, 0) + 1
        done = False

        def finish() -> None:
            nonlocal done
            if not done:
                done = True
                self._opening[key] -= 1
                if not self._opening[key]:
                    del self._opening[key]

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                finish()  # by now the SDK has registered (or refused) the session
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            finish()


_SESSION_ID = re.compile(r"\b[0-9a-f]{32}\b")


class SessionIdRedactor(logging.Filter):
    """Session ids are bearer-like (with one, a request joins a session): the SDK logs them at INFO and WARNING;
    above DEBUG they are replaced by `<session id>`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG:
            message = record.getMessage()
            redacted = _SESSION_ID.sub("<session id>", message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


SDK_SESSION_LOGGERS = ("mcp.server.streamable_http_manager", "mcp.server.streamable_http")


def redact_session_ids() -> None:
    for name in SDK_SESSION_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SessionIdRedactor) for f in logger.filters):
            logger.addFilter(SessionIdRedactor())


class StatelessNoise(logging.Filter):
    """Stateless HTTP has no session, yet the SDK logs `Terminating session: None` at INFO after every request; that
    one line (exactly) is dropped. A real session's termination is still logged (with its id redacted)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Terminating session: None"


def drop_stateless_noise() -> None:
    logger = logging.getLogger("mcp.server.streamable_http")
    if not any(isinstance(f, StatelessNoise) for f in logger.filters):
        logger.addFilter(StatelessNoise())
