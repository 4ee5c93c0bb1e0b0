"""Invariants over every tool in the registry: names, annotations, schema shape, and every spec constraint kept."""

from __future__ import annotations

from typing import Any

import pytest

from neev_mcp.registry import MAX_NAME_LENGTH, OVERLAYS, build_registry
from neev_mcp.spec.openapi import load_spec, parse_operations

CONSTRAINTS = ("type", "pattern", "minimum", "maximum", "minLength", "maxLength", "enum", "minItems", "maxItems",
               "uniqueItems", "format", "default", "required", "oneOf")
TOOLS = build_registry()
TOOLS_WITH_DEFAULTS = build_registry({"org_id": "o", "project_id": "p"})
SPEC_TOOLS = [t for t in TOOLS if t.operation is not None]

# interface.md: reads readOnly; delete_* destructive; create/start/stop/restart neither.
EXPECTED_HINTS = {
    "list_vms": (True, False), "get_vm": (True, False), "list_root_disk_volumes": (True, False),
    "get_root_disk_volume": (True, False), "project_overview": (True, False), "wait_for_vm": (True, False),
    "vm_options": (True, False), "dashboard_snapshot": (True, False),
    "delete_vm": (False, True), "delete_root_disk_volume": (False, True),
    "create_vm": (False, False), "start_vm": (False, False), "stop_vm": (False, False), "restart_vm": (False, False),
}


def test_there_is_one_tool_per_spec_operation_plus_the_helpers_in_a_fixed_order() -> None:
    assert [t.name for t in TOOLS] == [
        "list_vms", "create_vm", "get_vm", "delete_vm", "list_root_disk_volumes", "get_root_disk_volume",
        "delete_root_disk_volume", "start_vm", "stop_vm", "restart_vm", "project_overview", "wait_for_vm",
        "vm_options", "dashboard_snapshot",  # MCP Apps: listed only to clients that negotiated the extension
    ]
    assert [t.name for t in build_registry()] == [t.name for t in TOOLS]


def test_the_overlay_table_covers_exactly_the_operations_of_the_spec() -> None:
    assert set(OVERLAYS) == {op.operation_id for op in parse_operations(load_spec())}


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_every_tool_has_a_short_name_a_title_a_description_and_deliberate_hints(tool: Any) -> None:
    assert len(tool.name) <= MAX_NAME_LENGTH == 60 and tool.name.replace("_", "").isalnum() and tool.name.islower()
    assert tool.title and tool.description
    assert (tool.hints.read_only, tool.hints.destructive) == EXPECTED_HINTS[tool.name]
    assert all(isinstance(v, bool) for v in vars(tool.hints).values())
    if tool.hints.read_only:
        assert tool.hints.idempotent and not tool.hints.destructive


@pytest.mark.parametrize("tool", TOOLS + TOOLS_WITH_DEFAULTS, ids=lambda t: t.name)
def test_every_input_schema_is_a_closed_object_without_top_level_combinators(tool: Any) -> None:
    schema = tool.input_schema
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert not {"oneOf", "anyOf", "allOf", "not", "$ref", "$defs"} & set(schema)
    assert set(schema.get("required", [])) <= set(schema["properties"])
    assert "$ref" not in repr(schema)


@pytest.mark.parametrize("tool", SPEC_TOOLS, ids=lambda t: t.name)
def test_every_constraint_of_the_spec_survives_into_the_tool_schema(tool: Any) -> None:
    op = tool.operation
    for arg, (location, api_name) in op.argument_locations().items():
        if location == "body":
            source = op.body_schema["properties"][api_name]
        else:
            source = next(p.schema for p in op.parameters if p.name == api_name)
        _assert_constraints_kept(source, tool.input_schema["properties"][arg], arg)


def _assert_constraints_kept(source: Any, target: Any, where: str) -> None:
    if isinstance(source, dict):
        assert isinstance(target, dict), where
        for key in CONSTRAINTS:
            if key in source and key != "oneOf":
                assert target.get(key) == source[key], f"{where}.{key}"
        for key, value in source.items():
            if isinstance(value, dict | list) and key not in ("description",):
                assert key in target, f"{where}.{key} dropped"
                _assert_constraints_kept(value, target[key], f"{where}.{key}")
    elif isinstance(source, list):
        assert isinstance(target, list) and len(source) == len(target), where
        for i, (s, t) in enumerate(zip(source, target, strict=True)):
            _assert_constraints_kept(s, t, f"{where}[{i}]")


def test_scope_arguments_are_required_without_defaults_and_optional_with_them() -> None:
    for tool in TOOLS:
        assert {"org_id", "project_id"} <= set(tool.input_schema.get("required", [])), tool.name
    for tool in TOOLS_WITH_DEFAULTS:
        assert not {"org_id", "project_id"} & set(tool.input_schema.get("required", [])), tool.name
        assert tool.input_schema["properties"]["org_id"]["default"] == "o"


def test_only_the_destructive_tools_are_gated_by_default_and_carry_a_confirmation_token_argument() -> None:
    gated = {t.name for t in TOOLS if t.gated}
    assert gated == {"delete_vm", "delete_root_disk_volume"}
    for tool in TOOLS:
        assert ("confirmation_token" in tool.input_schema["properties"]) == tool.gated
        assert "confirmation_token" not in tool.input_schema.get("required", [])


def test_the_root_disk_attach_or_create_choice_is_kept() -> None:
    create = next(t for t in TOOLS if t.name == "create_vm")
    root_disk = create.input_schema["properties"]["root_disk"]
    assert root_disk["oneOf"] == [{"required": ["attach_disk_request"]}, {"required": ["create_disk_request"]}]
    assert root_disk["properties"]["create_disk_request"]["properties"]["size_gb"]["minimum"] == 20
