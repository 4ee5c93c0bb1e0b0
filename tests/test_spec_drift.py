"""Inferred annotations for unreviewed operations, and drift of reviewed ones, reported precisely."""

from __future__ import annotations

from typing import Any

import pytest

from neev_mcp.registry import build_registry, catalogues
from neev_mcp.spec.drift import compare, schema_diff, strip_prose
from neev_mcp.spec.infer import (
    InferredHints,
    catalogue_of,
    describe,
    destructive_words,
    infer_hints,
    safe_to_retry,
    title_for,
)
from neev_mcp.spec.openapi import Operation
from neev_mcp.spec.source import check_document, vendored_spec
from tests.support.spec import STOP_PATH, extended_spec

REVIEWED = [op.operation_id for op in vendored_spec().operations]


def _op(method: str, operation_id: str = "doThing", summary: str = "", description: str = "",
        path: str = "/things/{id}") -> Operation:
    return Operation(operation_id, method, path, summary, description, ())


@pytest.mark.parametrize(
    ("method", "words", "expected"),
    [
        ("GET", "", InferredHints(read_only=True, destructive=False, idempotent=True)),
        ("HEAD", "", InferredHints(read_only=True, destructive=False, idempotent=True)),
        ("DELETE", "", InferredHints(read_only=False, destructive=True, idempotent=True)),
        ("POST", "Resize a VM", InferredHints(read_only=False, destructive=False, idempotent=False)),
        ("PUT", "Replace the labels", InferredHints(read_only=False, destructive=False, idempotent=True)),
        ("PATCH", "Update a key", InferredHints(read_only=False, destructive=False, idempotent=False)),
        ("POST", "Terminate the instance", InferredHints(read_only=False, destructive=True, idempotent=False)),
        ("PATCH", "Purges the cache", InferredHints(read_only=False, destructive=True, idempotent=False)),
        ("PUT", "Removes all members", InferredHints(read_only=False, destructive=True, idempotent=True)),
        ("POST", "Reset the password", InferredHints(read_only=False, destructive=True, idempotent=False)),
        ("POST", "Destroys the volume", InferredHints(read_only=False, destructive=True, idempotent=False)),
        ("GET", "List deleted VMs", InferredHints(read_only=True, destructive=False, idempotent=True)),
        ("POST", "Apply a preset", InferredHints(read_only=False, destructive=False, idempotent=False)),
    ],
)
def test_annotations_are_inferred_from_the_method_and_the_operations_words(method: str, words: str,
                                                                           expected: InferredHints) -> None:
    assert infer_hints(_op(method, summary=words)) == expected
    assert expected.open_world is True


def test_destructive_words_are_found_in_the_id_path_summary_and_description() -> None:
    assert destructive_words(_op("POST", operation_id="resetVMPassword")) == ["reset"]
    assert destructive_words(_op("POST", path="/vms/{id}/terminate")) == ["terminate"]
    assert destructive_words(_op("POST", description="Deletion is queued; disks are removed.")) == ["deletion",
                                                                                                   "removed"]


def test_only_safe_methods_are_retried_and_titles_and_descriptions_are_marked() -> None:
    assert [m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE") if safe_to_retry(_op(m))] == ["GET", "HEAD"]
    assert title_for(_op("POST", operation_id="resizeVM")) == "Resize VM"
    assert title_for(_op("POST", operation_id="resizeVM", summary="Resize a VM.")) == "Resize a VM"
    assert describe(_op("DELETE", summary="Delete a snapshot")) == "Delete a snapshot. (not yet reviewed by neev-mcp)"
    assert describe(_op("GET", path="/x")) == "GET /x. (not yet reviewed by neev-mcp)"


def _spec(document: dict[str, Any]) -> Any:
    return check_document(document, "next.json")


def test_the_extended_spec_has_three_new_operations_and_one_changed_reviewed_one() -> None:
    report = compare(vendored_spec(), _spec(extended_spec()), REVIEWED)
    assert [op.operation_id for op in report.new] == ["listRegions", "resizeVM", "deleteSnapshot"]
    assert [d.describe() for d in report.drifts] == [
        'stop_vm (stopVM) changed its parameters: force: added ({"type": "boolean"})']
    assert report.drifted == {"stopVM"} and report.wording == ()


def test_the_vendored_spec_has_no_drift_against_itself() -> None:
    report = compare(vendored_spec(), vendored_spec(), REVIEWED)
    assert report.drifts == () and report.new == () and report.wording == ()


def test_removed_renamed_moved_and_unreadable_operations_are_each_named() -> None:
    spec = extended_spec(drift=False)
    paths = spec["paths"]
    del paths["/api/v1/orgs/{org_id}/projects/{project_id}/root_disks/{root_disk_id}"]["get"]
    paths[STOP_PATH.replace("/stop", "/restart")]["post"]["operationId"] = "rebootVM"
    start = paths.pop(STOP_PATH.replace("/stop", "/start"))
    paths[STOP_PATH.replace("/stop", "/power-on")] = start
    paths[STOP_PATH]["post"]["parameters"].append({"in": "header", "name": "X-Why", "required": True,
                                                   "schema": {"type": "string"}})
    report = compare(vendored_spec(), _spec(spec), REVIEWED)
    assert [d.describe() for d in report.drifts] == [
        "get_root_disk_volume (getRootDiskVolume) is no longer in the spec",
        "start_vm (startVM) moved to another method or path: POST /api/v1/orgs/{org_id}/projects/{project_id}/vms/"
        "{vm_id}/start → POST /api/v1/orgs/{org_id}/projects/{project_id}/vms/{vm_id}/power-on",
        "stop_vm (stopVM) can no longer be read: needs the header parameter 'X-Why', which a tool cannot send",
        "restart_vm (restartVM) was renamed to rebootVM (same method and path)",
    ]
    assert "rebootVM" in [op.operation_id for op in report.new]


def test_constraint_changes_are_drift_but_wording_changes_are_not() -> None:
    spec = extended_spec(drift=False)
    limit = spec["components"]["schemas"]["ListLimit"]
    limit["maximum"] = 500
    create = spec["components"]["schemas"]["CreateVMRequest"]
    create["required"] = [*create["required"], "gpu_config_count"]
    create["properties"]["region_id"]["description"] = "Where the VM runs (new words)."
    get_vm = spec["paths"]["/api/v1/orgs/{org_id}/projects/{project_id}/vms/{vm_id}"]["get"]
    get_vm["parameters"][2]["description"] = "Another way to say the VM id."
    report = compare(vendored_spec(), _spec(spec), REVIEWED)
    assert [d.describe() for d in report.drifts] == [
        "list_vms (listVMs) changed its parameters: limit.maximum: 100 → 500",
        "create_vm (createVM) changed its parameters: required: now also requires gpu_config_count",
        "list_root_disk_volumes (listRootDiskVolumes) changed its parameters: limit.maximum: 100 → 500",
    ]
    assert report.wording == ("getVM",)


def test_a_parameter_moving_between_query_and_body_is_drift() -> None:
    body = {"content": {"application/json": {"schema": {"type": "object",
                                                         "properties": {"force": {"type": "boolean"}}}}}}
    in_body = extended_spec(drift=False)
    in_body["paths"][STOP_PATH]["post"]["requestBody"] = body
    report = compare(vendored_spec(), _spec(in_body), REVIEWED)
    assert report.drifts[0].details == ('force: added ({"type": "boolean"})',)
    in_query = extended_spec(drift=True)
    moved = compare(_spec(in_query), _spec(in_body), ["stopVM"])
    assert moved.drifts[0].details == ("force: moved from the query to the body",)


def test_schema_diff_reads_like_a_changelog() -> None:
    old = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 5}, "b": {"type": "integer"}},
           "required": ["a"]}
    new = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 9}, "c": {"enum": [1, 2]}},
           "required": ["c"]}
    assert schema_diff(old, new) == [
        "a.maxLength: 5 → 9", 'b: removed (was {"type": "integer"})', 'c: added ({"enum": [1, 2]})',
        "required: now also requires c", "required: no longer requires a"]


def test_strip_prose_keeps_properties_named_like_prose_keywords() -> None:
    schema = {"type": "object", "description": "x", "x-internal": 1,
              "properties": {"description": {"type": "string", "description": "d", "maxLength": 3}}}
    assert strip_prose(schema) == {"type": "object", "properties": {"description": {"type": "string",
                                                                                      "maxLength": 3}}}


@pytest.mark.parametrize(
    ("method", "path", "required", "expected"),
    [
        ("GET", "/api/v1/orgs/{org_id}/regions", (), "regions"),
        ("GET", "/api/v1/orgs/{org_id}/projects/{project_id}/vm-configurations", (), "vm_configs"),
        ("GET", "/api/v1/images/", (), "images"),
        ("GET", "/api/v1/plans", ("currency",), None),  # needs an argument nobody can fill in
        ("POST", "/api/v1/regions", (), None),
        ("GET", "/api/v1/regions/{region_id}", (), None),
    ],
)
def test_catalogue_operations_are_recognised(method: str, path: str, required: tuple[str, ...],
                                             expected: str | None) -> None:
    from neev_mcp.spec.openapi import Parameter

    params = tuple(Parameter(name, "query", True, {"type": "string"}) for name in required)
    assert catalogue_of(Operation("x", method, path, "", "", params)) == expected


def test_the_registry_offers_the_loaded_specs_catalogue_for_vm_options() -> None:
    tools = build_registry(spec=_spec(extended_spec()))
    assert {kind: tool.name for kind, tool in catalogues(tools).items()} == {"regions": "list_regions"}
    assert catalogues(build_registry()) == {}
