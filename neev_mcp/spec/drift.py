"""Drift: how a loaded spec differs from the one the reviewed declarations were written against.

Pure (no MCP, no I/O). A reviewed operation has drifted when it is gone, answers under another operationId (same
method and path: renamed), moved to another method or path, cannot be read any more, or its request contract changed:
a parameter added, removed, moved (path/query/body), made required, or any constraint of its schema changed. Changes
of prose only (descriptions, summaries, examples) are not drift: the reviewed tool keeps its reviewed wording, and
`spec check` lists them for information. A drifted reviewed tool is disabled, never silently re-shaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .openapi import Operation, input_schema
from .source import LoadedSpec

DriftKind = Literal["removed", "renamed", "moved", "unreadable", "changed"]
PROSE_KEYS = frozenset({"description", "summary", "title", "example", "examples", "externalDocs", "deprecated"})


@dataclass(frozen=True)
class Drift:
    """One reviewed operation that no longer matches the spec, with each difference in words."""

    operation_id: str
    tool: str
    kind: DriftKind
    details: tuple[str, ...] = ()
    replacement: str | None = None  # the new operationId of a renamed operation

    def describe(self) -> str:
        more = f": {'; '.join(self.details)}" if self.details else ""
        return f"{self.headline()}{more}"

    def headline(self) -> str:
        what = {
            "removed": "is no longer in the spec",
            "renamed": f"was renamed to {self.replacement} (same method and path)",
            "moved": "moved to another method or path",
            "unreadable": "can no longer be read",
            "changed": "changed its parameters",
        }[self.kind]
        return f"{self.tool} ({self.operation_id}) {what}"


@dataclass(frozen=True)
class DriftReport:
    drifts: tuple[Drift, ...] = ()
    wording: tuple[str, ...] = ()  # operationIds whose prose alone changed
    new: tuple[Operation, ...] = field(default=())  # operations no declaration covers: candidates for unreviewed tools

    @property
    def drifted(self) -> frozenset[str]:
        return frozenset(d.operation_id for d in self.drifts)


def compare(baseline: LoadedSpec, loaded: LoadedSpec, reviewed: Iterable[str]) -> DriftReport:
    """How `loaded` differs from `baseline` for the `reviewed` operationIds, and which of its operations are new."""
    reviewed = list(reviewed)
    drifts: list[Drift] = []
    wording: list[str] = []
    by_place = {(op.method, op.path): op for op in loaded.operations}
    for operation_id in reviewed:
        before = baseline.operation(operation_id)
        if before is None:
            continue  # a declaration of something the baseline lacks is the registry's own consistency problem
        now = loaded.operation(operation_id)
        drift = _drift_of(before, now, loaded, by_place.get((before.method, before.path)), set(reviewed))
        if drift is not None:
            drifts.append(drift)
        elif now is not None and _prose(before) != _prose(now):
            wording.append(operation_id)
    new = tuple(op for op in loaded.operations if op.operation_id not in set(reviewed))
    return DriftReport(tuple(drifts), tuple(wording), new)


def _drift_of(before: Operation, now: Operation | None, loaded: LoadedSpec, same_place: Operation | None,
              reviewed: set[str]) -> Drift | None:
    oid, tool = before.operation_id, before.tool_name
    if now is None:
        why = loaded.unreadable_reason(oid)
        if why is not None:
            return Drift(oid, tool, "unreadable", (why,))
        if same_place is not None and same_place.operation_id not in reviewed:
            return Drift(oid, tool, "renamed", replacement=same_place.operation_id)
        return Drift(oid, tool, "removed")
    if (now.method, now.path) != (before.method, before.path):
        return Drift(oid, tool, "moved", (f"{before.method} {before.path} → {now.method} {now.path}",))
    details = contract_diff(before, now)
    return Drift(oid, tool, "changed", tuple(details)) if details else None


def contract_diff(before: Operation, now: Operation) -> list[str]:
    """Every difference in what a request must look like, one line each, in argument order."""
    lines: list[str] = []
    old_where, new_where = before.argument_locations(), now.argument_locations()
    for arg in old_where.keys() & new_where.keys():
        if old_where[arg][0] != new_where[arg][0]:
            lines.append(f"{arg}: moved from the {old_where[arg][0]} to the {new_where[arg][0]}")
    lines += schema_diff(strip_prose(input_schema(before)), strip_prose(input_schema(now)))
    return lines


def schema_diff(old: Any, new: Any, where: str = "") -> list[str]:
    """Readable differences between two JSON Schemas: `limit.maximum: 100 → 500`, `zone: added (...)`."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        lines: list[str] = []
        for key in [*old, *(k for k in new if k not in old)]:
            here = _join(where, key)
            if key not in new:
                lines.append(f"{here}: removed (was {_short(old[key])})")
            elif key not in old:
                lines.append(f"{here}: added ({_short(new[key])})")
            elif key == "required" and isinstance(old[key], list) and isinstance(new[key], list):
                lines += _required_diff(here, old[key], new[key])
            else:
                lines += schema_diff(old[key], new[key], here)
        return lines
    if old != new:
        return [f"{where or 'schema'}: {_short(old)} → {_short(new)}"]
    return []


def strip_prose(schema: Any, _names: bool = False) -> Any:
    """The schema without words that do not change what is valid (descriptions, examples, titles, x-* extensions).

    `_names`: the keys here are property names (inside `properties`), not keywords, and all stay.
    """
    if isinstance(schema, list):
        return [strip_prose(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    return {k: strip_prose(v, k == "properties" and not _names) for k, v in schema.items()
            if _names or not (k in PROSE_KEYS or k.startswith("x-"))}


def _prose(op: Operation) -> str:
    """Everything a tool shows of its operation: the words and the schema."""
    return json.dumps([op.summary, op.description, input_schema(op)], sort_keys=True)


def _required_diff(where: str, old: list[Any], new: list[Any]) -> list[str]:
    added = [x for x in new if x not in old]
    dropped = [x for x in old if x not in new]
    return ([f"{where}: now also requires {', '.join(map(str, added))}"] if added else []) + (
        [f"{where}: no longer requires {', '.join(map(str, dropped))}"] if dropped else [])


def _join(where: str, key: str) -> str:
    if key == "properties":  # `properties.limit.maximum` reads better as `limit.maximum`
        return where
    return f"{where}.{key}" if where else key


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
