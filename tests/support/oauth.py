"""A real authorization server for the tests: `oauth2-mock-server` (npm) started by tests/oauth_server.mjs.

Tokens come from its token endpoint (client_credentials), with the audience, scopes, subject and lifetime a test
chooses; forged ones from two rogue servers that claim the real issuer but sign with keys it does not publish.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import httpx2

from ..components import ROOT, node22, oauth2_mock_server

INTROSPECTION_CLIENT = ("test-client", "test-client-secret")
Signer = Literal["issuer", "rogue_same_kid", "rogue_new_kid"]


@dataclass
class AuthServer:
    issuer: str
    rogue_same_kid: str
    rogue_new_kid: str

    def token(self, aud: str | None, scope: str | None = None, *, sub: str | None = None,
              expires_in: int | None = None, nbf_in: int | None = None, client_id: str | None = None,
              signer: Signer = "issuer") -> str:
        """An access token from the server's token endpoint (`signer`: the real issuer or a rogue one)."""
        fields: dict[str, Any] = {"grant_type": "client_credentials", "aud": aud, "scope": scope, "sub": sub,
                                  "expires_in": expires_in, "nbf_in": nbf_in, "client_id": client_id}
        url = getattr(self, signer) + "/token"
        response = httpx2.post(url, data={k: str(v) for k, v in fields.items() if v is not None}, timeout=10.0)
        response.raise_for_status()
        return str(response.json()["access_token"])

    def opaque(self, aud: str, scope: str, sub: str) -> str:
        """An opaque (non-JWT) token only RFC 7662 introspection at /_test/introspect can vouch for."""
        response = httpx2.post(self.issuer + "/_test/opaque", data={"aud": aud, "scope": scope, "sub": sub},
                               timeout=10.0)
        response.raise_for_status()
        return str(response.json()["access_token"])

    def add_key(self) -> str:
        response = httpx2.post(self.issuer + "/_test/add-key", timeout=10.0)
        response.raise_for_status()
        return str(response.json()["kid"])


@contextmanager
def running_auth_server() -> Iterator[AuthServer]:
    node = node22()
    package_dir = oauth2_mock_server()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(node), str(ROOT / "tests" / "oauth_server.mjs"), str(package_dir)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the launcher prints its URLs once listening
        if not line:
            log.seek(0)
            raise AssertionError(f"oauth2-mock-server did not start: {log.read().decode(errors='replace')}")
        yield AuthServer(**json.loads(line))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # the launcher stops when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()
