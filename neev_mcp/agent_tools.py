"""Agent helpers beyond the spec: `project_overview`, `wait_for_vm`, and the VM-name lookup for root-disk summaries.

They speak to NeevCloud only through `API` (the spec operations, by tool name, with the request's upstream token),
and leave all wording to `summaries`. Timing knobs live in `Limits`, so tests and the demo can poll fast without
touching the code path an agent uses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import anyio

from . import overview, summaries
from .client import NeevClient
from .errors import NeevError, NotFound
from .registry import SCOPE_ARGS, ToolDef

Progress = Callable[[float, float | None, str], Awaitable[None]]
PAGE_SIZE = 100  # the API's maximum `limit`


@dataclass(frozen=True)
class Limits:
    """Bounds and timings of the helpers (real seconds)."""

    max_pages: int = 50  # per collection in project_overview: 5,000 VMs and 5,000 root disks
    concurrency: int = 4  # page requests in flight at once
    name_pages: int = 3  # list_vms pages read to name the VMs of a root-disk page
    name_gets: int = 5  # then get_vm calls for VMs still unnamed (more than this: left as ids)
    poll_initial: float = 1.0
    poll_factor: float = 1.5
    poll_max: float = 10.0
    stable_checks: int = 3  # consecutive checks in a settled, wrong status before giving up


class Outcome(NamedTuple):
    text: str
    structured: dict[str, Any]
    is_error: bool = False


@dataclass(frozen=True)
class API:
    """What a helper may do: call spec operations by tool name, with the request's upstream token."""

    client: NeevClient
    registry: Sequence[ToolDef]
    token: str | None = None

    async def call(self, tool_name: str, path: dict[str, Any], query: dict[str, Any] | None = None) -> Any:
        op = next(t.operation for t in self.registry if t.name == tool_name)
        assert op is not None
        return (await self.client.call(op, path, query, token=self.token)).data


def _scope(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args[k] for k in SCOPE_ARGS}


def _first_neev_error(group: BaseExceptionGroup[Any]) -> NeevError | None:
    for exc in group.exceptions:
        found = _first_neev_error(exc) if isinstance(exc, BaseExceptionGroup) else exc
        if isinstance(found, NeevError):
            return found
    return None


# -- project_overview ----------------------------------------------------------------------------------------------
async def _walk(api: API, tool: str, scope: dict[str, Any], limits: Limits,
                gate: anyio.Semaphore) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every item of a paginated list: page 1 first (it tells how many pages), then the rest concurrently."""

    async def fetch(page: int) -> dict[str, Any]:
        async with gate:
            data = await api.call(tool, scope, {"page": page, "limit": PAGE_SIZE})
        return data if isinstance(data, dict) else {}

    first = await fetch(1)
    pagination = first.get("pagination") or {}
    total_pages = max(1, int(pagination.get("total_pages") or 1))
    last = min(total_pages, limits.max_pages)
    pages: dict[int, dict[str, Any]] = {1: first}

    async def fetch_into(page: int) -> None:
        pages[page] = await fetch(page)

    async with anyio.create_task_group() as tg:
        for page in range(2, last + 1):
            tg.start_soon(fetch_into, page)
    items: dict[str, dict[str, Any]] = {}  # by id: an item that moved pages during the walk counts once
    for page in range(1, last + 1):
        for item in pages[page].get("data") or []:
            items.setdefault(str(item.get("id")), item)
    reads = {"pages_read": last, "total_pages": total_pages, "items_read": len(items),
             "total_items": int(pagination.get("total_items") or len(items))}
    return list(items.values()), reads


async def project_overview(
    api: API, args: dict[str, Any], now: Callable[[], dt.datetime], limits: Limits = Limits()
) -> Outcome:
    scope = _scope(args)
    gate = anyio.Semaphore(limits.concurrency)
    found: dict[str, tuple[list[dict[str, Any]], dict[str, int]]] = {}

    async def walk(key: str, tool: str) -> None:
        found[key] = await _walk(api, tool, scope, limits, gate)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(walk, "vms", "list_vms")
            tg.start_soon(walk, "root_disks", "list_root_disk_volumes")
    except ExceptionGroup as group:  # one failed page fails the overview with that page's own message
        error = _first_neev_error(group)
        if error is None:
            raise
        raise error from None
    data = {"vms": found["vms"][0], "root_disks": found["root_disks"][0],
            "reads": {"vms": found["vms"][1], "root_disks": found["root_disks"][1]}}
    full_args = {"per_status": 5, **args}
    return Outcome(overview.overview(full_args, data, now()), overview.overview_structured(full_args, data))


# -- root-disk summaries: name the VMs -----------------------------------------------------------------------------
async def vm_names(api: API, scope: dict[str, Any], vm_ids: Iterable[str], limits: Limits = Limits(),
                   near: int = 0) -> dict[str, str]:
    """Names of these VMs, best effort: a failed lookup leaves the id unnamed rather than failing the call.

    One id → one get_vm. Several → at most `limits.name_pages` list_vms pages of 100, starting with the page that
    holds the `near`-th VM (VMs and their root disks are usually created together, so a page of disks tends to sit
    beside the same page of VMs), then at most `limits.name_gets` get_vm calls for any still unnamed.
    """
    wanted = {str(v) for v in vm_ids if v}
    names: dict[str, str] = {}

    async def get_one(vm_id: str) -> None:
        try:
            data = await api.call("get_vm", {**scope, "vm_id": vm_id})
        except NeevError:
            return  # the disk summary still names the VM by id
        if isinstance(data, dict) and data.get("name"):
            names[vm_id] = str(data["name"])

    if len(wanted) == 1:
        await get_one(next(iter(wanted)))
        return names
    home = near // PAGE_SIZE + 1
    queue, seen, total_pages = [home, home + 1, home - 1, 1, 2], set(), home + 1
    while queue and len(seen) < limits.name_pages and wanted - names.keys():
        page = queue.pop(0)
        if page in seen or not 1 <= page <= total_pages:
            continue
        seen.add(page)
        try:
            data = await api.call("list_vms", scope, {"page": page, "limit": PAGE_SIZE}) or {}
        except NeevError:
            break
        total_pages = int((data.get("pagination") or {}).get("total_pages") or 1)
        names.update({str(v.get("id")): str(v.get("name")) for v in data.get("data") or [] if v.get("name")})
    missing = sorted(wanted - names.keys())
    if 0 < len(missing) <= limits.name_gets:
        async with anyio.create_task_group() as tg:
            for vm_id in missing:
                tg.start_soon(get_one, vm_id)
    return {k: v for k, v in names.items() if k in wanted}


# -- wait_for_vm ---------------------------------------------------------------------------------------------------
def _progress_line(vm: dict[str, Any], elapsed: float) -> str:
    return f"{summaries.ident(vm)}: {summaries.status_label(vm)} after {elapsed:.1f}s"


async def wait_for_vm(
    api: API, args: dict[str, Any], now: Callable[[], dt.datetime], progress: Progress, limits: Limits = Limits(),
) -> Outcome:
    """Poll until the VM reaches `target_status`, fails, settles elsewhere, disappears, or the timeout passes.

    Cancellation (the client gives up) arrives as anyio cancellation at the next await and ends the polling.
    """
    target: str = args["target_status"]
    vm_id: str = args["vm_id"]
    timeout = float(args.get("timeout_seconds") or 300)
    path = {**_scope(args), "vm_id": vm_id}
    started = anyio.current_time()
    last: dict[str, Any] | None = None
    checks, settled_wrong, interval, reported = 0, 0, limits.poll_initial, 0.0

    def state(**extra: Any) -> dict[str, Any]:
        return {"vm_id": vm_id, "target_status": target, "status": (last or {}).get("status"),
                "reached": False, "timed_out": False, "elapsed_seconds": round(anyio.current_time() - started, 2),
                "checks": checks, "vm": last, **extra}

    with anyio.move_on_after(timeout):
        while True:
            checks += 1
            try:
                vm = await api.call("get_vm", path)
            except NotFound as gone:
                if last is None:
                    # Never seen in this wait: a 404 may mean the project (not the VM) is wrong; a running VM must
                    # never be reported deleted because of a typo in project_id.
                    try:
                        await api.call("list_vms", _scope(args), {"limit": 1})
                    except NotFound as missing:
                        return Outcome(f"VM {vm_id} could not be read: {missing.message}", state(status=None),
                                       is_error=True)
                    except NeevError:
                        return Outcome(f"VM {vm_id} could not be read: {gone.message}", state(status=None),
                                       is_error=True)
                if target == "deleted":
                    if last is None:
                        return Outcome(f"VM {vm_id} does not exist in project {_scope_label(args)} (HTTP 404): it is "
                                       "deleted, or the id is wrong (list_vms shows the VMs there are).",
                                       state(status="deleted", reached=True))
                    return Outcome(f"VM {summaries.ident(last)} is deleted: it no longer exists (HTTP 404), checked "
                                   f"{checks} times over {anyio.current_time() - started:.1f}s.",
                                   state(status="deleted", reached=True))
                return Outcome(f"VM {vm_id} does not exist in project {_scope_label(args)} (HTTP 404): it may have "
                               f"been deleted, or the id is wrong. It cannot become {target}; list_vms shows the VMs "
                               "there are.", state(status=None), is_error=True)
            last = vm if isinstance(vm, dict) else {"id": vm_id}
            status = str(last.get("status"))
            elapsed = anyio.current_time() - started
            reported = max(elapsed, reported + 0.001)  # progress must grow with every notification
            await progress(reported, timeout, _progress_line(last, elapsed))
            if status == target:
                return Outcome(f"Reached {target} after {elapsed:.1f}s ({checks} checks).\n"
                               + summaries.vm(args, last, now()), state(reached=True))
            if status == "failed":
                return Outcome(f"VM {summaries.ident(last)} FAILED while waiting for {target}: "
                               f"{last.get('message') or 'no reason given'}.\n" + summaries.NEXT_STEPS["failed"],
                               state(), is_error=True)
            settled_wrong = settled_wrong + 1 if status not in summaries.TRANSITIONAL else 0
            if settled_wrong >= limits.stable_checks:
                return Outcome(_will_not_reach(last, target), state(), is_error=True)
            await anyio.sleep(interval)
            interval = min(limits.poll_max, interval * limits.poll_factor)
    status_now = summaries.status_label(last) if last else "unknown (no answer yet)"
    name = summaries.ident(last) if last else vm_id
    return Outcome(f"Still waiting: after {timeout:.0f}s VM {name} is {status_now}, not yet {target}. This is not a "
                   f"failure. Call wait_for_vm again to keep waiting, or get_vm to look.",
                   state(timed_out=True))


def _scope_label(args: dict[str, Any]) -> str:
    return f"{args.get('org_id')}/{args.get('project_id')}"


def _will_not_reach(vm: dict[str, Any], target: str) -> str:
    status = vm.get("status")
    first = {"running": "start_vm", "stopped": "stop_vm", "deleted": "delete_vm"}[target]
    return (f"VM {summaries.ident(vm)} is {status} and not changing: it will not become {target} by itself. "
            f"Call {first} first, then wait_for_vm again.")
