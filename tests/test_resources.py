"""Resources: a VM's summary and the project overview, listed and read through a real MCP client."""

from __future__ import annotations

import pytest
from mcp import Client, MCPError

from neev_mcp.sandbox import DEFAULT_TOKEN, Fault, redact_authorization

from .conftest import ORG, PROJECT, MakeServer, api_requests, vm_path
from .support import vm_id

UNKNOWN_VM = "00000000-0000-4000-8000-000000000000"



async def read_text(client: Client, uri: str) -> str:
    result = await client.read_resource(uri)
    [content] = result.contents
    assert str(content.uri) == uri
    assert content.mime_type == "text/plain"
    return content.text


async def tool_text(client: Client, name: str, arguments: dict) -> str:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content[0].text
    return result.content[0].text


@pytest.mark.anyio
async def test_the_vm_and_project_overview_templates_are_listed(client: Client) -> None:
    templates = (await client.list_resource_templates()).resource_templates
    assert [(t.uri_template, t.name, t.title, t.mime_type) for t in templates] == [
        ("neev://vms/{vm_id}", "vm", "VM summary", "text/plain"),
        ("neev://projects/{org_id}/{project_id}/overview", "project_overview", "Project overview", "text/plain"),
    ]
    assert all(t.description for t in templates)


@pytest.mark.anyio
async def test_the_default_project_overview_is_listed_when_a_default_project_is_configured(client: Client) -> None:
    resources = (await client.list_resources()).resources
    assert [(str(r.uri), r.name, r.title) for r in resources] == [
        ("neev://overview", "overview", f"Overview of {ORG}/{PROJECT}"),
    ]


@pytest.mark.anyio
async def test_without_a_default_project_only_the_templates_are_offered(make_server: MakeServer) -> None:
    async with Client(make_server(org_id=None, project_id=None)) as c:
        assert (await c.list_resources()).resources == []
        assert len((await c.list_resource_templates()).resource_templates) == 2


@pytest.mark.anyio
async def test_reading_a_vm_by_id_returns_exactly_the_get_vm_summary(client: Client, sandbox) -> None:
    web = vm_id(sandbox, "web-1")
    sandbox.clear_requests()
    text = await read_text(client, f"neev://vms/{web}")
    [request] = api_requests(sandbox)
    assert (request.method, request.path, request.status) == ("GET", vm_path(web), 200)
    assert request.headers["authorization"] == redact_authorization(f"Bearer {DEFAULT_TOKEN}")
    assert text.startswith(f"VM web-1 ({web}) is running")
    assert text == await tool_text(client, "get_vm", {"vm_id": web})


@pytest.mark.anyio
async def test_reading_a_vm_by_name_resolves_it_in_the_configured_project(client: Client, sandbox) -> None:
    batch = vm_id(sandbox, "batch-7")
    sandbox.clear_requests()
    text = await read_text(client, "neev://vms/batch-7")
    assert [(r.method, r.path, r.query) for r in api_requests(sandbox)] == [
        ("GET", vm_path(), {"page": "1", "limit": "100"}),
        ("GET", vm_path(batch), {}),
    ]
    assert text == await tool_text(client, "get_vm", {"vm_id": batch})
    assert "no H100 capacity" in text


@pytest.mark.anyio
async def test_an_unknown_vm_id_is_a_resource_not_found_error_and_the_server_keeps_serving(client: Client) -> None:
    with pytest.raises(MCPError) as exc:
        await client.read_resource(f"neev://vms/{UNKNOWN_VM}")
    assert exc.value.code == -32602
    assert exc.value.message.startswith(f"VM '{UNKNOWN_VM}' was not found: NeevCloud refused get_vm: HTTP 404")
    assert exc.value.error.data == {"uri": f"neev://vms/{UNKNOWN_VM}"}
    assert "web-1" in await read_text(client, "neev://vms/web-1")


@pytest.mark.anyio
async def test_an_unknown_vm_name_is_a_resource_not_found_error(client: Client) -> None:
    with pytest.raises(MCPError) as exc:
        await client.read_resource("neev://vms/no-such-vm")
    assert exc.value.code == -32602
    assert exc.value.message == f"VM 'no-such-vm' was not found: No VM named 'no-such-vm' in {ORG}/{PROJECT}."


@pytest.mark.anyio
async def test_the_project_overview_resource_equals_the_project_overview_tool(client: Client, sandbox) -> None:
    sandbox.clear_requests()
    text = await read_text(client, f"neev://projects/{ORG}/{PROJECT}/overview")
    assert {(r.method, r.path.rsplit("/", 1)[-1]) for r in api_requests(sandbox)} == {("GET", "vms"),
                                                                                       ("GET", "root_disks")}
    assert text == await tool_text(client, "project_overview", {})
    assert text == await read_text(client, "neev://overview")
    assert "batch-7" in text and "old-root-disk" in text


@pytest.mark.anyio
async def test_an_unknown_project_is_a_resource_not_found_error(client: Client) -> None:
    with pytest.raises(MCPError) as exc:
        await client.read_resource("neev://projects/acme/nothing-here/overview")
    assert exc.value.code == -32602
    assert exc.value.message.startswith("project acme/nothing-here was not found: NeevCloud refused list_vms")


@pytest.mark.anyio
async def test_an_upstream_refusal_is_an_mcp_error_with_the_actionable_message_and_no_token(client, sandbox) -> None:
    sandbox.add_faults(Fault(kind="status", status=401, path_regex=r"/vms/"))
    with pytest.raises(MCPError) as exc:
        await client.read_resource(f"neev://vms/{vm_id(sandbox, 'db-1')}")
    assert exc.value.code == -32603
    assert exc.value.message.startswith("Could not read VM '")
    assert "Set NEEV_API_TOKEN to a valid NeevCloud bearer JWT" in exc.value.message
    assert DEFAULT_TOKEN not in exc.value.message


@pytest.mark.anyio
async def test_a_handshake_era_client_reads_the_same_resources(legacy_client: Client, sandbox) -> None:
    text = await read_text(legacy_client, "neev://vms/db-1")
    assert text.startswith(f"VM db-1 ({vm_id(sandbox, 'db-1')}) is stopped")
    with pytest.raises(MCPError) as exc:
        await legacy_client.read_resource("neev://vms/ghost")
    assert exc.value.code == -32602
