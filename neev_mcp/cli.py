"""Command line: `neev-mcp` (stdio), `neev-mcp --transport http`, `neev-mcp demo`, `neev-mcp sandbox`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from . import __version__
from .bearer import describe_expiry, looks_like_jwt
from .config import CONFIRM_OFF_WARNING, HTTP_ONLY_VARS, SANDBOX_IGNORED_VARS, ConfigurationError, Settings

log = logging.getLogger("neev_mcp")
NOT_A_JWT_WARNING = ("NEEV_API_TOKEN is not a JWT (a NeevCloud token is three dot-separated parts, eyJ…): NeevCloud "
                     "will likely refuse every call with 401; copy the whole token from NeevCloud")


def _server_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="neev-mcp",
        description="MCP server for NeevCloud VMs. Subcommands: 'demo' (scripted session on the sandbox), "
        "'sandbox' (serve the simulated NeevCloud API over HTTP), 'spec check [FILE|URL]' (what a newer spec would "
        "change).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""environment:
  NEEV_API_TOKEN           NeevCloud bearer JWT (required unless --sandbox; never logged)
  NEEV_API_BASE_URL        API base URL (default https://api.ai.neevcloud.com/vm)
  NEEV_ORG_ID, NEEV_PROJECT_ID   default scope, so tools need no org_id/project_id
  NEEV_CONFIRM             destructive (default) | mutating | off
  NEEV_CONFIRM_FALLBACK    token (default) | deny, for clients without elicitation
  NEEV_MCP_SECRET          signs confirmation tokens; the same on every replica (>= 32 chars)
  NEEV_READ_ONLY           1 = only read-only tools
  NEEV_OPENAPI_SPEC        a newer NeevCloud OpenAPI spec (file or https URL); default: the vendored one
  NEEV_MCP_AUTH            HTTP transport: oauth (recommended remotely) | static | passthrough | none
  NEEV_MCP_OAUTH_ISSUER, NEEV_MCP_RESOURCE_URL   oauth: the authorization server; this server's URL (audience)
  NEEV_MCP_AUTH_TOKEN, NEEV_MCP_ALLOWED_HOSTS, NEEV_MCP_ALLOWED_ORIGINS   HTTP transport
  NEEV_MCP_METRICS=1       Prometheus text at /metrics (HTTP); NEEV_MCP_METRICS_TOKEN: its bearer
  OTEL_EXPORTER_OTLP_ENDPOINT …   traces and metrics over OTLP (pip install 'neev-mcp[otel]')
The full list is in the README.""",
    )
    p.add_argument("--version", action="version", version=f"neev-mcp {__version__}")
    p.add_argument("--sandbox", action="store_true", default=None,
                   help="serve against an embedded simulated NeevCloud (no account)")
    p.add_argument("--read-only", action="store_true", default=None, help="expose only read-only tools")
    p.add_argument("--transport", choices=["stdio", "http"], default=None, help="default: stdio")
    p.add_argument("--host", default=None, help="HTTP bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default 8000)")
    p.add_argument("--stateless", action="store_true", default=None, help="HTTP without server-side sessions")
    p.add_argument("--base-url", dest="api_base_url", default=None, help="overrides NEEV_API_BASE_URL")
    p.add_argument("--org-id", default=None, help="overrides NEEV_ORG_ID")
    p.add_argument("--project-id", default=None, help="overrides NEEV_PROJECT_ID")
    p.add_argument("--confirm", choices=["destructive", "mutating", "off"], default=None, help="overrides NEEV_CONFIRM")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default=None)
    p.add_argument("--spec", dest="openapi_spec", default=None, metavar="FILE|URL",
                   help="build tools from this OpenAPI spec (overrides NEEV_OPENAPI_SPEC; default: the vendored one)")
    return p


def configure_logging(level: str) -> None:
    # stdout is the stdio transport: log to stderr only.
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per request drowns the useful ones


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "demo":
        from .demo import main as demo_main

        return demo_main(argv[1:])
    if argv and argv[0] == "sandbox":
        configure_logging("INFO")
        from .sandbox.server import main as sandbox_main

        return sandbox_main(argv[1:], prog="neev-mcp sandbox")
    if argv and argv[0] == "spec":
        from .spec_check import main as spec_main

        return spec_main(argv[1:])
    parser = _server_parser()
    args = parser.parse_args(argv)
    misplaced = flags_that_do_not_apply(args)
    if misplaced:
        parser.error(misplaced)  # exit 2 with the usage line
    try:  # unset flags are None and leave the environment's value
        settings = Settings.load(applicable(os.environ, args.transport), **vars(args))
    except ConfigurationError as exc:
        return refuse(exc)
    from .server import build_server, load_spec_setting

    try:
        spec = load_spec_setting(settings)  # NEEV_OPENAPI_SPEC / --spec: checked before anything else happens
    except ConfigurationError as exc:
        return refuse(exc)
    configure_logging(settings.log_level)
    name_what_is_not_read(settings, os.environ)
    announce(settings)
    from .telemetry import setup_from_env

    setup_from_env()  # OpenTelemetry SDK + OTLP only when OTEL_* variables ask for it (the neev-mcp[otel] extra)
    if settings.transport == "http":
        from .http import serve_http

        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after a clean shutdown: no traceback
            serve_http(settings, spec)
        return 0
    try:
        server = build_server(settings, spec=spec)
    except ConfigurationError as exc:  # e.g. a malformed prompt file: say which, without a traceback
        return refuse(exc)
    server.run("stdio")
    return 0


def refuse(exc: ConfigurationError) -> int:
    """Each line of the problem on stderr as `neev-mcp: …`; exit status 2."""
    for line in str(exc).splitlines():
        print(f"neev-mcp: {line}", file=sys.stderr)
    return 2


HTTP_ONLY_FLAGS = ("host", "port", "stateless")


def flags_that_do_not_apply(args: argparse.Namespace) -> str | None:
    """A flag that would be silently ignored in the chosen mode is a mistake: say so rather than start without it."""
    given = [f"--{name}" for name in HTTP_ONLY_FLAGS if getattr(args, name) is not None]
    if given and args.transport != "http":
        them = "it" if len(given) == 1 else "them"
        return (f"{' and '.join(given)} only appl{'ies' if len(given) == 1 else 'y'} to --transport http; this server "
                f"would speak stdio. Add --transport http, or remove {them}")
    if args.sandbox and args.api_base_url is not None:
        return ("--base-url does not apply with --sandbox (the embedded sandbox has no URL). To use a sandbox served "
                "over HTTP, run `neev-mcp sandbox` and start this server without --sandbox, as it prints")
    return None


def applicable(environ: Mapping[str, str], transport: str | None) -> dict[str, str]:
    """The environment as the chosen transport reads it. A stdio server never sees the HTTP-only variables: one
    environment often serves several servers, so one of them set (or invalid) must not change or stop it; and with
    NEEV_MCP_AUTH=passthrough every stdio call would fail for want of a request header."""
    return {k: v for k, v in environ.items() if transport == "http" or k not in HTTP_ONLY_VARS}


def name_what_is_not_read(settings: Settings, environ: Mapping[str, str]) -> None:
    """One start-up line for the variables this mode does not read (flags of the same kind are refused outright)."""
    if settings.transport != "http":
        unread = [var for var in HTTP_ONLY_VARS if environ.get(var)]
        if unread:
            one = len(unread) == 1
            log.warning("%s appl%s only to the HTTP transport (--transport http); this server speaks stdio, so %s "
                        "ignored", ", ".join(unread), "ies" if one else "y", "it is" if one else "they are")
    if settings.sandbox:
        unread = [var for var in SANDBOX_IGNORED_VARS if environ.get(var)]
        if unread:
            log.info("%s not used with --sandbox: the embedded sandbox has its own URL and token",
                     " and ".join(unread) + (" is" if len(unread) == 1 else " are"))


def announce(settings: Settings) -> None:
    """Start-up warnings a user needs to see in their client's server log."""
    if settings.sandbox:
        log.info("neev-mcp %s on the embedded sandbox (simulated NeevCloud; no account needed)", __version__)
    elif settings.auth_mode == "passthrough":
        log.info("pass-through (API-key) mode: each caller's own NeevCloud token, sent as its bearer, is used upstream")
    elif settings.api_token is None:
        log.warning("NEEV_API_TOKEN is not set: every tool call will fail until it is (or use --sandbox)")
    elif not looks_like_jwt(settings.api_token.get_secret_value()):
        log.warning(NOT_A_JWT_WARNING)
    else:
        expiry = describe_expiry(settings.api_token.get_secret_value())
        if expiry:
            log.warning("NEEV_API_TOKEN looks expired%s: calls will be refused with 401", expiry)
    if settings.confirm == "off":
        log.warning(CONFIRM_OFF_WARNING)
    if settings.read_only:
        log.info("read-only mode: only tools with readOnlyHint=true are available")


if __name__ == "__main__":
    sys.exit(main())
