"""`project_overview` as text and structured data: bounded at any project size (pure; `now` passed in).

`OverviewTally` is fed page by page while the walker reads (walker.py) and keeps only what the overview says: counts
by status, failures grouped by message with the first few VMs of each, the first VMs in transition and in each
status, and the largest unattached root disks. Its memory depends on the number of *kinds* of thing (statuses,
messages) and on the list lengths, never on the number of VMs. "First" means first in listing order (page, then
position), so the answer does not depend on the order in which concurrent pages arrive.

The text is bounded in characters too: failure messages are clipped, and the per-status lists shrink (with a note)
until the whole fits OVERVIEW_BUDGET.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .kinds import ROOT_DISK, VM, scope_label
from .summaries import (
    HEADING_FOR,
    TRANSITIONAL,
    Obj,
    age,
    ident,
    is_attached,
    plural,
    status_label,
    status_order,
    tally,
    unattached_gb,
)
from .text import clip, whole

STRUCTURED_CAP = 25  # list entries kept in the overview's structuredContent (counts stay exact; bounded like the text)
MAX_FAILURE_GROUPS = 8  # distinct failure messages spelled out in the overview
MAX_MESSAGE = 200  # characters of one upstream failure message in the overview
MAX_KEPT_MESSAGE = 1000  # characters of a message kept for structuredContent
MAX_TRACKED_GROUPS = 200  # distinct failure messages counted one by one; beyond, counted together
MAX_PER_STATUS = 50  # the largest `per_status` the tool accepts: how many of each list the tally keeps
EXAMPLES_PER_GROUP = 5  # VMs named per failure group in structuredContent
OVERVIEW_BUDGET = 6000  # characters: the overview text never exceeds this, at any project size
KEEP = max(MAX_PER_STATUS, STRUCTURED_CAP)


class First:
    """The first `k` entries in listing order, whatever order they are offered in (a bounded max-heap)."""

    def __init__(self, k: int) -> None:
        self.k, self._heap = k, []  # type: ignore[var-annotated]

    def wants(self, position: int) -> bool:
        """Checked before an entry is built: pages mostly arrive in order, so most items are not kept."""
        return len(self._heap) < self.k or -self._heap[0][0] > position

    def offer(self, position: int, entry: dict[str, Any]) -> None:
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, (-position, str(entry["id"]), entry))
        elif -self._heap[0][0] > position:
            heapq.heapreplace(self._heap, (-position, str(entry["id"]), entry))

    def items(self) -> list[dict[str, Any]]:
        return [e for _, _, e in sorted(self._heap, key=lambda x: -x[0])]


class Largest:
    """The `k` largest entries by `size_gb` (ties: first in listing order)."""

    def __init__(self, k: int) -> None:
        self.k, self._heap = k, []  # type: ignore[var-annotated]

    def offer(self, position: int, entry: dict[str, Any]) -> None:
        key = (whole(entry.get("size_gb")), -position)
        if len(self._heap) < self.k:
            heapq.heappush(self._heap, (key, str(entry["id"]), entry))
        elif key > self._heap[0][0]:
            heapq.heapreplace(self._heap, (key, str(entry["id"]), entry))

    def items(self) -> list[dict[str, Any]]:
        return [e for _, _, e in sorted(self._heap, key=lambda x: x[0], reverse=True)]


@dataclass
class Group:
    count: int = 0
    first: First = field(default_factory=lambda: First(KEEP))


def _slim(item: Obj, *keys: str) -> dict[str, Any]:
    out = {k: item.get(k) for k in ("id", "name", *keys)}
    if isinstance(out.get("message"), str):
        out["message"] = clip(out["message"], MAX_KEPT_MESSAGE)
    return out


@dataclass
class OverviewTally:
    """A streaming aggregate of a project's VMs and root disks: feed `add_vms`/`add_disks` one page at a time."""

    by_status: Counter[str] = field(default_factory=Counter)
    first_by_status: dict[str, First] = field(default_factory=dict)
    failures: dict[str, Group] = field(default_factory=dict)
    untracked_failures: int = 0  # failed VMs whose message came after MAX_TRACKED_GROUPS others
    first_failed: First = field(default_factory=lambda: First(STRUCTURED_CAP))
    moving: Group = field(default_factory=Group)
    disk_total: int = 0
    free_total: int = 0
    free_gb: int = 0
    largest_free: Largest = field(default_factory=lambda: Largest(KEEP))

    @property
    def vm_total(self) -> int:
        return sum(self.by_status.values())

    def add_vms(self, page: int, items: Sequence[Obj]) -> None:
        for index, vm in enumerate(items):
            position, status = page * 1000 + index, str(vm.get("status"))
            self.by_status[status] += 1
            if status == "failed":
                self._add_failure(position, vm)
            elif status in TRANSITIONAL:
                self.moving.count += 1
                if self.moving.first.wants(position):
                    self.moving.first.offer(position, _slim(vm, "status", "message"))
            else:
                first = self.first_by_status.get(status)
                if first is None:
                    first = self.first_by_status[status] = First(MAX_PER_STATUS)
                if first.wants(position):
                    first.offer(position, _slim(vm))

    def _add_failure(self, position: int, vm: Obj) -> None:
        if self.first_failed.wants(position):
            self.first_failed.offer(position, _slim(vm, "message"))
        message = clip(str(vm.get("message") or "no reason given"), MAX_MESSAGE)
        group = self.failures.get(message)
        if group is None:
            if len(self.failures) >= MAX_TRACKED_GROUPS:
                self.untracked_failures += 1
                return
            group = self.failures[message] = Group()
        group.count += 1
        if group.first.wants(position):
            group.first.offer(position, _slim(vm))

    def add_disks(self, page: int, items: Sequence[Obj]) -> None:
        for index, disk in enumerate(items):
            self.disk_total += 1
            if not is_attached(disk):
                self.free_total += 1
                self.free_gb += unattached_gb([disk])
                self.largest_free.offer(page * 1000 + index, _slim(disk, "size_gb", "status", "created_at"))

    def failure_groups(self) -> list[tuple[str, Group]]:
        return sorted(self.failures.items(), key=lambda kv: (-kv[1].count, kv[0]))


def tally_of(vms: Iterable[Obj], disks: Iterable[Obj]) -> OverviewTally:
    """A tally of lists already in memory (one 'page' each): for tests and callers that hold the lists anyway."""
    t = OverviewTally()
    t.add_vms(1, list(vms))
    t.add_disks(1, list(disks))
    return t


def _data_tally(data: Obj) -> OverviewTally:
    found = data.get("tally")
    return found if isinstance(found, OverviewTally) else tally_of(data.get("vms") or [], data.get("root_disks") or [])


def _first(items: Sequence[Obj], count: int, n: int, fmt: Callable[[Obj], str] = ident, more: str = "") -> str:
    shown = ", ".join(fmt(x) for x in items[:n])
    rest = count - min(n, len(items))
    return shown + (f", and {rest} more{more}" if rest > 0 else "")


def overview(args: Obj, data: Obj, now: dt.datetime) -> str:
    """The whole project in a bounded answer.

    `data`: `tally` (an OverviewTally) or the lists `vms` and `root_disks`; `reads` describing the walk, for each of
    the two `{"pages_read", "total_pages", "items_read", "total_items"[, "missing_pages"]}`; `walk` (its deadline).
    `args.per_status` bounds every list; the text as a whole stays within OVERVIEW_BUDGET characters whatever the
    project or its messages hold (lists are shortened first).
    """
    t = _data_tally(data)
    wanted = n = min(MAX_PER_STATUS, int(args.get("per_status") or 5))
    text = _overview(args, t, data, now, n)
    while len(text) > OVERVIEW_BUDGET and n > 1:
        n = max(1, n // 2)
        text = _overview(args, t, data, now, n)
    if n < wanted:
        text += f"\n(Lists shortened to {n} per status to stay within {OVERVIEW_BUDGET:,} characters.)"
    if len(text) > OVERVIEW_BUDGET:
        text = text[: OVERVIEW_BUDGET - 90].rsplit("\n", 1)[0] + "\n… cut here to stay bounded; list_vms and " \
            "list_root_disk_volumes page through everything."
    return text


def _overview(args: Obj, t: OverviewTally, data: Obj, now: dt.datetime, n: int) -> str:
    scope = scope_label(args)
    total = t.vm_total
    lines = [f"Project {scope}: {plural(total, 'VM')}" + (f" — {tally(t.by_status.elements())}." if total else ".")]
    lines += incomplete_notes(data.get("reads") or {}, data.get("walk") or {})
    lines += _failed_lines(t, n)
    if t.moving.count:
        lines.append(f"In transition ({t.moving.count}) — follow with wait_for_vm:")
        lines += [f"- {ident(v)}: {status_label(v)} → {HEADING_FOR.get(str(v.get('status')))}"
                  for v in t.moving.first.items()[:n]]
        if t.moving.count > n:
            lines.append(f"- and {t.moving.count - n} more.")
    lines += _disk_lines(t, now, n)
    settled = [s for s in sorted(t.by_status, key=status_order) if s != "failed" and s not in TRANSITIONAL]
    for status in settled:
        examples = t.first_by_status[status].items()
        lines.append(f"{status[:1].upper()}{status[1:]} ({t.by_status[status]}): "
                     f"{_first(examples, t.by_status[status], n, more=' (list_vms pages through all)')}.")
    if not total:
        lines.append("No VMs yet: create one with create_vm.")
    return "\n".join(lines)


def _failed_lines(t: OverviewTally, n: int) -> list[str]:
    failed = t.by_status.get("failed", 0)
    if not failed:
        return []
    ordered = t.failure_groups()
    lines = [f"Failed ({failed}), by message — delete and re-create once the cause is fixed:"]
    lines += [f"- {msg} ({g.count}): {_first(g.first.items(), g.count, n)}" for msg, g in ordered[:MAX_FAILURE_GROUPS]]
    rest = ordered[MAX_FAILURE_GROUPS:]
    rest_vms = sum(g.count for _, g in rest) + t.untracked_failures
    if rest_vms:
        others = f"{len(rest)} other messages" if not t.untracked_failures else f"more than {len(rest)} other messages"
        lines.append(f"- and {rest_vms} more failed VMs with {others} (get_vm shows each).")
    return lines


def _disk_lines(t: OverviewTally, now: dt.datetime, n: int) -> list[str]:
    head = f"Root disks: {t.disk_total} ({t.disk_total - t.free_total} attached"
    if not t.free_total:
        return [f"{head}, none unattached)."]
    lines = [f"{head}, {t.free_total} unattached using {t.free_gb} GB — deletable with delete_root_disk_volume "
             "if no longer needed):"]
    lines += [f"- {ident(d)} · {d.get('size_gb')} GB · {d.get('status')} · {age(d.get('created_at'), now)}"
              for d in t.largest_free.items()[:n]]
    if t.free_total > n:
        lines.append(f"- and {t.free_total - n} more (list_root_disk_volumes shows them).")
    return lines


_READS = (("vms", VM), ("root_disks", ROOT_DISK))  # the collections an overview reads, by their key in `reads`


def incomplete_notes(reads: Obj, walk: Obj, answer: str = "the overview") -> list[str]:
    """Never truncate silently: say how far the walk got, which pages were not read, and how to read them."""
    notes = []
    for key, kind in _READS:
        r = reads.get(key) or {}
        noun, tool = f"{kind.label}s", kind.lister
        missing = r.get("missing_pages")
        if not missing:
            continue
        deadline = walk.get("deadline_seconds")
        why = (f"the {deadline:g} s deadline (NEEV_OVERVIEW_DEADLINE) passed" if deadline is not None
               else "the reading stopped")
        if not r.get("total_pages"):
            got = f"before the first page of {noun} was answered, so the figures below include none"
        else:
            got = (f"after {r.get('pages_read', 0)} of {r['total_pages']} pages of {noun}; {r.get('items_read', 0)} "
                   f"of {r.get('total_items', '?')} {noun} were read and the figures below cover only those")
        notes.append(f"INCOMPLETE: {why} {got}. {tool} with limit=100 and page = {missing} shows the rest "
                     f"(or ask again: a larger NEEV_OVERVIEW_DEADLINE lets {answer} read everything).")
    return notes


def overview_structured(args: Obj, data: Obj) -> dict[str, Any]:
    """Machine-readable overview: exact counts, lists capped at STRUCTURED_CAP entries."""
    t = _data_tally(data)
    reads: Obj = data.get("reads") or {}
    out = {
        "org_id": args.get("org_id"),
        "project_id": args.get("project_id"),
        "complete": all("missing_pages" not in r and r.get("pages_read", 0) >= r.get("total_pages", 0)
                        for r in reads.values()),
        "reads": {k: dict(v) for k, v in reads.items()},
        "vm_total": t.vm_total,
        "vm_by_status": dict(sorted(t.by_status.items(), key=lambda kv: status_order(kv[0]))),
        "failed": t.first_failed.items()[:STRUCTURED_CAP],
        "failure_groups": [{"message": msg, "count": g.count, "examples": [
            {"id": v.get("id"), "name": v.get("name")} for v in g.first.items()[:EXAMPLES_PER_GROUP]]}
            for msg, g in t.failure_groups()[:MAX_FAILURE_GROUPS]],
        "in_transition": t.moving.first.items()[:STRUCTURED_CAP],
        "root_disk_total": t.disk_total,
        "unattached_root_disk_total": t.free_total,
        "unattached_root_disks": [{k: d.get(k) for k in ("id", "name", "size_gb", "status")}
                                  for d in t.largest_free.items()[:STRUCTURED_CAP]],
        "unattached_total_gb": t.free_gb,
        "list_cap": STRUCTURED_CAP,
    }
    if data.get("walk"):
        out["walk"] = dict(data["walk"])
    return out
