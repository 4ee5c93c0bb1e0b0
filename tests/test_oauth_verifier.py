"""`OAuthVerifier` against the real authorization server: key rotation, and a bounded JWKS cache (forged `kid`s must
not make us fetch the JWKS once per request). The clock is ours, the HTTP is real; requests are counted with an
httpx2 event hook."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import jwt
import pytest

from neev_mcp.oauth import MIN_REFRESH_SECONDS, OAuthConfig, OAuthVerifier

from .support.oauth import AuthServer, running_auth_server

pytestmark = pytest.mark.slow
RESOURCE = "https://neev-mcp.example.com/mcp"


@pytest.fixture(scope="module")
def auth() -> Iterator[AuthServer]:
    with running_auth_server() as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(auth: AuthServer, clock: Clock, fetched: list[str]) -> OAuthVerifier:
    async def count(request: httpx2.Request) -> None:
        fetched.append(str(request.url).removeprefix(auth.issuer))

    http = httpx2.AsyncClient(timeout=10.0, event_hooks={"request": [count]})
    return OAuthVerifier(OAuthConfig(issuer=auth.issuer, resource=RESOURCE), http=http, now=clock)


@pytest.mark.anyio
async def test_forged_kids_cost_at_most_one_jwks_fetch_per_refresh_interval(auth: AuthServer) -> None:
    clock, fetched = Clock(), []
    check = verifier(auth, clock, fetched)
    genuine = await check.verify_token(auth.token(RESOURCE, "neev:read", sub="alice"))
    forged = [auth.token(RESOURCE, "neev:read", sub="mallory", signer="rogue_new_kid") for _ in range(5)]
    refused = [await check.verify_token(token) for token in forged]
    clock.now += MIN_REFRESH_SECONDS
    late = await check.verify_token(forged[0])
    await check.aclose()

    assert genuine is not None and genuine.subject == "alice" and genuine.scopes == ["neev:read"]
    assert genuine.resource == RESOURCE
    assert refused == [None] * 5 and late is None
    # discovery (RFC 8414 first, then OIDC), one JWKS fetch, then one more only after the interval
    assert fetched == ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/jwks",
                       "/jwks"]


@pytest.mark.anyio
async def test_a_rotated_in_signing_key_is_picked_up_by_refetching_the_jwks(auth: AuthServer) -> None:
    clock, fetched = Clock(), []
    check = verifier(auth, clock, fetched)
    assert await check.verify_token(auth.token(RESOURCE, "neev:read")) is not None
    new_kid = auth.add_key()
    rotated = next(t for t in (auth.token(RESOURCE, "neev:read", sub="bob") for _ in range(6))
                   if jwt.get_unverified_header(t)["kid"] == new_kid)  # the server signs with its keys in turn

    too_soon = await check.verify_token(rotated)
    clock.now += MIN_REFRESH_SECONDS
    accepted = await check.verify_token(rotated)
    await check.aclose()

    assert too_soon is None
    assert accepted is not None and accepted.subject == "bob"
    assert fetched.count("/jwks") == 2
