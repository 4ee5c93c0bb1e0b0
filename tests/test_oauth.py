"""`NEEV_MCP_AUTH=oauth` end to end: a real authorization server (oauth2-mock-server, Node 22), the HTTP sandbox, and
`neev-mcp --transport http` as a resource server, driven by `mcp.Client` over streamable HTTP and by raw HTTP where
the status line and headers are what is under test.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from mcp.types import ElicitRequestParams

from neev_mcp.sandbox import DEFAULT_TOKEN, redact_authorization

from .support.http import (
    SHARED_SECRET,
    VM_IDS,
    Proc,
    free_port,
    reset,
    sandbox_requests,
    spawn_sandbox,
    spawn_server,
    vm_path,
    wait_ready,
)
from .support.oauth import INTROSPECTION_CLIENT, AuthServer, running_auth_server
from .support.tenancy import sealed_state_stays_with_its_caller, token_confirmation_stays_with_its_caller
from .test_http import MCP_HEADERS, approve_by_typing_the_name, connect

pytestmark = pytest.mark.slow

READ_TOOLS = {"list_vms", "get_vm", "list_root_disk_volumes", "get_root_disk_volume", "project_overview",
              "wait_for_vm", "vm_options"}
WRITE_TOOLS = {"create_vm", "start_vm", "stop_vm", "restart_vm"}
DELETE_TOOLS = {"delete_vm", "delete_root_disk_volume"}
SESSION_CAP = 3
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    with running_auth_server() as auth:
        sandbox = spawn_sandbox()
        procs = [sandbox]
        try:
            wait_ready(sandbox)
            port = free_port()
            resource = f"http://127.0.0.1:{port}/mcp"
            server = spawn_server(
                sandbox, port=port, NEEV_MCP_AUTH="oauth", NEEV_MCP_OAUTH_ISSUER=auth.issuer,
                NEEV_MCP_RESOURCE_URL=resource, NEEV_MCP_SECRET=SHARED_SECRET,
                NEEV_MCP_MAX_SESSIONS_PER_CALLER=str(SESSION_CAP),
                NEEV_MCP_OAUTH_INTROSPECTION_URL=auth.issuer + "/_test/introspect",
                NEEV_MCP_OAUTH_CLIENT_ID=INTROSPECTION_CLIENT[0], NEEV_MCP_OAUTH_CLIENT_SECRET=INTROSPECTION_CLIENT[1],
            )
            procs.append(server)
            wait_ready(server)
            yield {"auth": auth, "sandbox": sandbox, "server": server, "resource": resource}
        finally:
            for proc in procs:
                proc.stop()


@pytest.fixture
def sandbox(stack: dict[str, Any]) -> Proc:
    return reset(stack["sandbox"])


@pytest.fixture
def auth(stack: dict[str, Any]) -> AuthServer:
    return stack["auth"]


def token(stack: dict[str, Any], scope: str, sub: str = "alice", **claims: Any) -> str:
    return stack["auth"].token(claims.pop("aud", stack["resource"]), scope, sub=sub, **claims)


def alice_and_mallory(stack: dict[str, Any]) -> tuple[str, str]:
    """Two subjects with every scope: only the binding to the caller can tell their confirmations apart."""
    everything = "neev:read neev:write neev:delete"
    return token(stack, everything, sub="alice"), token(stack, everything, sub="mallory")


def post(stack: dict[str, Any], bearer: str | None, body: Any, session: str | None = None) -> httpx2.Response:
    headers = dict(MCP_HEADERS)
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if session is not None:
        headers["Mcp-Session-Id"] = session
    return httpx2.post(stack["server"].url + "/mcp", json=body, headers=headers, timeout=10.0)


def open_session(stack: dict[str, Any], bearer: str) -> httpx2.Response:
    response = post(stack, bearer, INITIALIZE)
    return response


# -- discovery -----------------------------------------------------------------------------------------------------
def test_an_unauthenticated_request_points_to_rfc_9728_metadata_that_names_the_issuer_and_scopes(
    stack: dict[str, Any],
) -> None:
    refused = post(stack, None, INITIALIZE)
    challenge = refused.headers["www-authenticate"]
    metadata_url = stack["server"].url + "/.well-known/oauth-protected-resource/mcp"
    metadata = httpx2.get(metadata_url, timeout=5.0).json()
    issuer_metadata = httpx2.get(metadata["authorization_servers"][0] + "/.well-known/openid-configuration",
                                 timeout=5.0).json()

    assert refused.status_code == 401
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{metadata_url}"' in challenge
    assert metadata["resource"] == stack["resource"]
    assert [s.rstrip("/") for s in metadata["authorization_servers"]] == [stack["auth"].issuer]
    assert metadata["scopes_supported"] == ["neev:read", "neev:write", "neev:delete"]
    assert issuer_metadata["token_endpoint"] == stack["auth"].issuer + "/token"


# -- scopes --------------------------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_read_token_sees_and_calls_only_read_tools_and_neevcloud_sees_only_the_servers_own_token(
    sandbox: Proc, stack: dict[str, Any], mode: str
) -> None:
    bearer = token(stack, "neev:read")
    async with connect(stack["server"], bearer, mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("get_vm", {"vm_id": VM_IDS["web-1"]})
        resources = await client.list_resources()

    assert tools == READ_TOOLS
    assert result.is_error is False, result.content
    assert resources.resources is not None
    seen = sandbox_requests(sandbox)
    assert seen and {r["headers"]["authorization"] for r in seen} == {redact_authorization(f"Bearer {DEFAULT_TOKEN}")}
    assert all(bearer not in json.dumps(r) for r in seen)


@pytest.mark.anyio
async def test_each_scope_lists_exactly_its_tools(stack: dict[str, Any]) -> None:
    listed = {}
    for scope in ("neev:write", "neev:read neev:write", "neev:read neev:write neev:delete", "profile"):
        async with connect(stack["server"], token(stack, scope)) as client:
            listed[scope] = {t.name for t in (await client.list_tools()).tools}

    assert listed == {
        "neev:write": WRITE_TOOLS,
        "neev:read neev:write": READ_TOOLS | WRITE_TOOLS,
        "neev:read neev:write neev:delete": READ_TOOLS | WRITE_TOOLS | DELETE_TOOLS,
        "profile": set(),
    }


@pytest.mark.parametrize(("scope", "body", "needed"), [
    ("neev:read", {"method": "tools/call", "params": {"name": "delete_vm", "arguments": {"vm_id": VM_IDS["db-1"]}}},
     "neev:delete"),
    ("neev:read", {"method": "tools/call", "params": {"name": "stop_vm", "arguments": {"vm_id": VM_IDS["db-1"]}}},
     "neev:write"),
    ("neev:write", {"method": "tools/call", "params": {"name": "get_vm", "arguments": {"vm_id": VM_IDS["db-1"]}}},
     "neev:read"),
    ("neev:write", {"method": "resources/list", "params": {}}, "neev:read"),
    ("neev:write", {"method": "prompts/list", "params": {}}, "neev:read"),
])
def test_a_call_beyond_the_tokens_scopes_is_http_403_with_a_step_up_challenge_and_reaches_nothing(
    sandbox: Proc, stack: dict[str, Any], scope: str, body: dict[str, Any], needed: str
) -> None:
    bearer = token(stack, scope)
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {bearer}", "MCP-Protocol-Version": "2026-07-28"}
    response = httpx2.post(stack["server"].url + "/mcp", json={"jsonrpc": "2.0", "id": 7, **body}, headers=headers,
                           timeout=10.0)

    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith(f'Bearer error="insufficient_scope", scope="{needed}"')
    assert 'resource_metadata="' in challenge
    assert response.json()["scope"] == needed
    assert sandbox_requests(sandbox) == []


@pytest.mark.anyio
async def test_delete_is_refused_without_neev_delete_then_runs_after_step_up_and_the_users_confirmation(
    sandbox: Proc, stack: dict[str, Any]
) -> None:
    vm_id = VM_IDS["train-gpu-1"]
    refused = post(stack, token(stack, "neev:read neev:write"), {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                   "params": {"name": "delete_vm", "arguments": {"vm_id": vm_id}}})
    assert refused.status_code == 403
    assert 'scope="neev:delete"' in refused.headers["www-authenticate"]

    asked: list[ElicitRequestParams] = []
    callback = approve_by_typing_the_name("train-gpu-1", asked)
    stepped_up = token(stack, "neev:read neev:write neev:delete")
    async with connect(stack["server"], stepped_up, mode="legacy", elicitation_callback=callback) as client:
        result = await client.call_tool("delete_vm", {"vm_id": vm_id})

    # OAuth never replaces the gate: the user was still asked, by name
    assert len(asked) == 1 and "train-gpu-1" in asked[0].message
    assert result.is_error is False, result.content
    assert [r["path"] for r in sandbox_requests(sandbox, "DELETE")] == [vm_path(vm_id)]
    assert '"caller":"sub:alice"' in stack["server"].stderr()


# -- tokens that must not pass ---------------------------------------------------------------------------------------
def _unsigned(stack: dict[str, Any]) -> str:
    """A token with every right claim and `alg: none` (no signature)."""
    genuine = token(stack, "neev:read")
    payload = genuine.split(".")[1]
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return f"{header}.{payload}."


@pytest.mark.parametrize("forge", [
    pytest.param(lambda s: token(s, "neev:read", aud="https://another-api.example.com/"), id="wrong-audience"),
    pytest.param(lambda s: token(s, "neev:read", aud=None), id="no-audience"),
    pytest.param(lambda s: token(s, "neev:read", signer="rogue_same_kid"), id="wrong-key-known-kid"),
    pytest.param(lambda s: token(s, "neev:read", signer="rogue_new_kid"), id="wrong-key-unknown-kid"),
    pytest.param(lambda s: token(s, "neev:read", expires_in=-120), id="expired"),
    pytest.param(lambda s: token(s, "neev:read", nbf_in=600), id="not-yet-valid"),
    pytest.param(_unsigned, id="alg-none"),
    pytest.param(lambda s: "not-a-token", id="opaque-unknown"),
    pytest.param(lambda s: s["auth"].opaque("https://another-api.example.com/", "neev:read", "mallory"),
                 id="opaque-other-audience"),
])
def test_a_token_not_issued_by_the_issuer_for_this_server_or_no_longer_valid_is_401(
    sandbox: Proc, stack: dict[str, Any], forge: Any
) -> None:
    response = post(stack, forge(stack), INITIALIZE)

    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "resource_metadata=" in response.headers["www-authenticate"]
    assert sandbox_requests(sandbox) == []


@pytest.mark.anyio
async def test_an_opaque_token_is_accepted_through_rfc_7662_introspection(
    sandbox: Proc, stack: dict[str, Any]
) -> None:
    opaque = stack["auth"].opaque(stack["resource"], "neev:read", "olivia")
    async with connect(stack["server"], opaque) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("list_vms", {})

    assert tools == READ_TOOLS
    assert result.is_error is False, result.content


# -- sessions and confirmations belong to their caller ---------------------------------------------------------------
def test_a_session_used_with_another_callers_token_is_404_and_the_owner_keeps_it(stack: dict[str, Any]) -> None:
    alice = token(stack, "neev:read", sub="alice")
    opened = open_session(stack, alice)
    session = opened.headers["mcp-session-id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}

    hijack = post(stack, token(stack, "neev:read neev:write neev:delete", sub="mallory"), listing, session)
    owner = post(stack, alice, listing, session)

    assert opened.status_code == 200
    assert hijack.status_code == 404
    assert owner.status_code == 200
    assert session not in stack["server"].stderr()  # session ids are not logged above DEBUG


def test_open_sessions_are_capped_per_caller_and_others_are_unaffected(stack: dict[str, Any]) -> None:
    carol = token(stack, "neev:read", sub="carol")
    sessions = [open_session(stack, carol) for _ in range(SESSION_CAP)]
    over = open_session(stack, carol)
    dave = open_session(stack, token(stack, "neev:read", sub="dave"))
    closed = httpx2.delete(stack["server"].url + "/mcp", headers={
        **MCP_HEADERS, "Authorization": f"Bearer {carol}", "Mcp-Session-Id": sessions[0].headers["mcp-session-id"]},
        timeout=10.0)
    again = open_session(stack, carol)

    assert [s.status_code for s in sessions] == [200] * SESSION_CAP
    assert over.status_code == 429
    assert "Too many open sessions for this caller" in over.text
    assert dave.status_code == 200
    assert closed.status_code == 200
    assert again.status_code == 200


@pytest.mark.anyio
async def test_a_confirmation_token_shown_to_one_subject_cannot_be_redeemed_by_another(
    sandbox: Proc, stack: dict[str, Any]
) -> None:
    await token_confirmation_stays_with_its_caller(stack["server"], sandbox, *alice_and_mallory(stack), VM_IDS["db-1"])

    log = stack["server"].stderr()
    assert '"event":"invalid","caller":"sub:mallory"' in log
    assert '"event":"executed","caller":"sub:alice"' in log


@pytest.mark.anyio
async def test_sealed_2026_07_28_confirmation_state_of_one_subject_cannot_be_redeemed_by_another(
    sandbox: Proc, stack: dict[str, Any]
) -> None:
    await sealed_state_stays_with_its_caller(stack["server"], sandbox, *alice_and_mallory(stack), VM_IDS["web-1"],
                                             "web-1")
