"""validation.py on its own: every violation reported with path and expected form, prose rules, integers, ids."""

from __future__ import annotations

from neev_mcp.registry import build_registry
from neev_mcp.validation import no_negative_gpus, no_ssh_port, normalise_integers, path_segment_problem, violations

TOOLS = {t.name: t for t in build_registry({"org_id": "o", "project_id": "p"})}
CREATE = TOOLS["create_vm"].input_schema


def test_every_violation_is_listed_with_its_path_and_what_is_expected() -> None:
    problems = violations(CREATE, {"name": "Web_1", "region_id": "r", "vm_config_id": "c", "plan_id": "p",
                                   "root_disk": {"create_disk_request": {"name": "d", "size_gb": 5,
                                                                         "image_id": "i"}},
                                   "colour": "red"})
    assert problems == [
        "arguments: unknown field(s) 'colour'; allowed: " + ", ".join(sorted(CREATE["properties"])),
        "name: 'Web_1' does not match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ (lower-case letters, digits and '-', "
        "starting and ending with a letter or digit)",
        "root_disk.create_disk_request.size_gb: 5 is below the minimum 20",
    ]


def test_each_missing_field_is_named_once() -> None:
    assert violations(CREATE, {}) == ["name: required", "region_id: required", "vm_config_id: required",
                                      "plan_id: required", "root_disk: required"]


def test_a_long_value_is_clipped_in_the_message() -> None:
    [problem] = violations(TOOLS["get_vm"].input_schema, {"vm_id": "x" * 100})
    assert problem == f"vm_id: '{'x' * 56}... is not a valid uuid"


def test_port_22_is_refused_by_the_prose_rule_and_other_ports_pass() -> None:
    args = {"exposed_ports": [{"port": 443, "protocol": "tcp"}, {"port": 22, "protocol": "tcp"}]}
    assert no_ssh_port(args) == ["exposed_ports[1].port: port 22 is reserved for SSH and must not be listed; pass "
                                 "ssh_keys for SSH access instead"]
    assert no_ssh_port({"exposed_ports": [{"port": 80, "protocol": "tcp"}]}) == []
    assert TOOLS["create_vm"].problems(args) == no_ssh_port(args)
    assert TOOLS["list_vms"].problems(args) == []  # the rule belongs to create_vm's declaration only


def test_whole_number_floats_become_integers_where_the_schema_says_integer() -> None:
    args = {"limit": 100.0, "page": 2}
    assert normalise_integers(TOOLS["list_vms"].input_schema, args) == {"limit": 100, "page": 2}
    assert isinstance(normalise_integers(TOOLS["list_vms"].input_schema, args)["limit"], int)


def test_path_parameters_must_be_single_meaningful_segments() -> None:
    assert path_segment_problem("vm_id", "..") == "vm_id: '..' is not a valid identifier"
    assert path_segment_problem("vm_id", " ") == "vm_id: ' ' is not a valid identifier"
    assert path_segment_problem("vm_id", "a" * 257) == ("vm_id: 257 characters is longer than an identifier can be "
                                                        "(at most 256)")
    assert path_segment_problem("vm_id", "3f6c") is None


def test_the_gpu_count_rule_refuses_only_negative_counts() -> None:
    assert no_negative_gpus({"gpu_config_count": -1}) == [
        "gpu_config_count: -1 is below the minimum 0 (it counts GPU configurations; leave it out or pass 0 for a VM "
        "without GPUs)"]
    assert no_negative_gpus({"gpu_config_count": 0}) == no_negative_gpus({"gpu_config_count": 2}) == []
    assert no_negative_gpus({}) == no_negative_gpus({"gpu_config_count": True}) == []
    assert TOOLS["create_vm"].problems({"gpu_config_count": -1}) == no_negative_gpus({"gpu_config_count": -1})
