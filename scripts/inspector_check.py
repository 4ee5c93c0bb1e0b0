"""Check one MCP Inspector CLI answer (JSON on stdin) for scripts/inspector.sh; prints PASS/FAIL with the reason.

    python scripts/inspector_check.py tools_list < answer.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

TOOLS = {"list_vms", "create_vm", "get_vm", "delete_vm", "start_vm", "stop_vm", "restart_vm", "list_root_disk_volumes",
         "get_root_disk_volume", "delete_root_disk_volume", "project_overview", "wait_for_vm", "vm_options"}
PROMPTS = {"provision_vm", "project_health_report", "cleanup_unattached_disks", "decommission_vm",
           "diagnose_failed_vm"}
SEED_VMS = ("web-1", "train-gpu-1", "db-1", "etl-2", "batch-7")


def tools_list(answer: dict[str, Any]) -> str:
    names = {t["name"] for t in answer["tools"]}
    assert names == TOOLS, f"tools differ: missing {sorted(TOOLS - names)}, extra {sorted(names - TOOLS)}"
    unannotated = [t["name"] for t in answer["tools"] if "readOnlyHint" not in t.get("annotations", {})]
    assert not unannotated, f"tools without readOnlyHint: {unannotated}"
    return f"{len(names)} tools, all annotated"


def list_vms(answer: dict[str, Any]) -> str:
    assert not answer.get("isError"), f"isError: {answer}"
    text = answer["content"][0]["text"]
    shown = [vm for vm in SEED_VMS if vm in text]
    assert shown, f"no seeded VM named in: {text[:200]}"
    assert answer.get("structuredContent", {}).get("data"), "structuredContent.data is empty"
    return f"list_vms answered: {text.splitlines()[0]}"


def prompts_list(answer: dict[str, Any]) -> str:
    names = {p["name"] for p in answer["prompts"]}
    assert names == PROMPTS, f"prompts differ: missing {sorted(PROMPTS - names)}, extra {sorted(names - PROMPTS)}"
    return f"{len(names)} prompts: {', '.join(sorted(names))}"


def prompts_get(answer: dict[str, Any]) -> str:
    text = answer["messages"][0]["content"]["text"]
    assert "web-1" in text and "delete_vm" in text and "stop_vm" in text, text[:200]
    return f"decommission_vm rendered ({len(text)} characters)"


def resource_templates(answer: dict[str, Any]) -> str:
    uris = {t["uriTemplate"] for t in answer["resourceTemplates"]}
    assert "neev://vms/{vm_id}" in uris, uris
    return f"templates: {', '.join(sorted(uris))}"


def resource_read(answer: dict[str, Any]) -> str:
    text = answer["contents"][0]["text"]
    assert "web-1" in text and "running" in text, text[:200]
    return f"neev://vms/web-1: {text.splitlines()[0][:100]}"


CHECKS: dict[str, Callable[[dict[str, Any]], str]] = {f.__name__: f for f in (
    tools_list, list_vms, prompts_list, prompts_get, resource_templates, resource_read)}


def main() -> int:
    check = CHECKS[sys.argv[1]]
    try:
        answer = json.load(sys.stdin)
        print(f"PASS {sys.argv[1]}: {check(answer)}", end="")
    except (AssertionError, KeyError, IndexError, TypeError, json.JSONDecodeError) as exc:
        print(f"FAIL {sys.argv[1]}: {type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
