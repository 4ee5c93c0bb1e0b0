"""`project_overview` as text and structured data: bounded at any project size (pure; `now` passed in).

The text is bounded by the number of *kinds* of thing, not the number of VMs, and also in characters: failure
messages are clipped, and the per-status lists shrink (with a note) until the whole fits OVERVIEW_BUDGET.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from .kinds import scope_label
from .summaries import (
    HEADING_FOR,
    TRANSITIONAL,
    Obj,
    age,
    counts,
    ident,
    is_attached,
    plural,
    status_label,
    status_order,
    unattached_gb,
)
from .text import clip

STRUCTURED_CAP = 25  # list entries kept in the overview's structuredContent (counts stay exact; bounded like the text)
MAX_FAILURE_GROUPS = 8  # distinct failure messages spelled out in the overview
MAX_MESSAGE = 200  # characters of one upstream failure message in the overview
OVERVIEW_BUDGET = 6000  # characters: the overview text never exceeds this, at any project size


def _first(items: Sequence[Obj], n: int, fmt: Callable[[Obj], str] = ident, more: str = "") -> str:
    shown = ", ".join(fmt(x) for x in items[:n])
    rest = len(items) - n
    return shown + (f", and {rest} more{more}" if rest > 0 else "")


def overview(args: Obj, data: Obj, now: dt.datetime) -> str:
    """The whole project in a bounded answer.

    `data`: `vms` and `root_disks` (every item read), and `reads` describing the walk: for each of the two,
    `{"pages_read", "total_pages", "total_items"}`. `args.per_status` bounds every list; the text as a whole stays
    within OVERVIEW_BUDGET characters whatever the project or its messages hold (lists are shortened first).
    """
    wanted = n = int(args.get("per_status") or 5)
    text = _overview(args, data, now, n)
    while len(text) > OVERVIEW_BUDGET and n > 1:
        n = max(1, n // 2)
        text = _overview(args, data, now, n)
    if n < wanted:
        text += f"\n(Lists shortened to {n} per status to stay within {OVERVIEW_BUDGET:,} characters.)"
    if len(text) > OVERVIEW_BUDGET:
        text = text[: OVERVIEW_BUDGET - 90].rsplit("\n", 1)[0] + "\n… cut here to stay bounded; list_vms and " \
            "list_root_disk_volumes page through everything."
    return text


def _overview(args: Obj, data: Obj, now: dt.datetime, n: int) -> str:
    vms: Sequence[Obj] = data.get("vms") or []
    disks: Sequence[Obj] = data.get("root_disks") or []
    reads: Obj = data.get("reads") or {}
    by_status: dict[str, list[Obj]] = {}
    for item in vms:
        by_status.setdefault(str(item.get("status")), []).append(item)
    moving = [v for v in vms if v.get("status") in TRANSITIONAL]
    scope = scope_label(args)
    lines = [f"Project {scope}: {plural(len(vms), 'VM')}" + (f" — {counts(vms)}." if vms else ".")]
    lines += _incomplete(reads)
    failed = by_status.get("failed", [])
    if failed:
        groups: dict[str, list[Obj]] = {}
        for item in failed:
            groups.setdefault(clip(str(item.get("message") or "no reason given"), MAX_MESSAGE), []).append(item)
        ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        lines.append(f"Failed ({len(failed)}), by message — delete and re-create once the cause is fixed:")
        lines += [f"- {msg} ({len(group)}): {_first(group, n)}" for msg, group in ordered[:MAX_FAILURE_GROUPS]]
        rest = ordered[MAX_FAILURE_GROUPS:]
        if rest:
            lines.append(f"- and {sum(len(g) for _, g in rest)} more failed VMs with {len(rest)} other messages "
                         "(get_vm shows each).")
    if moving:
        lines.append(f"In transition ({len(moving)}) — follow with wait_for_vm:")
        lines += [f"- {ident(v)}: {status_label(v)} → {HEADING_FOR.get(str(v.get('status')))}" for v in moving[:n]]
        if len(moving) > n:
            lines.append(f"- and {len(moving) - n} more.")
    free = [d for d in disks if not is_attached(d)]
    disk_head = f"Root disks: {len(disks)} ({len(disks) - len(free)} attached"
    if free:
        gb = unattached_gb(free)
        lines.append(f"{disk_head}, {len(free)} unattached using {gb} GB — deletable with delete_root_disk_volume "
                     "if no longer needed):")
        lines += [f"- {ident(d)} · {d.get('size_gb')} GB · {d.get('status')} · {age(d.get('created_at'), now)}"
                  for d in free[:n]]
        if len(free) > n:
            lines.append(f"- and {len(free) - n} more (list_root_disk_volumes shows them).")
    else:
        lines.append(f"{disk_head}, none unattached).")
    settled = [s for s in sorted(by_status, key=status_order) if s != "failed" and s not in TRANSITIONAL]
    for status in settled:
        group = by_status[status]
        lines.append(f"{status.capitalize()} ({len(group)}): {_first(group, n, more=' (list_vms pages through all)')}.")
    if not vms:
        lines.append("No VMs yet: create one with create_vm.")
    return "\n".join(lines)


def _incomplete(reads: Obj) -> list[str]:
    """Never truncate silently: say which pages were not read and how to read them."""
    notes = []
    for key, noun, tool in (("vms", "VMs", "list_vms"), ("root_disks", "root disks", "list_root_disk_volumes")):
        r = reads.get(key) or {}
        read, total = int(r.get("pages_read", 0)), int(r.get("total_pages", 0))
        if total and read < total:
            notes.append(f"INCOMPLETE: the page cap ({read} pages) was hit; {r.get('items_read')} of "
                         f"{r.get('total_items')} {noun} were read and the figures below cover only those. "
                         f"{tool} with limit=100, page={read + 1} onwards shows the rest.")
    return notes


def overview_structured(args: Obj, data: Obj) -> dict[str, Any]:
    """Machine-readable overview: exact counts, lists capped at STRUCTURED_CAP entries."""
    vms: Sequence[Obj] = data.get("vms") or []
    disks: Sequence[Obj] = data.get("root_disks") or []
    free = [d for d in disks if not is_attached(d)]
    reads: Obj = data.get("reads") or {}
    return {
        "org_id": args.get("org_id"),
        "project_id": args.get("project_id"),
        "complete": all(r.get("pages_read", 0) >= r.get("total_pages", 0) for r in reads.values()),
        "reads": {k: dict(v) for k, v in reads.items()},
        "vm_total": len(vms),
        "vm_by_status": dict(sorted(Counter(str(v.get("status")) for v in vms).items(),
                                    key=lambda kv: status_order(kv[0]))),
        "failed": [{"id": v.get("id"), "name": v.get("name"), "message": v.get("message")}
                   for v in vms if v.get("status") == "failed"][:STRUCTURED_CAP],
        "in_transition": [{"id": v.get("id"), "name": v.get("name"), "status": v.get("status"),
                           "message": v.get("message")} for v in vms if v.get("status") in TRANSITIONAL
                          ][:STRUCTURED_CAP],
        "root_disk_total": len(disks),
        "unattached_root_disks": [{"id": d.get("id"), "name": d.get("name"), "size_gb": d.get("size_gb"),
                                   "status": d.get("status")} for d in free][:STRUCTURED_CAP],
        "unattached_total_gb": unattached_gb(free),
        "list_cap": STRUCTURED_CAP,
    }
