"""`neev-mcp spec check [FILE|URL]` and `--spec`: what a spec would change, exit codes, and no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from neev_mcp.cli import main
from tests.support.spec import extended_spec, write_spec

UNCHANGED = ("list_vms, create_vm, get_vm, delete_vm, list_root_disk_volumes, get_root_disk_volume, "
             "delete_root_disk_volume, start_vm, restart_vm, project_overview, wait_for_vm, vm_options, "
             "dashboard_snapshot")
NEW_TOOLS = [
    "New operations, offered as unreviewed tools (3):",
    "  - list_regions: GET /api/v1/orgs/{org_id}/regions",
    "      readOnly=true destructive=false idempotent=true openWorld=true; not gated",
    "      arguments: org_id (required), gpu_type",
    "  - resize_vm: POST /api/v1/orgs/{org_id}/projects/{project_id}/vms/{vm_id}/resize",
    "      readOnly=false destructive=false idempotent=false openWorld=true; gated: a human confirms each call",
    "      arguments: org_id (required), project_id (required), vm_id (required), vm_config_id (required), keep_ip, "
    "confirmation_token",
    "  - delete_snapshot: DELETE /api/v1/orgs/{org_id}/projects/{project_id}/snapshots/{snapshot_id}",
    "      readOnly=false destructive=true idempotent=true openWorld=true; gated: a human confirms each call",
    "      arguments: org_id (required), project_id (required), snapshot_id (required), confirmation_token",
]


@pytest.fixture(autouse=True)
def _no_spec_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEEV_OPENAPI_SPEC", raising=False)
    monkeypatch.delenv("NEEV_CONFIRM", raising=False)


def test_a_changed_reviewed_operation_is_shown_with_its_schema_diff_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_spec(tmp_path, extended_spec())
    assert main(["spec", "check", str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"Spec: {path} (OpenAPI 3.0.3, VM Service API 0.2.0)",
        "Compared with the reviewed declarations; gating as under NEEV_CONFIRM=destructive.",
        "",
        "Reviewed tools that would change, and are disabled instead (1):",
        "  - stop_vm (stopVM) changed its parameters:",
        '      force: added ({"type": "boolean"})',
        f"Reviewed tools unchanged (13): {UNCHANGED}",
        "",
        *NEW_TOOLS,
        "",
        "Result: a reviewed tool would change: it is disabled while this spec is loaded (exit 1).",
    ]


def test_new_operations_alone_exit_0_and_operations_that_cannot_be_tools_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = extended_spec(drift=False)
    spec["paths"]["/tenants"] = {"get": {"operationId": "listTenants", "parameters": [
        {"in": "header", "name": "X-Tenant", "required": True, "schema": {"type": "string"}}]}}
    spec["paths"]["/overview"] = {"get": {"operationId": "projectOverview"}}
    spec["paths"]["/api/v1/orgs/{org_id}/projects/{project_id}/vms/{vm_id}"]["get"]["description"] = "New words."
    path = write_spec(tmp_path, spec)
    assert main(["spec", "check", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[3:6] == ["Reviewed tools: none would change.",
                        f"Reviewed tools unchanged (14): {UNCHANGED.replace(' restart_vm', ' stop_vm, restart_vm')}",
                        "Wording changed only (the reviewed wording is kept): getVM"]
    assert out[-6:] == [
        "",
        "Operations that cannot become tools (2):",
        "  - GET /tenants (listTenants): needs the header parameter 'X-Tenant', which a tool cannot send",
        "  - GET /overview (projectOverview): its tool name project_overview is already taken by another tool",
        "",
        "Result: no reviewed tool changes (exit 0).",
    ]


def test_gating_is_reported_under_the_policy_asked_for_and_json_is_machine_readable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_spec(tmp_path, extended_spec())
    monkeypatch.setenv("NEEV_OPENAPI_SPEC", str(path))
    assert main(["spec", "check", "--json", "--confirm", "off"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["confirm"] == "off" and report["reviewed_changed"] is True
    assert {t["tool"]: t["gated"] for t in report["new_tools"]} == {"list_regions": False, "resize_vm": False,
                                                                   "delete_snapshot": False}
    assert report["changed"] == [{"tool": "stop_vm", "operation_id": "stopVM", "kind": "changed",
                                  "details": ['force: added ({"type": "boolean"})'], "replacement": None,
                                  "headline": "stop_vm (stopVM) changed its parameters"}]
    assert list(report["disabled"]) == ["stop_vm"]


def test_the_vendored_spec_checks_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec", "check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Spec: the vendored spec (OpenAPI 3.0.3, VM Service API 0.1.0)")
    assert "New operations, offered as unreviewed tools (0):" in out and out.endswith("(exit 0).\n")


def test_an_unusable_spec_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "swagger.json"
    bad.write_text('{"swagger": "2.0"}', encoding="utf-8")
    assert main(["spec", "check", str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"neev-mcp spec check: invalid OpenAPI spec: {bad}: is Swagger/OpenAPI 2.0; neev-mcp "
                            "reads OpenAPI 3.0 and 3.1 (convert it, e.g. with swagger2openapi)\n")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["spec", "check", "{missing}"], "neev-mcp spec check: invalid OpenAPI spec: {missing}: no such file\n"),
        (["--spec", "{missing}"], "neev-mcp: invalid OpenAPI spec (NEEV_OPENAPI_SPEC / --spec): {missing}: no such "
                                  "file\n"),
        (["--sandbox", "--spec", "http://example.com/spec.json"],
         "neev-mcp: invalid OpenAPI spec (NEEV_OPENAPI_SPEC / --spec): http://example.com/spec.json: a spec URL must "
         "start with https:// (http:// only for 127.0.0.1 or localhost)\n"),
    ],
)
def test_the_command_line_stops_with_exit_2_and_a_sentence_never_a_traceback(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    missing = str(tmp_path / "missing.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEEV_")}
    proc = subprocess.run([sys.executable, "-m", "neev_mcp", *(a.format(missing=missing) for a in args)],
                          capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert proc.stderr == expected.format(missing=missing)


def test_an_operation_of_an_unforeseen_shape_is_listed_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review finding: a boolean parameter schema (valid OpenAPI 3.1) or a list of properties crashed spec check and
    the server's start-up with a TypeError traceback."""
    spec = extended_spec(drift=False)
    spec["paths"]["/api/v1/things"] = {
        "get": {"operationId": "listThings", "parameters": [{"in": "query", "name": "q", "schema": True}]},
        "post": {"operationId": "makeThing", "requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": [{"name": {"type": "string"}}]}}}}}}
    assert main(["spec", "check", str(write_spec(tmp_path, spec))]) == 0
    out = capsys.readouterr().out
    assert "  - list_things: GET /api/v1/things\n" in out
    assert ("  - POST /api/v1/things (makeThing): cannot be read (TypeError: unhashable type: "
            "'dict')\n") in out
