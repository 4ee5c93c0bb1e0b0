"""manifest.json (the MCP Bundle for Claude Desktop) is valid offline against the vendored mcpb 0.4 schema and wires
the user's settings to the server's own environment variables."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from neev_mcp.config import ENV_VARS
from neev_mcp.registry import build_registry

from .support.shared import shared_file

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "tests" / "schemas" / "mcpb-manifest-v0.4.schema.json"
SCHEMA_SHA256 = "068557824c651d6d49b86ad132adeafe62ca788d918b3e1e2b224bf0f91320fd"  # npm @anthropic-ai/mcpb@2.1.2


@pytest.fixture
def manifest() -> dict[str, Any]:
    return json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))


def test_the_manifest_is_valid_against_the_mcpb_0_4_schema(manifest: dict[str, Any]) -> None:
    assert hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest() == SCHEMA_SHA256
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    assert [e.message for e in validator.iter_errors(manifest)] == []
    assert manifest["manifest_version"] == "0.4"


def test_the_schema_check_catches_a_broken_manifest(manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    broken = {**manifest, "server": {**manifest["server"], "type": "docker"}}
    del broken["author"]
    messages = sorted(e.message for e in jsonschema.Draft7Validator(schema).iter_errors(broken))
    assert messages == ["'author' is a required property", "'docker' is not one of ['python', 'node', 'binary', 'uv']"]


def test_name_and_version_agree_with_pyproject(manifest: dict[str, Any]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert (manifest["name"], manifest["version"]) == (project["name"], project["version"])
    assert manifest["license"] == project["license"]


def test_the_server_runs_the_console_script_through_uv_from_the_bundle(manifest: dict[str, Any]) -> None:
    server = manifest["server"]
    assert server["type"] == "uv"
    assert (ROOT / server["entry_point"]).is_file()
    config = server["mcp_config"]
    assert config["command"] == "uv"
    assert config["args"] == ["run", "--directory", "${__dirname}", "neev-mcp"]


def test_user_config_asks_for_the_token_as_a_secret_and_for_org_and_project(manifest: dict[str, Any]) -> None:
    user = manifest["user_config"]
    assert user["api_token"]["sensitive"] is True
    assert user["api_token"]["required"] is True
    assert user["org_id"]["type"] == user["project_id"]["type"] == "string"
    assert not any(field.get("sensitive") for key, field in user.items() if key != "api_token")


def test_every_environment_variable_is_the_servers_own_and_fed_from_user_config(manifest: dict[str, Any]) -> None:
    env = manifest["server"]["mcp_config"]["env"]
    assert {"NEEV_API_TOKEN", "NEEV_ORG_ID", "NEEV_PROJECT_ID", "NEEV_API_BASE_URL"} <= set(env)
    assert set(env) <= set(ENV_VARS)
    assert env["NEEV_API_TOKEN"] == "${user_config.api_token}"
    for value in env.values():
        [key] = re.fullmatch(r"\$\{user_config\.(\w+)\}", value).groups()
        assert key in manifest["user_config"], value


def test_environment_variable_names_match_the_interface_document(manifest: dict[str, Any]) -> None:
    interface = shared_file("docs/interface.md", "that the environment variables manifest.json sets are the ones "
                            "the project's interface document (docs/interface.md) names")
    documented = set(re.findall(r"`(NEEV_[A-Z_]+)`", interface.read_text(encoding="utf-8")))
    env = set(manifest["server"]["mcp_config"]["env"])
    assert {"NEEV_API_TOKEN", "NEEV_ORG_ID", "NEEV_PROJECT_ID", "NEEV_API_BASE_URL"} <= documented
    assert env - documented <= {"NEEV_READ_ONLY"}  # interface.md documents --read-only, config.py its variable


def test_the_declared_tools_are_exactly_the_registry(manifest: dict[str, Any]) -> None:
    # a view-only tool (MCP Apps, visibility ["app"]) is never offered to the model, so the bundle does not list it
    assert [t["name"] for t in manifest["tools"]] == [t.name for t in build_registry()
                                                      if not (t.ui and t.ui.app_only)]
    assert manifest["tools_generated"] is False
    assert manifest["prompts_generated"] is True
    assert all(t["description"] for t in manifest["tools"])
