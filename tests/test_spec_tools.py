"""A newer spec through a real MCP client: new operations become gated, bounded tools; drifted reviewed ones go off.

The server is built from `extended_spec()` (listRegions, resizeVM, deleteSnapshot added; stopVM gained `force`) and
talks to a `RecordingUpstream`, so every assertion on what reached NeevCloud is exact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError

from neev_mcp.config import Settings
from neev_mcp.errors import NotConfigured
from neev_mcp.sandbox import DEFAULT_TOKEN, Sandbox, SimClock
from neev_mcp.server import NeevServer, Reader, build_server

from .conftest import BASE_URL, ORG, PROJECT
from .support import text, vm_id
from .support.gate import MODES, User
from .support.spec import REGIONS, RecordingUpstream, Seen, extended_spec, write_spec

pytestmark = pytest.mark.anyio

SCOPE = f"/vm/api/v1/orgs/{ORG}/projects/{PROJECT}"
MARK = "(not yet reviewed by neev-mcp)"
UUID = {"type": "string", "format": "uuid"}


@pytest.fixture
def upstream(sandbox: Sandbox) -> RecordingUpstream:
    return RecordingUpstream(sandbox.transport())


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    return write_spec(tmp_path, extended_spec())


def make(upstream: RecordingUpstream, clock: SimClock, spec_file: Path, **overrides: Any) -> NeevServer:
    values: dict[str, Any] = {"api_token": DEFAULT_TOKEN, "api_base_url": BASE_URL, "org_id": ORG,
                              "project_id": PROJECT, "retry_backoff": 0.0, "openapi_spec": str(spec_file),
                              "mcp_secret": "test-secret-for-neev-mcp-0123456789abcdef"}
    return build_server(Settings(**{**values, **overrides}), http_transport=upstream, now=clock.now)


@pytest.fixture
def server(upstream: RecordingUpstream, clock: SimClock, spec_file: Path) -> NeevServer:
    return make(upstream, clock, spec_file)


@pytest.fixture
async def legacy(server: NeevServer) -> AsyncIterator[Client]:
    """A handshake-era client without elicitation: gated calls use the confirmation-token fallback."""
    async with Client(server, mode="legacy", raise_exceptions=True) as client:
        yield client


def _tool(tools: list[Any], name: str) -> dict[str, Any]:
    found = next(t for t in tools if t.name == name)
    return found.model_dump(by_alias=True, exclude_none=True, mode="json")


async def test_new_operations_are_listed_with_their_schemas_annotations_and_mark(legacy: Client) -> None:
    tools = (await legacy.list_tools()).tools
    assert [t.name for t in tools] == [
        "list_vms", "create_vm", "get_vm", "delete_vm", "list_root_disk_volumes", "get_root_disk_volume",
        "delete_root_disk_volume", "start_vm", "restart_vm", "project_overview", "wait_for_vm",
        "vm_options", "list_regions", "resize_vm", "delete_snapshot"]
    assert _tool(tools, "list_regions") == {
        "name": "list_regions", "title": "List regions",
        "description": f"Lists the regions where VMs can be created, with their availability. {MARK}",
        "inputSchema": {"type": "object", "properties": {
            "org_id": {"type": "string", "default": ORG},
            "gpu_type": {"type": "string", "maxLength": 20, "description": "Only regions offering this GPU type."}},
            "additionalProperties": False},
        "annotations": {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True,
                        "openWorldHint": True}}
    confirmation = {"type": "string", "description": "Only when the user has approved the preview of an earlier "
                    "call: the token it returned."}
    scope = {"org_id": {"type": "string", "default": ORG}, "project_id": {"type": "string", "default": PROJECT}}
    assert _tool(tools, "resize_vm") == {
        "name": "resize_vm", "title": "Resize a VM",
        "description": f"Changes the VM configuration of a stopped VM. {MARK}",
        "inputSchema": {"type": "object", "properties": {
            **scope, "vm_id": UUID,
            "vm_config_id": {"type": "string", "minLength": 1, "maxLength": 64,
                             "description": "The new VM configuration."},
            "keep_ip": {"type": "boolean", "default": True}, "confirmation_token": confirmation},
            "required": ["vm_id", "vm_config_id"], "additionalProperties": False},
        "annotations": {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False,
                        "openWorldHint": True}}
    assert _tool(tools, "delete_snapshot") == {
        "name": "delete_snapshot", "title": "Delete a snapshot",
        "description": f"Permanently deletes a VM snapshot. {MARK}",
        "inputSchema": {"type": "object", "properties": {
            **scope, "snapshot_id": {"type": "string", "pattern": "^snap-[a-z0-9]+$"},
            "confirmation_token": confirmation},
            "required": ["snapshot_id"], "additionalProperties": False},
        "annotations": {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": True,
                        "openWorldHint": True}}


async def test_reviewed_tools_keep_exactly_their_reviewed_schemas(legacy: Client, make_server: Any) -> None:
    async with Client(make_server(), mode="legacy") as vendored:
        reviewed = {t.name: t for t in (await vendored.list_tools()).tools}
    for tool in (await legacy.list_tools()).tools:
        if tool.name in reviewed:
            assert tool == reviewed[tool.name], tool.name


async def test_an_unreviewed_read_is_sent_at_once_and_summarised_with_the_full_answer_beside(
    legacy: Client, upstream: RecordingUpstream
) -> None:
    result = await legacy.call_tool("list_regions", {"gpu_type": "H100"})
    assert not result.is_error
    assert upstream.seen == [Seen("GET", f"/vm/api/v1/orgs/{ORG}/regions", {"gpu_type": "H100"}, None)]
    assert text(result) == "\n".join([
        "List regions: 3 items in data.",
        "- id=in-mum-1, name=Mumbai 1, status=available",
        "- id=in-del-1, name=Delhi 1, status=available",
        "- id=in-blr-1, name=Bengaluru 1, status=maintenance",
        "The complete answer is in structuredContent."])
    assert result.structured_content == {"data": REGIONS}


async def test_arguments_of_unreviewed_tools_are_validated_before_anything_is_sent(
    legacy: Client, upstream: RecordingUpstream
) -> None:
    result = await legacy.call_tool("resize_vm", {"vm_id": "not-a-uuid", "vm_config_id": "", "size": 3})
    assert result.is_error
    assert text(result) == "\n".join([
        "Invalid arguments for resize_vm (nothing was sent to NeevCloud):",
        "- arguments: unknown field(s) 'size'; allowed: confirmation_token, keep_ip, org_id, project_id, "
        "vm_config_id, vm_id",
        "- vm_config_id: '' is shorter than 1 characters",
        "- vm_id: 'not-a-uuid' is not a valid uuid"])
    assert upstream.seen == []


async def test_an_unreviewed_post_is_gated_by_token_zero_requests_before_and_exactly_one_after(
    legacy: Client, upstream: RecordingUpstream, sandbox: Sandbox
) -> None:
    web = vm_id(sandbox, "web-1")
    args = {"vm_id": web, "vm_config_id": "vcpu-8-ram-32", "keep_ip": False}
    first = await legacy.call_tool("resize_vm", args)
    assert not first.is_error and upstream.seen == []
    structured = first.structured_content or {}
    assert structured["executed"] is False and structured["confirmation_required"] is True
    assert structured["preview"] == (
        f"Send POST {SCOPE.removeprefix('/vm')}/vms/{web}/resize (resize_vm). neev-mcp has not reviewed this "
        'operation: what it does is known only from the API\'s own description: "Changes the VM configuration of '
        'a stopped VM.". No query arguments. Body: vm_config_id = "vcpu-8-ram-32", keep_ip = false.')
    assert "Not sent yet: this needs the user's confirmation." in text(first)
    token = structured["confirmation_token"]
    done = await legacy.call_tool("resize_vm", {**args, "confirmation_token": token})
    assert not done.is_error
    assert upstream.seen == [Seen("POST", f"{SCOPE}/vms/{web}/resize", {},
                                  {"vm_config_id": "vcpu-8-ram-32", "keep_ip": False})]
    assert text(done).startswith(f"Resize a VM: id={web}, name=web-1, vm_config_id=vcpu-8-ram-32, status=stopped.")
    again = await legacy.call_tool("resize_vm", {**args, "confirmation_token": token})
    assert again.is_error and "already been used" in text(again)
    other = await legacy.call_tool("resize_vm", {**args, "vm_config_id": "vcpu-64", "confirmation_token": token})
    assert other.is_error and "not valid for this call" in text(other)
    assert len(upstream.requests("POST")) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_an_unreviewed_delete_is_gated_by_elicitation_on_both_eras(
    mode: str, server: NeevServer, upstream: RecordingUpstream
) -> None:
    sent_before_answer: list[int] = []
    user = User("accept", "delete_snapshot", before_answer=lambda: sent_before_answer.append(len(upstream.seen)))
    async with Client(server, mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("delete_snapshot", {"snapshot_id": "snap-1a2b"})
    assert not result.is_error
    assert sent_before_answer == [0]
    assert upstream.seen == [Seen("DELETE", f"{SCOPE}/snapshots/snap-1a2b", {}, None)]
    assert text(result) == "Delete a snapshot: NeevCloud accepted the request (HTTP 202) and sent no answer body."
    (asked,) = user.asked
    assert asked.message == (
        f"Send DELETE {SCOPE.removeprefix('/vm')}/snapshots/snap-1a2b (delete_snapshot). neev-mcp has not reviewed "
        "this operation: what it does is known only from the API's own description: \"Permanently deletes a VM "
        "snapshot.\". No query arguments.\n\nTo send request delete_snapshot, type its name exactly: delete_snapshot"
        "\nDecline or cancel to keep it as it is.")


@pytest.mark.parametrize("mode", MODES)
async def test_declining_or_typing_another_name_sends_nothing(
    mode: str, server: NeevServer, upstream: RecordingUpstream
) -> None:
    for user in (User("decline"), User("accept", "snap-1a2b")):
        async with Client(server, mode=mode, elicitation_callback=user) as client:
            result = await client.call_tool("delete_snapshot", {"snapshot_id": "snap-1a2b"})
        assert result.is_error and text(result).startswith("request delete_snapshot was not sent: ")
    assert upstream.seen == []


async def test_unreviewed_mutations_are_gated_under_every_policy_but_off(
    upstream: RecordingUpstream, clock: SimClock, spec_file: Path, sandbox: Sandbox
) -> None:
    for confirm, gated in (("destructive", True), ("mutating", True), ("off", False)):
        server = make(upstream, clock, spec_file, confirm=confirm)
        by_name = {t.name: t for t in server.registry}
        assert (by_name["resize_vm"].gated, by_name["delete_snapshot"].gated) == (gated, gated), confirm
        assert not by_name["list_regions"].gated


async def test_only_the_safe_method_is_retried(legacy: Client, upstream: RecordingUpstream, server: NeevServer,
                                               sandbox: Sandbox) -> None:
    upstream.failures = [503, 503]
    read = await legacy.call_tool("list_regions", {})
    assert not read.is_error and len(upstream.requests("GET", "/regions")) == 3
    web = vm_id(sandbox, "web-1")
    args = {"vm_id": web, "vm_config_id": "vcpu-8"}
    token = ((await legacy.call_tool("resize_vm", args)).structured_content or {})["confirmation_token"]
    upstream.failures = [503]
    failed = await legacy.call_tool("resize_vm", {**args, "confirmation_token": token})
    assert failed.is_error and len(upstream.requests("POST", "/resize")) == 1
    assert "may or may not have been applied" in text(failed)


async def test_a_drifted_reviewed_tool_is_off_and_says_why_without_calling_the_api(
    legacy: Client, upstream: RecordingUpstream, sandbox: Sandbox, spec_file: Path
) -> None:
    result = await legacy.call_tool("stop_vm", {"vm_id": vm_id(sandbox, "web-1")})
    assert result.is_error
    assert text(result) == (
        f"stop_vm is disabled: the loaded spec ({spec_file}) differs from the one neev-mcp reviewed: stop_vm (stopVM) "
        'changed its parameters: force: added ({"type": "boolean"}). neev-mcp does not call a reviewed operation '
        "whose contract changed; unset NEEV_OPENAPI_SPEC (or --spec) to use the vendored spec, or upgrade neev-mcp. "
        "Nothing was sent.")
    assert upstream.seen == []
    prompts = [p.name for p in (await legacy.list_prompts()).prompts]
    assert "decommission_vm" not in prompts and "diagnose_failed_vm" in prompts


async def test_drift_is_reported_at_start_up(upstream: RecordingUpstream, clock: SimClock, spec_file: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", "neev_mcp")
    make(upstream, clock, spec_file)
    lines = [r.getMessage() for r in caplog.records if r.name == "neev_mcp.server"]
    assert lines[0] == f"OpenAPI spec: {spec_file} (OpenAPI 3.0.3, VM Service API 0.2.0)"
    assert lines[1].startswith("stop_vm is disabled: the loaded spec")
    assert lines[2] == ("3 operation(s) not yet reviewed by neev-mcp offered as tools: list_regions (read-only), "
                        "resize_vm (gated), delete_snapshot (gated)")


async def test_a_drifted_getter_takes_the_tools_that_read_through_it_down_too(
    upstream: RecordingUpstream, clock: SimClock, tmp_path: Path
) -> None:
    spec = extended_spec(drift=False)
    get_vm = spec["paths"]["/api/v1/orgs/{org_id}/projects/{project_id}/vms/{vm_id}"]["get"]
    get_vm["parameters"].append({"in": "query", "name": "expand", "schema": {"type": "string"}})
    server = make(upstream, clock, write_spec(tmp_path, spec))
    off = {t.name: t.disabled for t in server.registry if t.disabled}
    assert sorted(off) == ["delete_vm", "get_vm", "wait_for_vm"]
    assert off["delete_vm"].startswith("delete_vm is disabled: it relies on get_vm, which is disabled (the loaded")
    async with Client(server, mode="legacy") as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert "get_vm" not in names and "stop_vm" in names
        with pytest.raises(MCPError, match="Could not read VM 'web-1': get_vm is disabled: the loaded spec"):
            await client.read_resource("neev://vms/web-1")
    assert upstream.requests(contains="/vms/") == []


async def test_read_only_mode_offers_the_unreviewed_reads_only(upstream: RecordingUpstream, clock: SimClock,
                                                               spec_file: Path) -> None:
    server = make(upstream, clock, spec_file, read_only=True)
    async with Client(server, mode="legacy") as client:
        names = [t.name for t in (await client.list_tools()).tools]
        refused = await client.call_tool("delete_snapshot", {"snapshot_id": "snap-1a2b"})
    assert "list_regions" in names and "resize_vm" not in names and "delete_snapshot" not in names
    assert refused.is_error and "read-only mode" in text(refused) and upstream.seen == []


async def test_an_unreviewed_delete_via_token_and_post_via_elicitation_are_gated_the_same_way(
    legacy: Client, server: NeevServer, upstream: RecordingUpstream, sandbox: Sandbox
) -> None:
    first = await legacy.call_tool("delete_snapshot", {"snapshot_id": "snap-1a2b"})
    assert not first.is_error and upstream.seen == []
    token = (first.structured_content or {})["confirmation_token"]
    done = await legacy.call_tool("delete_snapshot", {"snapshot_id": "snap-1a2b", "confirmation_token": token})
    assert not done.is_error
    assert upstream.seen == [Seen("DELETE", f"{SCOPE}/snapshots/snap-1a2b", {}, None)]
    web = vm_id(sandbox, "web-1")
    sent_before_answer: list[int] = []
    user = User("accept", "resize_vm", before_answer=lambda: sent_before_answer.append(len(upstream.seen)))
    async with Client(server, elicitation_callback=user) as modern:
        resized = await modern.call_tool("resize_vm", {"vm_id": web, "vm_config_id": "vcpu-8"})
    assert not resized.is_error and sent_before_answer == [1]
    assert upstream.seen[1:] == [Seen("POST", f"{SCOPE}/vms/{web}/resize", {}, {"vm_config_id": "vcpu-8"})]


async def test_an_unreviewed_delete_is_sent_once_even_when_the_answer_is_a_503(
    legacy: Client, upstream: RecordingUpstream
) -> None:
    token = ((await legacy.call_tool("delete_snapshot", {"snapshot_id": "snap-1a2b"})).structured_content
             or {})["confirmation_token"]
    upstream.failures = [503]
    failed = await legacy.call_tool("delete_snapshot", {"snapshot_id": "snap-1a2b", "confirmation_token": token})
    assert failed.is_error and len(upstream.requests("DELETE")) == 1


async def test_operations_that_cannot_be_offered_are_named_at_start_up(
    upstream: RecordingUpstream, clock: SimClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = extended_spec(drift=False)
    spec["paths"]["/overview"] = {"get": {"operationId": "projectOverview"}}
    spec["paths"]["/tenants"] = {"post": {"operationId": "addTenant", "requestBody": {
        "content": {"text/plain": {"schema": {"type": "string"}}}}}}
    caplog.set_level("INFO", "neev_mcp")
    server = make(upstream, clock, write_spec(tmp_path, spec))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name == "neev_mcp.server"]
    assert warnings == [
        "spec operation POST /tenants (addTenant) is not offered as a tool: only application/json request bodies "
        "are supported",
        "spec operation GET /overview (projectOverview) is not offered as a tool: its tool name project_overview is "
        "already taken by another tool",
    ]
    assert [t.name for t in server.registry if t.name == "project_overview"] == ["project_overview"]
    assert not next(t for t in server.registry if t.name == "project_overview").unreviewed


THINGS = "/api/v1/orgs/{org_id}/things"


def _things_spec() -> dict[str, Any]:
    """A GET with an array query parameter and a PATCH whose optional body has a required field."""
    org = {"in": "path", "name": "org_id", "required": True, "schema": {"type": "string"}}
    spec = extended_spec(drift=False)
    spec["paths"][THINGS] = {
        "get": {"operationId": "listThings", "parameters": [org, {"in": "query", "name": "ids", "schema": {
            "type": "array", "items": {"type": "string"}, "maxItems": 3}}]},
        "patch": {"operationId": "patchThings", "parameters": [org, {"in": "query", "name": "dry_run",
                                                                      "schema": {"type": "boolean"}}],
                  "requestBody": {"required": False, "content": {"application/json": {"schema": {
                      "type": "object", "required": ["name"],
                      "properties": {"name": {"type": "string"}, "tag": {"type": "string"}}}}}}},
    }
    return spec


async def test_an_array_query_argument_is_sent_as_repeated_pairs_with_its_constraints_kept(
    upstream: RecordingUpstream, clock: SimClock, tmp_path: Path
) -> None:
    """Review finding: a list was sent as its Python repr (`ids=['a', 'b']`)."""
    server = make(upstream, clock, write_spec(tmp_path, _things_spec()))
    async with Client(server, mode="legacy") as client:
        too_many = await client.call_tool("list_things", {"ids": ["a", "b", "c", "d"]})
        assert too_many.is_error and upstream.seen == []
        await client.call_tool("list_things", {"ids": ["vm-1", "vm 2"]})
    (seen,) = upstream.seen
    assert (seen.method, seen.path, seen.raw_query) == ("GET", f"/vm/api/v1/orgs/{ORG}/things", "ids=vm-1&ids=vm+2")


async def test_an_optional_body_is_sent_whole_or_not_at_all(
    upstream: RecordingUpstream, clock: SimClock, tmp_path: Path
) -> None:
    """Review finding: the body's own `required` was dropped when the body is optional, so `{"tag": ...}` (no name)
    was sent, and an empty `{}` body when no body argument was given."""
    server = make(upstream, clock, write_spec(tmp_path, _things_spec()))
    async with Client(server, mode="legacy") as client:
        tool = _tool((await client.list_tools()).tools, "patch_things")
        assert tool["inputSchema"]["dependentRequired"] == {"tag": ["name"]}
        half = await client.call_tool("patch_things", {"tag": "blue"})
        assert half.is_error and "'name' is a dependency of 'tag'" in text(half) and upstream.seen == []
        for args in ({"dry_run": True}, {"name": "n", "tag": "blue"}):
            preview = await client.call_tool("patch_things", args)
            token = (preview.structured_content or {})["confirmation_token"]
            done = await client.call_tool("patch_things", {**args, "confirmation_token": token})
            assert "was not sent" not in text(done)
    assert [(s.method, s.query, s.body) for s in upstream.seen] == [
        ("PATCH", {"dry_run": "true"}, None), ("PATCH", {}, {"name": "n", "tag": "blue"})]


async def test_an_unreviewed_head_is_retried_as_a_read_and_never_told_to_check_a_vm(
    upstream: RecordingUpstream, clock: SimClock, tmp_path: Path
) -> None:
    """Review finding: the client treated every method but GET as a mutation when wording a refusal after a retry, so
    a HEAD read was answered with "may have been applied already ... call get_vm"."""
    spec = extended_spec(drift=False)
    regions = spec["paths"]["/api/v1/orgs/{org_id}/regions"]
    regions["head"] = {"operationId": "checkRegions", "parameters": regions["get"]["parameters"][:1]}
    server = make(upstream, clock, write_spec(tmp_path, spec))
    upstream.failures = [503, 404]
    async with Client(server, mode="legacy") as client:
        result = await client.call_tool("check_regions", {})
    assert [s.method for s in upstream.seen] == ["HEAD", "HEAD"]
    assert result.is_error and text(result) == (
        "NeevCloud refused check_regions: HTTP 404 [unavailable] try again later. Check the ids and "
        "org_id/project_id. (gave up after 2 attempts)")


async def test_the_preview_a_human_approves_shows_a_long_value_whole(
    upstream: RecordingUpstream, clock: SimClock, tmp_path: Path
) -> None:
    """Review finding: values were cut at 80 characters, so a user approved a request whose arguments they could not
    read (a script, a key); now up to 500 characters are shown and a longer value says that it is cut."""
    server = make(upstream, clock, write_spec(tmp_path, _things_spec()))
    name = "n" * 300
    async with Client(server, mode="legacy") as client:
        preview = (await client.call_tool("patch_things", {"name": name, "tag": "t" * 600})).structured_content or {}
    assert f'Body: name = "{name}", tag = "{"t" * 498}… (cut here: 602 characters in all).' in preview["preview"]
    assert upstream.seen == []


async def test_what_bypasses_the_gate_only_ever_reads(server: NeevServer, upstream: RecordingUpstream,
                                                      sandbox: Sandbox) -> None:
    """Review finding (hardening): agent tools (`API.call`) and resources/prompts (`Reader.tool_text`) reach the API
    without the confirmation gate; nothing stopped them from sending a mutation, e.g. a catalogue hook wired to the
    wrong tool. Now they refuse anything that is not a read."""
    args = {"org_id": ORG, "project_id": PROJECT, "vm_id": vm_id(sandbox, "web-1")}
    with pytest.raises(NotConfigured, match=r"^resize_vm may change something, so it is called only as a tool"):
        await server.api(None).call("resize_vm", args)
    with pytest.raises(NotConfigured, match=r"^delete_vm may change something"):
        await Reader(server).tool_text("delete_vm", args, None)
    assert upstream.seen == []
    assert (await server.api(None).call("list_regions", {"org_id": ORG}))["data"] == REGIONS
