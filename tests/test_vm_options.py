"""vm_options (issue 13, finding 2; issue 16, item 5): what create_vm's arguments can be, through a real mcp.Client.

Against the sandbox (the seeded project, bulk projects, a deadline too short) and against the extended spec's
recording upstream, whose `listRegions` is a catalogue operation; plus the pure tally and the refusal parser.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp.types import PromptReference

from neev_mcp import options
from neev_mcp.agent_tools import Limits
from neev_mcp.config import Settings
from neev_mcp.sandbox import DEFAULT_TOKEN, Sandbox, SimClock
from neev_mcp.sandbox.capacity import Capacity
from neev_mcp.server import NeevServer, build_server

from .conftest import BASE_URL, ORG, PROJECT, MakeServer, api_requests, vm_path
from .support.spec import RecordingUpstream, Seen, extended_spec, write_spec
from .test_summaries import check_snapshot

pytestmark = pytest.mark.anyio

DISKS = vm_path().replace("/vms", "/root_disks")
FAST = Limits(poll_initial=0.01, poll_factor=1.5, poll_max=0.05)
SEEN_NOTE = ("These are the values seen in this project's VMs and root disks, not NeevCloud's full catalogue: other "
             "values may exist, and these are known to work here.")


async def call_options(server: NeevServer) -> Any:
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        result = await client.call_tool("vm_options", {})
    assert not result.is_error, result.content[0].text
    jsonschema.validate(result.structured_content, tools["vm_options"].output_schema)
    return result


# -- the seeded project ------------------------------------------------------------------------------------------
async def test_the_seeded_project_gives_every_value_in_use_with_counts_an_example_and_the_attachable_disk(
    server: NeevServer, sandbox: Sandbox
) -> None:
    sandbox.clear_requests()
    result = await call_options(server)
    text = result.content[0].text
    check_snapshot("vm_options_seed", text)
    assert SEEN_NOTE in text.splitlines()[0]
    s = result.structured_content
    assert s["note"] == SEEN_NOTE and s["complete"] is True and (s["vm_total"], s["root_disk_total"]) == (6, 7)
    assert s["regions"] == {"argument": "region_id", "source": "project", "total": 2, "more": 0, "values": [
        {"id": "in-mum-1", "vms": 4, "root_disks": 5, "example_vm": "web-1"},
        {"id": "in-del-1", "vms": 2, "root_disks": 2, "example_vm": "db-1"}]}
    assert s["vm_configs"]["values"][0] == {"id": "gpu-h100-1", "vms": 2, "root_disks": 0,
                                            "example_vm": "train-gpu-1", "gpu_counts": [1, 2]}
    assert [v["id"] for v in s["vm_configs"]["values"]] == ["gpu-h100-1", "vcpu-8-ram-32", "vcpu-2-ram-8",
                                                            "vcpu-4-ram-16"]
    assert [(v["id"], v["vms"]) for v in s["plans"]["values"]] == [("hourly", 4), ("monthly", 2)]
    assert s["images"]["argument"] == "root_disk.create_disk_request.image_id"
    assert [(v["id"], v["vms"], v["root_disks"]) for v in s["images"]["values"]] == [
        ("ubuntu-24.04", 4, 4), ("ubuntu-22.04", 1, 2), ("debian-12", 1, 1)]
    orphan = sandbox.root_disks[next(k for k, d in sandbox.root_disks.items() if d.name == "old-root-disk")]
    assert s["attachable_root_disks"] == {
        "argument": "root_disk.attach_disk_request.disk_id", "total": 1, "unattached_not_ready": 0,
        "disks": [{"id": orphan.id, "name": "old-root-disk", "size_gb": 100, "region": "in-mum-1",
                   "image_id": "ubuntu-22.04", "plan_id": "hourly"}]}
    # one walk: page 1 of each collection, nothing else, nothing twice
    assert sorted((r.method, r.path, r.query) for r in api_requests(sandbox)) == [
        ("GET", DISKS, {"page": "1", "limit": "100"}), ("GET", vm_path(), {"page": "1", "limit": "100"})]


async def test_an_empty_project_says_that_nothing_is_known_yet(make_server: MakeServer, sandbox: Sandbox) -> None:
    sandbox.add_project(ORG, "empty")
    result = await call_options(make_server(project_id="empty"))
    lines = result.content[0].text.splitlines()
    assert lines[1] == ("No VMs or root disks yet, so no values are known here: ask the user for region_id, "
                        "vm_config_id, plan_id and image_id (a refused create_vm may name the valid ones).")
    assert lines[2] == "Regions (region_id; seen in the project): none seen."
    assert result.structured_content["regions"]["values"] == []


# -- bounds ----------------------------------------------------------------------------------------------------------
async def test_a_large_project_is_read_in_full_and_answered_within_the_bounds(make_server: MakeServer,
                                                                              sandbox: Sandbox) -> None:
    sandbox.seed_bulk(1200)
    sandbox.clear_requests()
    result = await call_options(make_server())
    text, s = result.content[0].text, result.structured_content
    assert len(text) <= options.OPTIONS_BUDGET and len(json.dumps(s)) < 8000
    assert s["complete"] is True and s["vm_total"] == 1206
    assert sum(v["vms"] for v in s["regions"]["values"]) == 1206  # exact counts over every page
    assert sorted(v["id"] for v in s["vm_configs"]["values"]) == ["gpu-h100-1", "gpu-l40s-1", "vcpu-2-ram-8",
                                                                  "vcpu-4-ram-16", "vcpu-8-ram-32"]
    pages = sorted((r.path, int(r.query["page"])) for r in api_requests(sandbox))
    assert pages == sorted((path, p) for path in (vm_path(), DISKS) for p in range(1, 14))


def _vm(i: int, config: str) -> dict[str, Any]:
    return {"id": f"id-{i}", "name": f"vm-{i}", "region_id": "in-mum-1", "vm_config_id": config, "plan_id": "hourly",
            "image_id": "ubuntu-24.04", "gpu_config_count": i % 20}


def test_thousands_of_distinct_values_stay_bounded_in_memory_text_and_structured_content() -> None:
    tally = options.OptionsTally()
    for page in range(1, 31):  # 3000 VMs, each with its own configuration; long names and values
        tally.add_vms(page, [_vm(page * 100 + i, f"cfg-{page:02d}-{i:02d}-" + "x" * 40) for i in range(100)])
    tally.add_vms(31, [_vm(1, "y" * 300)])  # no id anyone can pass back
    assert len(tally.values["vm_configs"]) == options.MAX_TRACKED and tally.untracked["vm_configs"] == 2501
    assert all(len(seen.gpus) <= options.MAX_GPU_COUNTS for seen in tally.values["vm_configs"].values())
    data = {"reads": {}, "walk": {"complete": True}}
    text = options.options_text({"org_id": ORG, "project_id": PROJECT}, tally, data)
    check_snapshot("vm_options_many_values", text)
    assert len(text) <= options.OPTIONS_BUDGET
    assert "; and 492 more. (2501 items without a usable value)" in text
    structured = options.options_structured({"org_id": ORG, "project_id": PROJECT}, tally, data)
    configs = structured["vm_configs"]
    assert (configs["total"], len(configs["values"]), configs["more"], configs["untracked"]) == (500, 25, 475, 2501)


async def test_a_deadline_too_short_says_the_answer_is_incomplete(make_server: MakeServer, sandbox: Sandbox) -> None:
    sandbox.seed_bulk(550)  # 6 pages of VMs, 6 of root disks
    sandbox.gatekeeper.capacity = Capacity(latency=0.2)
    server = make_server(limits=Limits(deadline=0.45, concurrency=1, max_concurrency=1))
    async with Client(server) as c:
        await c.call_tool("list_vms", {"limit": 1})  # warm up (the first call imports the schema validator)
        result = await c.call_tool("vm_options", {})
    s = result.structured_content
    assert not result.is_error and s["complete"] is False and s["walk"]["deadline_seconds"] == 0.45
    notes = [line for line in result.content[0].text.splitlines() if line.startswith("INCOMPLETE: the 0.45 s ")]
    assert notes and all(n.endswith("(or ask again: a larger NEEV_OVERVIEW_DEADLINE lets vm_options read "
                                    "everything).") for n in notes)
    assert s["vm_total"] == s["reads"]["vms"]["items_read"] < 556


# -- refusals that name the valid values ---------------------------------------------------------------------------
CREATE_BASE = {"name": "new-1", "region_id": "in-mum-1", "vm_config_id": "vcpu-2-ram-8", "plan_id": "hourly",
               "root_disk": {"create_disk_request": {"name": "new-1-root", "size_gb": 20, "image_id": "debian-12"}}}
REFUSALS = [
    ({"region_id": "mars-1"}, "region 'mars-1' not found; valid regions: in-mum-1, in-del-1",
     {"region_id": ["in-mum-1", "in-del-1"]}, "region_id"),
    ({"vm_config_id": "vcpu-96"}, "VM configuration 'vcpu-96' not found; valid VM configurations: vcpu-2-ram-8, "
     "vcpu-4-ram-16, vcpu-8-ram-32, gpu-h100-1, gpu-l40s-1",
     {"vm_config_id": ["vcpu-2-ram-8", "vcpu-4-ram-16", "vcpu-8-ram-32", "gpu-h100-1", "gpu-l40s-1"]},
     "vm_config_id"),
    ({"plan_id": "weekly"}, "plan 'weekly' not found; valid plans: hourly, monthly",
     {"plan_id": ["hourly", "monthly"]}, "plan_id"),
    ({"root_disk": {"create_disk_request": {"name": "r", "size_gb": 20, "image_id": "windows-11"}}},
     "image 'windows-11' not found; valid images: ubuntu-24.04, ubuntu-22.04, debian-12",
     {"image_id": ["ubuntu-24.04", "ubuntu-22.04", "debian-12"]}, "image_id"),
]


@pytest.mark.parametrize(("change", "upstream", "named", "check"), REFUSALS,
                         ids=["region", "config", "plan", "image"])
async def test_a_refused_create_passes_on_the_valid_values_and_points_at_vm_options(
    client: Client, sandbox: Sandbox, change: dict[str, Any], upstream: str, named: dict[str, list[str]], check: str
) -> None:
    sandbox.clear_requests()
    result = await client.call_tool("create_vm", {**CREATE_BASE, **change})
    assert result.is_error
    text = result.content[0].text
    listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in named.items())
    # the upstream message kept whole, the 404's hint (one mention of vm_options), the values named
    assert text == (f"NeevCloud refused create_vm: HTTP 404 [not_found] {upstream}. Check {check}: vm_options shows "
                    f"the values in use in the project. Valid values NeevCloud named: {listed}.")
    s = result.structured_content
    assert (s["valid_values"], s["options_tool"], s["api_message"], s["http_status"]) == (named, "vm_options",
                                                                                           upstream, 404)
    assert s["message"] == text
    # the name look-up (create_vm checks who has the name), then the create: sent once, never retried
    assert [(r.method, r.status) for r in api_requests(sandbox)] == [("GET", 200), ("POST", 404)]


async def test_a_refusal_about_something_else_is_left_as_it_was(client: Client, sandbox: Sandbox) -> None:
    result = await client.call_tool("create_vm", {**CREATE_BASE, "name": "web-1x", "root_disk": {
        "attach_disk_request": {"disk_id": "00000000-0000-4000-8000-000000000000"}}})
    assert result.is_error and "vm_options" not in result.content[0].text
    assert "valid_values" not in (result.structured_content or {})


@pytest.mark.parametrize(("message", "expected"), [
    ("region 'x' not found; valid regions: in-mum-1, in-del-1", {"region_id": ["in-mum-1", "in-del-1"]}),
    ("Unknown image. Available images are: ubuntu-24.04, debian-12.", {"image_id": ["ubuntu-24.04", "debian-12"]}),
    ("plan_id must be one of [hourly, monthly]", {"plan_id": ["hourly", "monthly"]}),
    ("supported vm_configs: 'a-1', \"b-2\" or `c-3`; retry", {"vm_config_id": ["a-1", "b-2", "c-3"]}),
    ("valid values: 1, 2", {}),
    ("project not found", {}),
    (None, {}),
])
def test_valid_values_are_read_from_the_usual_ways_apis_list_them(message: str | None,
                                                                  expected: dict[str, list[str]]) -> None:
    assert options.valid_values(message) == expected


# -- the catalogue of a newer spec (issue 16, item 5) ----------------------------------------------------------------
def _catalogue_server(tmp_path: Path, sandbox: Sandbox, clock: SimClock) -> tuple[NeevServer, RecordingUpstream]:
    upstream = RecordingUpstream(sandbox.transport())
    settings = Settings(api_token=DEFAULT_TOKEN, api_base_url=BASE_URL, org_id=ORG, project_id=PROJECT,
                        retry_backoff=0.0, openapi_spec=str(write_spec(tmp_path, extended_spec(drift=False))),
                        mcp_secret="test-secret-for-neev-mcp-0123456789abcdef")
    return build_server(settings, http_transport=upstream, now=clock.now), upstream


async def test_a_catalogue_operation_in_the_loaded_spec_gives_the_full_list_of_regions(
    tmp_path: Path, sandbox: Sandbox, clock: SimClock
) -> None:
    server, upstream = _catalogue_server(tmp_path, sandbox, clock)
    result = await call_options(server)
    s = result.structured_content
    assert s["regions"] == {"argument": "region_id", "source": "catalogue", "catalogue_tool": "list_regions",
                            "total": 3, "more": 0, "values": [
        {"id": "in-mum-1", "name": "Mumbai 1", "status": "available", "vms": 4, "root_disks": 5, "example_vm": "web-1"},
        {"id": "in-del-1", "name": "Delhi 1", "status": "available", "vms": 2, "root_disks": 2, "example_vm": "db-1"},
        {"id": "in-blr-1", "name": "Bengaluru 1", "status": "maintenance", "vms": 0, "root_disks": 0,
         "example_vm": None}]}
    assert s["plans"]["source"] == "project" and "catalogue_tool" not in s["plans"]
    assert s["note"] == ("The regions are NeevCloud's full catalogue; the other values are the ones seen in this "
                         "project's VMs and root disks, not the full catalogue.")
    lines = result.content[0].text.splitlines()
    assert lines[1] == ("Regions (region_id; full catalogue from list_regions): in-mum-1 (Mumbai 1, available) — 4 "
                        "VMs here, e.g. web-1; in-del-1 (Delhi 1, available) — 2 VMs here, e.g. db-1; in-blr-1 "
                        "(Bengaluru 1, maintenance) — none here.")
    assert lines[3].startswith("Plans (plan_id; seen in the project): hourly — 4 VMs")
    scope = f"/vm/api/v1/orgs/{ORG}/projects/{PROJECT}"
    assert upstream.seen[0] == Seen("GET", f"/vm/api/v1/orgs/{ORG}/regions", {}, None)  # the catalogue first, once
    assert sorted(upstream.seen[1:], key=lambda s: s.path) == [
        Seen("GET", f"{scope}/root_disks", {"page": "1", "limit": "100"}, None),
        Seen("GET", f"{scope}/vms", {"page": "1", "limit": "100"}, None)]


async def test_a_catalogue_that_cannot_be_read_falls_back_to_the_projects_values_and_says_why(
    tmp_path: Path, sandbox: Sandbox, clock: SimClock
) -> None:
    server, upstream = _catalogue_server(tmp_path, sandbox, clock)
    upstream.failures = [403]
    s = (await call_options(server)).structured_content
    assert s["regions"]["source"] == "project" and [v["id"] for v in s["regions"]["values"]] == ["in-mum-1",
                                                                                                  "in-del-1"]
    assert s["regions"]["catalogue_problem"].startswith("NeevCloud refused list_regions: HTTP 403 [unavailable]")
    assert s["note"] == SEEN_NOTE
    assert [x.path for x in upstream.seen].count(f"/vm/api/v1/orgs/{ORG}/regions") == 1


def test_catalogue_answers_of_other_shapes_are_read_or_refused_with_the_reason() -> None:
    bare = options.catalogue_from("list_plans", "plans", [{"plan_id": "hourly"}, {"name": "monthly"}, {"x": 1}, 7])
    assert (bare.entries, bare.total, bare.problem) == (({"id": "hourly"}, {"id": "monthly"}), 2, "")
    paged = options.catalogue_from("list_images", "images", {"data": [{"id": "ubuntu-24.04", "name": "Ubuntu 24.04"}],
                                                             "pagination": {"total_pages": 4}})
    assert paged.more_pages == 3
    tally = options.OptionsTally()
    text = options.options_text({"org_id": ORG, "project_id": PROJECT}, tally, {"catalogues": {"images": paged}})
    assert ("Images (root_disk.create_disk_request.image_id; full catalogue from list_images) [its first page only: "
            "list_images with page=2 … shows 3 more pages]: ubuntu-24.04 (Ubuntu 24.04) — none here.") in text
    empty = options.catalogue_from("list_regions", "regions", {"data": [{"id": "x" * 300}]})
    assert empty.problem == "list_regions answered with no entries that have an id" and empty.entries == ()


async def test_completion_offers_the_catalogue_when_the_spec_has_one(tmp_path: Path, sandbox: Sandbox,
                                                                     clock: SimClock) -> None:
    server, upstream = _catalogue_server(tmp_path, sandbox, clock)
    async with Client(server) as c:
        result = await c.complete(PromptReference(type="ref/prompt", name="provision_vm"),
                                  {"name": "region", "value": "in-"})
    assert result.completion.values == ["in-mum-1", "in-del-1", "in-blr-1"]
    assert upstream.seen == [Seen("GET", f"/vm/api/v1/orgs/{ORG}/regions", {}, None)]  # the project is not read


# -- done when: an agent that knows nothing creates a VM -------------------------------------------------------------
def _agent_arguments(tools: dict[str, Any], found: dict[str, Any], attach: bool) -> dict[str, Any]:
    """What an agent that knows nothing builds from vm_options' structuredContent and create_vm's schema."""
    first = {key: found[key]["values"][0] for key in ("regions", "vm_configs", "plans", "images")}
    args: dict[str, Any] = {"name": "agent-vm-1", "region_id": first["regions"]["id"],
                            "vm_config_id": first["vm_configs"]["id"], "plan_id": first["plans"]["id"]}
    if max(first["vm_configs"]["gpu_counts"]):
        args["gpu_config_count"] = min(g for g in first["vm_configs"]["gpu_counts"] if g)
    if attach:
        disk = found["attachable_root_disks"]["disks"][0]
        args["region_id"] = disk["region"]  # the VM must be in the disk's region
        args["root_disk"] = {"attach_disk_request": {"disk_id": disk["id"]}}
    else:
        disk_schema = tools["create_vm"].input_schema["properties"]["root_disk"]["properties"]["create_disk_request"]
        args["root_disk"] = {"create_disk_request": {"name": "agent-vm-1-root", "image_id": first["images"]["id"],
                                                     "size_gb": disk_schema["properties"]["size_gb"]["minimum"]}}
    return args


@pytest.mark.parametrize("attach", [False, True], ids=["new-root-disk", "attached-root-disk"])
async def test_an_agent_that_knows_nothing_creates_a_vm_with_vm_options_create_vm_and_wait_for_vm(
    make_server: MakeServer, sandbox: Sandbox, clock: SimClock, attach: bool
) -> None:
    async with Client(make_server(limits=FAST)) as agent:
        tools = {t.name: t for t in (await agent.list_tools()).tools}
        found = (await agent.call_tool("vm_options", {})).structured_content
        args = _agent_arguments(tools, found, attach)
        created = await agent.call_tool("create_vm", args)
        assert not created.is_error, created.content[0].text
        clock.speed = 40  # the 6 simulated seconds to 'running' pass in 0.15 s
        waited = await agent.call_tool("wait_for_vm", {"vm_id": created.structured_content["id"],
                                                       "target_status": "running", "timeout_seconds": 30})
    assert not waited.is_error and waited.structured_content["reached"] is True
    vm = sandbox.vm_by_name("agent-vm-1")
    assert (vm.status, vm.region_id, vm.vm_config_id, vm.plan_id) == ("running", args["region_id"], "gpu-h100-1",
                                                                      "hourly")
    assert vm.gpu_config_count == 1 and vm.image_id == ("ubuntu-22.04" if attach else "ubuntu-24.04")
    [post] = api_requests(sandbox, "POST")
    assert post.path == vm_path() and post.status == 201
