"""Two callers, one VM: what the owner of a confirmation can redeem and an intruder cannot, shared by the oauth and
pass-through tests (the bearers differ, the attack is the same)."""

from __future__ import annotations

import pytest
from mcp import MCPError
from mcp.types import ElicitResult, InputRequiredResult

from ..test_http import connect
from .http import Proc, sandbox_requests, vm_path


async def token_confirmation_stays_with_its_caller(server: Proc, sandbox: Proc, owner: str, intruder: str,
                                                   vm_id: str) -> None:
    """The owner's preview token: refused for the intruder (nothing deleted), then honoured for the owner."""
    async with connect(server, owner) as client:
        preview = await client.call_tool("delete_vm", {"vm_id": vm_id})
    assert preview.structured_content is not None
    confirmation = preview.structured_content["confirmation_token"]

    async with connect(server, intruder) as client:
        stolen = await client.call_tool("delete_vm", {"vm_id": vm_id, "confirmation_token": confirmation})
    assert stolen.is_error is True
    assert stolen.structured_content is not None and stolen.structured_content["decision"] == "invalid"
    assert sandbox_requests(sandbox, "DELETE") == []

    async with connect(server, owner) as client:
        done = await client.call_tool("delete_vm", {"vm_id": vm_id, "confirmation_token": confirmation})
    assert done.is_error is False, done.content
    assert [r["path"] for r in sandbox_requests(sandbox, "DELETE")] == [vm_path(vm_id)]


async def sealed_state_stays_with_its_caller(server: Proc, sandbox: Proc, owner: str, intruder: str, vm_id: str,
                                             name: str) -> None:
    """The owner's 2026-07-28 `input_required` round: the intruder's retry with it (and the right answer) is refused by
    the SDK's principal binding, which sees the caller because neev-mcp's middleware sets it; the owner's succeeds."""
    answer = {"confirm": ElicitResult(action="accept", content={"confirm_name": name})}
    async with connect(server, owner, elicitation_callback=lambda *_: None) as client:
        asked = await client.session.call_tool("delete_vm", {"vm_id": vm_id}, allow_input_required=True)
    assert isinstance(asked, InputRequiredResult)

    async with connect(server, intruder, elicitation_callback=lambda *_: None) as client:
        with pytest.raises(MCPError) as stolen:
            await client.call_tool("delete_vm", {"vm_id": vm_id}, input_responses=answer,
                                   request_state=asked.request_state)
    assert stolen.value.error.data == {"reason": "invalid_request_state"}
    assert sandbox_requests(sandbox, "DELETE") == []

    async with connect(server, owner, elicitation_callback=lambda *_: None) as client:
        done = await client.call_tool("delete_vm", {"vm_id": vm_id}, input_responses=answer,
                                      request_state=asked.request_state)
    assert done.is_error is False, done.content
    assert [r["path"] for r in sandbox_requests(sandbox, "DELETE")] == [vm_path(vm_id)]
