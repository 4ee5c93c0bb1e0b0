"""The security review's findings against `neev-mcp --transport http` in static and pass-through mode, each replayed
as the attacker did it (real processes, raw HTTP where the status line is the point, `mcp.Client` for tool flows).

Tenants A and B both hold NeevCloud tokens for the same project (the sandbox accepts both), so only neev-mcp's own
binding can keep B out of A's session and A's confirmations.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from neev_mcp.sandbox import DEFAULT_TOKEN, make_token

from .support.http import (
    AUTH_TOKEN,
    SHARED_SECRET,
    VM_IDS,
    Proc,
    reset,
    sandbox_requests,
    spawn_sandbox,
    spawn_server,
    wait_ready,
)
from .support.tenancy import sealed_state_stays_with_its_caller, token_confirmation_stays_with_its_caller
from .test_http import MCP_HEADERS

pytestmark = pytest.mark.slow

TENANT_A, TENANT_B = DEFAULT_TOKEN, make_token(sub="tenant-b")
SESSION_CAP = 3
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {"elicitation": {"form": {}}},
    "clientInfo": {"name": "raw", "version": "0"}}}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
PASSTHROUGH = {"NEEV_MCP_AUTH": "passthrough", "NEEV_API_TOKEN": "", "NEEV_MCP_SECRET": SHARED_SECRET,
               "NEEV_MCP_MAX_SESSIONS_PER_CALLER": str(SESSION_CAP)}


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Proc]]:
    procs: dict[str, Proc] = {}
    try:
        procs["sandbox"] = spawn_sandbox("--also-accept", TENANT_B)
        wait_ready(procs["sandbox"])
        procs["passthrough"] = spawn_server(procs["sandbox"], **PASSTHROUGH)
        procs["flooded"] = spawn_server(procs["sandbox"], **PASSTHROUGH)
        procs["static"] = spawn_server(procs["sandbox"], NEEV_MCP_AUTH_TOKEN=AUTH_TOKEN)
        wait_ready(*procs.values())
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture
def sandbox(stack: dict[str, Proc]) -> Proc:
    return reset(stack["sandbox"])


def post(server: Proc, bearer: str | bytes | None, body: Any, session: str | None = None) -> httpx2.Response:
    headers: dict[str, Any] = dict(MCP_HEADERS)
    if bearer is not None:
        headers["Authorization"] = b"Bearer " + bearer if isinstance(bearer, bytes) else f"Bearer {bearer}"
    if session is not None:
        headers["Mcp-Session-Id"] = session
    return httpx2.post(server.url + "/mcp", json=body, headers=headers, timeout=10.0)


# -- finding: a stateful session was not bound to the credential that opened it -------------------------------------
def test_a_session_answers_only_the_bearer_that_opened_it(stack: dict[str, Proc]) -> None:
    server = stack["passthrough"]
    opened = post(server, TENANT_A, INITIALIZE)
    session = opened.headers["mcp-session-id"]
    # what the attacker sent: an answer to A's pending confirmation, and tool calls, in A's session with B's bearer
    answer = {"jsonrpc": "2.0", "id": 0, "result": {"action": "accept", "content": {"confirm": "db-1"}}}

    answered = post(server, TENANT_B, answer, session)
    listed = post(server, TENANT_B, LIST, session)
    junk = post(server, "junk-token", LIST, session)
    owner = post(server, TENANT_A, LIST, session)

    assert opened.status_code == 200
    assert (answered.status_code, listed.status_code) == (404, 404)  # as if the session did not exist (was 202/200)
    assert junk.status_code == 401
    assert owner.status_code == 200
    log = server.stderr()
    assert session not in log  # finding: session ids were logged at INFO
    assert "<session id>" in log


# -- finding: one caller could lock out everyone ---------------------------------------------------------------------
def test_a_flood_of_junk_bearers_opens_no_session_and_is_throttled_with_retry_after(stack: dict[str, Proc]) -> None:
    started = time.monotonic()
    statuses = [post(stack["flooded"], f"junk-{i}", INITIALIZE) for i in range(40)]
    elapsed = time.monotonic() - started
    codes = [r.status_code for r in statuses]
    throttled = [r for r in statuses if r.status_code == 429]

    # a burst of 20 failures, then one more per 2 s (the bucket refills at 0.5/s) however slow this machine is
    assert codes[:20] == [401] * 20
    assert set(codes) == {401, 429}
    assert codes.count(401) <= 20 + elapsed * 0.5 + 1
    assert int(throttled[0].headers["retry-after"]) >= 1
    assert "too many failed authentication attempts" in throttled[0].json()["error_description"]
    assert all("mcp-session-id" not in r.headers for r in statuses)


def test_open_sessions_are_capped_per_bearer_so_one_tenant_cannot_lock_out_another(stack: dict[str, Proc]) -> None:
    server = stack["passthrough"]
    tenant = make_token(sub="tenant-c")  # its own sessions, whatever other tests opened
    held = [post(server, tenant, INITIALIZE) for _ in range(SESSION_CAP)]
    refused = post(server, tenant, INITIALIZE)
    other = post(server, TENANT_B, INITIALIZE)

    assert [r.status_code for r in held] == [200] * SESSION_CAP
    assert refused.status_code == 429
    message = refused.json()["error"]["message"]
    assert message.startswith(f"Too many open sessions for this caller (limit {SESSION_CAP})")
    assert other.status_code == 200


# -- pass-through accepts only what looks like a NeevCloud token -------------------------------------------------------
@pytest.mark.parametrize("bearer", [
    pytest.param("junk-token", id="not-a-jwt"),
    pytest.param("a.b.c", id="parts-not-json"),
    pytest.param(make_token(sub="tenant-a", exp=1_700_000_000), id="expired-jwt"),
    pytest.param(TENANT_A + "é", id="non-ascii-text"),
    pytest.param(b"\xff\xfe" + TENANT_A.encode(), id="non-ascii-bytes"),
])
def test_pass_through_refuses_a_bearer_that_is_not_an_unexpired_jwt_with_a_clean_401(
    sandbox: Proc, stack: dict[str, Proc], bearer: str | bytes
) -> None:
    response = post(stack["passthrough"], bearer.encode() if isinstance(bearer, str) else bearer, INITIALIZE)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert "Traceback" not in stack["passthrough"].stderr()
    assert sandbox_requests(sandbox) == []


def test_a_non_ascii_static_bearer_is_a_clean_401(stack: dict[str, Proc]) -> None:
    response = post(stack["static"], AUTH_TOKEN.encode() + b"\xc3\xa9", INITIALIZE)

    assert response.status_code == 401
    assert "Traceback" not in stack["static"].stderr()


# -- finding: confirmation tokens were not bound to the caller ---------------------------------------------------------
@pytest.mark.anyio
async def test_a_confirmation_token_shown_to_one_tenant_cannot_be_redeemed_by_another(
    sandbox: Proc, stack: dict[str, Proc]
) -> None:
    server = stack["passthrough"]
    await token_confirmation_stays_with_its_caller(server, sandbox, TENANT_A, TENANT_B, VM_IDS["api-staging"])

    a_caller = "bearer:" + hashlib.sha256(TENANT_A.encode()).hexdigest()[:12]
    b_caller = "bearer:" + hashlib.sha256(TENANT_B.encode()).hexdigest()[:12]
    log = server.stderr()
    assert f'"event":"invalid","caller":"{b_caller}"' in log
    assert f'"event":"executed","caller":"{a_caller}"' in log
    assert TENANT_A not in log and TENANT_B not in log


@pytest.mark.anyio
async def test_sealed_2026_07_28_confirmation_state_of_one_tenant_cannot_be_redeemed_by_another(
    sandbox: Proc, stack: dict[str, Proc]
) -> None:
    await sealed_state_stays_with_its_caller(stack["passthrough"], sandbox, TENANT_A, TENANT_B, VM_IDS["web-1"],
                                             "web-1")
