"""Confirmation by elicitation, on both protocol eras: the human answers through a real mcp.Client callback."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from mcp.types import ElicitResult

from neev_mcp.sandbox import Sandbox

from .conftest import MakeServer, vm_path
from .support import disk_id, text, vm_id
from .support.gate import MODES, User, events, upstream

pytestmark = pytest.mark.anyio

CHANNEL = {"legacy": "elicitation", "auto": "input_required"}


@pytest.mark.parametrize("mode", MODES)
async def test_accepting_with_the_vm_name_deletes_it_exactly_once(
    mode: str, make_server: MakeServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    server = make_server(audit_log=audit)
    web = vm_id(sandbox, "web-1")
    user = User("accept", "web-1")
    async with Client(server, mode=mode, elicitation_callback=user) as client:
        assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert not result.is_error
    assert text(result).startswith(f"Deletion of VM web-1 ({web}) accepted; it is now 'deleting'.")
    assert upstream(sandbox, "DELETE") == [vm_path(web)]
    assert sandbox.vms[web].status == "deleting"
    assert len(user.asked) == 1
    assert events(audit) == [("requested", "delete_vm", CHANNEL[mode]), ("confirmed", "delete_vm", CHANNEL[mode]),
                             ("executed", "delete_vm", CHANNEL[mode])]


@pytest.mark.parametrize("mode", MODES)
async def test_the_form_is_flat_and_the_message_names_the_vm_and_its_consequences(
    mode: str, server, sandbox: Sandbox
) -> None:
    web = vm_id(sandbox, "web-1")
    disk = disk_id(sandbox, "web-1-root")
    user = User("decline")
    async with Client(server, mode=mode, elicitation_callback=user) as client:
        await client.call_tool("delete_vm", {"vm_id": web})
    (asked,) = user.asked
    assert asked.message == (
        f"Delete VM web-1 ({web}): status running, public IP 203.0.113.10. Its root disk web-1-root ({disk}, 50 GB) "
        "is detached and kept (delete_root_disk=false); it stays in list_root_disk_volumes until deleted separately. "
        "No data disks are attached. The VM and its public IP are released. This cannot be undone.\n\n"
        "To delete VM web-1, type its name exactly: web-1\nDecline or cancel to keep it as it is."
    )
    assert asked.requested_schema == {
        "type": "object",
        "properties": {"confirm_name": {"type": "string", "title": "Type the VM name to confirm",
                                        "description": "Type web-1 to delete it."}},
        "required": ["confirm_name"],
    }


async def test_the_message_says_when_the_root_disk_is_deleted_with_the_vm_and_lists_data_disks(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    user = User("cancel")
    async with Client(make_server(), elicitation_callback=user) as client:
        await client.call_tool("delete_vm", {"vm_id": vm_id(sandbox, "api-staging")})
        await client.call_tool("delete_vm", {"vm_id": vm_id(sandbox, "train-gpu-1")})
    staging, gpu = (a.message for a in user.asked)
    staging_disk = disk_id(sandbox, "api-staging-root")
    assert f"Its root disk api-staging-root ({staging_disk}, 30 GB) is DELETED with it (delete_root_disk=true): " \
           "its data is lost." in staging
    assert "Data disks attached: datasets (1024 GB)." in gpu
    assert "status running, public IP 203.0.113.11." in gpu
    assert upstream(sandbox, "DELETE") == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("action", "typed", "why", "event"),
    [
        ("decline", None, "the user declined. Do not retry unless the user asks again.", "declined"),
        ("cancel", None, "the user cancelled the confirmation. Do not retry unless the user asks again.", "cancelled"),
        ("accept", "web-2", "the name typed ('web-2') does not match 'web-1', so the confirmation does not count.",
         "invalid"),
        ("accept", "", "the name typed ('') does not match 'web-1', so the confirmation does not count.", "invalid"),
    ],
)
async def test_decline_cancel_or_a_wrong_name_deletes_nothing_and_says_why(
    mode: str, action: str, typed: str | None, why: str, event: str, make_server: MakeServer, sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(audit_log=audit), mode=mode, elicitation_callback=User(action, typed)) as client:
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert result.is_error
    assert text(result) == f"VM web-1 ({web}) was not deleted: {why}"
    reason = {"declined": "declined", "cancelled": "cancelled", "invalid": "name mismatch"}[event]
    assert result.structured_content == {"executed": False, "decision": event, "reason": reason, "tool": "delete_vm",
                                         "target": {"id": web, "name": "web-1"}}
    assert upstream(sandbox, "DELETE") == []
    assert sandbox.vms[web].status == "running"
    assert events(audit) == [("requested", "delete_vm", CHANNEL[mode]), (event, "delete_vm", CHANNEL[mode])]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("content", "got"), [
    ({"name": "web-1"}, "only {'name': 'web-1'}"),
    ({}, "no fields at all"),
])
async def test_an_answer_without_the_name_field_says_what_came_instead(
    mode: str, content: dict, got: str, make_server: MakeServer, sandbox: Sandbox
) -> None:
    async def answer(ctx: object, params: object) -> ElicitResult:
        return ElicitResult(action="accept", content=content)

    web = vm_id(sandbox, "web-1")
    async with Client(make_server(), mode=mode, elicitation_callback=answer) as client:
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert result.is_error
    assert text(result) == (f"VM web-1 ({web}) was not deleted: the answer had no confirm_name field ({got}), so no "
                            "name was typed and the confirmation does not count.")
    assert result.structured_content["reason"] == "no name field"
    assert upstream(sandbox, "DELETE") == [] and sandbox.vms[web].status == "running"


@pytest.mark.parametrize("mode", MODES)
async def test_an_unattached_root_disk_is_deleted_after_typing_its_name(
    mode: str, server, sandbox: Sandbox
) -> None:
    orphan = disk_id(sandbox, "old-root-disk")
    user = User("accept", "old-root-disk")
    async with Client(server, mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("delete_root_disk_volume", {"root_disk_id": orphan})
    assert not result.is_error, text(result)
    assert user.asked[0].message.startswith(
        f"Delete root disk old-root-disk ({orphan}): 100 GB, image ubuntu-22.04, region in-mum-1, status ready, "
        "not attached to any VM. Everything on it is lost. This cannot be undone."
    )
    assert upstream(sandbox, "DELETE") == [f"/vm/api/v1/orgs/demo-org/projects/demo-project/root_disks/{orphan}"]


async def test_a_vm_that_started_deleting_while_the_user_was_deciding_is_not_deleted_again(
    server, sandbox: Sandbox
) -> None:
    web = vm_id(sandbox, "web-1")
    org, project = sandbox.org_id, sandbox.project_id
    # Someone else deletes the VM (straight in the simulated cloud) while the dialog is open.
    user = User("accept", "web-1", before_answer=lambda: sandbox.state.delete_vm(org, project, web))
    async with Client(server, mode="legacy", elicitation_callback=user) as client:
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert result.is_error
    assert text(result) == (f"VM web-1 ({web}) was not deleted: it is already being deleted (status 'deleting'). "
                            "Follow it with wait_for_vm target_status=deleted.")
    assert upstream(sandbox, "DELETE") == []


async def test_an_answer_after_the_confirmation_window_deletes_nothing(
    make_server: MakeServer, sandbox: Sandbox, clock
) -> None:
    web = vm_id(sandbox, "web-1")
    user = User("accept", "web-1", before_answer=lambda: clock.advance(301))
    async with Client(make_server(), mode="legacy", elicitation_callback=user) as client:
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert result.is_error
    assert text(result) == f"VM web-1 ({web}) was not deleted: the answer came after the 300 s confirmation window."
    assert upstream(sandbox, "DELETE") == []


async def test_a_modern_round_answered_after_the_window_deletes_nothing(
    server, sandbox: Sandbox, clock
) -> None:
    web = vm_id(sandbox, "web-1")
    async with Client(server, elicitation_callback=User("accept", "web-1", before_answer=lambda: clock.advance(301))
                      ) as client:
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert result.is_error
    assert text(result) == (f"VM web-1 ({web}) was not deleted: the confirmation expired at 2026-11-28T12:05:00Z. "
                            "Call delete_vm again without confirmation_token for a fresh preview and ask the user "
                            "again.")
    assert upstream(sandbox, "DELETE") == []


async def test_a_failed_confirmation_dialog_is_a_refusal_not_a_fallback_to_a_token(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    from mcp import MCPError
    from mcp.client import ClientRequestContext
    from mcp.types import ElicitRequestParams

    async def dismissed(ctx: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        raise MCPError(-32001, "user dismissed the confirmation dialog")

    web = vm_id(sandbox, "web-1")
    async with Client(make_server(), mode="legacy", elicitation_callback=dismissed) as client:
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert result.is_error
    assert text(result).startswith(f"VM web-1 ({web}) was not deleted: the confirmation dialog failed (")
    assert "confirmation_token" not in (result.structured_content or {})
    assert upstream(sandbox, "DELETE") == []


@pytest.mark.parametrize("body", [{}, {"id": "11111111-1111-4111-8111-111111111111", "name": "scratch-vm"}],
                         ids=["empty-object", "another-vm"])
@pytest.mark.parametrize("mode", MODES)
async def test_the_gate_fails_closed_when_the_api_describes_a_different_or_nameless_resource(
    mode: str, body: dict[str, str], sandbox: Sandbox
) -> None:
    import json as _json

    import httpx2

    from neev_mcp.config import Settings
    from neev_mcp.server import build_server

    from .conftest import BASE_URL

    web = vm_id(sandbox, "web-1")
    inner = sandbox.transport()

    class LyingGateway(httpx2.AsyncBaseTransport):
        """Answers the preview GET of web-1 with another body; everything else reaches the sandbox."""

        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if request.method == "GET" and request.url.path.endswith(web):
                return httpx2.Response(200, content=_json.dumps(body).encode(),
                                       headers={"content-type": "application/json"})
            return await inner.handle_async_request(request)

    server = build_server(Settings(api_token=sandbox.token, api_base_url=BASE_URL, org_id=sandbox.org_id,
                                   project_id=sandbox.project_id, mcp_secret="x" * 32),
                          http_transport=LyingGateway())
    user = User("accept", body.get("name", ""))
    async with Client(server, mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert result.is_error
    assert "was not deleted: NeevCloud described" in text(result)
    assert user.asked == []
    assert upstream(sandbox, "DELETE") == []
