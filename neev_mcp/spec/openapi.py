"""The spec layer: the vendored OpenAPI document → `Operation` models and flattened input schemas.

Descriptions are made leaner by `compact` (its own module: heuristics, not parsing).

Pure on purpose (stdlib only, no MCP, no HTTP) so that every tool schema can be derived and tested without I/O.
The vendored spec is the single source of tool schemas; nothing here invents a constraint the spec lacks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from typing import Any, Literal

from .compact import compact, restates_name

SPEC_RESOURCE = "neevcloud-vm-openapi.json"
HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete")

Location = Literal["path", "query", "body"]


@dataclass(frozen=True)
class Parameter:
    """A path or query parameter, with its schema already resolved."""

    name: str
    location: Location
    required: bool
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Operation:
    """One API operation, as the spec defines it."""

    operation_id: str
    method: str  # upper case
    path: str  # template, e.g. /api/v1/orgs/{org_id}/projects/{project_id}/vms
    summary: str
    description: str
    parameters: tuple[Parameter, ...]
    body_schema: dict[str, Any] | None = None
    body_required: bool = False
    # status code → resolved response schema (None for an empty body, e.g. 202 on delete)
    responses: Mapping[str, dict[str, Any] | None] = field(default_factory=dict)

    @cached_property  # asked on every request of a 2,000-page walk
    def tool_name(self) -> str:
        return snake_case(self.operation_id)

    @property
    def path_params(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == "path")

    @property
    def query_params(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == "query")

    def argument_locations(self) -> dict[str, tuple[Location, str]]:
        """Tool argument name → (where it goes, its name in the API).

        Path and query parameters keep their names; body properties that would clash with one get a `_body` suffix
        (none do in this spec, but a spec update must not silently merge two fields).
        """
        where: dict[str, tuple[Location, str]] = {p.name: (p.location, p.name) for p in self.parameters}
        for prop in (self.body_schema or {}).get("properties", {}):
            arg = prop
            while arg in where:  # `org_id_body` may itself be a body field: never overwrite one
                arg += "_body"
            where[arg] = ("body", prop)
        return where

    def split_arguments(
        self, arguments: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        """Split validated tool arguments into (path params, query params, JSON body); unknown names are dropped."""
        path: dict[str, Any] = {}
        query: dict[str, Any] = {}
        body: dict[str, Any] | None = {} if self.body_schema is not None else None
        for arg, (location, api_name) in self.argument_locations().items():
            if arg not in arguments:
                continue
            if location == "path":
                path[api_name] = arguments[arg]
            elif location == "query":
                query[api_name] = arguments[arg]
            elif body is not None:
                body[api_name] = arguments[arg]
        if body == {} and not self.body_required:
            body = None  # an optional body the caller gave nothing for is not sent (an empty one may be invalid)
        return path, query, body


def snake_case(name: str) -> str:
    """`listVMs` → `list_vms`, `listRootDiskVolumes` → `list_root_disk_volumes`, `getVM` → `get_vm`.

    An upper-case run followed by a plural `s` (`VMs`, `GPUs`) is one word, not `V_Ms`.
    """
    return "_".join(word.lower() for word in _WORD.findall(name))


_WORD = re.compile(r"[A-Z]+s(?=[A-Z]|$)|[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@cache
def load_spec() -> dict[str, Any]:
    """The vendored spec, read once per process."""
    text = resources.files("neev_mcp").joinpath("spec", SPEC_RESOURCE).read_text(encoding="utf-8")
    return json.loads(text)


def resolve(schema: Any, spec: Mapping[str, Any], _seen: tuple[str, ...] = ()) -> Any:
    """Inline every local `$ref` and fold single-element `allOf` wrappers.

    `{"allOf": [{"$ref": ResourceName}], "description": d}` becomes ResourceName's schema with `d` as description: a
    wrapper's own keywords win, which is what the spec author meant by putting them beside the `allOf`.
    OpenAPI 3.0 `nullable: true` becomes a JSON Schema type union, so the result is valid Draft 2020-12.
    """
    if isinstance(schema, list):
        return [resolve(item, spec, _seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, got {ref!r}")
        if ref in _seen:
            raise ValueError(f"recursive $ref {ref!r} cannot be inlined")
        target: Any = spec
        for part in ref[2:].split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or key not in target:
                raise ValueError(f"$ref {ref!r} points at nothing in the document")
            target = target[key]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        # No copy needed: resolve() builds new containers all the way down and never mutates what it reads.
        return {**resolve(target, spec, (*_seen, ref)), **resolve(siblings, spec, _seen)}
    out = {key: resolve(value, spec, _seen) for key, value in schema.items()}
    all_of = out.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
        inner = all_of[0]
        out = {**inner, **{k: v for k, v in out.items() if k != "allOf"}}
    if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        # OpenAPI 3.0's boolean modifier of minimum/maximum is a number of its own in 3.1 and Draft 2020-12
        if isinstance(out.get(exclusive), bool):
            flag = out.pop(exclusive)
            if flag and bound in out:
                out[exclusive] = out.pop(bound)
    return out


def parse_operations(spec: Mapping[str, Any]) -> list[Operation]:
    """Every operation of the spec, in document order; the first one that cannot be read raises `ValueError`."""
    return [parse_operation(spec, path, method) for path, method in operation_locations(spec)]


def operation_locations(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(path, lower-case method) of every operation, in document order."""
    return [(path, method) for path, item in spec.get("paths", {}).items() if isinstance(item, Mapping)
            for method in HTTP_METHODS if method in item]


def parse_operation(spec: Mapping[str, Any], path: str, method: str) -> Operation:
    """One operation as the spec defines it; `ValueError` saying why when it cannot become a tool."""
    item = spec["paths"][path]
    raw = item[method]
    if not isinstance(raw, Mapping):
        raise ValueError("is not an object")
    if not isinstance(raw.get("operationId"), str) or not raw["operationId"].strip():
        raise ValueError("has no operationId (tools are named after operationIds)")
    try:
        shared = item.get("parameters", [])
        # an operation's own parameter overrides a path-level one of the same name and location
        declared = {(p.name, p.location): p for p in
                    (_parameter(r, spec) for r in [*shared, *raw.get("parameters", [])]) if p is not None}
        params = tuple(declared.values())
        _check_path_template(path, params)
        body_schema, body_required = _body(raw.get("requestBody"), spec)
        responses = {status: _response_schema(resp, spec) for status, resp in raw.get("responses", {}).items()}
    except (KeyError, TypeError, AttributeError) as exc:  # a dangling $ref or a malformed object
        raise ValueError(f"cannot be read ({type(exc).__name__}: {exc})") from None
    return Operation(
        operation_id=raw["operationId"],
        method=method.upper(),
        path=path,
        summary=str(raw.get("summary", "")).strip(),
        description=str(raw.get("description", "")).strip(),
        parameters=params,
        body_schema=body_schema,
        body_required=body_required,
        responses=responses,
    )


def _check_path_template(path: str, params: tuple[Parameter, ...]) -> None:
    """Every `{name}` of the path has a path parameter and every path parameter a `{name}`: else a request would go
    to a literal `{name}` segment, or drop an argument the caller gave."""
    in_path = re.findall(r"{([^{}]+)}", path)
    declared = [p.name for p in params if p.location == "path"]
    undeclared = [n for n in in_path if n not in declared]
    if undeclared:
        raise ValueError(f"its path has {{{undeclared[0]}}}, which no path parameter declares")
    unused = [n for n in declared if n not in in_path]
    if unused:
        raise ValueError(f"declares the path parameter {unused[0]!r}, which its path does not contain")


def input_schema(op: Operation, optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The operation's path, query and body parameters flattened into one closed object schema.

    `optional` names parameters the server can fill in itself (configured org/project defaults).
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in op.parameters:
        prop = dict(param.schema)
        if param.description:
            prop["description"] = param.description  # the parameter's own words are the more specific
        if restates_name(prop.get("description", ""), param.name, op.tool_name):
            del prop["description"]  # "The organization identifier." on org_id, repeated on every tool
        properties[param.name] = compact(prop)
        if param.required and param.name not in optional:
            required.append(param.name)
    body = op.body_schema or {}
    body_required = set(body.get("required", [])) if op.body_required else set()
    for arg, (location, api_name) in op.argument_locations().items():
        if location != "body":
            continue
        properties[arg] = compact(_closed(body["properties"][api_name]))
        if api_name in body_required:
            required.append(arg)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if body.get("required") and not op.body_required:
        schema["dependentRequired"] = _optional_body_needs(op)
    schema["additionalProperties"] = False
    return schema


def _optional_body_needs(op: Operation) -> dict[str, list[str]]:
    """An optional body is sent only when one of its fields is given, and then with all its required fields: each
    body argument requires the body's required ones."""
    body_args = {arg: api for arg, (location, api) in op.argument_locations().items() if location == "body"}
    needed = [arg for arg, api in body_args.items() if api in (op.body_schema or {}).get("required", [])]
    return {arg: [n for n in needed if n != arg] for arg in body_args if [n for n in needed if n != arg]}


def _closed(schema: Any) -> Any:
    """Close every nested object that lists its properties, so a misspelt field is an error, not a silent drop."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _closed(value) for key, value in schema.items()}
    if out.get("type") == "object" and "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


def _parameter(raw: Mapping[str, Any], spec: Mapping[str, Any]) -> Parameter | None:
    """A path or query parameter; None for an optional header or cookie (a tool cannot set one; the API's default
    applies), `ValueError` for a required one."""
    raw = resolve(raw, spec)
    location, name = raw["in"], raw.get("name")
    if location not in ("path", "query"):
        if not raw.get("required"):
            return None
        raise ValueError(f"needs the {location} parameter {name!r}, which a tool cannot send")
    if not isinstance(name, str) or not name:
        raise ValueError(f"has a {location} parameter without a name ({name!r})")
    schema = _parameter_schema(raw, name, location, spec)
    return Parameter(
        name=name,
        location=location,
        required=bool(raw.get("required", location == "path")),
        schema=schema,
        description=str(raw.get("description") or "").strip(),
    )


def _parameter_schema(raw: Mapping[str, Any], name: str, location: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The parameter's schema, when a tool argument can carry every constraint of it and the client can send it the
    way the spec says (query arrays as repeated `name=value` pairs, OpenAPI's default); `ValueError` otherwise."""
    if "schema" not in raw and "content" in raw:
        raise ValueError(f"describes its {location} parameter {name!r} by 'content', which neev-mcp cannot check or "
                         "send")
    schema = resolve(raw.get("schema", True), spec)
    if schema is True:  # OpenAPI 3.1: any value
        return {}
    if not isinstance(schema, Mapping):
        raise ValueError(f"the schema of its {location} parameter {name!r} is {json.dumps(schema)}, not an object")
    kinds = schema.get("type") if isinstance(schema.get("type"), list) else [schema.get("type")]
    if location == "path" and {"array", "object"} & set(kinds):
        raise ValueError(f"its path parameter {name!r} is an {'array' if 'array' in kinds else 'object'}, which "
                         "neev-mcp cannot send as one path segment")
    if location == "query" and "object" in kinds:
        raise ValueError(f"its query parameter {name!r} is an object, which neev-mcp cannot send")
    if location == "query" and "array" in kinds and (raw.get("style", "form") != "form" or
                                                      raw.get("explode", True) is not True):
        raise ValueError(f"its query parameter {name!r} is an array serialised with style={raw.get('style', 'form')}"
                         f", explode={raw.get('explode', True)}; neev-mcp sends arrays only as repeated name=value "
                         "pairs (style=form, explode=true)")
    return dict(schema)


def _body(raw: Mapping[str, Any] | None, spec: Mapping[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    if not raw:
        return None, False
    raw = resolve(raw, spec)
    content = raw.get("content", {}).get("application/json")
    if content is None:
        raise ValueError("only application/json request bodies are supported")
    schema = content.get("schema", {})
    if schema.get("type") != "object":
        raise ValueError("a request body must be an object schema to be flattened into tool arguments")
    across = sorted(k for k in schema if k not in _FLATTENED_BODY_KEYS and not k.startswith("x-"))
    if across:
        # e.g. oneOf [required a, required b]: flattening keeps each field's own schema, never a rule across fields
        raise ValueError(f"its request body has rules across its fields ({', '.join(across)}) that tool arguments "
                         "cannot keep")
    return schema, bool(raw.get("required", False))


# what flattening a body into tool arguments keeps (the fields, which are required) or may drop (prose); an extra
# field the API would accept is refused by the closed tool schema, which is stricter, never looser
_FLATTENED_BODY_KEYS = frozenset({"type", "properties", "required", "additionalProperties", "description", "title",
                                  "example", "examples", "externalDocs", "deprecated"})


def _response_schema(raw: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any] | None:
    content = resolve(raw, spec).get("content", {}).get("application/json")
    return None if content is None else content.get("schema")
