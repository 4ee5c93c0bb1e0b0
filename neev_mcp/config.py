"""Settings from the environment (and CLI flags of the same meaning), validated once at start-up.

Secrets are `SecretStr`, so a settings object can be printed or logged without leaking them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .resp import RedisURL

DEFAULT_BASE_URL = "https://api.ai.neevcloud.com/vm"
MIN_SECRET_LENGTH = 32
CONFIRM_OFF_WARNING = "NEEV_CONFIRM=off: destructive tools run WITHOUT human confirmation (automation only)."

# environment variable → settings field
ENV_VARS: dict[str, str] = {
    "NEEV_API_TOKEN": "api_token",
    "NEEV_API_BASE_URL": "api_base_url",
    "NEEV_ORG_ID": "org_id",
    "NEEV_PROJECT_ID": "project_id",
    "NEEV_MCP_SECRET": "mcp_secret",
    "NEEV_READ_ONLY": "read_only",
    "NEEV_CONFIRM": "confirm",
    "NEEV_CONFIRM_FALLBACK": "confirm_fallback",
    "NEEV_CONFIRM_TTL": "confirm_ttl",
    "NEEV_MCP_AUDIT_LOG": "audit_log",
    "NEEV_CONNECT_TIMEOUT": "connect_timeout",
    "NEEV_READ_TIMEOUT": "read_timeout",
    "NEEV_REQUEST_DEADLINE": "request_deadline",
    "NEEV_MAX_RESPONSE_BYTES": "max_response_bytes",
    "NEEV_MAX_ATTEMPTS": "max_attempts",
    "NEEV_RETRY_BACKOFF": "retry_backoff",
    "NEEV_MCP_ALLOWED_HOSTS": "allowed_hosts",
    "NEEV_MCP_ALLOWED_ORIGINS": "allowed_origins",
    "NEEV_MCP_AUTH_TOKEN": "auth_token",
    "NEEV_MCP_AUTH": "auth_mode",
    "NEEV_MCP_LOG_LEVEL": "log_level",
    "NEEV_OPENAPI_SPEC": "openapi_spec",
    "NEEV_MCP_REPLAY_STORE": "replay_store",
    "NEEV_OVERVIEW_DEADLINE": "overview_deadline",
    "NEEV_MCP_OAUTH_ISSUER": "oauth_issuer",
    "NEEV_MCP_RESOURCE_URL": "resource_url",
    "NEEV_MCP_OAUTH_JWKS_URL": "oauth_jwks_url",
    "NEEV_MCP_OAUTH_INTROSPECTION_URL": "oauth_introspection_url",
    "NEEV_MCP_OAUTH_CLIENT_ID": "oauth_client_id",
    "NEEV_MCP_OAUTH_CLIENT_SECRET": "oauth_client_secret",
    "NEEV_MCP_MAX_SESSIONS_PER_CALLER": "max_sessions_per_caller",
    "NEEV_MCP_HEALTH_DETAILS": "health_details",
    "NEEV_MCP_METRICS": "metrics",
    "NEEV_MCP_METRICS_TOKEN": "metrics_token",
}

# Only the HTTP transport reads these; set for a stdio server they would do nothing (or, NEEV_MCP_AUTH=passthrough,
# fail every call for want of a request header), so start-up names them and leaves them out.
HTTP_ONLY_VARS: tuple[str, ...] = (
    "NEEV_MCP_AUTH", "NEEV_MCP_AUTH_TOKEN", "NEEV_MCP_ALLOWED_HOSTS", "NEEV_MCP_ALLOWED_ORIGINS",
    "NEEV_MCP_OAUTH_ISSUER", "NEEV_MCP_RESOURCE_URL", "NEEV_MCP_OAUTH_JWKS_URL", "NEEV_MCP_OAUTH_INTROSPECTION_URL",
    "NEEV_MCP_OAUTH_CLIENT_ID", "NEEV_MCP_OAUTH_CLIENT_SECRET", "NEEV_MCP_MAX_SESSIONS_PER_CALLER",
    "NEEV_MCP_HEALTH_DETAILS", "NEEV_MCP_METRICS", "NEEV_MCP_METRICS_TOKEN",
)
SANDBOX_IGNORED_VARS: tuple[str, ...] = ("NEEV_API_TOKEN", "NEEV_API_BASE_URL")  # the embedded sandbox has its own


class ConfigurationError(ValueError):
    """Start-up configuration is invalid; the message names the variable and the fix."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_token: SecretStr | None = None
    api_base_url: str = DEFAULT_BASE_URL
    org_id: str | None = None
    project_id: str | None = None
    mcp_secret: SecretStr | None = None
    read_only: bool = False
    confirm: Literal["destructive", "mutating", "off"] = "destructive"
    confirm_fallback: Literal["token", "deny"] = "token"
    confirm_ttl: float = Field(300.0, gt=0, le=86400)
    audit_log: Path | None = None
    connect_timeout: float = Field(5.0, gt=0, le=300)
    read_timeout: float = Field(30.0, gt=0, le=600)
    request_deadline: float = Field(30.0, gt=0, le=3600)  # one whole upstream request, every read and retry included
    max_response_bytes: int = Field(4 * 1024 * 1024, ge=1024, le=1024**3)
    max_attempts: int = Field(3, ge=1, le=10)
    retry_backoff: float = Field(0.5, ge=0, le=60)
    # seconds a whole-project answer may spend reading pages (then it says it is incomplete)
    overview_deadline: float = Field(25.0, gt=0, le=3600)
    sandbox: bool = False
    # streamable HTTP
    transport: Literal["stdio", "http"] = "stdio"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    stateless: bool = False
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    auth_token: SecretStr | None = None
    auth_mode: Literal["static", "none", "passthrough", "oauth"] | None = None
    # NEEV_MCP_AUTH=oauth: this server as an OAuth 2.1 resource server (neev_mcp/oauth.py)
    oauth_issuer: str | None = None
    resource_url: str | None = None
    oauth_jwks_url: str | None = None
    oauth_introspection_url: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    max_sessions_per_caller: int = Field(20, ge=1, le=10000)
    health_details: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # a newer or extended NeevCloud spec (file path or https URL); None: the vendored one
    openapi_spec: str | None = None
    # redis://[[user]:password@]host[:port][/db]: confirmations claimed once across replicas (a URL may hold a password)
    replay_store: SecretStr | None = None
    metrics: bool = False  # Prometheus text at /metrics (HTTP transport)
    metrics_token: SecretStr | None = None  # optional bearer a scraper must send for /metrics

    @field_validator("api_base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local test server)")
        return value.rstrip("/")

    # Choices are case-insensitive: `debug` and `Destructive` mean what they say.
    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("confirm", "confirm_fallback", "auth_mode", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @field_validator("oauth_issuer", "resource_url", "oauth_jwks_url", "oauth_introspection_url")
    @classmethod
    def _check_oauth_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an https:// URL (http:// only for a loopback test server)")
        return value

    @field_validator("max_response_bytes", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        # A bundle's number setting may arrive as "4194304.0"; a whole number is meant.
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                return value
            return int(number) if number.is_integer() else value
        return value

    @field_validator("org_id", "project_id", "api_token", "mcp_secret", "auth_token", "openapi_spec", "replay_store",
                     "oauth_issuer", "resource_url", "oauth_jwks_url", "oauth_introspection_url", "oauth_client_id",
                     "oauth_client_secret", "metrics_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_token", "auth_token", "metrics_token", mode="before")
    @classmethod
    def _clean_token(cls, value: Any) -> Any:
        # A secret mounted from a file often ends in a newline; any other whitespace or control character inside a
        # bearer token would make every request fail in a confusing way, so say so at start-up.
        if isinstance(value, str):
            value = value.strip()
            if re.match(r"(?i)bearer\s", value):
                raise ValueError("starts with 'Bearer ': remove the 'Bearer ' prefix and set only the token itself "
                                 "(the server adds the prefix)")
            if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
                raise ValueError("contains whitespace or control characters; a bearer token is one word")
        return value

    @field_validator("replay_store")
    @classmethod
    def _check_replay_store(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            RedisURL.parse(value.get_secret_value())  # ValueError says what is wrong, never echoing the URL
        return value

    @field_validator("mcp_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Everything a confirmation token's MAC covers is visible to the agent, so a short secret can be guessed
        # offline from one preview and then used to forge tokens for resources never previewed.
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters of random data, e.g. the output of "
                             "`openssl rand -hex 32` (a short secret can be guessed from a confirmation token)")
        return value

    @property
    def own_default_project(self) -> bool:
        """A configured org and project, read with the server's own token: what context-free features need (the
        static `neev://overview` resource, completion of VM names)."""
        return bool(self.org_id and self.project_id) and self.auth_mode != "passthrough"

    @property
    def defaults(self) -> dict[str, str]:
        return {k: v for k, v in (("org_id", self.org_id), ("project_id", self.project_id)) if v}

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Environment first, then explicit overrides (CLI flags); raises `ConfigurationError` with a clear message."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for var, name in ENV_VARS.items():
            raw = env.get(var)
            if raw is not None and raw != "":
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            field_to_var = {v: k for k, v in ENV_VARS.items()}
            problems = []
            for err in exc.errors():
                name = str(err["loc"][0]) if err["loc"] else "?"
                var = field_to_var.get(name, f"--{name.replace('_', '-')}")
                problems.append(f"{var}: {_plain(err)}")  # never the rejected value: it may be a secret
            # one line per problem, each complete on its own
            raise ConfigurationError("\n".join(f"invalid configuration: {p}" for p in problems)) from None


_PLAIN = {
    "bool_parsing": "must be true or false (also 1/0, yes/no, on/off)",
    "float_parsing": "must be a number",
    "int_parsing": "must be a whole number",
}


def _plain(err: Any) -> str:
    """A pydantic error as a person would say it: our own validators' text without pydantic's "Value error, " label,
    "Input should be …" as "must be …"."""
    if err["type"] == "value_error" and "error" in err.get("ctx", {}):
        return str(err["ctx"]["error"])
    message = _PLAIN.get(err["type"], str(err["msg"]))
    return "must be " + message.removeprefix("Input should be ") if message.startswith("Input should be ") else message
