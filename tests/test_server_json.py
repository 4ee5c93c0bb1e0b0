"""server.json (the MCP registry entry) is valid against the registry's official 2025-12-11 schema and agrees with
pyproject.toml, the README and the server's configuration."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from neev_mcp.config import ENV_VARS

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "tests" / "schemas" / "server.schema.json"
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
# sha256 of the published file at SCHEMA_URL (see tests/schemas/README.md): an edited copy fails here
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def server_json() -> dict[str, Any]:
    return load(ROOT / "server.json")


@pytest.fixture
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def problems(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(load(SCHEMA_PATH), format_checker=jsonschema.FormatChecker())
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '/'}: {e.message}" for e in validator.iter_errors(document))


def test_the_vendored_schema_is_the_published_2025_12_11_schema() -> None:
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert load(SCHEMA_PATH)["$id"] == SCHEMA_URL


def test_server_json_is_valid_against_the_registry_schema(server_json: dict[str, Any]) -> None:
    assert server_json["$schema"] == SCHEMA_URL
    assert problems(server_json) == []


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (("description",), "x" * 101, "description: " + repr("x" * 101) + " is too long"),
        (("name",), "neev-mcp", "name: 'neev-mcp' does not match '^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$'"),
        (("packages", 0, "version"), "latest",
         "packages/0/version: 'latest' should not be valid under {'const': 'latest'}"),
    ],
)
def test_the_schema_check_catches_a_broken_entry(server_json: dict[str, Any], path: tuple, value: Any,
                                                 problem: str) -> None:
    broken = copy.deepcopy(server_json)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert problem in problems(broken)


def test_name_matches_the_readme_marker_the_registry_checks(server_json: dict[str, Any]) -> None:
    assert server_json["name"] == "io.github.neev-mcp/neev-mcp"
    markers = re.findall(r"mcp-name:\s*(\S+)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert markers == [server_json["name"]]


def test_version_and_package_agree_with_pyproject(server_json: dict[str, Any], pyproject: dict[str, Any]) -> None:
    assert server_json["version"] == pyproject["version"]
    assert len(server_json["description"]) <= 100
    [package] = server_json["packages"]
    assert package["registryType"] == "pypi"
    assert (package["identifier"], package["version"]) == (pyproject["name"], pyproject["version"])
    assert package["runtimeHint"] == "uvx"
    assert package["transport"] == {"type": "stdio"}
    assert package["identifier"] in pyproject["scripts"]  # `uvx neev-mcp` runs the console script of that name


def test_environment_variables_are_the_servers_own_with_the_token_secret_and_required(
    server_json: dict[str, Any],
) -> None:
    env = {v["name"]: v for v in server_json["packages"][0]["environmentVariables"]}
    assert {"NEEV_API_TOKEN", "NEEV_ORG_ID", "NEEV_PROJECT_ID", "NEEV_API_BASE_URL"} <= set(env)
    assert set(env) <= set(ENV_VARS)
    assert env["NEEV_API_TOKEN"]["isSecret"] is True
    assert env["NEEV_API_TOKEN"]["isRequired"] is True
    assert env["NEEV_API_BASE_URL"]["default"] == "https://api.ai.neevcloud.com/vm"
    secret = {name for name, v in env.items() if v.get("isSecret")}
    assert secret == {"NEEV_API_TOKEN", "NEEV_MCP_SECRET"}
    assert all(v["description"] for v in env.values())


def test_the_remote_entry_recommends_oauth_and_needs_no_static_header(server_json: dict[str, Any]) -> None:
    [remote] = server_json["remotes"]
    assert remote["type"] == "streamable-http"
    assert remote["url"] == "https://{deployment_host}/mcp"
    assert "headers" not in remote  # an OAuth resource server: hosts discover how to authorize from a 401
    assert "NEEV_MCP_AUTH=oauth" in remote["variables"]["deployment_host"]["description"]
