"""Argument validation against a tool's own input schema, before anything is sent.

Draft 2020-12 with formats enforced (`uuid`, `date-time`). Every violation is reported, each as
`<path>: <what is wrong>, <what is expected>`, so a model can fix all of them in one retry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from .text import clip

if TYPE_CHECKING:  # jsonschema (+ its format checkers) is imported on the first call, not at start-up
    from jsonschema import Draft202012Validator, ValidationError

_NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_PATTERN_HINTS = {
    _NAME_PATTERN: "lower-case letters, digits and '-', starting and ending with a letter or digit",
}


@cache
def _validator(schema_json: str) -> Draft202012Validator:
    import json

    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_json), format_checker=_formats())


@cache
def _formats() -> Any:
    from jsonschema import FormatChecker

    return FormatChecker()


def validator_for(schema: Mapping[str, Any]) -> Draft202012Validator:
    import json

    return _validator(json.dumps(schema, sort_keys=True))


def violations(schema: Mapping[str, Any], arguments: Any) -> list[str]:
    """Every way `arguments` breaks `schema`, as sentences; empty when valid."""
    errors = sorted(
        validator_for(schema).iter_errors(arguments), key=lambda e: (list(map(str, e.absolute_path)), e.validator)
    )
    out: list[str] = []
    for error in errors:
        for line in _describe(error).split("\n"):
            if line not in out:  # one "required" error is raised per missing field; each names all of them
                out.append(line)
    return out


def normalise_integers(schema: Mapping[str, Any], value: Any) -> Any:
    """`100.0` is an integer to JSON Schema but not to a typed API (`limit=100.0`, `"size_gb": 20.0`): send `100`."""
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: normalise_integers(props[k], v) if k in props else v for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [normalise_integers(schema["items"], v) for v in value]
    return value


# -- rules the spec states only in prose: the registry attaches each to the tool whose operation states it -------
Rule = Callable[[Mapping[str, Any]], list[str]]


def no_ssh_port(arguments: Mapping[str, Any]) -> list[str]:
    """createVM's `exposed_ports`: "Port 22 must not be listed; use ssh_keys for SSH access instead."."""
    return [f"exposed_ports[{i}].port: port 22 is reserved for SSH and must not be listed; pass ssh_keys for SSH "
            "access instead"
            for i, entry in enumerate(arguments.get("exposed_ports") or [])
            if isinstance(entry, Mapping) and entry.get("port") == 22]


def no_negative_gpus(arguments: Mapping[str, Any]) -> list[str]:
    """createVM's `gpu_config_count`: "The number of GPU configurations need to be attached to the VM." A number of
    things is never negative, but the schema says only `integer`, so -3 would reach NeevCloud to be refused there.
    Reviewed as a rule (not a `minimum` in the schema): the tool keeps the schema it was reviewed with, so spec drift
    checks still compare like with like."""
    count = arguments.get("gpu_config_count")
    if isinstance(count, int) and not isinstance(count, bool) and count < 0:
        return [f"gpu_config_count: {count} is below the minimum 0 (it counts GPU configurations; leave it out or "
                "pass 0 for a VM without GPUs)"]
    return []


MAX_PATH_PARAM = 256  # an id in a URL path; a longer one is a mistake, and would be refused as an invalid URL


def path_segment_problem(name: str, value: Any) -> str | None:
    """Path parameters must be single, meaningful segments: `..`, `.` and empty strings would change the URL."""
    if isinstance(value, str) and value.strip() in {"", ".", ".."}:
        return f"{name}: {value!r} is not a valid identifier"
    if isinstance(value, str) and len(value) > MAX_PATH_PARAM:
        return f"{name}: {len(value)} characters is longer than an identifier can be (at most {MAX_PATH_PARAM})"
    return None


def _where(error: ValidationError) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in error.absolute_path]
    text = ""
    for part in parts:
        text += part if part.startswith("[") or not text else f".{part}"
    return text or "arguments"


def _show(value: Any) -> str:
    return clip(repr(value), 60, marker="...")


def _describe(e: ValidationError) -> str:
    where, v, inst = _where(e), e.validator, e.instance
    expected = e.validator_value
    if v == "required":
        missing = [m for m in expected if isinstance(inst, dict) and m not in inst]
        prefix = f"{where}." if where != "arguments" else ""
        return "\n".join(f"{prefix}{m}: required" for m in missing) or f"{where}: missing a required field"
    if v == "additionalProperties":
        allowed = sorted(e.schema.get("properties", {}))
        extra = sorted(k for k in inst if k not in e.schema.get("properties", {})) if isinstance(inst, dict) else []
        names = ", ".join(repr(x) for x in extra)
        return f"{where}: unknown field(s) {names}; allowed: {', '.join(allowed)}"
    if v == "minimum":
        return f"{where}: {_show(inst)} is below the minimum {expected}"
    if v == "maximum":
        return f"{where}: {_show(inst)} is above the maximum {expected}"
    if v == "exclusiveMinimum":
        return f"{where}: {_show(inst)} must be greater than {expected}"
    if v == "exclusiveMaximum":
        return f"{where}: {_show(inst)} must be less than {expected}"
    if v == "pattern":
        hint = _PATTERN_HINTS.get(expected)
        return f"{where}: {_show(inst)} does not match {expected}" + (f" ({hint})" if hint else "")
    if v == "maxLength":
        return f"{where}: {_show(inst)} is longer than {expected} characters"
    if v == "minLength":
        return f"{where}: {_show(inst)} is shorter than {expected} characters"
    if v == "enum":
        return f"{where}: {_show(inst)} is not one of {', '.join(map(str, expected))}"
    if v == "const":
        return f"{where}: must be {expected!r}"
    if v == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return f"{where}: expected {' or '.join(kinds)}, got {_json_type(inst)} {_show(inst)}"
    if v == "format":
        return f"{where}: {_show(inst)} is not a valid {expected}"
    if v == "maxItems":
        return f"{where}: has {len(inst)} items, at most {expected} allowed"
    if v == "minItems":
        return f"{where}: has {len(inst)} items, at least {expected} required"
    if v == "uniqueItems":
        return f"{where}: items must be unique (a duplicate was given)"
    if v in ("oneOf", "anyOf"):
        choices = [sorted(s.get("required", [])) for s in expected]
        if all(choices):
            names = " or ".join("+".join(c) for c in choices)
            return f"{where}: give exactly one of {names}"
        return f"{where}: does not match exactly one allowed form"
    return f"{where}: {e.message}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
