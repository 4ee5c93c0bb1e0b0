"""Fuzzing every tool with arguments generated from its own input schema (as tools/list sends it).

Valid arguments → never an exception or a JSON-RPC error, and every request that reaches the sandbox is one its
spec validator accepts (no 400 `invalid_request`). Invalid arguments (a valid set, then one mutation) → an `isError`
result and not a single upstream request.

The default run is a few hundred cases; `NEEV_FUZZ_EXAMPLES=10000` runs that many in total (docs/benchmarks.md).
"""

from __future__ import annotations

import copy
import json
import os
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from mcp import Client
from mcp.types import CallToolResult

from neev_mcp.sandbox import Sandbox

from .conftest import MakeServer
from .support import text as text_of

TOOLS = ["list_vms", "create_vm", "get_vm", "delete_vm", "start_vm", "stop_vm", "restart_vm",
         "list_root_disk_volumes", "get_root_disk_volume", "delete_root_disk_volume", "project_overview",
         "wait_for_vm", "vm_options"]
TOTAL = int(os.environ.get("NEEV_FUZZ_EXAMPLES", "400"))
WEIGHT = {"create_vm": 4}  # the one deep schema gets more of the budget
_SHARES = 2 * (len(TOOLS) + sum(w - 1 for w in WEIGHT.values()))  # valid + invalid, per weighted tool
PER_TEST = {t: max(5, -(-TOTAL * WEIGHT.get(t, 1) // _SHARES)) for t in TOOLS}  # rounded up: at least TOTAL in all

FUZZ = settings(deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much, HealthCheck.data_too_large])


# -- a small JSON Schema → hypothesis strategy generator (the keywords our tool schemas use) ---------------------------

B64 = string.ascii_letters + string.digits + "+/"
SSH_KEY_PATTERN = r"^(ssh-rsa|ssh-ed25519)\s+[A-Za-z0-9+/]+[=]{0,2}(\s+.*)?$"


def _ssh_keys(min_len: int, max_len: int) -> st.SearchStrategy[str]:
    # from_regex alone almost never reaches minLength 50; build the same language with the length in range.
    comment = st.one_of(st.just(""), st.text(string.ascii_letters + string.digits + "@.-_ ", max_size=30).map(
        lambda c: " " + c))
    key = st.builds(lambda kind, sep, body, pad, tail: f"{kind}{sep}{body}{pad}{tail}",
                    st.sampled_from(["ssh-rsa", "ssh-ed25519"]), st.sampled_from([" ", "  ", "\t"]),
                    st.text(B64, min_size=min_len, max_size=min(max_len - 20, min_len + 80)),
                    st.sampled_from(["", "=", "=="]), comment)
    return key.filter(lambda k: min_len <= len(k) <= max_len)


PATTERN_STRATEGIES = {SSH_KEY_PATTERN: _ssh_keys}


def from_schema(schema: dict[str, Any], hints: dict[str, st.SearchStrategy[Any]], name: str = "") -> st.SearchStrategy:
    """Values valid against `schema`; `hints[name]` mixes in realistic values (known ids) for a property."""
    base = _from_schema(schema, hints)
    return st.one_of(hints[name], base) if name in hints else base


def _from_schema(schema: dict[str, Any], hints: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    types = schema.get("type")
    if isinstance(types, list):
        return st.one_of(*(_from_schema({**schema, "type": t}, hints) for t in types))
    if types == "null":
        return st.none()
    if types == "boolean":
        return st.booleans()
    if types == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if types == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if types == "string":
        return _string(schema)
    if types == "array":
        items = _from_schema(schema.get("items", {}), hints)
        unique = {"unique_by": lambda v: json.dumps(v, sort_keys=True)} if schema.get("uniqueItems") else {}
        max_items = min(schema.get("maxItems", 4), 4 + schema.get("minItems", 0))
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=max_items, **unique)
    if types == "object":
        return _object(schema, hints)
    raise AssertionError(f"the fuzz generator does not know this schema: {schema}")


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    lo, hi = schema.get("minLength", 0), schema.get("maxLength")
    if schema.get("format") == "uuid":
        return st.uuids().map(str)
    pattern = schema.get("pattern")
    if pattern in PATTERN_STRATEGIES:
        return PATTERN_STRATEGIES[pattern](lo, hi or lo + 200)
    if pattern:
        return st.from_regex(pattern, fullmatch=True).filter(lambda s: lo <= len(s) <= (hi or 10**6))
    return st.text(min_size=lo, max_size=min(hi or 40, lo + 40))


def _object(schema: dict[str, Any], hints: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    branches = [set(b.get("required", [])) for b in schema.get("oneOf", [])] or [set()]
    exclusive = set().union(*branches)
    options = []
    for branch in branches:  # oneOf of required sets: exactly one branch's properties, none of the others'
        must = required | branch
        may = set(props) - must - exclusive
        options.append(st.fixed_dictionaries(
            {k: from_schema(props[k], hints, k) for k in sorted(must)},
            optional={k: from_schema(props[k], hints, k) for k in sorted(may)},
        ))
    return st.one_of(*options)


# -- mutations that make a valid argument set invalid ----------------------------------------------------------------

def _slots(schema: dict[str, Any], value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], dict]]:
    """Every (path, schema) pair inside a valid value, the value itself included."""
    found = [(path, schema)]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _slots(schema.get("properties", {}).get(key, {}), item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _slots(schema.get("items", {}), item, (*path, i))
    return found


def _breakers(schema: dict[str, Any], value: Any) -> list[Any]:
    """Replacement values that violate `schema` (a sentinel `_DROP_REQUIRED` etc. for structural changes)."""
    out: list[Any] = []
    t = schema.get("type")
    wrong_type = {"string": 7, "integer": "7", "number": "1.5", "boolean": "true", "array": {"x": 1}, "object": [1]}
    if isinstance(t, str):
        out.append(wrong_type[t])
        if t in ("integer", "number"):
            out.append(1.5 if t == "integer" else None)
    if "enum" in schema:
        out.append("not-in-the-enum")
    if "minimum" in schema:
        out.append(schema["minimum"] - 1)
    if "maximum" in schema:
        out.append(schema["maximum"] + 1)
    if "maxLength" in schema:
        out.append("a" * (schema["maxLength"] + 1))
    if schema.get("minLength", 0) > 0:
        out.append("")
    if "pattern" in schema:
        out.append("Not A Valid Value!")
    if schema.get("format") == "uuid":
        out += ["not-a-uuid", "6f1c2b7e0d2a4c1e9a552b8f3f6f9a10"]
    if t == "array" and isinstance(value, list):
        out.append([*value, *([value[0]] if value else [])] * (schema.get("maxItems", 0) + 1) or None)
        if schema.get("uniqueItems") and value:
            out.append([value[0], value[0]])
    if t == "object" and isinstance(value, dict):
        out.append({**value, "unexpected_field": 1})
        out += [{k: v for k, v in value.items() if k != r} for r in schema.get("required", [])]
        if "oneOf" in schema:
            out.append({})
    return [b for b in out if b is not None]


def _set(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy_ = copy.deepcopy(value)
    target = copy_
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return copy_


def invalid_from(schema: dict[str, Any], valid: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    slots = [(p, s, b) for p, s in _slots(schema, valid) for b in _breakers(s, _get(valid, p))
             if p or isinstance(b, dict)]  # MCP arguments are always an object: the client cannot send anything else
    path, _, broken = data.draw(st.sampled_from(slots), label="mutation")
    # The server fills configured org/project defaults for a missing or empty value: that is not a mutation.
    assume(not (len(path) == 1 and path[0] in ("org_id", "project_id") and broken in (None, "")))
    return _set(valid, path, broken)


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


# -- the tests -------------------------------------------------------------------------------------------------------

def prose_rule_broken(args: dict[str, Any]) -> bool:
    """Rules that are in the spec's prose (port 22) or only in the sandbox's idea of sense (non-empty ids, no negative
    GPU count), not in the schema, so no schema-driven generator can know them (one is tested separately below)."""
    ports = [p.get("port") for p in args.get("exposed_ports") or [] if isinstance(p, dict)]
    gpus = args.get("gpu_config_count")
    ids = ("vm_config_id", "plan_id", "region_id")
    blank_id = any(isinstance(args.get(k), str) and not args[k].strip() for k in ids)
    return 22 in ports or (isinstance(gpus, int) and gpus < 0) or blank_id


def hints_for(tool: str, sandbox: Sandbox) -> dict[str, st.SearchStrategy[Any]]:
    vm_ids = sorted(sandbox.vms)
    disk_ids = sorted(sandbox.root_disks)
    hints: dict[str, st.SearchStrategy[Any]] = {
        "org_id": st.just("demo-org"), "project_id": st.just("demo-project"),
        "vm_id": st.sampled_from(vm_ids), "root_disk_id": st.sampled_from(disk_ids),
        "region_id": st.sampled_from(["in-mum-1", "in-del-1"]), "image_id": st.just("ubuntu-24.04"),
    }
    if tool == "wait_for_vm":  # known VMs would make it poll in real time; unknown ids answer at once
        hints.pop("vm_id")
        hints["timeout_seconds"] = st.just(1)
    return hints


@dataclass
class Session:
    """One MCP session shared by every example of a test, on an event loop in a worker thread."""

    portal: BlockingPortal
    client: Client
    sandbox: Sandbox

    def call(self, tool: str, args: dict[str, Any]) -> CallToolResult:
        return self.portal.call(self.client.call_tool, tool, args)  # a JSON-RPC error raises here


@pytest.fixture
def session(make_server: MakeServer, sandbox: Sandbox) -> Iterator[Session]:
    server = make_server(max_attempts=1)
    with start_blocking_portal() as portal, \
            portal.wrap_async_context_manager(Client(server, raise_exceptions=True)) as client:
        yield Session(portal, client, sandbox)


_CACHE: dict[tuple[int, str], tuple[dict[str, Any], st.SearchStrategy[Any]]] = {}


def schema_and_strategy(session: Session, tool: str) -> tuple[dict, st.SearchStrategy]:
    """The input schema exactly as tools/list sends it over MCP, and the generator built from it."""
    key = (id(session), tool)
    if key not in _CACHE:
        listed = session.portal.call(session.client.list_tools)
        schema = next(t.input_schema for t in listed.tools if t.name == tool)
        _CACHE.clear()
        _CACHE[key] = (schema, from_schema(schema, hints_for(tool, session.sandbox)))
    return _CACHE[key]



def schema_valid(schema: dict[str, Any], args: Any) -> bool:
    return Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(args)


def check_valid_case(session: Session, tool: str, data: st.DataObject) -> None:
    sandbox = session.sandbox
    schema, strategy = schema_and_strategy(session, tool)
    args = data.draw(strategy, label="arguments")
    assert schema_valid(schema, args), f"the generator made invalid arguments: {args!r}"
    assume(not prose_rule_broken(args))
    sandbox.clear_requests()  # the log is a ring (finding 8 of issue 12): compare against an empty one, not a length
    result = session.call(tool, args)
    text = text_of(result)
    assert "internal error in neev-mcp" not in text, text
    assert "[invalid_request]" not in text, f"the sandbox rejected a valid call: {text}"
    assert not any(r.status == 400 and "invalid_request" in json.dumps(r.body) for r in sandbox.requests)
    if text.startswith(f"Invalid arguments for {tool}"):
        # refused before sending: only a path segment like '..', or an empty org_id/project_id (never the default)
        assert "is not a valid identifier" in text or re.search(r"- (org|project)_id: '[^']*' names no ",
                                                                text), text


def check_invalid_case(session: Session, tool: str, data: st.DataObject) -> None:
    sandbox = session.sandbox
    schema, strategy = schema_and_strategy(session, tool)
    args = invalid_from(schema, data.draw(strategy, label="valid arguments"), data)
    assume(not schema_valid(schema, args))
    sandbox.clear_requests()
    result = session.call(tool, args)
    assert result.is_error, f"{tool} accepted invalid arguments {args!r}"
    assert text_of(result).startswith(f"Invalid arguments for {tool} (nothing was sent to NeevCloud):")
    assert sandbox.requests == []


SIMPLE = [t for t in TOOLS if t != "create_vm"]


@pytest.mark.parametrize("tool", SIMPLE)
@settings(FUZZ, max_examples=PER_TEST["list_vms"])
@given(data=st.data())
def test_valid_generated_arguments_never_crash_and_make_spec_conformant_requests(
    tool: str, session: Session, data: st.DataObject
) -> None:
    check_valid_case(session, tool, data)


@settings(FUZZ, max_examples=PER_TEST["create_vm"])
@given(data=st.data())
def test_valid_generated_create_vm_arguments_make_spec_conformant_requests(
    session: Session, data: st.DataObject
) -> None:
    check_valid_case(session, "create_vm", data)


@pytest.mark.parametrize("tool", SIMPLE)
@settings(FUZZ, max_examples=PER_TEST["list_vms"])
@given(data=st.data())
def test_invalid_arguments_are_refused_with_is_error_and_never_reach_the_api(
    tool: str, session: Session, data: st.DataObject
) -> None:
    check_invalid_case(session, tool, data)


@settings(FUZZ, max_examples=PER_TEST["create_vm"])
@given(data=st.data())
def test_invalid_create_vm_arguments_are_refused_and_never_reach_the_api(
    session: Session, data: st.DataObject
) -> None:
    check_invalid_case(session, "create_vm", data)


def test_a_rule_only_the_spec_prose_states_is_refused_with_a_clear_error(session: Session, sandbox: Sandbox) -> None:
    args = {"name": "web-9", "region_id": "in-mum-1", "vm_config_id": "vcpu-4-ram-16", "plan_id": "hourly",
            "root_disk": {"create_disk_request": {"name": "web-9-root", "size_gb": 40, "image_id": "ubuntu-24.04"}},
            "exposed_ports": [{"port": 22, "protocol": "tcp"}]}
    result = session.call("create_vm", args)
    assert result.is_error
    assert text_of(result) == (
        "Invalid arguments for create_vm (nothing was sent to NeevCloud):\n"
        "- exposed_ports[0].port: port 22 is reserved for SSH and must not be listed; pass ssh_keys for SSH access "
        "instead"
    )
    assert not [v for v in sandbox.vms.values() if v.name == "web-9"]
    assert not [r for r in sandbox.requests if r.method == "POST"]


def test_a_negative_gpu_count_is_refused_by_the_reviewed_rule_and_nothing_is_sent(
    session: Session, sandbox: Sandbox
) -> None:
    sandbox.clear_requests()
    args = {"name": "web-9", "region_id": "in-mum-1", "vm_config_id": "vcpu-4-ram-16", "plan_id": "hourly",
            "root_disk": {"create_disk_request": {"name": "web-9-root", "size_gb": 40, "image_id": "ubuntu-24.04"}},
            "gpu_config_count": -3}
    result = session.call("create_vm", args)
    assert result.is_error
    assert text_of(result) == (
        "Invalid arguments for create_vm (nothing was sent to NeevCloud):\n"
        "- gpu_config_count: -3 is below the minimum 0 (it counts GPU configurations; leave it out or pass 0 for a "
        "VM without GPUs)")
    assert sandbox.requests == []  # not even the name look-up: the arguments are refused first
