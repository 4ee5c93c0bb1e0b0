"""NEEV_OPENAPI_SPEC: a file or an https URL, checked at start-up; every problem is one clear sentence."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neev_mcp.spec.openapi import load_spec
from neev_mcp.spec.source import VENDORED, SpecError, check_document, load_source, vendored_spec
from tests.support.spec import extended_spec, write_spec


def test_no_location_means_the_vendored_spec_with_its_ten_operations() -> None:
    spec = load_source(None)
    assert spec.origin == VENDORED and spec.vendored and spec.openapi_version == "3.0.3"
    assert len(spec.operations) == 10 and spec.unreadable == ()
    assert load_source("  ") is vendored_spec()


def test_a_file_is_read_and_its_new_operations_parsed(tmp_path: Path) -> None:
    path = write_spec(tmp_path, extended_spec())
    spec = load_source(str(path))
    assert not spec.vendored and spec.title == "VM Service API 0.2.0"
    assert [op.operation_id for op in spec.operations][-3:] == ["listRegions", "resizeVM", "deleteSnapshot"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], "is not an OpenAPI document (its top level is not an object)"),
        ({"swagger": "2.0", "paths": {}}, "is Swagger/OpenAPI 2.0; neev-mcp reads OpenAPI 3.0 and 3.1"),
        ({"openapi": "4.0.0", "paths": {}}, "is OpenAPI 4.0.0; neev-mcp reads OpenAPI 3.0.x and 3.1.x"),
        ({"info": {}, "paths": {}}, "has no 'openapi' version field"),
        ({"openapi": "3.1.0", "info": {}}, "has no 'paths' object, so it describes no operations"),
        ({"openapi": "3.0.3", "paths": {"/x": {"summary": "nothing"}}}, "'paths' holds no operations"),
        ({"openapi": "3.0.3", "paths": {"/a": {"get": {"operationId": "same"}},
                                        "/b": {"get": {"operationId": "same"}}}},
         "operationId used more than once: same"),
    ],
)
def test_a_document_that_is_not_usable_openapi_is_refused_with_the_reason(document: Any, message: str,
                                                                          tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_source(str(path))
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_missing_files_directories_and_broken_json_are_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope.json: no such file$"):
        load_source(str(tmp_path / "nope.json"))
    with pytest.raises(SpecError, match="is a directory"):
        load_source(str(tmp_path))
    broken = tmp_path / "broken.json"
    broken.write_text('{"openapi": "3.0.3",', encoding="utf-8")
    with pytest.raises(SpecError, match=r"broken.json: is not valid JSON \(line 1 column 21: Expecting"):
        load_source(str(broken))


def test_yaml_is_read_when_pyyaml_is_installed_and_named_when_it_is_not(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("openapi: 3.1.0\ninfo: {title: T, version: '1'}\npaths:\n  /ping:\n    get:\n"
                    "      operationId: ping\n      responses: {'200': {description: ok}}\n", encoding="utf-8")
    try:
        import yaml  # noqa: F401
    except ImportError:
        with pytest.raises(SpecError, match=r"for a YAML spec install PyYAML \(pip install 'neev-mcp\[yaml\]'\)"):
            load_source(str(path))
        return
    spec = load_source(str(path))
    assert spec.openapi_version == "3.1.0" and [op.tool_name for op in spec.operations] == ["ping"]


def test_an_operation_that_cannot_become_a_tool_is_set_aside_with_its_reason() -> None:
    document = {"openapi": "3.1.0", "paths": {
        "/ok": {"get": {"operationId": "listThings", "parameters": [
            {"in": "header", "name": "X-Trace", "schema": {"type": "string"}}]}},
        "/anon": {"post": {"summary": "no id"}},
        "/hdr": {"get": {"operationId": "needsHeader", "parameters": [
            {"in": "header", "name": "X-Tenant", "required": True, "schema": {"type": "string"}}]}},
        "/ref": {"get": {"operationId": "danglingRef", "parameters": [{"$ref": "#/components/parameters/Gone"}]}},
        "/xml": {"put": {"operationId": "putXml", "requestBody": {"content": {"application/xml": {}}}}},
        "/bad": {"get": {"operationId": "badPattern", "parameters": [
            {"in": "query", "name": "q", "schema": {"type": "string", "pattern": "(["}}]}},
    }}
    spec = check_document(document, "test.json")
    assert [op.operation_id for op in spec.operations] == ["listThings"]
    assert spec.operations[0].parameters == ()  # an optional header is left to the API's default
    assert dict(spec.unreadable) == {
        "POST /anon": "has no operationId (tools are named after operationIds)",
        "GET /hdr (needsHeader)": "needs the header parameter 'X-Tenant', which a tool cannot send",
        "GET /ref (danglingRef)": "$ref '#/components/parameters/Gone' points at nothing in the document",
        "PUT /xml (putXml)": "only application/json request bodies are supported",
        "GET /bad (badPattern)": "its parameters are not valid JSON Schema at properties/q/pattern: '([' is not a "
                                 "'regex'",
    }
    assert spec.unreadable_reason("needsHeader") == "needs the header parameter 'X-Tenant', which a tool cannot send"


def test_openapi_3_0_exclusive_bounds_become_2020_12_numbers() -> None:
    document = {"openapi": "3.0.3", "paths": {"/x": {"get": {"operationId": "x", "parameters": [
        {"in": "query", "name": "n", "schema": {"type": "integer", "minimum": 0, "exclusiveMinimum": True,
                                                "maximum": 9, "exclusiveMaximum": False}}]}}}}
    schema = check_document(document, "t").operations[0].parameters[0].schema
    assert schema == {"type": "integer", "exclusiveMinimum": 0, "maximum": 9}


@pytest.mark.parametrize("url", ["http://api.example.com/spec.json", "ftp://127.0.0.1/spec.json", "https:///x"])
def test_a_url_must_be_https_or_loopback_http_and_nothing_is_fetched_otherwise(url: str) -> None:
    with pytest.raises(SpecError, match=r"must start with https:// \(http:// only for 127.0.0.1 or localhost\)"):
        load_source(url)


@pytest.fixture
def spec_server() -> Iterator[str]:
    """A loopback HTTP server: /spec.json is the extended spec, /missing answers 404."""
    body = json.dumps(extended_spec()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/spec.json"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if ok else b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_url_is_fetched_and_checked_like_a_file(spec_server: str) -> None:
    spec = load_source(f"{spec_server}/spec.json")
    assert spec.origin == f"{spec_server}/spec.json" and len(spec.operations) == 13
    with pytest.raises(SpecError, match=r"/missing: the server answered HTTP 404, not the document$"):
        load_source(f"{spec_server}/missing")


def test_an_unreachable_url_is_a_clear_error() -> None:
    with pytest.raises(SpecError, match=r"http://127.0.0.1:9/spec.json: could not be fetched \(ConnectError"):
        load_source("http://127.0.0.1:9/spec.json")


def test_the_vendored_document_is_not_modified_by_loading_an_extended_one(tmp_path: Path) -> None:
    before = json.dumps(load_spec(), sort_keys=True)
    load_source(str(write_spec(tmp_path, extended_spec())))
    assert json.dumps(load_spec(), sort_keys=True) == before


def test_parameters_and_bodies_a_tool_cannot_carry_faithfully_are_set_aside_with_the_reason() -> None:
    """Review finding: these shapes used to become tools that lost constraints or sent malformed requests."""
    def get(*params: Any) -> dict[str, Any]:
        return {"parameters": list(params)}

    def post(schema: dict[str, Any]) -> dict[str, Any]:
        return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}

    q = {"in": "query", "name": "ids", "schema": {"type": "array", "items": {"type": "string"}}}
    document = {"openapi": "3.1.0", "info": ["not", "an", "object"], "paths": {
        "/a": {"get": {"operationId": "anyValue", **get({"in": "query", "name": "q", "schema": True}, q)}},
        "/b": {"get": {"operationId": "byContent", **get({"in": "query", "name": "f", "required": True, "content": {
            "application/json": {"schema": {"type": "object", "properties": {"x": {"type": "integer"}}}}}})}},
        "/c": {"get": {"operationId": "objectQuery", **get({"in": "query", "name": "f",
                                                            "schema": {"type": "object"}})}},
        "/d": {"get": {"operationId": "commaArray", **get({**q, "explode": False})}},
        "/e/{ids}": {"get": {"operationId": "arrayPath", **get({**q, "in": "path", "required": True})}},
        "/f": {"get": {"operationId": "nameless", **get({"in": "query", "name": 5, "schema": {}})}},
        "/g": {"get": {"operationId": "noValue", **get({"in": "query", "name": "q", "schema": False})}},
        "/h": {"post": {"operationId": "eitherOr", **post({"type": "object", "minProperties": 1, "properties": {
            "a": {"type": "string"}, "b": {"type": "string"}}, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]})}},
        "/i": {"post": {"operationId": "oddBody", **post({"type": "object", "properties": [{"a": 1}]})}},
        "/j/{thing_id}": {"delete": {"operationId": "undeclared"}},
        "/k": {"delete": {"operationId": "unused", **get({"in": "path", "name": "k", "required": True})}},
    }}
    spec = check_document(document, "test.json")
    assert spec.title == "untitled"
    assert [op.operation_id for op in spec.operations] == ["anyValue"]
    assert [(p.name, p.schema) for p in spec.operations[0].parameters] == [("q", {}), ("ids", q["schema"])]
    assert dict(spec.unreadable) == {
        "GET /b (byContent)": "describes its query parameter 'f' by 'content', which neev-mcp cannot check or send",
        "GET /c (objectQuery)": "its query parameter 'f' is an object, which neev-mcp cannot send",
        "GET /d (commaArray)": "its query parameter 'ids' is an array serialised with style=form, explode=False; "
                               "neev-mcp sends arrays only as repeated name=value pairs (style=form, explode=true)",
        "GET /e/{ids} (arrayPath)": "its path parameter 'ids' is an array, which neev-mcp cannot send as one path "
                                    "segment",
        "GET /f (nameless)": "has a query parameter without a name (5)",
        "GET /g (noValue)": "the schema of its query parameter 'q' is false, not an object",
        "POST /h (eitherOr)": "its request body has rules across its fields (minProperties, oneOf) that tool "
                              "arguments cannot keep",
        "POST /i (oddBody)": "cannot be read (TypeError: unhashable type: 'dict')",
        "DELETE /j/{thing_id} (undeclared)": "its path has {thing_id}, which no path parameter declares",
        "DELETE /k (unused)": "declares the path parameter 'k', which its path does not contain",
    }


def test_a_body_field_clashing_with_a_parameter_never_overwrites_another_body_field() -> None:
    """Review finding: a body with both `org_id` and `org_id_body` beside an `org_id` path parameter lost the integer
    `org_id_body` field: the renamed `org_id` took its argument name."""
    body = {"type": "object", "required": ["org_id"],
            "properties": {"org_id_body": {"type": "integer"}, "org_id": {"type": "string"}}}
    document = {"openapi": "3.1.0", "paths": {"/o/{org_id}": {"post": {"operationId": "x", "parameters": [
        {"in": "path", "name": "org_id", "required": True, "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}}}}}}
    (op,) = check_document(document, "t").operations
    assert op.argument_locations() == {"org_id": ("path", "org_id"), "org_id_body": ("body", "org_id_body"),
                                       "org_id_body_body": ("body", "org_id")}
    assert op.split_arguments({"org_id": "o", "org_id_body": 7, "org_id_body_body": "p"}) == (
        {"org_id": "o"}, {}, {"org_id_body": 7, "org_id": "p"})
