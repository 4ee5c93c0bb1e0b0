"""Two VMs with one name (NeevCloud accepts it): create_vm says so, before (the `mutating` preview) and after;
completions offer the name once; a name that picks no single VM is the client's mistake (-32602), with the ids."""

from __future__ import annotations

import pytest
from mcp import Client, MCPError
from mcp.types import PromptReference, ResourceTemplateReference

from neev_mcp.sandbox import Sandbox

from .conftest import CREATE, ORG, PROJECT, MakeServer, vm_path
from .support import text, vm_id

pytestmark = pytest.mark.anyio

SECOND_WEB_1 = {**CREATE, "name": "web-1", "root_disk": {"create_disk_request": {
    "name": "web-1b-root", "size_gb": 40, "image_id": "ubuntu-24.04"}}}
LOOKUP = ("GET", vm_path(), {"page": "1", "limit": "100"})


def requests(sandbox: Sandbox) -> list[tuple[str, str, dict[str, str]]]:
    return [(r.method, r.path, r.query) for r in sandbox.requests]


def second_web_1(sandbox: Sandbox) -> str:
    return next(v.id for v in sandbox.vms.values() if v.name == "web-1" and v.id != vm_id(sandbox, "web-1"))


async def test_create_vm_says_another_vm_already_has_the_name(client: Client, sandbox: Sandbox) -> None:
    first = vm_id(sandbox, "web-1")
    result = await client.call_tool("create_vm", SECOND_WEB_1)
    assert not result.is_error, text(result)
    new = second_web_1(sandbox)
    assert text(result).endswith(
        f"Another VM in this project already has the name 'web-1' ({first}): NeevCloud accepts the duplicate, but "
        "afterwards the name no longer identifies one VM, so refer to the VM just created by its id.")
    assert result.structured_content["id"] == new and result.structured_content["same_name_ids"] == [first]
    # the name was looked up through the walker (one page here), then the VM created
    assert requests(sandbox) == [LOOKUP, ("POST", vm_path(), {})]


async def test_a_create_with_a_new_name_says_nothing_about_names(client: Client, sandbox: Sandbox) -> None:
    result = await client.call_tool("create_vm", CREATE)
    assert not result.is_error, text(result)
    assert "already has the name" not in text(result) and "same_name_ids" not in result.structured_content
    assert requests(sandbox) == [LOOKUP, ("POST", vm_path(), {})]


async def test_the_mutating_preview_warns_before_the_human_confirms(make_server: MakeServer, sandbox: Sandbox) -> None:
    first = vm_id(sandbox, "web-1")
    async with Client(make_server(confirm="mutating")) as client:
        preview = await client.call_tool("create_vm", SECOND_WEB_1)
        assert not preview.is_error and preview.structured_content["confirmation_required"] is True
        assert f"Another VM in this project already has the name 'web-1' ({first}): NeevCloud accepts the " \
               "duplicate, but afterwards the name no longer identifies one VM, so refer to this VM by its id." \
               in preview.structured_content["preview"]
        assert preview.structured_content["facts"]["same_name_ids"] == [first]
        assert [r.method for r in sandbox.requests] == ["GET"]  # nothing created before the confirmation
        token = preview.structured_content["confirmation_token"]
        created = await client.call_tool("create_vm", {**SECOND_WEB_1, "confirmation_token": token})
    assert not created.is_error, text(created)
    assert created.structured_content["same_name_ids"] == [first]
    assert [r.method for r in sandbox.requests] == ["GET", "GET", "POST"]


async def test_a_namesake_appearing_after_the_preview_is_named_in_the_answer(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    async with Client(make_server(confirm="mutating")) as client:
        preview = await client.call_tool("create_vm", CREATE)  # web-2: nobody has the name yet
        assert preview.structured_content["facts"]["same_name_ids"] == []
        assert "already has the name" not in preview.structured_content["preview"]
        sandbox.state.create_vm(ORG, PROJECT, {**CREATE, "root_disk": {"create_disk_request": {
            "name": "other-root", "size_gb": 40, "image_id": "ubuntu-24.04"}}})
        other = next(v.id for v in sandbox.vms.values() if v.name == "web-2")
        sandbox.clear_requests()
        token = preview.structured_content["confirmation_token"]
        created = await client.call_tool("create_vm", {**CREATE, "confirmation_token": token})
    assert not created.is_error, text(created)
    assert text(created).endswith(
        f"Another VM in this project already has the name 'web-2' ({other}): NeevCloud accepts the duplicate, but "
        "afterwards the name no longer identifies one VM, so refer to the VM just created by its id.")
    assert [r.method for r in sandbox.requests] == ["GET", "POST"]


async def test_completion_offers_a_shared_name_once(client: Client, sandbox: Sandbox) -> None:
    await client.call_tool("create_vm", SECOND_WEB_1)
    ref = ResourceTemplateReference(type="ref/resource", uri="neev://vms/{vm_id}")
    result = await client.complete(ref, {"name": "vm_id", "value": "web"})
    assert result.completion.values == ["web-1"] and result.completion.total == 1
    prompt = PromptReference(type="ref/prompt", name="decommission_vm")
    assert (await client.complete(prompt, {"name": "vm", "value": "web-"})).completion.values == ["web-1"]


async def test_a_shared_name_in_a_resource_uri_is_invalid_params_listing_the_ids(
    client: Client, sandbox: Sandbox
) -> None:
    await client.call_tool("create_vm", SECOND_WEB_1)
    first, second = vm_id(sandbox, "web-1"), second_web_1(sandbox)
    with pytest.raises(MCPError) as exc:
        await client.read_resource("neev://vms/web-1")
    assert exc.value.code == -32602
    assert exc.value.message == (
        f"2 VMs are named 'web-1' in {ORG}/{PROJECT} ({first}, {second}): the name is ambiguous, read "
        "neev://vms/<id> with one of these ids instead.")
    # each id still reads
    assert (await client.read_resource(f"neev://vms/{second}")).contents[0].text.startswith(f"VM web-1 ({second})")
