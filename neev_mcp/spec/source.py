"""Where the OpenAPI document comes from (the vendored file, a local file or an https URL), checked once at start-up.

`load_source()` reads the document, checks that it is OpenAPI 3.0 or 3.1 with operations in it, and parses every
operation. A problem with the document as a whole raises `SpecError` with one message naming the source and the
problem (the CLI prints it and exits 2, never a traceback). An operation that cannot become a tool (no operationId,
a required header parameter, a non-JSON body, a schema JSON Schema rejects) is kept aside in `unreadable` with the
reason, so one odd operation in a newer spec does not stop the server.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..loopback import is_loopback
from .openapi import Operation, input_schema, load_spec, operation_locations, parse_operation

VENDORED = "the vendored spec"
MAX_SPEC_BYTES = 20_000_000  # an API description, not a data dump
FETCH_TIMEOUT = 15.0
_VERSION = re.compile(r"^3\.([01])\.\d+$")


class SpecError(ValueError):
    """The OpenAPI document cannot be used; the message names where it came from and what is wrong."""


@dataclass(frozen=True)
class LoadedSpec:
    """A checked OpenAPI document and its operations, in document order."""

    origin: str  # VENDORED, or the path / URL as the user gave it
    document: Mapping[str, Any]
    openapi_version: str  # e.g. "3.0.3"
    operations: tuple[Operation, ...]
    unreadable: tuple[tuple[str, str], ...] = ()  # (operation label, why it cannot become a tool)

    @property
    def vendored(self) -> bool:
        return self.origin == VENDORED

    @property
    def title(self) -> str:
        info = self.document.get("info")
        info = info if isinstance(info, Mapping) else {}
        return f"{info.get('title', 'untitled')} {info.get('version', '')}".strip()

    def operation(self, operation_id: str) -> Operation | None:
        return next((op for op in self.operations if op.operation_id == operation_id), None)

    def unreadable_reason(self, operation_id: str) -> str | None:
        return next((why for label, why in self.unreadable if label.endswith(f"({operation_id})")), None)


def load_source(location: str | None = None) -> LoadedSpec:
    """The spec at `location` (a file path or an https URL), or the vendored one when `location` is None/empty."""
    if not location or not location.strip():
        return vendored_spec()
    location = location.strip()
    text = fetch_text(location) if "://" in location else read_file(location)
    return check_document(parse_text(text, location), location)


_VENDORED_CACHE: list[LoadedSpec] = []


def vendored_spec() -> LoadedSpec:
    """The spec shipped with neev-mcp (read once per process; trusted, so not re-checked against JSON Schema)."""
    if not _VENDORED_CACHE:
        _VENDORED_CACHE.append(check_document(load_spec(), VENDORED, check_schemas=False))
    return _VENDORED_CACHE[0]


def read_file(location: str) -> str:
    path = Path(location).expanduser()
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{location}: larger than {MAX_SPEC_BYTES // 1_000_000} MB; is this an OpenAPI document?")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{location}: no such file") from None
    except IsADirectoryError:
        raise SpecError(f"{location}: is a directory, not an OpenAPI document") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{location}: cannot be read ({type(exc).__name__}: {exc})") from None


def check_url(location: str) -> None:
    """https only; plain http only to this machine (a spec over http could be swapped on the way)."""
    parts = urlsplit(location)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    raise SpecError(f"{location}: a spec URL must start with https:// (http:// only for 127.0.0.1 or localhost)")


def fetch_text(location: str) -> str:
    import httpx2  # only when a URL is given: the vendored start-up path stays lean

    check_url(location)
    try:
        with httpx2.Client(timeout=FETCH_TIMEOUT, follow_redirects=True, max_redirects=5) as http, \
                http.stream("GET", location, headers={"Accept": "application/json, application/yaml"}) as response:
            check_url(str(response.url))  # a redirect must not downgrade to plain http elsewhere
            if response.status_code != 200:
                raise SpecError(f"{location}: the server answered HTTP {response.status_code}, not the document")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_SPEC_BYTES:
                    raise SpecError(f"{location}: larger than {MAX_SPEC_BYTES // 1_000_000} MB; is this an OpenAPI "
                                    "document?")
                chunks.append(chunk)
    except httpx2.HTTPError as exc:
        raise SpecError(f"{location}: could not be fetched ({type(exc).__name__}: {exc})") from None
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{location}: is not UTF-8 text") from None


def parse_text(text: str, location: str) -> Any:
    """JSON, or YAML when PyYAML is installed (`pip install 'neev-mcp[yaml]'`)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        json_problem = f"line {exc.lineno} column {exc.colno}: {exc.msg}"
    if text.lstrip().startswith(("{", "[")):
        raise SpecError(f"{location}: is not valid JSON ({json_problem})")
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise SpecError(f"{location}: is not JSON ({json_problem}); for a YAML spec install PyYAML "
                        "(pip install 'neev-mcp[yaml]') or convert it to JSON") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{location}: is neither JSON nor valid YAML ({' '.join(str(exc).split())})") from None


def check_document(document: Any, origin: str, *, check_schemas: bool = True) -> LoadedSpec:
    """Raise `SpecError` unless `document` is an OpenAPI 3.0/3.1 description with operations; parse them."""
    if not isinstance(document, Mapping):
        raise SpecError(f"{origin}: is not an OpenAPI document (its top level is not an object)")
    version = _openapi_version(document, origin)
    paths = document.get("paths")
    if not isinstance(paths, Mapping):
        raise SpecError(f"{origin}: has no 'paths' object, so it describes no operations")
    locations = operation_locations(document)
    if not locations:
        raise SpecError(f"{origin}: 'paths' holds no operations (get, head, post, put, patch, delete)")
    ids = Counter(op.get("operationId") for path, method in locations
                  if isinstance(op := paths[path][method], Mapping) and op.get("operationId"))
    duplicated = sorted(str(i) for i, n in ids.items() if n > 1)
    if duplicated:
        raise SpecError(f"{origin}: operationId used more than once: {', '.join(duplicated)} (OpenAPI requires each "
                        "to be unique; tools are named after them)")
    operations: list[Operation] = []
    unreadable: list[tuple[str, str]] = []
    for path, method in locations:
        raw = paths[path][method]
        label = f"{method.upper()} {path}" + (f" ({raw['operationId']})" if isinstance(raw, Mapping)
                                              and raw.get("operationId") else "")
        try:
            op = parse_operation(document, path, method)
            if check_schemas:
                _check_schema(op)
        except ValueError as exc:
            unreadable.append((label, str(exc)))
            continue
        except (TypeError, AttributeError, KeyError, RecursionError) as exc:  # a shape nobody foresaw: still no crash
            unreadable.append((label, f"cannot be read ({type(exc).__name__}: {exc})"))
            continue
        operations.append(op)
    return LoadedSpec(origin, document, version, tuple(operations), tuple(unreadable))


def _openapi_version(document: Mapping[str, Any], origin: str) -> str:
    if "swagger" in document:
        raise SpecError(f"{origin}: is Swagger/OpenAPI {document['swagger']}; neev-mcp reads OpenAPI 3.0 and 3.1 "
                        "(convert it, e.g. with swagger2openapi)")
    version = document.get("openapi")
    if not isinstance(version, str):
        raise SpecError(f"{origin}: has no 'openapi' version field; is this an OpenAPI document?")
    if not _VERSION.match(version.strip()):
        raise SpecError(f"{origin}: is OpenAPI {version}; neev-mcp reads OpenAPI 3.0.x and 3.1.x")
    return version.strip()


def _check_schema(op: Operation) -> None:
    """The tool schema must be valid Draft 2020-12 (patterns that compile, known keywords used correctly)."""
    from jsonschema import Draft202012Validator, SchemaError

    try:
        Draft202012Validator.check_schema(input_schema(op))
    except SchemaError as exc:
        where = "/".join(map(str, exc.absolute_path)) or "top level"
        raise ValueError(f"its parameters are not valid JSON Schema at {where}: {exc.message}") from None


