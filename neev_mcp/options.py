"""`vm_options`: the values create_vm's arguments are chosen from, as text and structured data (pure).

The API has no catalogue of regions, VM configurations, plans or images, so the values an agent can rely on are the
ones the project already uses. `OptionsTally` is fed page by page while the walker reads every VM and root disk
(agent_tools.vm_options) and keeps, per category, each distinct value with how many VMs (and root disks) use it and
the first VM that does, plus the first unattached, ready root disks (what `attach_disk_request` can take). Its memory
depends on the number of distinct values (capped), never on the number of VMs.

When the loaded spec has a catalogue operation (registry.catalogues: e.g. a GET listing regions), that category is
offered in full from it, marked "catalogue", with the project's counts beside each value.

Also here: `valid_values`, which reads the valid values out of an API refusal ("… valid regions: a, b"), so a failed
create_vm passes them on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .kinds import scope_label
from .overview import First, incomplete_notes
from .summaries import Obj, is_attached, plural
from .text import clip

TEXT_PER_CATEGORY = 8  # values named per category in the text before "and K more" (fewer if the text is too long)
STRUCTURED_CAP = 25  # values (and attachable disks) listed per category in structuredContent; counts stay exact
OPTIONS_BUDGET = 3000  # characters: the text never exceeds this, at any project size
MAX_TRACKED = 500  # distinct values counted one by one per category; beyond, counted together as "untracked"
MAX_VALUE = 200  # a longer "value" is no id anyone can pass back: counted as untracked
MAX_GPU_COUNTS = 12  # distinct GPU counts remembered per VM configuration
MAX_CATALOGUE = 200  # catalogue entries kept
TEXT_VALUE = 48  # characters of a value or a name in the text


@dataclass(frozen=True)
class Category:
    key: str  # "regions": the structuredContent key, and the catalogue it matches (registry.catalogues)
    label: str  # "Regions"
    singular: str  # "region"
    argument: str  # where create_vm takes it
    vm_field: str  # the VMResponse field holding it
    disk_field: str | None  # the RootDiskVolumeResponse field holding it


CATEGORIES = (
    Category("regions", "Regions", "region", "region_id", "region_id", "region"),
    Category("vm_configs", "VM configurations", "VM configuration", "vm_config_id", "vm_config_id", None),
    Category("plans", "Plans", "plan", "plan_id", "plan_id", "plan_id"),
    Category("images", "Images", "image", "root_disk.create_disk_request.image_id", "image_id", "image_id"),
)
BY_KEY = {c.key: c for c in CATEGORIES}
SEEN_NOTE = ("These are the values seen in this project's VMs and root disks, not NeevCloud's full catalogue: other "
             "values may exist, and these are known to work here.")


@dataclass
class Seen:
    """One value of one category: who uses it."""

    vms: int = 0
    root_disks: int = 0
    example: tuple[int, str] | None = None  # (listing position, name) of the first VM using it
    gpus: set[int] = field(default_factory=set)

    def by_vm(self, position: int, name: str) -> None:
        self.vms += 1
        if name and (self.example is None or position < self.example[0]):
            self.example = (position, clip(name, 100))


def _value(item: Obj, key: str | None) -> str | None:
    value = item.get(key) if key else None
    return value if isinstance(value, str) and value.strip() and len(value) <= MAX_VALUE else None


@dataclass
class OptionsTally:
    """A streaming aggregate of a project's VMs and root disks: feed `add_vms`/`add_disks` one page at a time."""

    values: dict[str, dict[str, Seen]] = field(default_factory=lambda: {c.key: {} for c in CATEGORIES})
    untracked: Counter[str] = field(default_factory=Counter)  # VMs/disks whose value could not be tracked
    vm_total: int = 0
    disk_total: int = 0
    attachable: First = field(default_factory=lambda: First(STRUCTURED_CAP))
    attachable_total: int = 0
    unattached_not_ready: int = 0

    def _seen(self, category: Category, value: str | None) -> Seen | None:
        known = self.values[category.key]
        if value is None or (value not in known and len(known) >= MAX_TRACKED):
            self.untracked[category.key] += 1
            return None
        return known.setdefault(value, Seen())

    def add_vms(self, page: int, items: Sequence[Obj]) -> None:
        for index, vm in enumerate(items):
            self.vm_total += 1
            position, name = page * 1000 + index, str(vm.get("name") or "")
            for category in CATEGORIES:
                seen = self._seen(category, _value(vm, category.vm_field))
                if seen is None:
                    continue
                seen.by_vm(position, name)
                gpus = vm.get("gpu_config_count")
                if category.key == "vm_configs" and len(seen.gpus) < MAX_GPU_COUNTS:
                    seen.gpus.add(gpus if isinstance(gpus, int) and not isinstance(gpus, bool) else 0)

    def add_disks(self, page: int, items: Sequence[Obj]) -> None:
        for index, disk in enumerate(items):
            self.disk_total += 1
            for category in CATEGORIES:
                if category.disk_field and (seen := self._seen(category, _value(disk, category.disk_field))):
                    seen.root_disks += 1
            if is_attached(disk):
                continue
            if str(disk.get("status")) != "ready":
                self.unattached_not_ready += 1
                continue
            self.attachable_total += 1
            position = page * 1000 + index
            if self.attachable.wants(position):
                self.attachable.offer(position, {k: disk.get(k) for k in ("id", "name", "size_gb", "region",
                                                                           "image_id", "plan_id")})


# -- catalogues ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Catalogue:
    """What a catalogue operation answered: its entries (id, name, status), or why it could not be read."""

    tool: str
    entries: tuple[dict[str, Any], ...] = ()
    total: int = 0
    problem: str = ""  # non-empty: reading it failed, and the category falls back to the project's values
    more_pages: int = 0  # the catalogue is paginated and only its first page was read


def catalogue_from(tool: str, category: str, data: Any) -> Catalogue:
    """The entries of a catalogue answer (`{"data": [...]}` or a bare list); each needs an id (or a name)."""
    items = data.get("data") if isinstance(data, dict) else data
    items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    id_keys = ("id", f"{BY_KEY[category].vm_field}", f"{category.rstrip('s')}_id", "name")
    entries = []
    for item in items:
        found = next((item[k] for k in id_keys if isinstance(item.get(k), str | int) and str(item[k]).strip()), None)
        if found is None or len(str(found)) > MAX_VALUE:
            continue
        entry: dict[str, Any] = {"id": str(found)}
        for key in ("name", "status"):
            if isinstance(item.get(key), str) and item[key] != entry["id"]:
                entry[key] = clip(item[key], 100)
        entries.append(entry)
    if not entries:
        return Catalogue(tool, problem=f"{tool} answered with no entries that have an id")
    paging = data.get("pagination") if isinstance(data, dict) else None
    pages = paging.get("total_pages") if isinstance(paging, dict) else None
    more = pages - 1 if isinstance(pages, int) and not isinstance(pages, bool) and pages > 1 else 0
    return Catalogue(tool, tuple(entries[:MAX_CATALOGUE]), len(entries), more_pages=more)


# -- the answer ------------------------------------------------------------------------------------------------------
def _row(value: str, seen: Seen | None, category: Category) -> dict[str, Any]:
    seen = seen or Seen()
    row: dict[str, Any] = {"id": value, "vms": seen.vms, "root_disks": seen.root_disks,
                           "example_vm": seen.example[1] if seen.example else None}
    if category.key == "vm_configs":
        row["gpu_counts"] = sorted(seen.gpus)
    return row


def category_rows(tally: OptionsTally, category: Category, catalogue: Catalogue | None) -> list[dict[str, Any]]:
    """Every row of a category: the catalogue's entries in its order, or the project's values, most used first."""
    known = tally.values[category.key]
    if catalogue is not None and not catalogue.problem:
        return [{**entry, **_row(entry["id"], known.get(entry["id"]), category)} for entry in catalogue.entries]
    ordered = sorted(known.items(), key=lambda kv: (-kv[1].vms, -kv[1].root_disks, kv[0]))
    return [_row(value, seen, category) for value, seen in ordered]


def options_structured(args: Obj, tally: OptionsTally, data: Obj) -> dict[str, Any]:
    """Machine-readable options: each category's values (at most STRUCTURED_CAP), exact counts beside them."""
    catalogues: Mapping[str, Catalogue] = data.get("catalogues") or {}
    out: dict[str, Any] = {
        "org_id": args.get("org_id"), "project_id": args.get("project_id"),
        "complete": bool((data.get("walk") or {}).get("complete", True)),
        "note": _note(catalogues), "vm_total": tally.vm_total, "root_disk_total": tally.disk_total,
    }
    for category in CATEGORIES:
        catalogue = catalogues.get(category.key)
        rows = category_rows(tally, category, catalogue)
        entry: dict[str, Any] = {"argument": category.argument,
                                 "source": "catalogue" if catalogue and not catalogue.problem else "project",
                                 "total": len(rows), "values": rows[:STRUCTURED_CAP],
                                 "more": max(0, len(rows) - STRUCTURED_CAP)}
        if catalogue is not None:
            entry["catalogue_tool"] = catalogue.tool
            if catalogue.more_pages:
                entry["catalogue_pages_unread"] = catalogue.more_pages
            if catalogue.problem:
                entry["catalogue_problem"] = catalogue.problem
        if tally.untracked[category.key]:
            entry["untracked"] = tally.untracked[category.key]
        out[category.key] = entry
    out["attachable_root_disks"] = {"argument": "root_disk.attach_disk_request.disk_id",
                                    "total": tally.attachable_total, "disks": tally.attachable.items(),
                                    "unattached_not_ready": tally.unattached_not_ready}
    out["reads"] = {k: dict(v) for k, v in (data.get("reads") or {}).items()}
    if data.get("walk"):
        out["walk"] = dict(data["walk"])
    out["list_cap"] = STRUCTURED_CAP
    return out


def _note(catalogues: Mapping[str, Catalogue]) -> str:
    full = [BY_KEY[k].label.lower() for k, c in catalogues.items() if not c.problem]
    if not full:
        return SEEN_NOTE
    return (f"The {' and '.join(full)} are NeevCloud's full catalogue; the other values are the ones seen in this "
            "project's VMs and root disks, not the full catalogue.")


def options_text(args: Obj, tally: OptionsTally, data: Obj) -> str:
    """The options in at most OPTIONS_BUDGET characters: the lists shrink (with "and K more") until they fit."""
    n = TEXT_PER_CATEGORY
    text = _options_text(args, tally, data, n)
    while len(text) > OPTIONS_BUDGET and n > 1:
        n = max(1, n // 2)
        text = _options_text(args, tally, data, n)
    if len(text) > OPTIONS_BUDGET:
        text = text[: OPTIONS_BUDGET - 60].rsplit("\n", 1)[0] + "\n… cut here to stay bounded (structuredContent)."
    return text


def _options_text(args: Obj, tally: OptionsTally, data: Obj, n: int) -> str:
    catalogues: Mapping[str, Catalogue] = data.get("catalogues") or {}
    head = (f"Options for create_vm in project {scope_label(args)} ({plural(tally.vm_total, 'VM')}, "
            f"{plural(tally.disk_total, 'root disk')} read). {_note(catalogues)}")
    lines = [head, *incomplete_notes(data.get("reads") or {}, data.get("walk") or {}, "vm_options")]
    if not tally.vm_total and not tally.disk_total and not any(not c.problem for c in catalogues.values()):
        lines.append("No VMs or root disks yet, so no values are known here: ask the user for region_id, "
                     "vm_config_id, plan_id and image_id (a refused create_vm may name the valid ones).")
    for category in CATEGORIES:
        lines.append(_category_line(tally, category, catalogues.get(category.key), n))
    lines.append(_attachable_line(tally, n))
    lines.append("Next: create_vm with name, region_id, vm_config_id, plan_id (gpu_config_count as seen for a GPU "
                 "configuration) and root_disk, then wait_for_vm with target_status 'running'.")
    return "\n".join(lines)


def _category_line(tally: OptionsTally, category: Category, catalogue: Catalogue | None, n: int) -> str:
    rows = category_rows(tally, category, catalogue)
    full = catalogue is not None and not catalogue.problem
    where = f"full catalogue from {catalogue.tool}" if full and catalogue else "seen in the project"
    head = f"{category.label} ({category.argument}; {where})"
    if catalogue is not None and catalogue.problem:
        head += f" [the catalogue {catalogue.tool} could not be read: {clip(catalogue.problem, 200)}]"
    elif catalogue is not None and catalogue.more_pages:
        head += (f" [its first page only: {catalogue.tool} with page=2 … shows "
                 f"{plural(catalogue.more_pages, 'more page')}]")
    if not rows:
        return f"{head}: none seen."
    shown = "; ".join(_value_text(row, full) for row in rows[:n])
    more = f"; and {len(rows) - n} more" if len(rows) > n else ""
    untracked = tally.untracked[category.key]
    extra = f" ({plural(untracked, 'item')} without a usable value)" if untracked else ""
    return f"{head}: {shown}{more}.{extra}"


def _value_text(row: Obj, full: bool) -> str:
    about = ", ".join(clip(str(row[k]), TEXT_VALUE) for k in ("name", "status") if row.get(k))
    text = clip(str(row["id"]), TEXT_VALUE) + (f" ({about})" if about else "")
    here = " here" if full else ""
    if row["vms"]:
        text += f" — {plural(row['vms'], 'VM')}{here}, e.g. {clip(str(row['example_vm']), TEXT_VALUE)}"
    elif row["root_disks"]:
        text += f" — no VM{here}, {plural(row['root_disks'], 'root disk')}"
    elif full:
        text += " — none here"
    gpus = row.get("gpu_counts") or []
    if any(gpus):
        text += f", GPUs seen: {', '.join(str(g) for g in gpus)}"
    return text


def _attachable_line(tally: OptionsTally, n: int) -> str:
    head = "Root disks attach_disk_request can take (root_disk.attach_disk_request.disk_id; unattached and ready; " \
           "the VM must be in the disk's region)"
    not_ready = (f" {plural(tally.unattached_not_ready, 'other unattached disk')} not ready yet."
                 if tally.unattached_not_ready else "")
    if not tally.attachable_total:
        return f"{head}: none.{not_ready}"
    shown = "; ".join(f"{clip(str(d.get('name')), TEXT_VALUE)} (id {d.get('id')}, {d.get('size_gb')} GB, "
                      f"{clip(str(d.get('region')), TEXT_VALUE)}, {clip(str(d.get('image_id')), TEXT_VALUE)})"
                      for d in tally.attachable.items()[:n])
    more = f"; and {tally.attachable_total - n} more" if tally.attachable_total > n else ""
    return f"{head}: {shown}{more}.{not_ready}"


# -- refusals that name the valid values ---------------------------------------------------------------------------
_VALID = re.compile(r"\b(?:valid|available|allowed|supported|existing)\s+([a-z][a-z _-]{1,40}?)\s*(?:are|is)?\s*"
                    r"[:=]\s*(.+?)(?=;|\.\s|\.?$)", re.IGNORECASE)
_ONE_OF = re.compile(r"\b([a-z_]+_id)\b[^;]{0,80}?\bone of\s*:?\s*\[?(.+?)(?=[\];]|\.\s|\.?$)", re.IGNORECASE)
_ARGUMENT = {"region": "region_id", "image": "image_id", "plan": "plan_id", "vm config": "vm_config_id",
             "vm configuration": "vm_config_id", "configuration": "vm_config_id", "config": "vm_config_id",
             "flavor": "vm_config_id", "size": "vm_config_id"}
MAX_NAMED_VALUES = 50


def _argument(noun: str) -> str | None:
    """'regions' / 'VM configurations' / 'image_ids' → the create_vm argument they fill (None: not one of those)."""
    noun = " ".join(noun.lower().replace("_", " ").replace("-", " ").split())
    noun = noun.removesuffix("s").removesuffix(" id")
    return _ARGUMENT.get(noun.removesuffix("s"))


def valid_values(api_message: str | None) -> dict[str, list[str]]:
    """`{"region_id": ["in-mum-1", ...]}` from a refusal such as "region 'x' not found; valid regions: a, b"."""
    found: dict[str, list[str]] = {}
    for pattern in (_VALID, _ONE_OF):
        for noun, listed in pattern.findall(api_message or ""):
            argument = _argument(noun)
            if argument is None or argument in found:
                continue
            values = [v.strip().strip("'\"`") for v in re.split(r",|\bor\b", listed)]
            values = list(dict.fromkeys(clip(v, 100) for v in values if v))[:MAX_NAMED_VALUES]
            if values:
                found[argument] = values
    return found


_MENTIONS = re.compile(r"\b(region|image|plan|config|configuration|flavor)", re.IGNORECASE)


def refusal_with_options(message: str, api_message: str | None, structured: dict[str, Any], options_tool: str
                         ) -> tuple[str, dict[str, Any]] | None:
    """A create refusal (400/404) about a region, configuration, plan or image, with the valid values it names
    passed on and `options_tool` pointed at; None when the refusal is about something else."""
    named = valid_values(api_message)
    if not named and not _MENTIONS.search(api_message or ""):
        return None
    text = message
    if named:
        text += " Valid values NeevCloud named: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in named.items()) + "."
    if options_tool not in message:  # a 404's hint (neev_mcp/kinds.py) may have named it already
        text += (f" {options_tool} lists the regions, VM configurations, plans and images in use in this project "
                 "(and the root disks that can be attached).")
    return text, {**structured, "message": text, "valid_values": named, "options_tool": options_tool}
