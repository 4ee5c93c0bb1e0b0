"""Agent helpers beyond the spec: `project_overview`, `wait_for_vm`, and the VM-name lookup for root-disk summaries.

They speak to NeevCloud only through `API` (the spec operations, by tool name, with the request's upstream token),
and leave all wording to `summaries`. Timing knobs live in `Limits`, so tests and the demo can poll fast without
touching the code path an agent uses.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import anyio

from . import dashboard, options, overview, summaries, walker
from .client import NeevClient, RetryPolicy
from .errors import NeevError, NotConfigured, NotFound
from .kinds import ROOT_DISK, VM, Kind, scope_label, scope_of
from .text import MAX_IDS
from .walker import Progress

if TYPE_CHECKING:
    from .registry import ToolDef

PAGE_SIZE = walker.PAGE_SIZE


@dataclass(frozen=True)
class Limits:
    """Bounds and timings of the agent tools (real seconds)."""

    deadline: float = walker.DEFAULT_DEADLINE  # a whole-project read stops here and says so (NEEV_OVERVIEW_DEADLINE)
    concurrency: int = 4  # page requests in flight at first; the walker adapts it between 1 and max_concurrency
    max_concurrency: int = 32
    page_attempts: int = 3  # reads of one page before a whole-project answer fails (NEEV_MAX_ATTEMPTS)
    name_pages: int = 3  # list_vms pages read to name the VMs of a root-disk page
    name_gets: int = 5  # then get_vm calls for VMs still unnamed (more than this: left as ids)
    poll_initial: float = 1.0
    poll_factor: float = 1.5
    poll_max: float = 10.0
    stable_checks: int = 3  # consecutive checks in a settled, wrong status before giving up

    def pace(self) -> walker.Pace:
        return walker.Pace(start=self.concurrency, ceiling=self.max_concurrency)


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

    async def call(self, tool_name: str, path: dict[str, Any], query: dict[str, Any] | None = None, *,
                   retry: RetryPolicy | None = None, scrub_body: bool = True) -> Any:
        tool = self.tools[tool_name]
        if tool.disabled:  # its reviewed operation drifted in the loaded spec: never call it as reviewed
            raise NotConfigured(f"{tool.disabled} Nothing was sent.")
        require_read(tool)
        assert tool.operation is not None
        return (await self.client.call(tool.operation, path, query, token=self.token, repeatable=tool.repeatable,
                                       unsure=tool.unsure, retry=retry, earlier=tool.earlier_attempt,
                                       not_found=tool.not_found, scrub_body=scrub_body)).data

    def scrubbed(self, outcome: Outcome) -> Outcome:
        """`outcome` with every fragment of this API's bearer removed: for answers built from unscrubbed pages."""
        clean = self.client.scrubber(self.token)
        return Outcome(clean.text(outcome.text), clean.value(outcome.structured), outcome.is_error)

    async def page(self, lister: str, scope: Mapping[str, Any], page: int, limit: int = PAGE_SIZE
                   ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One page of a list operation: (its items, its pagination block)."""
        data = await self.call(lister, dict(scope), {"page": page, "limit": limit})
        data = data if isinstance(data, dict) else {}
        items = [item for item in data.get("data") or [] if isinstance(item, dict)]
        return items, data.get("pagination") or {}


def require_read(tool: ToolDef) -> None:
    """Agent tools, resources and prompts reach the API without the confirmation gate: only ever for a read."""
    if not tool.hints.read_only:
        raise NotConfigured(f"{tool.name} may change something, so it is called only as a tool, through the "
                            "confirmation gate. Nothing was sent.")


@dataclass(frozen=True)
class Env:
    """What an agent tool gets besides the API: the clock, a progress reporter and its bounds."""

    now: Callable[[], dt.datetime]
    progress: Progress
    limits: Limits
    # VM status → the tool that brings a settled VM there ("stopped" → "stop_vm"), from the registry's actions
    reach: Mapping[str, str]
    # what the dashboard view may offer: the verbs of the visible, non-destructive VM actions, and NEEV_CONFIRM
    view_actions: tuple[str, ...] = ()
    confirm: str = "destructive"
    # 'regions' / 'plans' / … → the read tool listing NeevCloud's full catalogue of them (registry.catalogues)
    catalogues: Mapping[str, str] = field(default_factory=dict)
    tool: str = ""  # the name of the tool being run (its declaration's), for answers that say how to call it again


# -- whole-project reads: every page through the walker -----------------------------------------------------------
PAGE_RETRY = RetryPolicy(attempts=1)  # the walker retries pages itself, slowing down as a whole when throttled


def page_reader(api: API, scope: Mapping[str, Any], scrub_pages: bool = True) -> walker.FetchPage:
    """Pages of a list tool in `scope`, 100 items each, for the walker."""

    async def fetch(lister: str, page: int) -> Any:
        return await api.call(lister, dict(scope), {"page": page, "limit": PAGE_SIZE}, retry=PAGE_RETRY,
                              scrub_body=scrub_pages)

    return fetch


async def walk(api: API, scope: Mapping[str, Any], collections: Sequence[walker.Collection], limits: Limits,
               progress: Progress | None = None, *, scrub_pages: bool = True, **options: Any) -> walker.WalkResult:
    """Every whole-project read goes through here: one deadline, one pace, the same retries.

    `scrub_pages=False` is for `tallied` alone, which scrubs the answer it builds from the pages instead.
    """
    options.setdefault("deadline", limits.deadline)
    options.setdefault("pace", limits.pace())
    return await walker.walk(page_reader(api, scope, scrub_pages), collections, progress=progress,
                             max_attempts=limits.page_attempts, **options)


class Tally(Protocol):
    """A bounded, streaming summary of a project's VMs and root disks (overview, dashboard, options)."""

    def add_vms(self, page: int, items: list[dict[str, Any]]) -> None: ...
    def add_disks(self, page: int, items: list[dict[str, Any]]) -> None: ...


async def tallied(api: API, scope: Mapping[str, Any], tally: Tally, env: Env,
                  answer: Callable[[walker.WalkResult, dict[str, Any]], Outcome]) -> Outcome:
    """Every page of the project's VMs and root disks into `tally`, then `answer(walk result, reads)`, scrubbed whole.

    The pages are read unscrubbed (at 2,000 pages the per-page scrub cost as much CPU as parsing them): only the bounded
    answer built from the tally leaves, and it is scrubbed here, so no unscrubbed walk can go without it.
    """
    vms = walker.Collection(VM.lister, "VMs", tally.add_vms)
    disks = walker.Collection(ROOT_DISK.lister, "root disks", tally.add_disks)
    result = await walk(api, scope, [vms, disks], env.limits, env.progress, scrub_pages=False)
    return api.scrubbed(answer(result, {"vms": result.reads[vms.tool], "root_disks": result.reads[disks.tool]}))


async def project_overview(api: API, args: dict[str, Any], env: Env) -> Outcome:
    tally = overview.OverviewTally()
    full_args = {"per_status": 5, **args}

    def answer(result: walker.WalkResult, reads: dict[str, Any]) -> Outcome:
        data = {"tally": tally, "reads": reads, "walk": result.info()}
        return Outcome(overview.overview(full_args, data, env.now()), overview.overview_structured(full_args, data))

    return await tallied(api, scope_of(args), tally, env, answer)


async def dashboard_snapshot(api: API, args: dict[str, Any], env: Env) -> Outcome:
    """What the dashboard view draws (MCP Apps; only the view calls this): one walk, a bounded streaming tally."""
    tally = dashboard.DashboardTally()

    def answer(result: walker.WalkResult, _: dict[str, Any]) -> Outcome:
        return Outcome(*dashboard.snapshot(args, tally, result.complete, actions=env.view_actions, confirm=env.confirm))

    return await tallied(api, scope_of(args), tally, env, answer)


async def vm_options(api: API, args: dict[str, Any], env: Env) -> Outcome:
    """The values create_vm's arguments are chosen from: a catalogue operation's where the loaded spec has one, and
    what the project's VMs and root disks use (one walk, a bounded streaming tally)."""
    scope = scope_of(args)
    found = {key: await read_catalogue(api, tool, key, scope) for key, tool in env.catalogues.items()}
    tally = options.OptionsTally()

    def answer(result: walker.WalkResult, reads: dict[str, Any]) -> Outcome:
        data = {"catalogues": found, "reads": reads, "walk": result.info()}
        return Outcome(options.options_text(args, tally, data), options.options_structured(args, tally, data))

    return await tallied(api, scope, tally, env, answer)


async def read_catalogue(api: API, tool_name: str, category: str, scope: Mapping[str, Any]) -> options.Catalogue:
    """One catalogue operation, called with the scope arguments it takes; a failure is reported, never raised (the
    project's own values are the fallback)."""
    takes = api.tools[tool_name].input_schema.get("properties") or {}
    try:
        data = await api.call(tool_name, {k: v for k, v in scope.items() if k in takes})
    except NeevError as exc:
        return options.Catalogue(tool_name, problem=exc.message)
    return options.catalogue_from(tool_name, category, data)


# -- root-disk summaries: name the VMs -----------------------------------------------------------------------------
async def vm_names(api: API, scope: dict[str, Any], vm_ids: Iterable[str], limits: Limits, near: int = 0
                   ) -> dict[str, str]:
    """Names of these VMs, best effort: a failed lookup leaves the id unnamed rather than failing the call.

    One id → one get_vm. Several → at most `limits.name_pages` list_vms pages of 100, one after the other, starting
    with the page that holds the `near`-th VM (VMs and their root disks are usually created together, so a page of
    disks tends to sit beside the same page of VMs) and stopping once all are named; then at most `limits.name_gets`
    get_vm calls for any still unnamed.
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

    def collect(_: int, items: list[dict[str, Any]]) -> None:
        names.update({str(v.get("id")): str(v["name"]) for v in items if v.get("name") and str(v.get("id")) in wanted})

    home = near // PAGE_SIZE + 1
    pages = [p for p in dict.fromkeys((home, home + 1, home - 1, 1, 2)) if p >= 1][: limits.name_pages]
    with contextlib.suppress(NeevError):
        await walk(api, scope, [walker.Collection(VM.lister, "VMs", collect, pages=pages)], limits,
                   pace=walker.Pace(start=1, ceiling=1), enough=lambda: not wanted - names.keys())
    missing = sorted(wanted - names.keys())
    if 0 < len(missing) <= limits.name_gets:
        async with anyio.create_task_group() as tg:
            for vm_id in missing:
                tg.start_soon(get_one, vm_id)
    return {k: v for k, v in names.items() if k in wanted}


# -- name look-ups ---------------------------------------------------------------------------------------------------
MAX_NAMESAKES = MAX_IDS  # matches a name look-up collects before it stops (one more says "and more")
NAMESAKE_DEADLINE = 10.0  # seconds a create may spend looking for VMs that already have its name


class Found(NamedTuple):
    ids: list[str]  # in listing order; stops after MAX_NAMESAKES + 1 matches
    complete: bool  # every page was read, or the matches already exceed the bound (False: the deadline came first)
    pages: str  # "12 of 30 pages read", for a message when incomplete


async def find_named(api: API, lister: str, scope: dict[str, Any], name: str, limits: Limits, *,
                     deadline: float | None = None) -> Found:
    """The ids of the items called `name`: every page is looked through (the walker), until more than
    MAX_NAMESAKES matches or the deadline."""
    found: dict[int, str] = {}  # listing position → id

    def collect(page: int, items: list[dict[str, Any]]) -> None:
        found.update({page * 1000 + i: str(item.get("id")) for i, item in enumerate(items) if item.get("name") == name})

    result = await walk(api, scope, [walker.Collection(lister, "items", collect)], limits,
                        enough=lambda: len(found) > MAX_NAMESAKES,
                        **({"deadline": deadline} if deadline is not None else {}))
    reads = result.reads[lister]
    return Found([found[k] for k in sorted(found)], result.complete or len(found) > MAX_NAMESAKES,
                 f"{reads['pages_read']} of {reads['total_pages'] or '?'} pages read within the "
                 f"{result.deadline:g} s NEEV_OVERVIEW_DEADLINE")


async def namesakes(api: API, kind: Kind, scope: dict[str, Any], name: str, limits: Limits) -> dict[str, Any]:
    """What a create about to make a `kind` called `name` should know: the ones already called that.

    {"name", "ids" (None when the look-up failed), "complete"}; best effort, so it never fails the create.
    """
    try:
        found = await find_named(api, kind.lister, scope, name, limits,
                                 deadline=min(limits.deadline, NAMESAKE_DEADLINE))
    except NeevError:
        return {"name": name, "ids": None, "complete": False}
    return {"name": name, "ids": found.ids, "complete": found.complete}


# -- wait_for_vm ---------------------------------------------------------------------------------------------------
# One call must end before the client gives up on it: the TypeScript SDK (and hosts built on it) times a request out
# after 60 s, progress notwithstanding. A longer wait is several calls, each saying how to make the next one.
WAIT_DEFAULT_SECONDS = 40
WAIT_MAX_SECONDS = 55


class _Wait:
    """One wait_for_vm call: what it asked for and what it has seen so far."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.args = args
        self.target: str = args["target_status"]
        self.vm_id: str = args[VM.id_arg]
        self.timeout = float(args.get("timeout_seconds") or WAIT_DEFAULT_SECONDS)
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
    return _still_waiting(wait, env)


def _still_waiting(wait: _Wait, env: Env) -> Outcome:
    """The timeout passed: not a failure; the answer says how to go on waiting, in words and as a ready call."""
    status_now = summaries.status_label(wait.last) if wait.last else "unknown (no answer yet)"
    name = summaries.ident(wait.last) if wait.last else wait.vm_id
    again = {**scope_of(wait.args), VM.id_arg: wait.vm_id, "target_status": wait.target,
             "timeout_seconds": round(wait.timeout)}
    return Outcome(f"Still waiting after {wait.elapsed:.0f}s: VM {name} is {status_now}, not yet {wait.target}. "
                   f"This is not a failure: call {env.tool} again with the same arguments to keep waiting "
                   "(structuredContent.continue_with has them), or get_vm to look.",
                   wait.state(timed_out=True, continue_with={"tool": env.tool, "arguments": again}))


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
