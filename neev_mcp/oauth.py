"""`NEEV_MCP_AUTH=oauth`: this server as an OAuth 2.1 resource server, validating tokens issued *for it*.

The SDK supplies the protocol pieces (its `TokenVerifier` protocol, bearer middleware, RFC 9728 metadata routes);
this module supplies the verifier:

- JWT access tokens are verified locally: the signature against the issuer's JWKS (fetched from the metadata's
  `jwks_uri` or NEEV_MCP_OAUTH_JWKS_URL, cached, refetched for an unknown `kid` at most once per
  `MIN_REFRESH_SECONDS`, so forged `kid`s cannot turn us into a request amplifier), asymmetric algorithms only (never
  `none` or HMAC, whose "key" would be public), `iss`, `exp`/`nbf` with `LEEWAY_SECONDS`, and `aud` =
  NEEV_MCP_RESOURCE_URL (RFC 8707: a token issued for another API is refused here).
- Opaque tokens go to RFC 7662 introspection when client credentials are configured; the answer must be active,
  from our issuer, unexpired, and name this resource in `aud`.

Every failure is "not authenticated" (None): the bearer middleware answers 401 and never shows why to the caller;
the reason is logged at INFO without the token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import jwt
from mcp.server.auth.provider import AccessToken

from . import __version__
from .config import ConfigurationError, Settings
from .loopback import is_loopback

log = logging.getLogger("neev_mcp.oauth")

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_SECONDS = 30
MIN_REFRESH_SECONDS = 30.0
JWKS_MAX_AGE_SECONDS = 3600.0
MAX_KEYS = 32
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_TOKEN_LENGTH = 16 * 1024


@dataclass(frozen=True)
class OAuthConfig:
    issuer: str
    resource: str
    jwks_url: str | None = None
    introspection_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OAuthConfig:
        missing = [var for var, value in (("NEEV_MCP_OAUTH_ISSUER", settings.oauth_issuer),
                                          ("NEEV_MCP_RESOURCE_URL", settings.resource_url)) if not value]
        if missing:
            raise ConfigurationError(f"NEEV_MCP_AUTH=oauth needs {' and '.join(missing)} (the authorization server's "
                                     "issuer URL; this server's canonical URL, e.g. https://mcp.example.com/mcp)")
        urls = (settings.oauth_issuer, settings.resource_url, settings.oauth_jwks_url, settings.oauth_introspection_url)
        for url in filter(None, urls):
            _require_https(url)
        if bool(settings.oauth_client_id) != bool(settings.oauth_client_secret):
            raise ConfigurationError("NEEV_MCP_OAUTH_CLIENT_ID and NEEV_MCP_OAUTH_CLIENT_SECRET go together (the "
                                     "credentials this server uses for token introspection)")
        if settings.oauth_introspection_url and not settings.oauth_client_id:
            raise ConfigurationError("NEEV_MCP_OAUTH_INTROSPECTION_URL needs NEEV_MCP_OAUTH_CLIENT_ID and "
                                     "NEEV_MCP_OAUTH_CLIENT_SECRET (RFC 7662 introspection is authenticated)")
        assert settings.oauth_issuer and settings.resource_url
        secret = settings.oauth_client_secret.get_secret_value() if settings.oauth_client_secret else None
        return cls(settings.oauth_issuer, settings.resource_url, settings.oauth_jwks_url,
                   settings.oauth_introspection_url, settings.oauth_client_id, secret)


def _require_https(url: str) -> None:
    if url.startswith("http://") and not is_loopback(urlsplit(url).hostname or ""):
        raise ConfigurationError(f"OAuth URLs must use https:// (http:// only on loopback): {url}")


def metadata_urls(issuer: str) -> list[str]:
    """RFC 8414 §3.1 (path inserted after the host), then OpenID Connect discovery (path appended)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    origin = f"{parts.scheme}://{parts.netloc}"
    return [f"{origin}/.well-known/oauth-authorization-server{path}",
            f"{origin}{path}/.well-known/openid-configuration"]


class KeySet:
    """The issuer's signing keys by `kid`, refetched when stale or asked for a `kid` it lacks (rate-limited)."""

    def __init__(self, fetch: Callable[[], Any], now: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch  # async () -> JWKS document
        self._now = now
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = anyio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        if self._due(kid):
            async with self._lock:
                if self._due(kid):  # another request may have refreshed while we waited
                    await self._refresh()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    def _due(self, kid: str | None) -> bool:
        if self._fetched_at is None:
            return True
        age = self._now() - self._fetched_at
        return age > JWKS_MAX_AGE_SECONDS or (kid not in self._keys and age >= MIN_REFRESH_SECONDS)

    async def _refresh(self) -> None:
        self._fetched_at = self._now()  # also on failure: a broken JWKS endpoint is retried at the same pace
        try:
            document = await self._fetch()
        except Exception as exc:  # any failure keeps the keys we had
            log.warning("could not fetch the authorization server's JWKS: %s", _describe(exc))
            return
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in (document.get("keys") or [])[:MAX_KEYS] if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                keys[entry.get("kid")] = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                continue  # a key type we cannot use is not an error for the others
        self._keys = keys


class OAuthVerifier:
    """The SDK's `TokenVerifier` for tokens issued by `config.issuer` for `config.resource`."""

    def __init__(self, config: OAuthConfig, http: httpx2.AsyncClient | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._http = http or httpx2.AsyncClient(
            timeout=5.0, follow_redirects=False, headers={"User-Agent": f"neev-mcp/{__version__}"})
        self._metadata: dict[str, Any] | None = None
        self._metadata_tried_at: float | None = None
        self.keys = KeySet(self._fetch_jwks, now)
        audiences = {config.resource, config.resource.rstrip("/"), config.resource.rstrip("/") + "/"}
        self._audiences = sorted(audiences)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return None
        try:
            if token.count(".") == 2:
                return await self._verify_jwt(token)
            if self.config.client_id:
                return await self._introspect(token)
            log.info("refused a bearer that is not a JWT (no introspection configured)")
        except Exception as exc:  # a verifier answers; it never raises into the middleware
            log.info("refused a bearer token: %s", _describe(exc))
        return None

    async def _verify_jwt(self, token: str) -> AccessToken | None:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            log.info("refused a JWT signed with %r (accepted: %s)", algorithm, ", ".join(ALGORITHMS))
            return None
        key = await self.keys.key(header.get("kid"))
        if key is None:
            log.info("refused a JWT whose key (kid %r) the authorization server does not publish", header.get("kid"))
            return None
        claims = jwt.decode(
            token, key.key, algorithms=[algorithm], audience=self._audiences, issuer=self.config.issuer,
            leeway=LEEWAY_SECONDS, options={"require": ["exp", "iss", "aud"]},
        )
        return self._access_token(token, claims)

    async def _introspect(self, token: str) -> AccessToken | None:
        url = self.config.introspection_url or (await self.metadata()).get("introspection_endpoint")
        if not url:
            log.info("refused an opaque token: the authorization server offers no introspection endpoint")
            return None
        assert self.config.client_id and self.config.client_secret
        response = await self._http.post(str(url), data={"token": token, "token_type_hint": "access_token"},
                                         auth=(self.config.client_id, self.config.client_secret))
        response.raise_for_status()
        claims = _bounded_json(response)
        if not isinstance(claims, dict) or claims.get("active") is not True:
            return None
        if claims.get("iss", self.config.issuer) != self.config.issuer:
            return None
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp + LEEWAY_SECONDS < time.time():
            return None
        aud = claims.get("aud")
        if not set([aud] if isinstance(aud, str) else aud or []) & set(self._audiences):
            log.info("refused an introspected token not issued for %s", self.config.resource)
            return None
        return self._access_token(token, {**claims, "iss": claims.get("iss", self.config.issuer)})

    def _access_token(self, token: str, claims: dict[str, Any]) -> AccessToken:
        scope = claims.get("scope", claims.get("scp", ""))
        scopes = scope.split() if isinstance(scope, str) else [str(s) for s in scope or []]
        subject = claims.get("sub")
        client_id = claims.get("client_id") or claims.get("azp") or subject or "unknown-client"
        exp = claims.get("exp")
        return AccessToken(
            token=token, client_id=str(client_id), scopes=scopes, subject=str(subject) if subject else None,
            expires_at=int(exp) if isinstance(exp, int | float) else None, resource=self.config.resource,
            claims={"iss": claims.get("iss")},
        )

    # -- the authorization server's documents -------------------------------------------------------------------
    async def metadata(self) -> dict[str, Any]:
        """RFC 8414 / OIDC metadata of the issuer; {} until it could be read (retried every MIN_REFRESH_SECONDS)."""
        if self._metadata is not None:
            return self._metadata
        now = time.monotonic()
        if self._metadata_tried_at is not None and now - self._metadata_tried_at < MIN_REFRESH_SECONDS:
            return {}
        self._metadata_tried_at = now
        for url in metadata_urls(self.config.issuer):
            try:
                response = await self._http.get(url)
                if response.status_code != 200:
                    continue
                document = _bounded_json(response)
            except (httpx2.HTTPError, ValueError) as exc:
                log.warning("authorization server metadata at %s unreadable: %s", url, _describe(exc))
                continue
            # RFC 8414 §3.3: the document must be the issuer's own, or an attacker's metadata could redirect us
            if isinstance(document, dict) and str(document.get("issuer", "")).rstrip("/") == \
                    self.config.issuer.rstrip("/"):
                self._metadata = document
                return document
            log.warning("authorization server metadata at %s names another issuer; ignored", url)
        return {}

    async def _fetch_jwks(self) -> Any:
        url = self.config.jwks_url or (await self.metadata()).get("jwks_uri")
        if not url:
            raise LookupError("no jwks_uri (set NEEV_MCP_OAUTH_JWKS_URL, or check NEEV_MCP_OAUTH_ISSUER)")
        response = await self._http.get(str(url))
        response.raise_for_status()
        return _bounded_json(response)


def _bounded_json(response: httpx2.Response) -> Any:
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"document larger than {MAX_DOCUMENT_BYTES} bytes")
    return response.json()


def _describe(exc: BaseException) -> str:
    """A reason for the log: the exception's type and message (PyJWT and httpx2 messages never contain the token)."""
    return f"{type(exc).__name__}: {exc}"[:200]
