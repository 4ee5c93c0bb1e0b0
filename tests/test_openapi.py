"""The spec layer: operations parsed as the spec defines them, `$ref`s resolved, `allOf` wrappers folded."""

from __future__ import annotations

import json

import pytest

from neev_mcp.spec.openapi import input_schema, load_spec, parse_operations, resolve, snake_case

OPS = {op.operation_id: op for op in parse_operations(load_spec())}


def test_the_vendored_spec_is_the_shared_spec_byte_for_byte() -> None:
    from importlib import resources

    from .support.shared import shared_file

    shared = shared_file("neevcloud-vm-openapi.json", "that the vendored spec neev_mcp/spec/neevcloud-vm-openapi.json "
                         "is the project's shared NeevCloud OpenAPI spec")
    vendored = resources.files("neev_mcp").joinpath("spec", "neevcloud-vm-openapi.json").read_bytes()
    assert json.loads(vendored) == json.loads(shared.read_bytes())


def test_all_ten_operations_are_parsed_in_document_order() -> None:
    assert [(op.method, op.operation_id) for op in OPS.values()] == [
        ("GET", "listVMs"), ("POST", "createVM"), ("GET", "getVM"), ("DELETE", "deleteVM"),
        ("GET", "listRootDiskVolumes"), ("GET", "getRootDiskVolume"), ("DELETE", "deleteRootDiskVolume"),
        ("POST", "startVM"), ("POST", "stopVM"), ("POST", "restartVM"),
    ]


@pytest.mark.parametrize(
    ("operation_id", "tool"),
    [("listVMs", "list_vms"), ("listRootDiskVolumes", "list_root_disk_volumes"), ("getVM", "get_vm"),
     ("deleteRootDiskVolume", "delete_root_disk_volume"), ("restartVM", "restart_vm"), ("listGPUs", "list_gpus")],
)
def test_operation_ids_become_snake_case_tool_names(operation_id: str, tool: str) -> None:
    assert snake_case(operation_id) == tool


def test_path_query_and_body_parameters_are_separated() -> None:
    op = OPS["listVMs"]
    assert [p.name for p in op.path_params] == ["org_id", "project_id"]
    assert [p.name for p in op.query_params] == ["page", "limit"]
    assert op.body_schema is None
    assert OPS["createVM"].body_required is True
    assert OPS["deleteVM"].responses["202"] is None
    assert OPS["getVM"].responses["200"]["required"][0] == "id"


def test_a_ref_to_a_component_is_inlined_with_its_constraints() -> None:
    limit = next(p for p in OPS["listVMs"].query_params if p.name == "limit").schema
    assert limit == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20,
                     "description": "Page size for list endpoints (default 20, maximum 100)."}


def test_a_single_element_allof_wrapper_becomes_one_schema_and_keeps_the_wrappers_description() -> None:
    name = OPS["createVM"].body_schema["properties"]["name"]  # type: ignore[index]
    assert name == {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 20,
                    "description": "User-defined display name for the VM."}


def test_nullable_becomes_a_json_schema_type_union() -> None:
    vm = OPS["getVM"].responses["200"]
    assert vm["properties"]["public_ip"]["type"] == ["string", "null"]


def test_resolve_refuses_remote_refs() -> None:
    with pytest.raises(ValueError, match="only local"):
        resolve({"$ref": "https://example.com/x.json"}, {})


def test_split_arguments_sends_each_argument_where_the_spec_says() -> None:
    op = OPS["createVM"]
    path, query, body = op.split_arguments({"org_id": "o", "project_id": "p", "name": "a", "plan_id": "x",
                                            "confirmation_token": "never-sent"})
    assert path == {"org_id": "o", "project_id": "p"}
    assert query == {}
    assert body == {"name": "a", "plan_id": "x"}


def test_flattened_input_schema_is_a_closed_object_with_required_scope_unless_defaulted() -> None:
    schema = input_schema(OPS["getVM"])
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["org_id", "project_id", "vm_id"]
    defaulted = input_schema(OPS["getVM"], optional=frozenset({"org_id", "project_id"}))
    assert defaulted["required"] == ["vm_id"]
    assert set(defaulted["properties"]) == {"org_id", "project_id", "vm_id"}
