"""Streamable HTTP: the SDK's transport at `/mcp`, behind a Host/Origin guard and inbound auth, plus `/healthz`.

    uvicorn ─► Starlette
               ├── GET /healthz   no auth (load balancers and probes call it), but Host/Origin-guarded; only
               │                  {"status": …} unless NEEV_MCP_HEALTH_DETAILS=1
               ├── GET /.well-known/oauth-protected-resource/mcp   oauth mode: RFC 9728 metadata (the SDK's route)
               └── /mcp           inbound auth (neev_mcp/inbound.py: throttle, the SDK's bearer middleware, scopes,
                                  per-caller session cap) ─► SDK streamable HTTP app: Host/Origin allow-list ─► server

Modes (`NEEV_MCP_AUTH`):

- `oauth` (recommended for remote use): an OAuth 2.1 resource server. Tokens are issued by NEEV_MCP_OAUTH_ISSUER for
  NEEV_MCP_RESOURCE_URL and carry `neev:read` / `neev:write` / `neev:delete`; NeevCloud is called with the server's
  own `NEEV_API_TOKEN`, never with the client's token.
- `static`: the client must send `Authorization: Bearer $NEEV_MCP_AUTH_TOKEN` (constant-time comparison; at least 32
  characters off loopback). The header stays at the door: NeevCloud is called with the server's own token.
- `passthrough`: an API-key mode for callers that hold their own NeevCloud token: each request's bearer *is* the
  NeevCloud token (it must look like an unexpired JWT; NeevCloud checks it). The server holds no NeevCloud token.
  The MCP spec forbids passing through tokens *issued for the MCP server*; here the client deliberately sends a
  NeevCloud key, as with Stripe or Cloudflare API keys.
- `none`: no inbound auth; allowed on loopback, or anywhere when chosen explicitly (e.g. behind an auth proxy).

Every mode sets the request's user, so a stateful session only answers the credential that opened it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import anyio
import httpx2
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import TokenVerifier
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from . import __version__, telemetry
from .config import CONFIRM_OFF_WARNING, MIN_SECRET_LENGTH, ConfigurationError, Settings
from .inbound import (
    FailureThrottle,
    PassthroughVerifier,
    ScopeGuard,
    SessionCap,
    StaticVerifier,
    drop_stateless_noise,
    redact_session_ids,
)
from .loopback import is_loopback
from .oauth import OAuthConfig, OAuthVerifier
from .registry import ALL_SCOPES
from .server import NeevServer, build_server
from .spec.source import LoadedSpec

log = logging.getLogger("neev_mcp.http")

MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
AuthMode = Literal["static", "passthrough", "oauth", "none"]
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
    if mode in ("none", "oauth") and settings.auth_token is not None:
        raise ConfigurationError(f"NEEV_MCP_AUTH={mode} contradicts NEEV_MCP_AUTH_TOKEN being set: remove one of them")
    if mode == "passthrough":
        _check_passthrough(settings)
    if mode == "oauth":
        OAuthConfig.from_settings(settings)  # raises with the variable to fix
        if settings.api_token is None and not settings.sandbox:
            raise ConfigurationError("NEEV_MCP_AUTH=oauth calls NeevCloud with the server's own NEEV_API_TOKEN (the "
                                     "client's OAuth token is never sent upstream): set NEEV_API_TOKEN")
    if settings.auth_mode is None and mode == "none" and not is_loopback(settings.host):
        raise ConfigurationError(
            f"binding to {settings.host} (not loopback) requires inbound auth: set NEEV_MCP_AUTH=oauth (with "
            "NEEV_MCP_OAUTH_ISSUER and NEEV_MCP_RESOURCE_URL), or NEEV_MCP_AUTH_TOKEN (a random string of at least "
            f"{MIN_SECRET_LENGTH} characters clients send as a bearer), or NEEV_MCP_AUTH=passthrough, or "
            "NEEV_MCP_AUTH=none to serve without auth (only behind a proxy that authenticates)"
        )
    if mode == "static" and settings.auth_token is not None:
        _check_static_length(settings)
    return mode


def _check_passthrough(settings: Settings) -> None:
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


def _check_static_length(settings: Settings) -> None:
    assert settings.auth_token is not None
    if len(settings.auth_token.get_secret_value()) >= MIN_SECRET_LENGTH:
        return
    if not is_loopback(settings.host):
        raise ConfigurationError(
            f"NEEV_MCP_AUTH_TOKEN must be at least {MIN_SECRET_LENGTH} characters of random data when serving beyond "
            "loopback (e.g. the output of `openssl rand -hex 32`): a short bearer can be guessed"
        )
    log.warning("NEEV_MCP_AUTH_TOKEN is shorter than %d characters: use a long random value", MIN_SECRET_LENGTH)


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
    if not settings.health_details:  # what a probe needs; modes and versions are for operators who opt in
        return {"status": "ok"}
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


def _verifier(settings: Settings, policy: HttpPolicy) -> TokenVerifier | None:
    if policy.auth == "static":
        assert settings.auth_token is not None
        return StaticVerifier(settings.auth_token.get_secret_value())
    if policy.auth == "passthrough":
        return PassthroughVerifier()
    if policy.auth == "oauth":
        return OAuthVerifier(OAuthConfig.from_settings(settings))
    return None


def _oauth_settings(settings: Settings) -> AuthSettings:
    return AuthSettings(issuer_url=settings.oauth_issuer, resource_server_url=settings.resource_url,
                        validate_token_resource=True)


def _protect(mcp_app: ASGIApp, settings: Settings, policy: HttpPolicy, server: NeevServer,
             verifier: TokenVerifier | None) -> tuple[ASGIApp, list[Route]]:
    """`mcp_app` behind the inbound-auth stack of neev_mcp/inbound.py, and the routes oauth mode adds."""
    if verifier is None:  # NEEV_MCP_AUTH=none
        return mcp_app, []
    app: ASGIApp = mcp_app
    if not settings.stateless:
        app = SessionCap(app, lambda: server.session_manager, settings.max_sessions_per_caller)
    routes: list[Route] = []
    metadata_url: str | None = None
    resource: AnyHttpUrl | None = None
    if policy.auth == "oauth":
        auth = _oauth_settings(settings)
        resource = auth.resource_server_url
        assert resource is not None
        metadata_url = str(build_resource_metadata_url(resource))
        app = ScopeGuard(app, server.scope_for, metadata_url)
        routes = create_protected_resource_routes(resource_url=resource, authorization_servers=[auth.issuer_url],
                                                  scopes_supported=list(ALL_SCOPES), resource_name="neev-mcp")
    app = RequireAuthMiddleware(app, [], AnyHttpUrl(metadata_url) if metadata_url else None)
    app = AuthContextMiddleware(app)
    app = AuthenticationMiddleware(app, backend=BearerAuthBackend(verifier, resource_server_url=resource))
    return FailureThrottle(app), routes


def build_http_app(settings: Settings, server: NeevServer | None = None, spec: LoadedSpec | None = None) -> Starlette:
    """The ASGI app for `settings`; raises `ConfigurationError` for an unsafe or contradictory configuration."""
    policy = resolve_policy(settings)
    server = server or build_server(settings, spec=spec)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(policy.allowed_hosts),
        allowed_origins=list(policy.allowed_origins),
    )
    mcp_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        # stateful: SSE streams let handshake-era clients answer elicitation mid-call;
        # stateless: no session memory, any replica answers any request (2026-07-28 rounds carry sealed state)
        stateless_http=settings.stateless,
        json_response=False,
        transport_security=security,
        host=settings.host,
    )
    redact_session_ids()
    drop_stateless_noise()
    verifier = _verifier(settings, policy)
    guarded, auth_routes = _protect(mcp_app, settings, policy, server, verifier)
    metrics_routes = _metrics_routes(settings, server, security)
    probe = UpstreamProbe(None if settings.sandbox else server.client.base_url)
    guard = TransportSecurityMiddleware(security)

    async def health(request: Request) -> Response:
        refused = await guard.validate_request(request)  # a DNS-rebinding page must not read it either
        if refused is not None:
            return refused
        return JSONResponse(health_payload(settings, policy, probe), headers={"Cache-Control": "no-store"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Mounted apps' lifespans never run: the session manager must be started here.
        async with server.session_manager.run(), anyio.create_task_group() as background:
            background.start_soon(probe.run)
            try:
                yield
            finally:
                background.cancel_scope.cancel()
                if isinstance(verifier, OAuthVerifier):
                    await verifier.aclose()

    app = Starlette(
        routes=[Route(HEALTH_PATH, health, methods=["GET"]), *auth_routes, *metrics_routes, Mount("/", app=guarded)],
        lifespan=lifespan,
    )
    app.state.policy = policy
    return app


def _metrics_routes(settings: Settings, server: NeevServer, security: TransportSecuritySettings) -> list[Route]:
    """`/metrics` (Prometheus text) with NEEV_MCP_METRICS=1; the store exists only then, so metrics cost nothing."""
    # The SDK keeps no public count of its sessions; its session table is the truth (0 if it goes away).
    telemetry.HUB.open_sessions = None if settings.stateless else (
        lambda: len(getattr(server.session_manager, "_server_instances", ())))
    if not settings.metrics:
        return []
    from .prometheus import PrometheusStore, metrics_endpoint

    store = PrometheusStore(sessions=telemetry.HUB.sessions)
    telemetry.add_sink(store)
    scrape_token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    return [Route(METRICS_PATH, metrics_endpoint(store, security, scrape_token), methods=["GET"])]


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
    if policy.auth == "oauth":
        log.info("OAuth resource server %s; tokens from %s, with the scopes %s", settings.resource_url,
                 settings.oauth_issuer, ", ".join(ALL_SCOPES))
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
