"""Finding 4 of issue 12, with real processes: at most once across replicas.

A real redis-server, the sandbox served over HTTP, and `neev-mcp --transport http --stateless` replicas sharing
NEEV_MCP_SECRET under NEEV_CONFIRM=mutating: a, b and c share NEEV_MCP_REPLAY_STORE; plain-1 and plain-2 have no
store (the control: what the README says can repeat); `down` points at a Redis port where nothing listens.

One token is redeemed by N clients at the same moment, spread over the replicas. For deletes and restarts the
sandbox holds every re-check GET for a moment (a `slow` fault), so the redeems reach the claim together rather than
one after the other: then only the store can stop the second mutation. Seen before the store: two replicas redeemed
one delete token at once and both DELETEs reached the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp.types import CallToolResult

from .components import RedisProcess, redis_server
from .conftest import CREATE
from .support.http import SHARED_SECRET, VM_IDS, Proc, connect, free_port, reset, running_stack, sandbox_requests
from .support.hygiene import watch

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

REDEEMS = 9
USED = "this confirmation has already been used."
STORE_REPLICAS = ("a", "b", "c")


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisProcess]:
    with redis_server() as proc:
        watch(proc.password, "the Redis password")
        yield proc


@pytest.fixture(scope="module")
def stack(redis: RedisProcess) -> Iterator[dict[str, Proc]]:
    common = {"NEEV_MCP_SECRET": SHARED_SECRET, "NEEV_CONFIRM": "mutating"}
    dead = f"redis://:{redis.password}@127.0.0.1:{free_port()}/1"
    servers: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
        **{name: (("--stateless",), {**common, "NEEV_MCP_REPLAY_STORE": redis.url()}) for name in STORE_REPLICAS},
        "plain-1": (("--stateless",), common),
        "plain-2": (("--stateless",), common),
        "down": (("--stateless",), {**common, "NEEV_MCP_REPLAY_STORE": dead}),
    }
    with running_stack(servers, timeout=90.0) as procs:  # six Python processes starting at once on a small runner
        yield procs


@pytest.fixture
def sandbox(stack: dict[str, Proc]) -> Proc:
    return reset(stack["sandbox"])


def hold_gets(sandbox: Proc, vm_id: str, seconds: float = 0.4) -> None:
    """Every GET of this VM is answered `seconds` after the sandbox read its state: re-checks made within that window
    all see the VM as it was before any mutation, as concurrent re-checks on real replicas can."""
    fault = {"kind": "slow", "delay": seconds, "count": -1, "method": "GET", "path_regex": f"/vms/{vm_id}$",
             "when": "after"}
    httpx2.post(sandbox.url + "/_sandbox/faults", json=[fault], timeout=5.0).raise_for_status()


async def preview_token(replica: Proc, tool: str, args: dict[str, Any]) -> str:
    async with connect(replica.url) as client:
        preview = await client.call_tool(tool, args)
    assert preview.structured_content is not None, preview.content
    return preview.structured_content["confirmation_token"]


async def redeem_at_once(replicas: list[Proc], tool: str, args: dict[str, Any], token: str) -> list[CallToolResult]:
    """REDEEMS clients, round-robin over `replicas`, all connected first and then calling together."""
    results: list[CallToolResult | None] = [None] * REDEEMS
    go = anyio.Event()
    ready = 0

    async def one(i: int) -> None:
        nonlocal ready
        async with connect(replicas[i % len(replicas)].url) as client:
            ready += 1
            if ready == REDEEMS:
                go.set()
            await go.wait()
            results[i] = await client.call_tool(tool, {**args, "confirmation_token": token})

    async with anyio.create_task_group() as group:
        for i in range(REDEEMS):
            group.start_soon(one, i)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def texts(results: list[CallToolResult]) -> list[str]:
    return [r.content[0].text for r in results if r.is_error]  # type: ignore[union-attr]


def mutations(sandbox: Proc, method: str, suffix: str) -> list[str]:
    return [r["path"] for r in sandbox_requests(sandbox, method) if r["path"].endswith(suffix)]


async def test_concurrent_redeems_of_one_delete_token_across_three_replicas_delete_exactly_once(
    sandbox: Proc, stack: dict[str, Proc]
) -> None:
    vm = VM_IDS["db-1"]
    token = await preview_token(stack["a"], "delete_vm", {"vm_id": vm})
    hold_gets(sandbox, vm, seconds=1.0)
    results = await redeem_at_once([stack[n] for n in STORE_REPLICAS], "delete_vm", {"vm_id": vm}, token)
    assert [r.is_error for r in results].count(False) == 1
    refusals = texts(results)
    assert all(" was not deleted: " in t for t in refusals), refusals
    assert any(USED in t for t in refusals), refusals  # the re-checks lined up: the store stopped them
    assert mutations(sandbox, "DELETE", vm) == [f"/vm/api/v1/orgs/demo-org/projects/demo-project/vms/{vm}"]


async def test_concurrent_redeems_of_one_restart_token_across_three_replicas_restart_exactly_once(
    sandbox: Proc, stack: dict[str, Proc]
) -> None:
    vm = VM_IDS["web-1"]
    token = await preview_token(stack["b"], "restart_vm", {"vm_id": vm})
    hold_gets(sandbox, vm)
    results = await redeem_at_once([stack[n] for n in STORE_REPLICAS], "restart_vm", {"vm_id": vm}, token)
    assert [r.is_error for r in results].count(False) == 1
    # a refusal may also be a re-check that could not read the VM on a loaded runner: still nothing sent
    assert all(" was not restarted: " in t for t in texts(results)), texts(results)
    assert mutations(sandbox, "POST", f"{vm}/restart") == [
        f"/vm/api/v1/orgs/demo-org/projects/demo-project/vms/{vm}/restart"]


async def test_concurrent_redeems_of_one_create_token_across_three_replicas_create_exactly_once(
    sandbox: Proc, stack: dict[str, Proc]
) -> None:
    args = {**CREATE, "name": "race-1"}
    token = await preview_token(stack["c"], "create_vm", args)
    results = await redeem_at_once([stack[n] for n in STORE_REPLICAS], "create_vm", args, token)
    assert [r.is_error for r in results].count(False) == 1
    assert texts(results) == [f"VM race-1 (new) was not created: {USED} Each confirmation runs once; call create_vm "
                              "again without confirmation_token if the user wants it done again."] * (REDEEMS - 1)
    assert len(mutations(sandbox, "POST", "/vms")) == 1


async def test_without_the_store_the_same_race_creates_once_per_replica(sandbox: Proc, stack: dict[str, Proc]
                                                                        ) -> None:
    """The control: the race above on two replicas without the store reaches the API twice."""
    args = {**CREATE, "name": "race-2"}
    token = await preview_token(stack["plain-1"], "create_vm", args)
    results = await redeem_at_once([stack["plain-1"], stack["plain-2"]], "create_vm", args, token)
    assert [r.is_error for r in results].count(False) == 2
    assert len(mutations(sandbox, "POST", "/vms")) == 2


async def test_without_the_store_a_lined_up_delete_race_reaches_the_api_once_per_replica(
    sandbox: Proc, stack: dict[str, Proc]
) -> None:
    """The control for the delete race, and the finding as seen: both replicas passed the re-check, both DELETEs
    reached the API (the second answered 400 by the sandbox, as the real API answers `already_deleting`)."""
    vm = VM_IDS["train-gpu-1"]
    token = await preview_token(stack["plain-1"], "delete_vm", {"vm_id": vm})
    hold_gets(sandbox, vm, seconds=1.0)
    results = await redeem_at_once([stack["plain-1"], stack["plain-2"]], "delete_vm", {"vm_id": vm}, token)
    assert [r.is_error for r in results].count(False) == 1
    assert len(mutations(sandbox, "DELETE", vm)) == 2


async def test_a_replica_whose_store_is_unreachable_refuses_and_sends_nothing_upstream(
    sandbox: Proc, stack: dict[str, Proc]
) -> None:
    args = {**CREATE, "name": "race-3"}
    token = await preview_token(stack["a"], "create_vm", args)
    async with connect(stack["down"].url) as client:
        refused = await client.call_tool("create_vm", {**args, "confirmation_token": token})
    assert refused.is_error
    said = refused.content[0].text  # type: ignore[union-attr]
    assert said.startswith("VM race-3 (new) was not created: the shared replay store (NEEV_MCP_REPLAY_STORE) could "
                           "not record that this confirmation is being used (redis://127.0.0.1:")
    assert "Nothing was sent to NeevCloud." in said
    assert {r["method"] for r in sandbox_requests(sandbox)} == {"GET"}  # only the name look-ups (preview, redeem)
    async with connect(stack["b"].url) as client:  # the token was not used up: a healthy replica runs it
        done = await client.call_tool("create_vm", {**args, "confirmation_token": token})
    assert not done.is_error, done.content
    assert len(mutations(sandbox, "POST", "/vms")) == 1
