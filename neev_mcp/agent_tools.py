"""Agent helpers beyond the spec: `project_overview`, `wait_for_vm`, and the VM-name lookup for root-disk summaries.

They speak to NeevCloud only through `API` (the spec operations, by tool name, with the request's upstream token),
and leave all wording to `summaries`. Timing knobs live in `Limits`, so tests and the demo can poll fast without
touching the code path an agent uses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio

from . import overview, summaries
from .client import NeevClient
from .errors import NeevError, NotConfigured, NotFound
from .kinds import ROOT_DISK, VM, Kind, scope_label, scope_of

if TYPE_CHECKING:
    from .registry import ToolDef

Progress = Callable[[float, float | None, str], Awaitable[None]]
PAGE_SIZE = 100  # the API's maximum `limit`


@dataclass(frozen=True)
class Limits:
    """Bounds and timings of the agent tools (real seconds)."""

    max_pages: int = 50  # per collection in project_overview: 5,000 VMs and 5,000 root disks
    concurrency: int = 4  # page requests in flight at once
    name_pages: int = 3  # list_vms pages read to name the VMs of a root-disk page
    name_gets: int = 5  # then get_vm calls for VMs still unnamed (more than this: left as ids)
    poll_initial: float = 1.0
    poll_factor: float = 1.5
    poll_max: float = 10.0
    stable_checks: int = 3  # consecutive checks in a settled, wrong status before giving up


class Outcome(NamedTuple):
    """What a tool call produced, before it becomes a protocol result."""

    text: str
    structured: dict[str, Any]
    is_error: bool = False


@dataclass(frozen=True)
class API:
    """What an agent tool may do: call spec operations by tool name, with the request's upstream token."""

    client: NeevClient
    tools: Mapping[str, ToolDef]
    token: str | None = None

    async def call(self, tool_name: str, path: dict[str, Any], query: dict[str, Any] | None = None) -> Any:
        tool = self.tools[tool_name]
        if tool.disabled:  # its reviewed operation drifted in the loaded spec: never call it as reviewed
            raise NotConfigured(f"{tool.disabled} Nothing was sent.")
        assert tool.operation is not None
        return (await self.client.call(tool.operation, path, query, token=self.token, repeatable=tool.repeatable,
                                       unsure=tool.unsure)).data

    async def page(self, lister: str, scope: Mapping[str, Any], page: int, limit: int = PAGE_SIZE
                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One page of a list operation: (its items, its pagination block)."""
        data = await self.call(lister, dict(scope), {"page": page, "limit": limit})
        data = data if isinstance(data, dict) else {}
        items = [item for item in data.get("data") or [] if isinstance(item, dict)]
        return items, data.get("pagination") or {}


@dataclass(frozen=True)
class Env:
    """What an agent tool gets besides the API: the clock, a progress reporter and its bounds."""

    now: Callable[[], dt.datetime]
    progress: Progress
    limits: Limits
    # VM status → the tool that brings a settled VM there ("stopped" → "stop_vm"), from the registry's actions
    reach: Mapping[str, str]


def _first_neev_error(group: BaseExceptionGroup[Any]) -> NeevError | None:
    for exc in group.exceptions:
        found = _first_neev_error(exc) if isinstance(exc, BaseExceptionGroup) else exc
        if isinstance(found, NeevError):
            return found
    return None


# -- project_overview ----------------------------------------------------------------------------------------------
async def _walk(api: API, lister: str, scope: dict[str, Any], limits: Limits,
                in_flight: anyio.Semaphore) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every item of a paginated list: page 1 first (it tells how many pages), then the rest concurrently."""

    async def fetch(page: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with in_flight:
            return await api.page(lister, scope, page)

    first, pagination = await fetch(1)
    total_pages = max(1, int(pagination.get("total_pages") or 1))
    last = min(total_pages, limits.max_pages)
    pages: dict[int, list[dict[str, Any]]] = {1: first}

    async def fetch_into(page: int) -> None:
        pages[page] = (await fetch(page))[0]

    async with anyio.create_task_group() as tg:
        for page in range(2, last + 1):
            tg.start_soon(fetch_into, page)
    items: dict[str, dict[str, Any]] = {}  # by id: an item that moved pages during the walk counts once
    for page in range(1, last + 1):
        for item in pages[page]:
            items.setdefault(str(item.get("id")), item)
    reads = {"pages_read": last, "total_pages": total_pages, "items_read": len(items),
             "total_items": int(pagination.get("total_items") or len(items))}
    return list(items.values()), reads


async def project_overview(api: API, args: dict[str, Any], env: Env) -> Outcome:
    scope = scope_of(args)
    in_flight = anyio.Semaphore(env.limits.concurrency)
    found: dict[str, tuple[list[dict[str, Any]], dict[str, int]]] = {}

    async def walk(key: str, kind: Kind) -> None:
        found[key] = await _walk(api, kind.lister, scope, env.limits, in_flight)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(walk, "vms", VM)
            tg.start_soon(walk, "root_disks", ROOT_DISK)
    except ExceptionGroup as group:  # one failed page fails the overview with that page's own message
        error = _first_neev_error(group)
        if error is None:
            raise
        raise error from None
    data = {"vms": found["vms"][0], "root_disks": found["root_disks"][0],
            "reads": {"vms": found["vms"][1], "root_disks": found["root_disks"][1]}}
    full_args = {"per_status": 5, **args}
    return Outcome(overview.overview(full_args, data, env.now()), overview.overview_structured(full_args, data))


# -- root-disk summaries: name the VMs -----------------------------------------------------------------------------
async def vm_names(api: API, scope: dict[str, Any], vm_ids: Iterable[str], limits: Limits, near: int = 0
                   ) -> dict[str, str]:
    """Names of these VMs, best effort: a failed lookup leaves the id unnamed rather than failing the call.

    One id → one get_vm. Several → at most `limits.name_pages` list_vms pages of 100, starting with the page that
    holds the `near`-th VM (VMs and their root disks are usually created together, so a page of disks tends to sit
    beside the same page of VMs), then at most `limits.name_gets` get_vm calls for any still unnamed.
    """
    wanted = {str(v) for v in vm_ids if v}
    names: dict[str, str] = {}

    async def get_one(vm_id: str) -> None:
        try:
            data = await api.call(VM.getter, {**scope, VM.id_arg: vm_id})
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
            vms, pagination = await api.page(VM.lister, scope, page)
        except NeevError:
            break
        total_pages = int(pagination.get("total_pages") or 1)
        names.update({str(v.get("id")): str(v.get("name")) for v in vms if v.get("name")})
    missing = sorted(wanted - names.keys())
    if 0 < len(missing) <= limits.name_gets:
        async with anyio.create_task_group() as tg:
            for vm_id in missing:
                tg.start_soon(get_one, vm_id)
    return {k: v for k, v in names.items() if k in wanted}


# -- name look-ups ---------------------------------------------------------------------------------------------------
MAX_NAME_PAGES = 20  # resolving a name reads at most 2,000 items


async def find_named(api: API, lister: str, scope: dict[str, Any], name: str, max_pages: int = MAX_NAME_PAGES
                     ) -> list[str]:
    """The ids of every item called `name`, reading pages in order (at most `max_pages`)."""
    found: list[str] = []
    for page in range(1, max_pages + 1):
        items, pagination = await api.page(lister, scope, page)
        found += [str(item.get("id")) for item in items if item.get("name") == name]
        if page >= int(pagination.get("total_pages") or 1):
            break
    return found


# -- wait_for_vm ---------------------------------------------------------------------------------------------------
class _Wait:
    """One wait_for_vm call: what it asked for and what it has seen so far."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.args = args
        self.target: str = args["target_status"]
        self.vm_id: str = args["vm_id"]
        self.timeout = float(args.get("timeout_seconds") or 300)
        self.started = anyio.current_time()
        self.last: dict[str, Any] | None = None
        self.checks = 0

    @property
    def elapsed(self) -> float:
        return anyio.current_time() - self.started

    def state(self, **extra: Any) -> dict[str, Any]:
        return {"vm_id": self.vm_id, "target_status": self.target, "status": (self.last or {}).get("status"),
                "reached": False, "timed_out": False, "elapsed_seconds": round(self.elapsed, 2),
                "checks": self.checks, "vm": self.last, **extra}


async def wait_for_vm(api: API, args: dict[str, Any], env: Env) -> Outcome:
    """Poll until the VM reaches `target_status`, fails, settles elsewhere, disappears, or the timeout passes.

    Cancellation (the client gives up) arrives as anyio cancellation at the next await and ends the polling.
    """
    wait = _Wait(args)
    path = {**scope_of(args), VM.id_arg: wait.vm_id}
    settled_wrong, interval, reported = 0, env.limits.poll_initial, 0.0
    with anyio.move_on_after(wait.timeout):
        while True:
            wait.checks += 1
            try:
                vm = await api.call(VM.getter, path)
            except NotFound as gone:
                return await _gone(api, wait, gone)
            wait.last = vm if isinstance(vm, dict) else {"id": wait.vm_id}
            reported = max(wait.elapsed, reported + 0.001)  # progress must grow with every notification
            await env.progress(reported, wait.timeout, _progress_line(wait.last, wait.elapsed))
            status = str(wait.last.get("status"))
            settled_wrong = settled_wrong + 1 if status not in summaries.TRANSITIONAL else 0
            outcome = _judge(wait, status, settled_wrong, env)
            if outcome is not None:
                return outcome
            await anyio.sleep(interval)
            interval = min(env.limits.poll_max, interval * env.limits.poll_factor)
    status_now = summaries.status_label(wait.last) if wait.last else "unknown (no answer yet)"
    name = summaries.ident(wait.last) if wait.last else wait.vm_id
    return Outcome(f"Still waiting: after {wait.timeout:.0f}s VM {name} is {status_now}, not yet {wait.target}. This "
                   "is not a failure. Call wait_for_vm again to keep waiting, or get_vm to look.",
                   wait.state(timed_out=True))


def _judge(wait: _Wait, status: str, settled_wrong: int, env: Env) -> Outcome | None:
    """The answer once the VM's status settles the question; None to keep polling."""
    assert wait.last is not None
    if status == wait.target:
        return Outcome(f"Reached {wait.target} after {wait.elapsed:.1f}s ({wait.checks} checks).\n"
                       + summaries.vm(wait.args, wait.last, env.now()), wait.state(reached=True))
    if status == "failed":
        return Outcome(f"VM {summaries.ident(wait.last)} FAILED while waiting for {wait.target}: "
                       f"{wait.last.get('message') or 'no reason given'}.\n" + summaries.NEXT_STEPS["failed"],
                       wait.state(), is_error=True)
    if settled_wrong >= env.limits.stable_checks:
        first = env.reach.get(wait.target, "the matching action")
        return Outcome(f"VM {summaries.ident(wait.last)} is {status} and not changing: it will not become "
                       f"{wait.target} by itself. Call {first} first, then wait_for_vm again.", wait.state(),
                       is_error=True)
    return None


async def _gone(api: API, wait: _Wait, gone: NotFound) -> Outcome:
    """A 404 while waiting: the VM is deleted, or (never seen yet) the id or the project is wrong."""
    where = scope_label(wait.args)
    if wait.last is None:
        # Never seen in this wait: a 404 may mean the project (not the VM) is wrong; a running VM must never be
        # reported deleted because of a typo in project_id.
        try:
            await api.call(VM.lister, scope_of(wait.args), {"limit": 1})
        except NotFound as missing:
            return Outcome(f"VM {wait.vm_id} could not be read: {missing.message}", wait.state(status=None),
                           is_error=True)
        except NeevError:
            return Outcome(f"VM {wait.vm_id} could not be read: {gone.message}", wait.state(status=None),
                           is_error=True)
    if wait.target == "deleted":
        if wait.last is None:
            return Outcome(f"VM {wait.vm_id} does not exist in project {where} (HTTP 404): it is deleted, or the id "
                           "is wrong (list_vms shows the VMs there are).", wait.state(status="deleted", reached=True))
        return Outcome(f"VM {summaries.ident(wait.last)} is deleted: it no longer exists (HTTP 404), checked "
                       f"{wait.checks} times over {wait.elapsed:.1f}s.", wait.state(status="deleted", reached=True))
    return Outcome(f"VM {wait.vm_id} does not exist in project {where} (HTTP 404): it may have been deleted, or the "
                   f"id is wrong. It cannot become {wait.target}; list_vms shows the VMs there are.",
                   wait.state(status=None), is_error=True)


def _progress_line(vm: dict[str, Any], elapsed: float) -> str:
    return f"{summaries.ident(vm)}: {summaries.status_label(vm)} after {elapsed:.1f}s"
