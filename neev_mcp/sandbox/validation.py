"""Request validation driven by the vendored OpenAPI spec, plus the rules only its prose states.

Validating against the same spec the real service publishes keeps the sandbox honest: a request the
sandbox accepts should be one the real API accepts, and error messages name the offending field.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .models import ApiError

if TYPE_CHECKING:  # jsonschema is imported on first validation: `neev-mcp --sandbox` starts faster without it
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SPEC_URI = "urn:neevcloud:vm-openapi"
REGIONS: tuple[str, ...] = ("in-mum-1", "in-del-1")
IMAGES: tuple[str, ...] = ("ubuntu-24.04", "ubuntu-22.04", "debian-12")
VM_CONFIGS: tuple[str, ...] = ("vcpu-2-ram-8", "vcpu-4-ram-16", "vcpu-8-ram-32", "gpu-h100-1", "gpu-l40s-1")
PLANS: tuple[str, ...] = ("hourly", "monthly")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_NAME_HINT = "use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 20 characters"
_INT_RE = re.compile(r"^[0-9]+$")
_REQUIRED_RE = re.compile(r"^'(.+)' is a required property$")


@functools.cache
def load_spec() -> dict[str, Any]:
    """The vendored OpenAPI document (package data, so it works from a wheel too)."""
    path = importlib.resources.files("neev_mcp") / "spec" / "neevcloud-vm-openapi.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _nullable_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` → JSON Schema ``type: [T, "null"]`` (needed to check responses)."""
    if isinstance(node, list):
        return [_nullable_to_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_jsonschema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True and isinstance(node.get("type"), str):
        out["type"] = [node["type"], "null"]
    return out


@functools.cache
def _validator(schema_name: str) -> Draft202012Validator:
    """A validator for one components/schemas entry, resolving the spec's internal ``$ref``s."""
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    spec = _nullable_to_jsonschema(load_spec())
    registry: Registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


def _field_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: ValidationError) -> str:
    """Turn a jsonschema error into ``field.path: what is wrong``."""
    where = _field_path(error.absolute_path)
    if error.validator == "required":
        found = _REQUIRED_RE.match(error.message)
        name = found.group(1) if found else "?"
        return f"{where + '.' if where else ''}{name}: is required"
    if where == "root_disk" and error.validator == "oneOf":
        return "root_disk: provide exactly one of attach_disk_request or create_disk_request"
    if error.validator == "pattern" and where.endswith("name"):
        return f"{where}: {error.instance!r} is not a valid name; {_NAME_HINT}"
    if error.validator == "maxLength" and where.endswith("name"):
        return f"{where}: {error.instance!r} is longer than 20 characters"
    if error.validator == "uniqueItems":
        return "" if where == "exposed_ports" else f"{where}: contains duplicate entries"  # see _business_errors
    return f"{where or 'body'}: {error.message}"


def schema_errors(schema_name: str, instance: Any) -> list[str]:
    """All violations of ``instance`` against a components/schemas entry, most relevant first.

    Works for requests and responses alike (tests use it to check the sandbox answers per spec).
    """
    from jsonschema.exceptions import relevance

    errors = sorted(_validator(schema_name).iter_errors(instance), key=relevance, reverse=True)
    seen: list[str] = []
    for err in errors:
        text = _describe(err)
        if text and text not in seen:
            seen.append(text)
    return seen


def _business_errors(body: Mapping[str, Any]) -> list[str]:
    """Rules stated only in the spec's descriptions."""
    problems: list[str] = []
    seen_ports: set[tuple[Any, Any]] = set()
    for i, port in enumerate(body.get("exposed_ports") or []):
        if not isinstance(port, dict):
            continue
        if port.get("port") == 22:
            problems.append(f"exposed_ports[{i}].port: port 22 is reserved for SSH; provide ssh_keys instead")
        key = (port.get("port"), port.get("protocol"))
        if key in seen_ports:
            problems.append(f"exposed_ports[{i}]: duplicate port/protocol pair {key[0]}/{key[1]}")
        seen_ports.add(key)
    for name in ("vm_config_id", "plan_id", "region_id"):
        if isinstance(body.get(name), str) and not body[name].strip():
            problems.append(f"{name}: must not be empty")
    gpus = body.get("gpu_config_count")
    if isinstance(gpus, int) and not isinstance(gpus, bool) and gpus < 0:
        problems.append("gpu_config_count: must be >= 0")
    return problems


def validate_create_vm(body: Any) -> dict[str, Any]:
    """Validate a createVM body; raises a 400 ``invalid_request`` naming up to three problems."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "request body must be a JSON object (CreateVMRequest)")
    problems = schema_errors("CreateVMRequest", body)
    problems += [p for p in _business_errors(body) if p not in problems]
    if problems:
        extra = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ApiError(400, "invalid_request", "invalid request body: " + "; ".join(problems[:3]) + extra)
    return body


def check_catalog(body: Mapping[str, Any], image_id: str | None) -> None:
    """An unknown region, VM configuration, plan or image → 404 listing the values that exist, as the real API
    sometimes does, so the caller can self-correct."""
    for value, noun, known in ((body["region_id"], "region", REGIONS), (body["vm_config_id"], "VM configuration",
                               VM_CONFIGS), (body["plan_id"], "plan", PLANS), (image_id, "image", IMAGES)):
        if value is not None and value not in known:
            raise ApiError(404, "not_found", f"{noun} {value!r} not found; valid {noun}s: {', '.join(known)}")


def parse_uuid(value: str, param: str) -> str:
    """Path ids must be canonical UUIDs (spec: format uuid); returns the lower-case form."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        parsed = None
    if parsed is None or len(value) != 36 or any(value[i] != "-" for i in (8, 13, 18, 23)):
        raise ApiError(400, "invalid_request", f"{param}: {value!r} is not a valid UUID")
    return str(parsed)


def _int_param(query: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    bounds = f"between {low} and {high}" if high is not None else f">= {low}"
    if not _INT_RE.match(raw.strip()) or not (low <= int(raw) and (high is None or int(raw) <= high)):
        raise ApiError(400, "invalid_request", f"query parameter {name}: must be an integer {bounds}, got {raw!r}")
    return int(raw)


def parse_paging(query: Mapping[str, str]) -> tuple[int, int]:
    """``page`` ≥ 1 (default 1) and ``limit`` 1–100 (default 20), as in the spec's ListLimit."""
    return _int_param(query, "page", 1, 1, None), _int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
