"""Whole-project reads (issue 17): every page under a deadline, adaptive concurrency, bounded memory and answers.

Through a real mcp.Client against the sandbox (its capacity model gives the API latency and a parallel limit), plus
the pure pieces: the streaming tally and the walker's bookkeeping.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import anyio
import pytest
from mcp import Client

from neev_mcp import overview, walker
from neev_mcp.agent_tools import Limits
from neev_mcp.sandbox import Fault, Sandbox
from neev_mcp.sandbox.capacity import Capacity

from .conftest import ORG, PROJECT, START, MakeServer, api_requests, vm_path

NOW = START

DISKS = f"/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/root_disks"


def page_reads(sandbox: Sandbox) -> Counter[tuple[str, str]]:
    """(path, page) → how many times it was answered 200."""
    return Counter((r.path, r.query["page"]) for r in api_requests(sandbox, "GET") if r.status == 200)


# -- the deadline --------------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_deadline_too_short_gives_an_incomplete_overview_saying_how_far_it_got(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    sandbox.seed_bulk(550)  # 6 pages of VMs, 6 of root disks
    sandbox.gatekeeper.capacity = Capacity(latency=0.2)  # reading all 12 pages one by one takes 2.4 s
    server = make_server(limits=Limits(deadline=0.45, concurrency=1, max_concurrency=1))
    async with Client(server) as c:
        await c.call_tool("list_vms", {"limit": 1})  # warm up (the first call imports the schema validator)
        sandbox.clear_requests()
        started = anyio.current_time()
        result = await c.call_tool("project_overview", {})
        took = anyio.current_time() - started
    assert not result.is_error
    assert took < 1.2  # the answer comes at the deadline, not after every page
    s = result.structured_content
    assert s["complete"] is False and s["walk"]["deadline_seconds"] == 0.45
    vms, disks = s["reads"]["vms"], s["reads"]["root_disks"]
    assert vms["pages_read"] + disks["pages_read"] < 12
    lines = result.content[0].text.splitlines()
    notes = [line for line in lines if line.startswith("INCOMPLETE: the 0.45 s deadline (NEEV_OVERVIEW_DEADLINE)")]
    assert notes and all(line.endswith("(or ask again: a larger NEEV_OVERVIEW_DEADLINE lets the overview read "
                                       "everything).") for line in notes)
    if vms["total_pages"]:
        assert f"after {vms['pages_read']} of 6 pages of VMs; {vms['items_read']} of 556 VMs were read" in notes[0]
        assert f"list_vms with limit=100 and page = {vms['missing_pages']} shows the rest" in notes[0]
    assert s["vm_total"] == vms["items_read"]
    assert set(page_reads(sandbox).values()) <= {1}  # nothing read twice


@pytest.mark.anyio
async def test_the_default_deadline_reads_a_large_project_completely(make_server: MakeServer,
                                                                     sandbox: Sandbox) -> None:
    sandbox.seed_bulk(3000)
    server = make_server()
    assert server.limits.deadline == 25.0 and make_server(overview_deadline=7.5).limits.deadline == 7.5
    async with Client(server) as c:
        result = await c.call_tool("project_overview", {})
    s = result.structured_content
    assert s["complete"] is True and s["vm_total"] == 3006 and s["root_disk_total"] == 3007
    assert "INCOMPLETE" not in result.content[0].text
    expected = {(path, str(p)) for path in (vm_path(), DISKS) for p in range(1, 32)}
    assert page_reads(sandbox) == Counter(dict.fromkeys(expected, 1))  # every page once, no re-reading


def test_the_deadline_is_configured_by_NEEV_OVERVIEW_DEADLINE() -> None:
    from neev_mcp.config import ConfigurationError, Settings

    assert Settings.load({"NEEV_OVERVIEW_DEADLINE": "7.5"}).overview_deadline == 7.5
    assert Settings.load({}).overview_deadline == 25.0
    with pytest.raises(ConfigurationError, match="NEEV_OVERVIEW_DEADLINE"):
        Settings.load({"NEEV_OVERVIEW_DEADLINE": "0"})


# -- progress ------------------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_the_overview_reports_progress_while_it_reads(client: Client, sandbox: Sandbox) -> None:
    sandbox.seed_bulk(2000)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    result = await client.call_tool("project_overview", {}, progress_callback=on_progress)
    assert not result.is_error
    assert len(seen) >= 3
    assert [p for p, _, _ in seen] == sorted({p for p, _, _ in seen})  # strictly increasing
    assert seen[-1] == (42.0, 42.0, "Read 42 of 42 pages (VMs 21/21, root disks 21/21).")
    assert len(seen) < 30  # throttled: about every 5% (or half a second), not one notification per page


# -- adaptive concurrency ------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_concurrency_grows_while_the_api_keeps_up_and_halves_when_it_throttles(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    sandbox.seed_bulk(4000)  # 41 + 41 pages
    sandbox.gatekeeper.capacity = Capacity(latency=0.1, max_parallel=7, retry_after=0.02)
    server = make_server()
    async with Client(server) as c:
        result = await c.call_tool("project_overview", {})
    s = result.structured_content
    assert s["complete"] is True and s["vm_total"] == 4006
    stats = sandbox.gatekeeper.stats()
    assert stats["peak"] == 7  # grew from 4 up to what the API allows
    assert s["walk"]["concurrency_peak"] > 7 and s["walk"]["throttled"] == stats["refused"] > 0
    reads = page_reads(sandbox)
    assert len(reads) == 82 and set(reads.values()) == {1}  # a refused page is read once it is let through


@pytest.mark.anyio
async def test_an_api_with_room_for_parallelism_gets_the_walkers_whole_ceiling(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    # The per-caller share of the connection pool must not be a lower, hidden ceiling: with 20 slots a walk queued
    # behind its own share and read a latency-bound project at 20 in flight where the plain client used 32.
    sandbox.seed_bulk(8000)  # 81 + 81 pages
    sandbox.gatekeeper.capacity = Capacity(latency=0.05, max_parallel=64)
    server = make_server()
    async with Client(server) as c:
        result = await c.call_tool("project_overview", {})
    s = result.structured_content
    assert s["complete"] is True and s["walk"]["throttled"] == 0
    assert sandbox.gatekeeper.stats()["peak"] == Limits().max_concurrency == 32


@pytest.mark.anyio
async def test_a_429_pauses_every_new_request_for_its_retry_after(make_server: MakeServer, sandbox: Sandbox) -> None:
    sandbox.seed_bulk(500)
    sandbox.add_faults(Fault(kind="status", status=429, retry_after=0.4, method="GET", path_regex="/vms$"))
    server = make_server()
    async with Client(server) as c:
        started = anyio.current_time()
        result = await c.call_tool("project_overview", {})
        took = anyio.current_time() - started
    assert result.structured_content["complete"] is True and result.structured_content["walk"]["throttled"] == 1
    assert took >= 0.4
    refused = [r for r in api_requests(sandbox) if r.status == 429]
    assert len(refused) == 1 and page_reads(sandbox)[(vm_path(), "1")] == 1


@pytest.mark.anyio
async def test_a_latency_bound_api_is_read_far_faster_than_at_a_fixed_concurrency(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    sandbox.seed_bulk(1500)  # 16 + 16 pages at 200 ms each
    sandbox.gatekeeper.capacity = Capacity(latency=0.2)
    times = {}
    for name, limits in (("fixed", Limits(concurrency=2, max_concurrency=2)), ("adaptive", Limits(concurrency=2))):
        server = make_server(limits=limits)
        async with Client(server) as c:
            started = anyio.current_time()
            result = await c.call_tool("project_overview", {})
            times[name] = anyio.current_time() - started
        assert result.structured_content["complete"] is True
    assert times["adaptive"] < times["fixed"] / 2


# -- bounded answers -----------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_text_and_structured_content_stay_bounded_as_the_project_grows(client: Client, sandbox: Sandbox) -> None:
    sizes = []
    for bulk in (300, 5000):
        sandbox.seed_bulk(bulk)
        result = await client.call_tool("project_overview", {"per_status": 50})
        sizes.append((len(result.content[0].text), len(json.dumps(result.structured_content))))
    assert all(text <= overview.OVERVIEW_BUDGET for text, _ in sizes)
    assert sizes[1][1] < 16_000 and sizes[1][1] < sizes[0][1] * 1.5  # counts and top-N lists, not every VM


# -- the pure pieces -----------------------------------------------------------------------------------------------
def bulk_pages(n: int) -> tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]]]:
    sb = Sandbox(org_id=ORG, project_id=PROJECT)
    sb.seed_bulk(n)
    vms = [sb.state.vm_json(v) for v in sb.state.list_vms(ORG, PROJECT)]
    disks = [d.to_json() for d in sb.state.list_disks(ORG, PROJECT)]
    for i, d in enumerate(disks[:40]):  # unattached disks of many sizes
        d.update(is_attached=False, vm_id=None, size_gb=20 + (i * 37) % 500)
    return [vms[i:i + 100] for i in range(0, len(vms), 100)], [disks[i:i + 100] for i in range(0, len(disks), 100)]


def test_the_tally_is_the_same_whatever_order_pages_arrive_in() -> None:
    vm_pages, disk_pages = bulk_pages(1200)
    answers = []
    for seed in (None, 1, 2):
        order = list(enumerate(zip(vm_pages, disk_pages, strict=False), start=1))
        if seed is not None:
            random.Random(seed).shuffle(order)
        t = overview.OverviewTally()
        for page, (vms, disks) in order:
            t.add_vms(page, vms)
            t.add_disks(page, disks)
        data = {"tally": t, "reads": {}}
        answers.append((overview.overview({"org_id": ORG, "project_id": PROJECT}, data, NOW),
                        overview.overview_structured({}, data)))
    assert answers[0] == answers[1] == answers[2]
    flat = [v for page in vm_pages for v in page]
    assert answers[0][0] == overview.overview({"org_id": ORG, "project_id": PROJECT},
                                              {"vms": flat, "root_disks": [d for p in disk_pages for d in p]}, NOW)


def test_unattached_disks_are_listed_largest_first_with_exact_totals() -> None:
    _, disk_pages = bulk_pages(500)
    t = overview.OverviewTally()
    for page, disks in enumerate(disk_pages, start=1):
        t.add_disks(page, disks)
    free = [d for p in disk_pages for d in p if not d["is_attached"]]
    structured = overview.overview_structured({}, {"tally": t})
    sizes = [d["size_gb"] for d in structured["unattached_root_disks"]]
    assert sizes == sorted((d["size_gb"] for d in free), reverse=True)[: overview.STRUCTURED_CAP]
    assert structured["unattached_total_gb"] == sum(d["size_gb"] for d in free)
    assert structured["unattached_root_disk_total"] == len(free) == 41


def test_the_tally_keeps_a_bounded_number_of_failure_messages() -> None:
    t = overview.OverviewTally()
    for page in range(1, 31):
        t.add_vms(page, [{"id": f"{page}-{i}", "name": f"vm-{page}-{i}", "status": "failed",
                          "message": f"unique reason {page}-{i}"} for i in range(100)])
    assert len(t.failures) == overview.MAX_TRACKED_GROUPS
    assert sum(len(g.first.items()) for g in t.failures.values()) <= overview.MAX_TRACKED_GROUPS * overview.KEEP
    text = overview.overview({"org_id": ORG, "project_id": PROJECT}, {"tally": t}, NOW)
    assert "- and 2992 more failed VMs with more than 192 other messages (get_vm shows each)." in text
    assert text.startswith("Project demo-org/demo-project: 3000 VMs — 3000 failed.")


def test_an_item_that_moves_pages_during_the_walk_counts_once() -> None:
    fed: list[tuple[int, list[str]]] = []
    c = walker.Collection("list_vms", "VMs", lambda page, items: fed.append((page, [i["id"] for i in items])))
    page = {"pagination": {"total_pages": 2, "total_items": 3}}
    assert c.accept(1, {**page, "data": [{"id": "a"}, {"id": "b"}]}) == [2]
    assert c.accept(2, {**page, "data": [{"id": "b"}, {"id": "c"}]}) == []  # b slid onto page 2 meanwhile
    assert fed == [(1, ["a", "b"]), (2, ["c"])]
    assert c.reads() == {"pages_read": 2, "total_pages": 2, "items_read": 3, "total_items": 3}


def test_missing_pages_are_named_as_ranges() -> None:
    assert walker.page_ranges([3, 7, 8, 9, 12]) == "3, 7–9, 12"
    assert walker.page_ranges(list(range(1, 30, 2))) == "1, 3, 5, 7, 9, 11, …"


# -- the same walker for look-ups and completions ------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_vm_name_resolves_from_any_page(client: Client, sandbox: Sandbox) -> None:
    sandbox.seed_bulk(2500)  # bulk-2400 sits on page 25: past the 20 pages a name look-up used to read
    late = sandbox.vm_by_name("bulk-2400")
    result = await client.read_resource("neev://vms/bulk-2400")
    assert f"VM bulk-2400 ({late.id})" in result.contents[0].text  # type: ignore[union-attr]
    lists = [r for r in api_requests(sandbox, "GET") if r.path == vm_path()]
    assert sorted(int(r.query["page"]) for r in lists) == list(range(1, 27))  # every page once, then get_vm


@pytest.mark.anyio
async def test_completion_finds_names_beyond_the_first_page(client: Client, sandbox: Sandbox) -> None:
    from mcp.types import PromptReference

    sandbox.seed_bulk(2500)
    ref = PromptReference(type="ref/prompt", name="decommission_vm")
    result = await client.complete(ref, {"name": "vm", "value": "bulk-249"})
    assert result.completion.values == [f"bulk-{n}" for n in range(2490, 2500)]
    many = await client.complete(ref, {"name": "vm", "value": "bulk-"})
    assert len(many.completion.values) == 100 and many.completion.has_more is True
    assert many.completion.values[:2] == ["bulk-0001", "bulk-0002"]
