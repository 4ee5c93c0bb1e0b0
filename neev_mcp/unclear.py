"""After a create or a start/stop/restart whose answer was lost, find out whether it happened.

A timeout, a broken connection, a 5xx or a garbled 2xx can all come *after* NeevCloud acted on the request. Telling
the agent "check list_vms" leaves the decision that matters (call again or not) to a guess; so the server looks:

- create: the VM's name in the VM list (bounded: page 1, then the last pages, where new VMs land), among VMs created
  since the call started → "created after all: <vm>" (a normal result, the VM as structuredContent), or, when every
  page was read and none matches, "not created; safe to call again". Anything less certain keeps the original error.
- start/stop/restart: the VM's status → "applied" when it is in the action's transition (`Action.during`) or where it
  leads (`settles_at`; for a restart only if the VM changed since the call began), "not applied; safe to call again"
  when it is still where the action starts from (`acts_from`).
Deletes are left to the gate's re-check and their own advice.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from .agent_tools import API, Outcome
from .errors import APIError, NeevError, may_have_applied
from .kinds import VM, Action, scope_of
from .registry import ToolDef
from .summaries import ident
from .text import utc_stamp

MAX_PAGES = 10  # VM list pages read to look for a created VM (1,000 VMs)
SKEW = dt.timedelta(seconds=60)  # tolerated difference between NeevCloud's clock and ours
Now = Callable[[], dt.datetime]


async def settle(api: API, tool: ToolDef, args: dict[str, Any], exc: NeevError, started: dt.datetime,
                 now: Now) -> Outcome | None:
    """What the failed call actually did, or None when it cannot be told (the original error then stands)."""
    action = tool.action
    if action is None or tool.hints.destructive or not may_have_applied(exc):
        return None
    try:
        if action.creates is VM:  # nothing to find it by but its name
            return await _settle_create(api, tool, args, exc, started, now)
        if tool.kind is VM and action.acts_from:
            return await _settle_action(api, tool, action, args, exc, started, now)
    except NeevError:
        return None  # the look-up failed too: the original error (with its advice) stands
    return None


def _cause(exc: NeevError) -> str:
    """What came back, in a few words: the API's status, code and message, or our error's first sentence."""
    if isinstance(exc, APIError):
        return " ".join(x for x in (f"HTTP {exc.status}", f"[{exc.code}]" if exc.code else "", exc.api_message or "")
                        if x)
    retried = re.search(r" \(gave up after \d+ attempts\)", exc.message)
    return exc.message.split(". ", 1)[0].rstrip(".") + (retried.group(0) if retried else "")


def _safe_again(tool: ToolDef, exc: NeevError) -> str:
    after = getattr(exc, "retry_after", None)
    pause = "" if after is None else f" It asked to retry after {after:.0f} s." if after >= 10 else \
        f" It asked to retry after {after:.2g} s."
    return f"It is safe to call {tool.name} again.{pause}"


def _when(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


async def _vms_named(api: API, scope: dict[str, Any], name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """VMs called `name` on page 1 and the last pages (at most MAX_PAGES), and what was read."""
    items, pagination = await api.page(VM.lister, scope, 1)
    total_pages = max(1, int(pagination.get("total_pages") or 1))
    pages = [1, *range(max(2, total_pages - MAX_PAGES + 2), total_pages + 1)]
    for page in pages[1:]:
        items += (await api.page(VM.lister, scope, page))[0]
    evidence = {"pages_read": pages, "total_pages": total_pages, "vms_read": len(items),
                "complete": len(pages) == total_pages}
    return [vm for vm in items if vm.get("name") == name], evidence


async def _settle_create(api: API, tool: ToolDef, args: dict[str, Any], exc: NeevError, started: dt.datetime,
                         now: Now) -> Outcome | None:
    name = str(args.get("name"))
    named, evidence = await _vms_named(api, scope_of(args), name)
    # a same-named VM created before this call is someone else's; an unreadable created_at is counted (safer)
    new = [vm for vm in named if (_when(vm.get("created_at")) or started) >= started - SKEW]
    checked = (f"{VM.lister} page(s) {', '.join(map(str, evidence['pages_read']))} of {evidence['total_pages']} "
               f"({evidence['vms_read']} VMs) read at {utc_stamp(now())}")
    if new:
        vm = max(new, key=lambda v: str(v.get("created_at")))
        return Outcome(
            f"{tool.name} got no clear answer ({_cause(exc)}), so neev-mcp looked for the name: created after all: VM "
            f"{ident(vm)} is '{vm.get('status')}', created {vm.get('created_at')} (evidence: {checked}). Do not call "
            f"{tool.name} again; next: wait_for_vm vm_id={vm.get('id')} target_status=running.", vm)
    if not evidence["complete"]:
        return None  # the VM may be on a page not read: no verdict
    older = f"; the VM(s) named '{name}' that exist were created before this call" if named else ""
    text = (f"{tool.name} failed ({_cause(exc)}) and the VM was not created: no VM named '{name}' was created since "
            f"{utc_stamp(started - SKEW)} (evidence: {checked}, every page{older}). {_safe_again(tool, exc)}")
    return Outcome(text, {**exc.to_structured(), "message": text, "created": False, "evidence": evidence}, True)


async def _settle_action(api: API, tool: ToolDef, action: Action, args: dict[str, Any], exc: NeevError,
                         started: dt.datetime, now: Now) -> Outcome | None:
    vm = await api.call(VM.getter, {**scope_of(args), VM.id_arg: args.get(VM.id_arg)}) or {}
    status, updated = vm.get("status"), _when(vm.get("updated_at"))
    fresh = updated is not None and updated >= started  # changed after this call began
    stale = updated is not None and updated < started - SKEW
    seen = f"{VM.getter} at {utc_stamp(now())}: status '{status}', last change {vm.get('updated_at')}"
    if status == action.during or (status == action.settles_at and (fresh or not action.repeats)):
        return Outcome(f"{tool.name} got no clear answer ({_cause(exc)}), but it was applied: VM {ident(vm)} is now "
                       f"'{status}' (evidence: {seen}). Do not call {tool.name} again.", vm)
    if status == action.acts_from and (stale or not action.repeats):
        text = (f"{tool.name} failed ({_cause(exc)}) and was not applied: VM {ident(vm)} is still '{status}' "
                f"(evidence: {seen}). {_safe_again(tool, exc)}")
        return Outcome(text, {**exc.to_structured(), "message": text, "applied": False, "status": status}, True)
    return None
