"""Replicas behave as one: stateless servers sharing NEEV_MCP_SECRET finish each other's confirmations, exactly once.

Three `neev-mcp --transport http --stateless` processes on one HTTP sandbox: A and B share the secret (two replicas
behind a load balancer), C has another one (a misconfigured replica, the control that shows the secret matters).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from mcp import MCPError
from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from .support.http import (
    SHARED_SECRET,
    VM_IDS,
    Proc,
    connect,
    reset,
    running_stack,
    sandbox_requests,
    vm_path,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replicas() -> Iterator[dict[str, Proc]]:
    secrets = {"a": SHARED_SECRET, "b": SHARED_SECRET, "c": "another-secret-entirely-987654321"}
    with running_stack({name: (("--stateless",), {"NEEV_MCP_SECRET": secret}) for name, secret in secrets.items()}
                       ) as procs:
        yield procs


@pytest.fixture
def sandbox(replicas: dict[str, Proc]) -> Proc:
    return reset(replicas["sandbox"])


class ToolCallBalancer(httpx2.AsyncBaseTransport):
    """A load balancer in miniature: each `tools/call` POST goes to the next replica in `ports`, the rest to the first.

    The Host header is left as the client set it, as a real balancer does. `served` records (port, method).
    """

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.inner = httpx2.AsyncHTTPTransport()
        self.calls = 0
        self.served: list[tuple[int, str]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        method = ""
        if request.method == "POST":
            method = json.loads(request.content or b"{}").get("method", "")
        port = self.ports[0]
        if method == "tools/call":
            port = self.ports[self.calls % len(self.ports)]
            self.calls += 1
        request.url = request.url.copy_with(port=port)
        self.served.append((port, method))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def approve_by_typing(name: str, asked: list[str]) -> Any:
    async def callback(_: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        schema: dict[str, Any] = getattr(params, "requested_schema", None) or {}
        content = {k: True if p.get("type") == "boolean" else name for k, p in schema.get("properties", {}).items()}
        return ElicitResult(action="accept", content=content)

    return callback


def delete_paths(sandbox: Proc) -> list[str]:
    return [r["path"] for r in sandbox_requests(sandbox, "DELETE")]


@pytest.mark.anyio
async def test_a_confirmation_token_minted_by_one_replica_executes_on_the_other_exactly_once(
    sandbox: Proc, replicas: dict[str, Proc]
) -> None:
    vm_id = VM_IDS["web-1"]
    async with connect(replicas["a"].url) as on_a:
        preview = await on_a.call_tool("delete_vm", {"vm_id": vm_id})
    assert preview.structured_content is not None
    token = preview.structured_content["confirmation_token"]
    assert delete_paths(sandbox) == []

    async with connect(replicas["b"].url) as on_b:
        executed = await on_b.call_tool("delete_vm", {"vm_id": vm_id, "confirmation_token": token})
        replay_on_b = await on_b.call_tool("delete_vm", {"vm_id": vm_id, "confirmation_token": token})
    async with connect(replicas["a"].url) as on_a:
        replay_on_a = await on_a.call_tool("delete_vm", {"vm_id": vm_id, "confirmation_token": token})

    assert executed.is_error is False, executed.content
    assert (replay_on_b.is_error, replay_on_a.is_error) == (True, True)
    assert "web-1" in replay_on_a.content[0].text and "was not deleted" in replay_on_a.content[0].text  # type: ignore[union-attr]
    assert delete_paths(sandbox) == [vm_path(vm_id)]


@pytest.mark.anyio
async def test_a_replica_with_a_different_secret_refuses_the_token_and_deletes_nothing(
    sandbox: Proc, replicas: dict[str, Proc]
) -> None:
    vm_id = VM_IDS["db-1"]
    async with connect(replicas["a"].url) as on_a:
        preview = await on_a.call_tool("delete_vm", {"vm_id": vm_id})
    assert preview.structured_content is not None
    async with connect(replicas["c"].url) as on_c:
        refused = await on_c.call_tool(
            "delete_vm", {"vm_id": vm_id, "confirmation_token": preview.structured_content["confirmation_token"]}
        )

    assert refused.is_error is True
    assert "was not deleted" in refused.content[0].text  # type: ignore[union-attr]
    assert delete_paths(sandbox) == []


@pytest.mark.anyio
async def test_a_2026_07_28_confirmation_round_trip_split_across_replicas_deletes_exactly_once(
    sandbox: Proc, replicas: dict[str, Proc]
) -> None:
    balancer = ToolCallBalancer([replicas["a"].port, replicas["b"].port])
    asked: list[str] = []
    async with connect(replicas["a"].url, balancer, elicitation_callback=approve_by_typing("api-staging", asked)) as c:
        result = await c.call_tool("delete_vm", {"vm_id": VM_IDS["api-staging"]})
        negotiated = c.protocol_version

    assert negotiated == "2026-07-28"
    assert [port for port, method in balancer.served if method == "tools/call"] == [
        replicas["a"].port,
        replicas["b"].port,
    ]
    assert len(asked) == 1 and "api-staging" in asked[0]
    assert result.is_error is False, result.content
    assert delete_paths(sandbox) == [vm_path(VM_IDS["api-staging"])]


@pytest.mark.anyio
async def test_the_second_round_on_a_replica_with_another_secret_is_rejected_and_deletes_nothing(
    sandbox: Proc, replicas: dict[str, Proc]
) -> None:
    balancer = ToolCallBalancer([replicas["a"].port, replicas["c"].port])
    async with connect(replicas["a"].url, balancer, elicitation_callback=approve_by_typing("train-gpu-1", [])) as c:
        try:
            result = await c.call_tool("delete_vm", {"vm_id": VM_IDS["train-gpu-1"]})
            outcome = "error result" if result.is_error else "executed"
        except MCPError as exc:
            outcome = f"protocol error: {exc.message}"

    assert outcome == "protocol error: Invalid or expired requestState"  # C cannot open A's sealed state
    assert [port for port, method in balancer.served if method == "tools/call"] == [
        replicas["a"].port,
        replicas["c"].port,
    ]
    assert delete_paths(sandbox) == []


@pytest.mark.anyio
async def test_a_handshake_era_client_on_a_stateless_replica_gets_the_token_fallback_instead_of_elicitation(
    sandbox: Proc, replicas: dict[str, Proc]
) -> None:
    asked: list[str] = []
    async with connect(replicas["a"].url, mode="legacy", elicitation_callback=approve_by_typing("db-1", asked)) as c:
        preview = await c.call_tool("delete_vm", {"vm_id": VM_IDS["db-1"]})
        negotiated = c.protocol_version

    assert negotiated == "2025-11-25"
    assert asked == []  # stateless HTTP has no back-channel for elicitation/create
    assert preview.is_error is False
    assert preview.structured_content is not None and preview.structured_content["confirmation_token"]
    assert delete_paths(sandbox) == []
