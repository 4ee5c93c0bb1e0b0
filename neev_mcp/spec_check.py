"""`neev-mcp spec check [FILE|URL]`: what pointing NEEV_OPENAPI_SPEC at a spec would change, before anyone does.

It builds the tools exactly as the server would from that spec and compares them with the reviewed declarations:
reviewed tools that would change (and so be disabled), with each difference of their input schema; new operations
that would become unreviewed tools, with their inferred annotations and whether they are gated; operations that
cannot become tools, and why. Exit status: 0 nothing reviewed changes, 1 a reviewed tool would change or disappear,
2 the spec cannot be used. Meant for a user's CI before an upgrade.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .registry import CONFIRM_POLICIES, OVERLAYS, ToolDef, build_registry, not_offered
from .spec.drift import compare
from .spec.source import LoadedSpec, SpecError, load_source, vendored_spec

OK, REVIEWED_CHANGED, UNUSABLE = 0, 1, 2


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="neev-mcp spec",
        description="check: what a NeevCloud OpenAPI spec would change against the reviewed tool declarations. "
        "Exit 0: no reviewed tool changes; 1: a reviewed tool would change or be disabled; 2: the spec is unusable.")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="compare a spec with the reviewed declarations")
    check.add_argument("location", nargs="?", metavar="FILE|URL",
                       help="the spec to check (default: NEEV_OPENAPI_SPEC, else the vendored spec)")
    check.add_argument("--confirm", choices=sorted(CONFIRM_POLICIES), default=None,
                       help="the NEEV_CONFIRM policy to report gating under (default: NEEV_CONFIRM or destructive)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(list(argv))
    location = args.location or os.environ.get("NEEV_OPENAPI_SPEC") or None
    confirm = (args.confirm or os.environ.get("NEEV_CONFIRM") or "destructive").strip().lower()
    if confirm not in CONFIRM_POLICIES:
        print(f"neev-mcp spec check: NEEV_CONFIRM: must be one of {', '.join(CONFIRM_POLICIES)}", file=sys.stderr)
        return UNUSABLE
    try:
        loaded = load_source(location)
    except SpecError as exc:
        print(f"neev-mcp spec check: invalid OpenAPI spec: {exc}", file=sys.stderr)
        return UNUSABLE
    report = check_spec(loaded, confirm)
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return REVIEWED_CHANGED if report["reviewed_changed"] else OK


def check_spec(loaded: LoadedSpec, confirm: str = "destructive") -> dict[str, Any]:
    """The whole comparison as plain data (what `--json` prints; `render` words it)."""
    drift = compare(vendored_spec(), loaded, OVERLAYS)
    tools = build_registry(gated=CONFIRM_POLICIES[confirm], spec=loaded)
    reviewed = [t for t in tools if not t.unreviewed]
    return {
        "spec": {"location": loaded.origin, "openapi": loaded.openapi_version, "title": loaded.title},
        "confirm": confirm,
        "reviewed_changed": bool(drift.drifts or any(t.disabled for t in reviewed)),
        "changed": [{"tool": d.tool, "operation_id": d.operation_id, "kind": d.kind, "details": list(d.details),
                     "replacement": d.replacement, "headline": d.headline()} for d in drift.drifts],
        "disabled": {t.name: t.disabled for t in reviewed if t.disabled},
        "unchanged": [t.name for t in reviewed if not t.disabled],
        "wording_only": list(drift.wording),
        "new_tools": [_new_tool(t) for t in tools if t.unreviewed],
        "not_tools": [{"operation": label, "why": why} for label, why in not_offered(loaded, tools)],
    }


def _new_tool(tool: ToolDef) -> dict[str, Any]:
    assert tool.operation is not None
    h = tool.hints
    schema = tool.input_schema
    return {
        "tool": tool.name,
        "operation_id": tool.operation.operation_id,
        "method": tool.operation.method,
        "path": tool.operation.path,
        "annotations": {"readOnlyHint": h.read_only, "destructiveHint": h.destructive,
                        "idempotentHint": h.idempotent, "openWorldHint": h.open_world},
        "gated": tool.gated,
        "arguments": [f"{name}{' (required)' if name in schema.get('required', []) else ''}"
                      for name in schema["properties"]],
    }


def render(report: dict[str, Any]) -> str:
    spec = report["spec"]
    lines = [f"Spec: {spec['location']} (OpenAPI {spec['openapi']}, {spec['title']})",
             f"Compared with the reviewed declarations; gating as under NEEV_CONFIRM={report['confirm']}.", ""]
    if report["changed"] or report["disabled"]:
        lines.append(f"Reviewed tools that would change, and are disabled instead ({len(report['disabled'])}):")
        for change in report["changed"]:
            lines.append(f"  - {change['headline']}" + (":" if change["details"] else ""))
            lines += [f"      {line}" for line in change["details"]]
        relied = {name: why for name, why in report["disabled"].items() if name not in {c["tool"] for c in
                                                                                        report["changed"]}}
        lines += [f"  - {name}: {why}" for name, why in relied.items()]
    else:
        lines.append("Reviewed tools: none would change.")
    lines.append(f"Reviewed tools unchanged ({len(report['unchanged'])}): {', '.join(report['unchanged']) or '-'}")
    if report["wording_only"]:
        lines.append(f"Wording changed only (the reviewed wording is kept): {', '.join(report['wording_only'])}")
    lines += ["", f"New operations, offered as unreviewed tools ({len(report['new_tools'])}):"]
    for tool in report["new_tools"]:
        a = tool["annotations"]
        hints = (f"readOnly={_b(a['readOnlyHint'])} destructive={_b(a['destructiveHint'])} "
                 f"idempotent={_b(a['idempotentHint'])} openWorld={_b(a['openWorldHint'])}")
        gate = "gated: a human confirms each call" if tool["gated"] else "not gated"
        lines.append(f"  - {tool['tool']}: {tool['method']} {tool['path']}")
        lines.append(f"      {hints}; {gate}")
        lines.append(f"      arguments: {', '.join(tool['arguments']) or 'none'}")
    if report["not_tools"]:
        lines += ["", f"Operations that cannot become tools ({len(report['not_tools'])}):"]
        lines += [f"  - {n['operation']}: {n['why']}" for n in report["not_tools"]]
    lines += ["", "Result: " + ("a reviewed tool would change: it is disabled while this spec is loaded (exit 1)."
                                if report["reviewed_changed"] else "no reviewed tool changes (exit 0).")]
    return "\n".join(lines)


def _b(value: bool) -> str:
    return "true" if value else "false"
