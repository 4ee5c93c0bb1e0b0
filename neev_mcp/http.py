"""Streamable HTTP: the SDK's transport at `/mcp`, behind a Host/Origin guard and inbound auth, plus `/healthz`.

    uvicorn ─► Starlette
               ├── GET /healthz   open (load balancers and Kubernetes probes call it); reveals no secret
               └── /mcp           BearerGuard (401 + WWW-Authenticate)
                                  └─► SDK streamable HTTP app: Host/Origin allow-list (421 / 403) ─► NeevServer

Inbound auth is a small ASGI middleware rather than the SDK's `token_verifier`/`AuthSettings`: those describe an
OAuth resource server (issuer and resource URLs we do not have for a static key), must be given when the server is
constructed, and the middleware is per request, so it behaves the same in stateful and stateless mode and leaves
`/healthz` open. Modes (`NEEV_MCP_AUTH`):

- `static`: the client must send `Authorization: Bearer $NEEV_MCP_AUTH_TOKEN` (constant-time comparison). The header
  stays at the door: NeevCloud is always called with the server's own `NEEV_API_TOKEN`.
- `passthrough`: each request's bearer *is* the NeevCloud token (multi-tenant hosting; NeevCloud checks it). The server
  then holds no NeevCloud token at all: starting with `NEEV_API_TOKEN` or `NEEV_MCP_AUTH_TOKEN` set is refused.
- `none`: no inbound auth; allowed on loopback, or anywhere when chosen explicitly (e.g. behind an auth proxy).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import httpx2
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import __version__
from .bearer import request_bearer
from .config import CONFIRM_OFF_WARNING, ConfigurationError, Settings
from .loopback import is_loopback
from .server import NeevServer, build_server
from .spec.source import LoadedSpec

log = logging.getLogger("neev_mcp.http")

MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"
AuthMode = Literal["static", "passthrough", "none"]
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class HttpPolicy:
    """Who may talk to `/mcp` and under which Host/Origin names; resolved once from the settings."""

    auth: AuthMode
    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...]


def resolve_policy(settings: Settings) -> HttpPolicy:
    """Decide auth mode and allow-lists, refusing unsafe or contradictory combinations with a message that says why."""
    return HttpPolicy(resolve_auth(settings), *resolve_allow_lists(settings))


def resolve_auth(settings: Settings) -> AuthMode:
    mode = settings.auth_mode or ("static" if settings.auth_token else "none")
    if mode == "static" and settings.auth_token is None:
        raise ConfigurationError("NEEV_MCP_AUTH=static needs NEEV_MCP_AUTH_TOKEN (the bearer MCP clients must send)")
    if mode == "none" and settings.auth_token is not None:
        raise ConfigurationError("NEEV_MCP_AUTH=none contradicts NEEV_MCP_AUTH_TOKEN being set: remove one of them")
    if mode == "passthrough":
        held = [
            name
            for name, value in (("NEEV_API_TOKEN", settings.api_token), ("NEEV_MCP_AUTH_TOKEN", settings.auth_token))
            if value is not None
        ]
        if held:
            raise ConfigurationError(
                f"NEEV_MCP_AUTH=passthrough uses each request's own bearer as the NeevCloud token, so the server must "
                f"hold none: unset {' and '.join(held)}"
            )
        if settings.sandbox:
            raise ConfigurationError(
                "NEEV_MCP_AUTH=passthrough cannot be combined with --sandbox (the embedded "
                "sandbox brings its own token); run `neev-mcp sandbox` and set NEEV_API_BASE_URL"
            )
    if settings.auth_mode is None and mode == "none" and not is_loopback(settings.host):
        raise ConfigurationError(
            f"binding to {settings.host} (not loopback) requires inbound auth: set NEEV_MCP_AUTH_TOKEN (a long random "
            "string clients send as a bearer), or NEEV_MCP_AUTH=passthrough, or NEEV_MCP_AUTH=none to serve without "
            "auth (only behind a proxy that authenticates)"
        )
    if mode == "static" and settings.auth_token is not None and len(settings.auth_token.get_secret_value()) < 16:
        log.warning("NEEV_MCP_AUTH_TOKEN is shorter than 16 characters: use a long random value")
    return mode


def _with_any_port(entries: tuple[str, ...]) -> tuple[str, ...]:
    """`name` also admits `name:<any port>`; entries that already carry a port (or `:*`) are kept as they are."""
    out: list[str] = []
    for entry in entries:
        out.append(entry)
        authority = entry.split("://", 1)[-1]
        port_part = authority.rsplit("]", 1)[-1] if authority.startswith("[") else authority
        if ":" not in port_part:
            out.append(entry + ":*")
    return tuple(dict.fromkeys(out))


def resolve_allow_lists(settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Host allow-list: NEEV_MCP_ALLOWED_HOSTS, else loopback names on a loopback bind, else the bind address itself.

    A wildcard bind (0.0.0.0, ::) cannot know the names clients will use (Service DNS, ingress host), so it requires
    NEEV_MCP_ALLOWED_HOSTS. Origins default to http(s) on every allowed host.
    """
    if settings.allowed_hosts:
        hosts = _with_any_port(settings.allowed_hosts)
    elif is_loopback(settings.host):
        hosts = _with_any_port(LOOPBACK_HOSTS)
    elif settings.host in WILDCARD_BINDS:
        raise ConfigurationError(
            f"binding to {settings.host or 'all interfaces'} requires NEEV_MCP_ALLOWED_HOSTS: the comma-separated host "
            "names clients use to reach the server (e.g. 'mcp.example.com,neev-mcp.tools.svc.cluster.local'); a "
            "request with any other Host header is refused (DNS-rebinding protection)"
        )
    else:
        shown = f"[{settings.host}]" if ":" in settings.host else settings.host
        hosts = _with_any_port((shown,))
    if settings.allowed_origins:
        origins = _with_any_port(settings.allowed_origins)
    else:
        origins = tuple(f"{scheme}://{h}" for h in hosts for scheme in ("http", "https"))
    return hosts, origins


class BearerGuard:
    """Inbound auth in front of the MCP endpoint; pure ASGI so streamed (SSE) responses pass through untouched."""

    def __init__(self, app: ASGIApp, mode: AuthMode, token: str | None) -> None:
        self.app = app
        self.mode = mode
        self._token = token.encode() if token else b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.mode == "none":
            await self.app(scope, receive, send)
            return
        presented = request_bearer(Headers(scope=scope))
        if self.mode == "static":
            ok = presented is not None and hmac.compare_digest(presented.encode(), self._token)
        else:  # passthrough: presence only; NeevCloud itself judges the token on every call
            ok = presented is not None
        if ok:
            await self.app(scope, receive, send)
            return
        error = "invalid_token" if presented else "invalid_request"
        description = (
            "the bearer token is not valid for this server" if presented else "send 'Authorization: Bearer <token>'"
        )
        response = JSONResponse(
            {"error": error, "error_description": description},
            status_code=401,
            headers={
                "WWW-Authenticate": f'Bearer realm="neev-mcp", error="{error}", error_description="{description}"'
            },
        )
        await response(scope, receive, send)


class UpstreamProbe:
    """Whether NeevCloud answered recently: an unauthenticated GET of the base URL every `interval` seconds.

    It runs in the background so `/healthz` answers at once even when the API hangs, sends no token (any HTTP answer
    below 500 proves the API is there), and only ever contacts the configured base URL.
    """

    def __init__(self, base_url: str | None, *, interval: float = 30.0, timeout: float = 3.0) -> None:
        self.base_url = base_url  # None: the embedded sandbox, always there
        self.interval = interval
        self.timeout = timeout
        self.reachable: bool | None = None
        self.detail: str | None = None
        self._checked_at: float | None = None  # monotonic
        self._checked_wall: dt.datetime | None = None

    async def run(self) -> None:
        if self.base_url is None:
            return
        async with httpx2.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
            while True:
                await self.check(http)
                await anyio.sleep(self.interval)

    async def check(self, http: httpx2.AsyncClient) -> None:
        assert self.base_url is not None
        try:
            response = await http.get(self.base_url, headers={"User-Agent": f"neev-mcp/{__version__} healthz"})
            self.reachable, self.detail = response.status_code < 500, f"HTTP {response.status_code}"
        except httpx2.HTTPError as exc:
            self.reachable, self.detail = False, type(exc).__name__
        self._checked_at, self._checked_wall = time.monotonic(), dt.datetime.now(dt.UTC)

    def snapshot(self) -> dict[str, Any]:
        if self.base_url is None:
            return {"reachable": True, "embedded_sandbox": True}
        if self._checked_at is None:
            return {"reachable": None, "detail": "not checked yet"}
        return {
            "reachable": self.reachable,
            "detail": self.detail,
            "checked_at": self._checked_wall.isoformat(timespec="seconds") if self._checked_wall else None,
            "age_seconds": round(time.monotonic() - self._checked_at, 1),
        }


def health_payload(settings: Settings, policy: HttpPolicy, probe: UpstreamProbe) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "status": "ok",
        "name": "neev-mcp",
        "version": __version__,
        "transport": "streamable-http",
        "stateless": settings.stateless,
        "read_only": settings.read_only,
        "confirm": settings.confirm,
        "confirm_fallback": settings.confirm_fallback,
        "auth": policy.auth,
        "upstream": probe.snapshot(),
    }
    if settings.confirm == "off":
        payload["warn"] = CONFIRM_OFF_WARNING
    return payload


def build_http_app(settings: Settings, server: NeevServer | None = None, spec: LoadedSpec | None = None) -> Starlette:
    """The ASGI app for `settings`; raises `ConfigurationError` for an unsafe or contradictory configuration."""
    policy = resolve_policy(settings)
    server = server or build_server(settings, spec=spec)
    # Inbound auth is BearerGuard's job (the SDK's AuthSettings wants OAuth issuer URLs a static token lacks).
    mcp_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        # stateful: SSE streams let handshake-era clients answer elicitation mid-call;
        # stateless: no session memory, any replica answers any request (2026-07-28 rounds carry sealed state)
        stateless_http=settings.stateless,
        json_response=False,
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=list(policy.allowed_hosts),
            allowed_origins=list(policy.allowed_origins),
        ),
        host=settings.host,
    )
    probe = UpstreamProbe(None if settings.sandbox else server.client.base_url)
    token = settings.auth_token.get_secret_value() if settings.auth_token else None

    async def health(_: Request) -> JSONResponse:
        return JSONResponse(health_payload(settings, policy, probe), headers={"Cache-Control": "no-store"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Mounted apps' lifespans never run: the session manager must be started here.
        async with server.session_manager.run(), anyio.create_task_group() as background:
            background.start_soon(probe.run)
            yield
            background.cancel_scope.cancel()

    app = Starlette(
        routes=[Route(HEALTH_PATH, health, methods=["GET"]), Mount("/", app=BearerGuard(mcp_app, policy.auth, token))],
        lifespan=lifespan,
    )
    app.state.policy = policy
    return app


def serve_http(settings: Settings, spec: LoadedSpec | None = None) -> None:
    """Serve until interrupted (`neev-mcp --transport http`). Logs go to stderr, like everything else."""
    import uvicorn  # imported here: stdio users never pay for it

    try:
        app = build_http_app(settings, spec=spec)
    except ConfigurationError as exc:
        log.error("neev-mcp: %s", exc)
        raise SystemExit(2) from None
    policy: HttpPolicy = app.state.policy
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    log.info(
        "neev-mcp %s: MCP at http://%s:%d%s (%s), health at %s; inbound auth: %s; allowed hosts: %s",
        __version__,
        shown,
        settings.port,
        MCP_PATH,
        "stateless" if settings.stateless else "stateful",
        HEALTH_PATH,
        policy.auth,
        json.dumps(list(policy.allowed_hosts)),
    )
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep our stderr logging configuration
        log_level=settings.log_level.lower(),
        access_log=settings.log_level == "DEBUG",
        lifespan="on",
        timeout_graceful_shutdown=5,
        server_header=False,
    )
    uvicorn.Server(config).run()
