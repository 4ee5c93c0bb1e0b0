"""Issue 12, finding 8: the sandbox is a real service too. Its request log is a bounded ring, it never keeps a bearer
token, and `neev-mcp sandbox` answers only under loopback Host names (DNS-rebinding protection, as `/mcp`)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest

from neev_mcp.sandbox import DEFAULT_TOKEN, Sandbox, SimClock, make_token, redact_authorization
from neev_mcp.sandbox.sandbox import DEFAULT_LOG_SIZE, LOG_SIZE_ENV

from .support import hygiene as _hygiene
from .support.http import Proc, base_env, free_port, spawn, wait_ready

OTHER = make_token(sub="sandbox-hardening")
_hygiene.watch(OTHER, "a token sent to the sandbox")


async def get_vms(sb: Sandbox, n: int, token: str = DEFAULT_TOKEN) -> list[httpx2.Response]:
    async with httpx2.AsyncClient(transport=sb.transport(), base_url=sb.base_url) as client:
        return [await client.get(sb.project_path() + "/vms", headers={"Authorization": f"Bearer {token}"})
                for _ in range(n)]


@pytest.mark.anyio
async def test_the_request_log_keeps_only_the_last_n_requests_and_numbering_goes_on() -> None:
    sb = Sandbox(clock=SimClock(speed=0), log_size=5)
    answers = await get_vms(sb, 12)
    assert len(sb.requests) == 5  # a count bound: 20k calls cannot grow the log past it
    assert answers[-1].headers["x-request-id"] == "sbx-000012"
    assert [r.status for r in sb.requests] == [200] * 5
    sb.clear_requests()
    assert sb.requests == []


def test_the_log_size_comes_from_the_environment_and_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Sandbox(clock=SimClock(speed=0))._requests.maxlen == DEFAULT_LOG_SIZE
    monkeypatch.setenv(LOG_SIZE_ENV, "3")
    assert Sandbox(clock=SimClock(speed=0))._requests.maxlen == 3
    monkeypatch.setenv(LOG_SIZE_ENV, "0")
    with pytest.raises(ValueError, match=r"NEEV_SANDBOX_LOG_SIZE must be a whole number >= 1 \(requests kept in the "
                                         r"log\), got '0'"):
        Sandbox(clock=SimClock(speed=0))


@pytest.mark.anyio
async def test_authorization_headers_are_kept_only_as_a_fingerprint() -> None:
    sb = Sandbox(clock=SimClock(speed=0))
    [answer] = await get_vms(sb, 1, token=OTHER)
    assert answer.status_code == 401
    [recorded] = sb.requests
    assert recorded.headers["authorization"] == redact_authorization(f"Bearer {OTHER}")
    assert recorded.headers["authorization"].startswith("Bearer [redacted sha256:")
    assert OTHER not in json.dumps([r.to_dict() for r in sb.requests])


@pytest.fixture
def cli_sandbox() -> Iterator[Proc]:
    """`neev-mcp sandbox` itself, over real HTTP on loopback."""
    port = free_port()
    proc = spawn("sandbox", ["-m", "neev_mcp", "sandbox", "--port", str(port), "--speed", "0", "--log-size", "2"],
                 base_env(), port)
    try:
        wait_ready(proc, timeout=60)
        yield proc
    finally:
        proc.stop()


def test_the_served_admin_api_refuses_a_foreign_host_or_origin(cli_sandbox: Proc) -> None:
    url = cli_sandbox.url
    project = "/vm/api/v1/orgs/demo-org/projects/demo-project/vms"
    assert httpx2.get(url + project, headers={"Authorization": f"Bearer {OTHER}"}).status_code == 401
    rebound = {"Host": "attacker.example:8765"}
    refused = httpx2.get(url + "/_sandbox/requests", headers=rebound)
    assert (refused.status_code, refused.json()) == (
        421, {"code": "misdirected_request", "message": "this sandbox does not answer to that Host name"})
    assert httpx2.post(url + "/_sandbox/reset", headers=rebound).status_code == 421
    assert httpx2.get(url + project, headers={**rebound, "Authorization": f"Bearer {DEFAULT_TOKEN}"}).status_code \
        == 421
    cross_site = httpx2.post(url + "/_sandbox/reset", headers={"Origin": "https://attacker.example"})
    assert cross_site.status_code == 403
    # the refused reset did nothing; the log still holds the one API request, with the token redacted
    own = httpx2.get(url + "/_sandbox/requests", headers={"Host": f"localhost:{cli_sandbox.port}"})
    assert own.status_code == 200
    [logged] = own.json()
    assert logged["headers"]["authorization"] == redact_authorization(f"Bearer {OTHER}")
    assert OTHER not in own.text
    assert httpx2.get(url + "/_sandbox/healthz", headers={"Origin": url}).status_code == 200
