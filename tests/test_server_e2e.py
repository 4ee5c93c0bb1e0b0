"""Every operation through a real MCP client against the sandbox, asserting the exact request NeevCloud received."""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters

from neev_mcp.config import Settings
from neev_mcp.sandbox import DEFAULT_TOKEN, Fault, Sandbox, redact_authorization
from neev_mcp.server import build_server

from .conftest import CREATE, ORG, PROJECT, MakeServer, api_requests, vm_path
from .support import text

pytestmark = pytest.mark.anyio

AUTH = redact_authorization(f"Bearer {DEFAULT_TOKEN}")  # as the request log keeps it
DISKS = f"/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/root_disks"



def only_request(sandbox: Sandbox) -> Any:
    assert len(sandbox.requests) == 1, [(r.method, r.path) for r in sandbox.requests]
    return sandbox.requests[0]


async def test_list_vms_sends_page_and_limit_as_query_with_the_bearer_token(client: Client, sandbox: Sandbox) -> None:
    result = await client.call_tool("list_vms", {"page": 1, "limit": 5})
    req = only_request(sandbox)
    assert (req.method, req.path, req.query, req.body) == ("GET", vm_path(), {"page": "1", "limit": "5"}, None)
    assert req.headers["authorization"] == AUTH
    assert not result.is_error
    assert result.structured_content["pagination"]["items_per_page"] == 5
    assert text(result).startswith("6 VMs, page 1 of 2 — call with page=2 for more")


async def test_create_vm_sends_exactly_the_spec_body_without_tool_only_fields(client: Client, sandbox: Sandbox) -> None:
    result = await client.call_tool("create_vm", {**CREATE, "org_id": ORG})
    lookup, req = sandbox.requests  # first the VMs with the same name (through the walker), then the create
    assert (lookup.method, lookup.path, lookup.query) == ("GET", vm_path(), {"page": "1", "limit": "100"})
    assert (req.method, req.path, req.query) == ("POST", vm_path(), {})
    assert req.body == CREATE  # no org_id / project_id / confirmation_token in the body
    assert req.headers["authorization"] == AUTH and req.headers["content-type"] == "application/json"
    assert not result.is_error, text(result)
    assert result.structured_content["name"] == "web-2" and result.structured_content["status"] == "pending"
    assert "wait_for_vm" in text(result)


@pytest.mark.parametrize(("tool", "vm_name", "suffix", "method"), [
    ("get_vm", "web-1", "", "GET"),
    ("start_vm", "db-1", "/start", "POST"),
    ("stop_vm", "web-1", "/stop", "POST"),
    ("restart_vm", "api-staging", "/restart", "POST"),
])
async def test_vm_operations_hit_the_vm_path(
    client: Client, sandbox: Sandbox, tool: str, vm_name: str, suffix: str, method: str
) -> None:
    vm_id = sandbox.vm_by_name(vm_name).id
    result = await client.call_tool(tool, {"vm_id": vm_id})
    req = only_request(sandbox)
    assert (req.method, req.path, req.query, req.body) == (method, vm_path(vm_id, suffix), {}, None)
    assert req.headers["authorization"] == AUTH
    assert not result.is_error, text(result)
    assert result.structured_content["id"] == vm_id
    assert vm_name in text(result)


async def test_root_disk_reads_hit_the_root_disk_paths(client: Client, sandbox: Sandbox) -> None:
    listed = await client.call_tool("list_root_disk_volumes", {"limit": 100})
    assert (sandbox.requests[0].method, sandbox.requests[0].path) == ("GET", DISKS)
    orphan = next(d for d in listed.structured_content["data"] if d["name"] == "old-root-disk")
    sandbox.clear_requests()
    got = await client.call_tool("get_root_disk_volume", {"root_disk_id": orphan["id"]})
    assert (sandbox.requests[0].method, sandbox.requests[0].path) == ("GET", f"{DISKS}/{orphan['id']}")
    assert got.structured_content["id"] == orphan["id"]
    assert "UNATTACHED" in text(got)


async def test_deletes_send_one_delete_to_the_resource_path_when_confirmation_is_off(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    vm_id = sandbox.vm_by_name("db-1").id
    orphan = next(d for d in sandbox.root_disks.values() if d.name == "old-root-disk")
    async with Client(make_server(confirm="off")) as c:
        deleted_vm = await c.call_tool("delete_vm", {"vm_id": vm_id})
        deleted_disk = await c.call_tool("delete_root_disk_volume", {"root_disk_id": orphan.id})
    deletes = api_requests(sandbox, "DELETE")
    assert [(r.path, r.body) for r in deletes] == [(vm_path(vm_id), None), (f"{DISKS}/{orphan.id}", None)]
    assert not deleted_vm.is_error and not deleted_disk.is_error
    assert deleted_vm.structured_content["status"] == "deleting"


async def test_explicit_org_and_project_override_the_configured_defaults(client: Client, sandbox: Sandbox) -> None:
    result = await client.call_tool("list_vms", {"org_id": "other-org", "project_id": "p2"})
    assert only_request(sandbox).path == "/vm/api/v1/orgs/other-org/projects/p2/vms"
    assert result.is_error and "HTTP 404" in text(result)


async def test_without_configured_defaults_scope_is_required_and_named(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    async with Client(make_server(org_id=None, project_id=None)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        result = await c.call_tool("list_vms", {})
    assert tools["list_vms"].input_schema["required"] == ["org_id", "project_id"]
    assert result.is_error
    assert text(result) == (
        "Invalid arguments for list_vms (nothing was sent to NeevCloud):\n"
        "- org_id: required; pass the organisation's id, or set NEEV_ORG_ID on the server so that calls may leave "
        "org_id out\n"
        "- project_id: required; pass the project's id, or set NEEV_PROJECT_ID on the server so that calls may leave "
        "project_id out")
    assert sandbox.requests == []


@pytest.mark.parametrize(("defaults", "args", "expected"), [
    ({}, {"org_id": "", "project_id": PROJECT},
     "org_id: '' names no organisation; pass the organisation's id, or set NEEV_ORG_ID on the server so that calls "
     "may leave org_id out"),
    ({"org_id": ORG, "project_id": PROJECT}, {"org_id": ""},
     f"org_id: '' names no organisation; pass the organisation's id, or leave org_id out to use NEEV_ORG_ID ({ORG})"),
    ({"org_id": ORG, "project_id": PROJECT}, {"project_id": "  "},
     f"project_id: '  ' names no project; pass the project's id, or leave project_id out to use NEEV_PROJECT_ID "
     f"({PROJECT})"),
])
async def test_an_explicit_empty_org_or_project_id_is_refused_not_replaced_by_the_default(
    make_server: MakeServer, sandbox: Sandbox, defaults: dict[str, str], args: dict[str, str], expected: str
) -> None:
    async with Client(make_server(org_id=defaults.get("org_id"), project_id=defaults.get("project_id"))) as c:
        result = await c.call_tool("list_vms", args)
    assert result.is_error
    assert text(result) == f"Invalid arguments for list_vms (nothing was sent to NeevCloud):\n- {expected}"
    assert sandbox.requests == []


VM = "0b9f3c5e-8d1a-4f53-9a57-5f6d7e8a9b0c"
GOOD_DISK = {"create_disk_request": {"name": "d", "size_gb": 20, "image_id": "ubuntu-24.04"}}
BASE = {"name": "ok", "region_id": "in-mum-1", "vm_config_id": "c", "plan_id": "p", "root_disk": GOOD_DISK}
ONE_OF = "root_disk: give exactly one of attach_disk_request or create_disk_request"
SSH = "ssh-ed25519 " + "A" * 68 + " me@laptop"

BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("get_vm", {"vm_id": "not-a-uuid"}, "vm_id: 'not-a-uuid' is not a valid uuid"),
    ("get_vm", {"vm_id": "../../admin"}, "vm_id: '../../admin' is not a valid uuid"),
    ("get_vm", {}, "vm_id: required"),
    ("get_vm", {"vm_id": VM, "org_id": ".."}, "org_id: '..' is not a valid identifier"),
    ("get_vm", {"vm_id": VM, "extra": 1}, "arguments: unknown field(s) 'extra'"),
    ("list_vms", {"limit": 0}, "limit: 0 is below the minimum 1"),
    ("list_vms", {"limit": 101}, "limit: 101 is above the maximum 100"),
    ("list_vms", {"page": 0}, "page: 0 is below the minimum 1"),
    ("list_vms", {"page": "2"}, "page: expected integer, got string '2'"),
    ("list_vms", {"limit": True}, "limit: expected integer, got boolean True"),
    ("create_vm", {**BASE, "name": "Web_1"}, "name: 'Web_1' does not match"),
    ("create_vm", {**BASE, "name": "a" * 21}, "is longer than 20 characters"),
    ("create_vm", {**BASE, "name": None}, "name: expected string, got null None"),
    ("create_vm", {k: v for k, v in BASE.items() if k != "plan_id"}, "plan_id: required"),
    ("create_vm", {**BASE, "root_disk": {"create_disk_request": {**GOOD_DISK["create_disk_request"], "size_gb": 5}}},
     "root_disk.create_disk_request.size_gb: 5 is below the minimum 20"),
    ("create_vm", {**BASE, "root_disk": {"create_disk_request": {**GOOD_DISK["create_disk_request"],
                                                                 "size_gb": 4096}}},
     "root_disk.create_disk_request.size_gb: 4096 is above the maximum 2048"),
    ("create_vm", {**BASE, "root_disk": {}}, ONE_OF),
    ("create_vm", {**BASE, "root_disk": {**GOOD_DISK, "attach_disk_request": {"disk_id": VM}}}, ONE_OF),
    ("create_vm", {**BASE, "root_disk": {"attach_disk_request": {"disk_id": "nope"}}},
     "root_disk.attach_disk_request.disk_id: 'nope' is not a valid uuid"),
    ("create_vm", {**BASE, "root_disk": {"create_disk_request": {**GOOD_DISK["create_disk_request"], "size": 30}}},
     "root_disk.create_disk_request: unknown field(s) 'size'"),
    ("create_vm", {**BASE, "exposed_ports": [{"port": 0, "protocol": "tcp"}]},
     "exposed_ports[0].port: 0 is below the minimum 1"),
    ("create_vm", {**BASE, "exposed_ports": [{"port": 80, "protocol": "icmp"}]},
     "exposed_ports[0].protocol: 'icmp' is not one of tcp, udp"),
    ("create_vm", {**BASE, "exposed_ports": [{"port": 80, "protocol": "tcp"}] * 2},
     "exposed_ports: items must be unique"),
    ("create_vm", {**BASE, "exposed_ports": [{"port": p, "protocol": "tcp"} for p in range(1000, 1011)]},
     "exposed_ports: has 11 items, at most 10 allowed"),
    ("create_vm", {**BASE, "ssh_keys": ["ssh-dss AAAA"]}, "ssh_keys[0]: 'ssh-dss AAAA' does not match"),
    ("create_vm", {**BASE, "ssh_keys": [SSH + str(i) for i in range(11)]}, "ssh_keys: has 11 items, at most 10"),
    ("create_vm", {**BASE, "data_disks": {"create_disks": [{"name": "x", "type": "tape", "size_gb": 10}]}},
     "data_disks.create_disks[0].type: 'tape' is not one of block, filesystem"),
    ("create_vm", {**BASE, "data_disks": {"attached_disks": [{"disk_id": VM}] * 5}},
     "data_disks.attached_disks: has 5 items, at most 4 allowed"),
    ("create_vm", {**BASE, "delete_root_disk": "yes"}, "delete_root_disk: expected boolean, got string 'yes'"),
    ("wait_for_vm", {"vm_id": VM, "target_status": "paused"}, "target_status: 'paused' is not one of running"),
    ("wait_for_vm", {"vm_id": VM, "target_status": "running", "timeout_seconds": 56},
     "timeout_seconds: 56 is above the maximum 55"),
    ("project_overview", {"per_status": 0}, "per_status: 0 is below the minimum 1"),
]


@pytest.mark.parametrize(("tool", "args", "expected"), BAD_INPUTS, ids=[f"{t}-{e[:40]}" for t, _, e in BAD_INPUTS])
async def test_bad_input_is_refused_with_a_precise_message_and_nothing_is_sent(
    client: Client, sandbox: Sandbox, tool: str, args: dict[str, Any], expected: str
) -> None:
    result = await client.call_tool(tool, args)
    assert result.is_error
    assert text(result).startswith(f"Invalid arguments for {tool} (nothing was sent to NeevCloud):")
    assert expected in text(result)
    assert result.structured_content["error"] == "InvalidArguments"
    assert sandbox.requests == []


async def test_every_violation_is_reported_at_once(client: Client, sandbox: Sandbox) -> None:
    result = await client.call_tool("create_vm", {**BASE, "name": "BAD", "exposed_ports": [{"port": 22}]})
    assert result.structured_content["violations"] == [
        "exposed_ports[0].protocol: required",
        "name: 'BAD' does not match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ (lower-case letters, digits and '-', starting "
        "and ending with a letter or digit)",
    ]


async def test_an_expired_or_wrong_token_yields_an_actionable_401_without_the_token(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    wrong = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4IiwiZXhwIjoxNjAwMDAwMDAwfQ.c2ln"  # exp 2020-09-13
    async with Client(make_server(api_token=wrong)) as c:
        result = await c.call_tool("list_vms", {})
    assert result.is_error
    assert text(result).startswith(
        "NeevCloud refused list_vms: HTTP 401 [unauthorized] missing or invalid bearer token."
    )
    assert "expired at 2020-09-13T12:26:40Z" in text(result)
    assert "NEEV_API_TOKEN" in text(result)
    assert wrong not in json.dumps(result.model_dump(mode="json"))
    assert sandbox.requests[0].headers["authorization"] == redact_authorization(f"Bearer {wrong}")


async def test_a_missing_token_is_reported_before_anything_is_sent(make_server: MakeServer, sandbox: Sandbox) -> None:
    async with Client(make_server(api_token=None)) as c:
        result = await c.call_tool("list_vms", {})
    assert result.is_error and "Set NEEV_API_TOKEN" in text(result)
    assert sandbox.requests == []


async def test_api_errors_carry_the_apis_own_code_and_message(client: Client, sandbox: Sandbox) -> None:
    failed = sandbox.vm_by_name("batch-7").id
    unknown = await client.call_tool("get_vm", {"vm_id": VM})
    conflict_vm = sandbox.vm_by_name("web-1")
    bad_state = await client.call_tool("start_vm", {"vm_id": failed})
    assert unknown.is_error and "HTTP 404 [not_found]" in text(unknown) and "list_vms" in text(unknown)
    assert bad_state.is_error and "HTTP 400 [invalid_state]" in text(bad_state)
    assert bad_state.structured_content["code"] == "invalid_state"
    assert conflict_vm.status == "running"  # nothing changed


@pytest.mark.parametrize(("status", "error", "hint"), [
    (409, "Conflict", "resolve the conflict first"),
    (429, "RateLimited", "Rate limited; retry after 2 s."),
    (500, "ServerError", "usually temporary"),
    (503, "ServerError", "usually temporary"),
])
async def test_upstream_error_statuses_map_to_typed_tool_errors(
    make_server: MakeServer, sandbox: Sandbox, status: int, error: str, hint: str
) -> None:
    sandbox.add_faults(Fault(kind="status", status=status, retry_after=2 if status == 429 else None, count=-1))
    async with Client(make_server(max_attempts=1)) as c:
        result = await c.call_tool("list_vms", {})
    assert result.is_error
    assert result.structured_content["error"] == error and result.structured_content["http_status"] == status
    assert f"HTTP {status}" in text(result) and hint in text(result)


async def test_a_non_json_error_body_is_reported_briefly(make_server: MakeServer, sandbox: Sandbox) -> None:
    sandbox.add_faults(Fault(kind="non_json", status=502, count=-1))
    async with Client(make_server(max_attempts=1)) as c:
        result = await c.call_tool("list_vms", {})
    assert result.is_error and "HTTP 502" in text(result) and "non-JSON body" in text(result)


async def test_read_only_mode_lists_only_read_tools_and_refuses_the_others_by_name(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    async with Client(make_server(read_only=True)) as c:
        names = [t.name for t in (await c.list_tools()).tools]
        refused = await c.call_tool("stop_vm", {"vm_id": sandbox.vm_by_name("web-1").id})
    assert names == ["list_vms", "get_vm", "list_root_disk_volumes", "get_root_disk_volume", "project_overview",
                     "wait_for_vm", "vm_options"]
    assert refused.is_error and "read-only mode" in text(refused)
    assert sandbox.requests == []


async def test_tools_and_annotations_are_the_same_on_both_protocol_eras(client: Client, legacy_client: Client) -> None:
    modern = [t.model_dump(mode="json") for t in (await client.list_tools()).tools]
    legacy = [t.model_dump(mode="json") for t in (await legacy_client.list_tools()).tools]
    assert modern == legacy
    assert client.protocol_version == "2026-07-28" and legacy_client.protocol_version == "2025-11-25"
    delete = next(t for t in modern if t["name"] == "delete_vm")["annotations"]
    assert (delete["destructive_hint"], delete["read_only_hint"], delete["idempotent_hint"]) == (True, False, True)


async def test_an_unknown_tool_is_a_tool_error_not_a_crash(client: Client) -> None:
    result = await client.call_tool("format_disk", {})
    assert result.is_error and "format_disk" in text(result)
    assert not (await client.call_tool("list_vms", {})).is_error


@pytest.mark.slow
async def test_the_server_works_over_stdio_as_a_subprocess_on_the_embedded_sandbox() -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "neev_mcp", "--sandbox"],
                                   env={"NEEV_MCP_LOG_LEVEL": "WARNING", "PATH": "/usr/bin:/bin"})
    for mode in ("legacy", "auto"):
        async with Client(params, mode=mode) as c:
            assert c.server_info.name == "neev-mcp"
            assert len((await c.list_tools()).tools) == 13
            listed = await c.call_tool("list_vms", {"limit": 100})
            assert not listed.is_error
            assert {vm["name"] for vm in listed.structured_content["data"]} >= {"web-1", "batch-7", "db-1"}
            web = next(vm for vm in listed.structured_content["data"] if vm["name"] == "web-1")
            got = await c.call_tool("get_vm", {"vm_id": web["id"]})
            assert got.structured_content["status"] == "running"


async def test_path_parameters_are_encoded_as_one_segment_so_they_cannot_change_the_path() -> None:
    seen: list[bytes] = []

    def upstream(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.url.raw_path)
        return httpx2.Response(404, json={"code": "not_found", "message": "no such project"})

    server = build_server(Settings(api_token="secret-upstream-token", api_base_url="http://api.test/vm"),
                          http_transport=httpx2.MockTransport(upstream))
    async with Client(server) as c:
        result = await c.call_tool("list_vms", {"org_id": "../../admin", "project_id": "x?y#z"})
    assert seen == [b"/vm/api/v1/orgs/..%2F..%2Fadmin/projects/x%3Fy%23z/vms"]
    assert result.is_error and "HTTP 404 [not_found] no such project" in text(result)


def test_a_short_confirmation_secret_is_refused_at_start_up_without_echoing_it() -> None:
    from neev_mcp.config import ConfigurationError

    with pytest.raises(ConfigurationError) as refused:
        Settings.load({"NEEV_MCP_SECRET": "changeme"})
    assert str(refused.value).startswith("invalid configuration: NEEV_MCP_SECRET: must be at least 32 "
                                         "characters of random data")
    assert "changeme" not in str(refused.value)


def test_a_token_read_from_a_file_with_a_trailing_newline_is_cleaned_and_inner_whitespace_refused() -> None:
    from neev_mcp.config import ConfigurationError

    assert Settings.load({"NEEV_API_TOKEN": "aaa.bbb.ccc\n"}).api_token.get_secret_value() == "aaa.bbb.ccc"
    with pytest.raises(ConfigurationError, match="NEEV_API_TOKEN: contains whitespace"):
        Settings.load({"NEEV_API_TOKEN": "aaa.bbb\nccc"})


async def test_a_request_refused_on_this_side_is_reported_as_never_sent_even_for_create() -> None:
    attempts: list[str] = []

    def upstream(request: httpx2.Request) -> httpx2.Response:
        attempts.append(request.method)
        raise httpx2.LocalProtocolError("Illegal header value")

    server = build_server(Settings(api_token="secret-upstream-token", api_base_url="http://api.test/vm",
                                   org_id=ORG, project_id=PROJECT, retry_backoff=0.0),
                          http_transport=httpx2.MockTransport(upstream))
    async with Client(server) as c:
        result = await c.call_tool("create_vm", CREATE)
    assert result.is_error
    assert "could not be sent (LocalProtocolError); nothing was sent" in text(result)
    assert "may or may not have been created" not in text(result)
    assert result.structured_content["may_have_applied"] is False
    assert attempts == ["GET", "POST"]  # the name look-up, then the create, not sent again: it would fail the same way


@pytest.mark.slow
def test_neev_mcp_sandbox_serves_the_simulated_api_over_http_with_default_arguments() -> None:
    import re
    import subprocess
    import time
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "neev_mcp", "sandbox", "--port", "0", "--speed", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        deadline, url = time.monotonic() + 30, None
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "neev-mcp sandbox exited early"
            found = re.search(r"(http://127\.0\.0\.1:\d+)/vm", line)
            url = found.group(1) if found else None
        assert url is not None
        while True:  # the address is printed once bound; uvicorn starts listening a moment later
            try:
                urllib.request.urlopen(f"{url}/_sandbox/healthz", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "neev-mcp sandbox never answered"
                time.sleep(0.1)
        request = urllib.request.Request(f"{url}/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/vms",
                                         headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = json.loads(answer.read())
        assert body["pagination"]["total_items"] == 6
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


async def test_an_answer_that_cannot_be_summarised_still_reports_the_accepted_mutation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    created = {"id": VM, "name": "web-2", "status": "pending", "gpu_config_count": "1.0", "region_id": "in-mum-1",
               "vm_config_id": "c", "plan_id": "p", "image_id": "ubuntu-24.04", "delete_root_disk": False,
               "created_at": "not-a-date", "updated_at": "2026-11-28T12:00:00Z", "exposed_ports": "80/tcp"}
    posts: list[str] = []

    def upstream(request: httpx2.Request) -> httpx2.Response:
        posts.append(request.method)
        if request.method == "GET":  # create_vm first looks for VMs with the same name: none
            return httpx2.Response(200, json={"data": [], "pagination": {"total_pages": 1, "current_page": 1}})
        return httpx2.Response(201, json=created)

    server = build_server(Settings(api_token="secret-upstream-token", api_base_url="http://api.test/vm",
                                   org_id=ORG, project_id=PROJECT), http_transport=httpx2.MockTransport(upstream))
    async with Client(server) as c:
        result = await c.call_tool("create_vm", CREATE)
    assert posts == ["GET", "POST"]
    assert not result.is_error
    assert result.structured_content == created
    assert text(result) == ("Create VM: NeevCloud accepted the request (HTTP 201), but its answer could not be "
                            "summarised; the full answer is in structuredContent.")
    assert "could not summarise the answer to create_vm" in caplog.text


async def test_whole_number_floats_are_sent_as_integers(client: Client, sandbox: Sandbox) -> None:
    listed = await client.call_tool("list_vms", {"limit": 100.0, "page": 1.0})
    created = await client.call_tool("create_vm", {
        **CREATE,
        "root_disk": {"create_disk_request": {"name": "web-2-root", "size_gb": 40.0, "image_id": "ubuntu-24.04"}},
        "exposed_ports": [{"port": 443.0, "protocol": "tcp"}]})
    assert not listed.is_error and not created.is_error, (text(listed), text(created))
    assert sandbox.requests[0].query == {"limit": "100", "page": "1"}
    body = api_requests(sandbox, "POST")[0].body
    assert body["root_disk"]["create_disk_request"]["size_gb"] == 40 and body["exposed_ports"][0]["port"] == 443
    assert body == {**CREATE, "root_disk": {"create_disk_request": {"name": "web-2-root", "size_gb": 40,
                                                                     "image_id": "ubuntu-24.04"}},
                    "exposed_ports": [{"port": 443, "protocol": "tcp"}]}
    assert "40.0" not in json.dumps(body) and "443.0" not in json.dumps(body)
    fractional = await client.call_tool("list_vms", {"limit": 10.5})
    assert fractional.is_error and "limit: expected integer, got number 10.5" in text(fractional)


@pytest.mark.parametrize(("argv", "env", "message"), [
    (["--sandbox"], {"NEEV_SANDBOX_SPEED": "fast"}, "neev-mcp: invalid sandbox configuration: NEEV_SANDBOX_SPEED must"),
    (["--sandbox"], {"NEEV_SANDBOX_SPEED": "nan"}, "neev-mcp: invalid sandbox configuration: NEEV_SANDBOX_SPEED must"),
    (["--sandbox"], {"NEEV_SANDBOX_FAULTS": "junk"}, "neev-mcp: invalid sandbox configuration: NEEV_SANDBOX_FAULTS"),
    (["sandbox", "--port", "99999"], {}, "neev-mcp sandbox: bind(): port must be 0-65535"),
    (["demo", "--speed", "-3"], {}, "argument --speed: must be a finite number > 0"),
])
def test_bad_sandbox_settings_exit_2_with_a_message_and_no_traceback(
    argv: list[str], env: dict[str, str], message: str
) -> None:
    import os
    import subprocess

    done = subprocess.run([sys.executable, "-m", "neev_mcp", *argv], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_an_audit_log_that_cannot_be_written_stops_start_up(tmp_path: Any) -> None:
    import os
    import subprocess

    missing = tmp_path / "no-such-dir" / "audit.jsonl"
    done = subprocess.run([sys.executable, "-m", "neev_mcp", "--sandbox"],
                          env={**os.environ, "NEEV_MCP_AUDIT_LOG": str(missing)}, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 2
    expected = f"neev-mcp: invalid configuration: NEEV_MCP_AUDIT_LOG: cannot append to {missing}: No such file"
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_404_that_is_not_a_neevcloud_error_body_points_at_the_base_url(make_server: MakeServer) -> None:
    async with Client(make_server(api_base_url="http://sandbox.test")) as c:  # the /vm path is missing
        result = await c.call_tool("list_vms", {})
    assert result.is_error
    assert text(result) == ("NeevCloud refused list_vms: HTTP 404 (non-JSON body: Not Found). That answer is not a "
                            "NeevCloud error body: check NEEV_API_BASE_URL (it must include the /vm path, e.g. "
                            "https://api.ai.neevcloud.com/vm).")


async def test_an_absurdly_long_path_parameter_is_refused_before_sending(client: Client, sandbox: Sandbox) -> None:
    result = await client.call_tool("list_vms", {"org_id": "o" * 10_000})
    assert result.is_error
    assert "org_id: 10000 characters is longer than an identifier can be (at most 256)" in text(result)
    assert sandbox.requests == []


def test_choice_settings_are_case_insensitive() -> None:
    settings = Settings.load({"NEEV_MCP_LOG_LEVEL": "debug", "NEEV_CONFIRM": "Mutating",
                              "NEEV_CONFIRM_FALLBACK": "DENY"})
    assert (settings.log_level, settings.confirm, settings.confirm_fallback) == ("DEBUG", "mutating", "deny")
