"""`neev-mcp --transport http` as a real process, driven by `mcp.Client` over streamable HTTP against the HTTP sandbox.

One sandbox and three servers start together for the module: static inbound auth (stateful), and pass-through auth
in stateful and stateless mode. Each test starts from an empty sandbox request log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitRequestParams, ElicitResult

from neev_mcp.config import ConfigurationError, Settings
from neev_mcp.http import resolve_policy
from neev_mcp.sandbox import DEFAULT_TOKEN, make_token, redact_authorization

from .support.http import (
    AUTH_TOKEN,
    SHARED_SECRET,
    VM_IDS,
    Proc,
    base_env,
    reset,
    running_stack,
    sandbox_requests,
    vm_path,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Proc]]:
    with running_stack({
        "static": ((), {"NEEV_MCP_AUTH_TOKEN": AUTH_TOKEN, "NEEV_MCP_SECRET": SHARED_SECRET,
                        "NEEV_MCP_HEALTH_DETAILS": "1"}),
        "passthrough": ((), {"NEEV_MCP_AUTH": "passthrough", "NEEV_API_TOKEN": ""}),
        "passthrough_stateless": (("--stateless",), {"NEEV_MCP_AUTH": "passthrough", "NEEV_API_TOKEN": ""}),
    }) as procs:
        yield procs


@pytest.fixture
def sandbox(stack: dict[str, Proc]) -> Proc:
    return reset(stack["sandbox"])


@asynccontextmanager
async def connect(server: Proc, bearer: str | None = None, **client_args: Any) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    http = httpx2.AsyncClient(headers=headers, timeout=10.0)
    async with http, Client(streamable_http_client(server.url + "/mcp", http_client=http), **client_args) as client:
        yield client


def approve_by_typing_the_name(name: str, calls: list[ElicitRequestParams]) -> Any:
    """An elicitation callback that does what a user who approves does: types the resource's name."""

    async def callback(_: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        calls.append(params)
        schema: dict[str, Any] = getattr(params, "requested_schema", None) or {}
        content: dict[str, Any] = {}
        for key, prop in schema.get("properties", {}).items():
            content[key] = True if prop.get("type") == "boolean" else name
        return ElicitResult(action="accept", content=content)

    return callback


RPC_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
MCP_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


# -- /healthz ------------------------------------------------------------------------------------------------------
def test_healthz_with_details_on_answers_without_auth_and_reports_version_policy_and_upstream_but_no_secret(
    stack: dict[str, Proc],
) -> None:
    deadline = time.monotonic() + 5
    while True:  # the upstream probe runs in the background from start-up: wait for its first answer
        response = httpx2.get(stack["static"].url + "/healthz", timeout=5.0)
        body = response.json()
        if body["upstream"]["reachable"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)

    assert response.status_code == 200
    assert {k: body[k] for k in ("status", "name", "transport", "stateless", "read_only", "confirm", "auth")} == {
        "status": "ok",
        "name": "neev-mcp",
        "transport": "streamable-http",
        "stateless": False,
        "read_only": False,
        "confirm": "destructive",
        "auth": "static",
    }
    assert body["version"]
    assert body["upstream"]["reachable"] is True, body["upstream"]
    assert "warn" not in body
    for secret in (AUTH_TOKEN, DEFAULT_TOKEN, SHARED_SECRET, stack["sandbox"].url):
        assert secret not in response.text


def test_healthz_says_only_its_status_unless_details_are_switched_on(stack: dict[str, Proc]) -> None:
    response = httpx2.get(stack["passthrough"].url + "/healthz", timeout=5.0)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(("header", "value", "status"), [("Host", "evil.example.net", 421),
                                                         ("Origin", "https://evil.example.net", 403)])
def test_healthz_is_behind_the_host_and_origin_guard_so_a_dns_rebinding_page_cannot_read_it(
    stack: dict[str, Proc], header: str, value: str, status: int
) -> None:
    response = httpx2.get(stack["static"].url + "/healthz", headers={header: value}, timeout=5.0)

    assert response.status_code == status
    assert "version" not in response.text and "auth" not in response.text


# -- transport security --------------------------------------------------------------------------------------------
def test_the_mcp_endpoint_refuses_a_missing_or_wrong_bearer_with_401_and_www_authenticate(
    sandbox: Proc, stack: dict[str, Proc]
) -> None:
    url = stack["static"].url + "/mcp"
    missing = httpx2.post(url, json=RPC_LIST, headers=MCP_HEADERS, timeout=5.0)
    wrong = httpx2.post(
        url, json=RPC_LIST, headers={**MCP_HEADERS, "Authorization": f"Bearer {AUTH_TOKEN}x"}, timeout=5.0
    )

    assert (missing.status_code, wrong.status_code) == (401, 401)
    for refused in (missing, wrong):  # the SDK's bearer middleware answers; static mode has no metadata to point to
        assert refused.headers["www-authenticate"] == \
            'Bearer error="invalid_token", error_description="Authentication required"'
        assert refused.json() == {"error": "invalid_token", "error_description": "Authentication required"}
    assert AUTH_TOKEN not in wrong.text
    assert sandbox_requests(sandbox) == []


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [
        ("Host", "evil.example.net", 421),
        ("Host", "127.0.0.1.nip.io:8000", 421),
        ("Origin", "https://evil.example.net", 403),
    ],
)
def test_a_foreign_host_or_origin_is_refused_even_with_the_right_bearer(
    stack: dict[str, Proc], header: str, value: str, status: int
) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {AUTH_TOKEN}", header: value}
    response = httpx2.post(stack["static"].url + "/mcp", json=RPC_LIST, headers=headers, timeout=5.0)

    assert response.status_code == status
    assert response.text in ("Invalid Host header", "Invalid Origin header")


# -- tools ---------------------------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize(("mode", "protocol"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")])
async def test_tools_are_listed_and_called_over_streamable_http_with_the_servers_own_neevcloud_token(
    sandbox: Proc, stack: dict[str, Proc], mode: str, protocol: str
) -> None:
    async with connect(stack["static"], AUTH_TOKEN, mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("get_vm", {"vm_id": VM_IDS["web-1"]})
        negotiated = client.protocol_version

    assert negotiated == protocol
    assert {"list_vms", "get_vm", "delete_vm", "project_overview", "wait_for_vm"} <= tools
    assert result.is_error is False
    assert result.structured_content is not None and result.structured_content["name"] == "web-1"
    seen = sandbox_requests(sandbox)
    assert [(r["method"], r["path"]) for r in seen] == [("GET", vm_path(VM_IDS["web-1"]))]
    # static mode: the MCP client's bearer stays at the door; NeevCloud sees the server's NEEV_API_TOKEN only
    assert [r["headers"]["authorization"] for r in seen] == [redact_authorization(f"Bearer {DEFAULT_TOKEN}")]


# -- gating over HTTP ----------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_gated_delete_returns_a_token_first_and_executes_exactly_once_when_called_with_it(
    sandbox: Proc, stack: dict[str, Proc]
) -> None:
    vm_id = VM_IDS["db-1"]
    async with connect(stack["static"], AUTH_TOKEN) as client:  # no elicitation callback: the token fallback
        preview = await client.call_tool("delete_vm", {"vm_id": vm_id})
        assert sandbox_requests(sandbox, "DELETE") == []
        assert preview.is_error is False
        assert preview.structured_content is not None
        token = preview.structured_content["confirmation_token"]
        assert "db-1" in preview.content[0].text  # type: ignore[union-attr]

        done = await client.call_tool("delete_vm", {"vm_id": vm_id, "confirmation_token": token})
        replay = await client.call_tool("delete_vm", {"vm_id": vm_id, "confirmation_token": token})

    assert done.is_error is False, done.content
    assert replay.is_error is True
    deletes = sandbox_requests(sandbox, "DELETE")
    assert [r["path"] for r in deletes] == [vm_path(vm_id)]
    assert deletes[0]["headers"]["authorization"] == redact_authorization(f"Bearer {DEFAULT_TOKEN}")


@pytest.mark.anyio
async def test_handshake_era_elicitation_confirms_a_delete_on_a_stateful_http_server(
    sandbox: Proc, stack: dict[str, Proc]
) -> None:
    asked: list[ElicitRequestParams] = []
    callback = approve_by_typing_the_name("train-gpu-1", asked)
    async with connect(stack["static"], AUTH_TOKEN, mode="legacy", elicitation_callback=callback) as client:
        result = await client.call_tool("delete_vm", {"vm_id": VM_IDS["train-gpu-1"]})
        negotiated = client.protocol_version

    assert negotiated == "2025-11-25"
    assert len(asked) == 1 and "train-gpu-1" in asked[0].message
    assert result.is_error is False, result.content
    assert [r["path"] for r in sandbox_requests(sandbox, "DELETE")] == [vm_path(VM_IDS["train-gpu-1"])]


# -- pass-through auth ---------------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize("server", ["passthrough", "passthrough_stateless"])
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_pass_through_mode_calls_neevcloud_with_each_requests_own_bearer_and_never_a_server_token(
    sandbox: Proc, stack: dict[str, Proc], server: str, mode: str
) -> None:
    someone_else = make_token(sub="someone-else")  # a well-formed JWT NeevCloud (the sandbox) does not accept
    async with connect(stack[server], DEFAULT_TOKEN, mode=mode) as client:
        ok = await client.call_tool("get_vm", {"vm_id": VM_IDS["api-staging"]})
    # another client, another bearer: the token is read from each request, never remembered (a stateful session
    # itself stays bound to the bearer that opened it: tests/test_http_auth.py)
    async with connect(stack[server], someone_else, mode=mode) as client:
        refused = await client.call_tool("get_vm", {"vm_id": VM_IDS["api-staging"]})

    assert ok.is_error is False, ok.content
    assert refused.is_error is True
    assert "401" in refused.content[0].text  # type: ignore[union-attr]
    assert "the bearer token your MCP client sends (pass-through mode)" in refused.content[0].text  # type: ignore
    assert "NEEV_API_TOKEN" not in refused.content[0].text  # type: ignore[union-attr]
    assert someone_else not in refused.content[0].text  # type: ignore[union-attr]
    assert [r["headers"]["authorization"] for r in sandbox_requests(sandbox)] == [
        redact_authorization(f"Bearer {DEFAULT_TOKEN}"),
        redact_authorization(f"Bearer {someone_else}"),
    ]


def test_pass_through_mode_refuses_a_request_without_a_bearer_before_it_reaches_the_server(
    sandbox: Proc, stack: dict[str, Proc]
) -> None:
    response = httpx2.post(stack["passthrough"].url + "/mcp", json=RPC_LIST, headers=MCP_HEADERS, timeout=5.0)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert sandbox_requests(sandbox) == []


# -- start-up decisions ----------------------------------------------------------------------------------------------
def test_binding_beyond_loopback_without_inbound_auth_is_refused_at_start_up() -> None:
    env = {**base_env(), "NEEV_API_TOKEN": DEFAULT_TOKEN, "NEEV_MCP_ALLOWED_HOSTS": "mcp.example.com"}
    done = subprocess.run(
        [sys.executable, "-m", "neev_mcp", "--transport", "http", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        capture_output=True,
        timeout=30,
    )

    assert done.returncode == 2
    assert b"requires inbound auth: set NEEV_MCP_AUTH=oauth" in done.stderr
    assert DEFAULT_TOKEN.encode() not in done.stderr


OAUTH: dict[str, Any] = {"auth_mode": "oauth", "api_token": "server-token", "oauth_issuer": "https://as.example.com",
                         "resource_url": "https://mcp.example.com/mcp"}


def settings(**values: Any) -> Settings:
    return Settings(transport="http", **values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"auth_mode": "passthrough", "api_token": "server-token"}, "unset NEEV_API_TOKEN"),
        ({"auth_mode": "passthrough", "auth_token": AUTH_TOKEN}, "unset NEEV_MCP_AUTH_TOKEN"),
        ({"auth_mode": "passthrough", "sandbox": True}, "cannot be combined with --sandbox"),
        ({"auth_mode": "static"}, "NEEV_MCP_AUTH=static needs NEEV_MCP_AUTH_TOKEN"),
        ({"auth_mode": "none", "auth_token": AUTH_TOKEN}, "contradicts NEEV_MCP_AUTH_TOKEN"),
        ({"host": "10.1.2.3"}, "binding to 10.1.2.3 (not loopback) requires inbound auth"),
        ({"host": "0.0.0.0", "auth_token": AUTH_TOKEN}, "binding to 0.0.0.0 requires NEEV_MCP_ALLOWED_HOSTS"),
        # finding: a short static bearer was accepted with a warning; beyond loopback it is refused
        ({"host": "10.1.2.3", "auth_token": "x"}, "NEEV_MCP_AUTH_TOKEN must be at least 32 characters"),
        ({"host": "10.1.2.3", "auth_token": "y" * 31}, "NEEV_MCP_AUTH_TOKEN must be at least 32 characters"),
        ({"auth_mode": "oauth", "api_token": "server-token"}, "needs NEEV_MCP_OAUTH_ISSUER and NEEV_MCP_RESOURCE_URL"),
        ({"auth_mode": "oauth", "api_token": "server-token", "oauth_issuer": "https://as.example.com"},
         "needs NEEV_MCP_RESOURCE_URL"),
        ({**OAUTH, "auth_token": AUTH_TOKEN}, "NEEV_MCP_AUTH=oauth contradicts NEEV_MCP_AUTH_TOKEN"),
        ({**OAUTH, "api_token": None}, "calls NeevCloud with the server's own NEEV_API_TOKEN"),
        ({**OAUTH, "oauth_issuer": "http://as.example.com"}, "OAuth URLs must use https://"),
        ({**OAUTH, "oauth_introspection_url": "https://as.example.com/introspect"},
         "NEEV_MCP_OAUTH_INTROSPECTION_URL needs NEEV_MCP_OAUTH_CLIENT_ID"),
        ({**OAUTH, "oauth_client_id": "neev-mcp"}, "go together"),
    ],
)
def test_unsafe_or_contradictory_http_settings_are_refused_with_the_variable_to_fix(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_policy(settings(**values))

    assert message in str(caught.value)
    assert "server-token" not in str(caught.value) and AUTH_TOKEN not in str(caught.value)


def test_allow_lists_default_to_loopback_names_and_admit_any_port_for_bare_host_names() -> None:
    loopback = resolve_policy(settings())
    listed = resolve_policy(
        settings(host="0.0.0.0", auth_token=AUTH_TOKEN, allowed_hosts="mcp.example.com, neev-mcp.tools.svc:8000")
    )
    explicit_none = resolve_policy(settings(host="10.1.2.3", auth_mode="none"))

    assert loopback.auth == "none"
    assert loopback.allowed_hosts == ("127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*")
    assert "http://localhost:*" in loopback.allowed_origins
    assert listed.auth == "static"
    assert listed.allowed_hosts == ("mcp.example.com", "mcp.example.com:*", "neev-mcp.tools.svc:8000")
    assert "https://mcp.example.com" in listed.allowed_origins
    assert explicit_none.allowed_hosts == ("10.1.2.3", "10.1.2.3:*")
    assert json.dumps(explicit_none.allowed_origins)  # plain strings, ready for the SDK's settings
