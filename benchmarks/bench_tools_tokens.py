"""tools/list size of the 10 spec tools: ours vs FastMCP's generic `from_openapi`, in o200k tokens.

Both servers are spawned over stdio and measured on the bytes they send (same driver, same key order rules).
FastMCP runs from benchmarks/.venv-fastmcp in its own process. The check `constraints_kept` walks the spec itself
(not our code) and fails the run if any constraint keyword of a parameter or body field is missing from our schema.

    python bench_tools_tokens.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from _stdio import time_to_first_tools_list
from tokens import count_tokens

HERE = Path(__file__).resolve().parent
SPEC = json.loads((HERE.parent / "neev_mcp" / "spec" / "neevcloud-vm-openapi.json").read_text())
FASTMCP = [str(HERE / ".venv-fastmcp" / "bin" / "python"), str(HERE / "fastmcp_baseline.py"), "--serve-stdio"]
OURS = [sys.executable, "-m", "neev_mcp"]
OURS_ENV = {"NEEV_API_TOKEN": "bench.not.used", "NEEV_ORG_ID": "", "NEEV_PROJECT_ID": ""}  # spec-shaped: ids required
CONSTRAINTS = ("type", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength",
               "maxLength", "enum", "const", "minItems", "maxItems", "uniqueItems", "format", "default", "required",
               "oneOf", "anyOf", "allOf")


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def spec_tool_names() -> dict[str, str]:
    """operationId → tool name, as the interface fixes it (snake_case of the operationId)."""
    from neev_mcp.spec.openapi import snake_case  # pure spec layer: no server, no MCP

    return {op["operationId"]: snake_case(op["operationId"])
            for item in SPEC["paths"].values() for op in item.values() if isinstance(op, dict) and "operationId" in op}


def _deref(schema: Any) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        target: Any = SPEC
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    if isinstance(schema, dict) and isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
        schema = {**_deref(schema["allOf"][0]), **{k: v for k, v in schema.items() if k != "allOf"}}
    return schema


def _constraints(schema: Any, path: str) -> list[tuple[str, str, Any]]:
    schema = _deref(schema)
    found = [(path, k, schema[k]) for k in CONSTRAINTS if k in schema and k not in ("oneOf", "anyOf", "allOf")]
    for key in ("oneOf", "anyOf"):
        for i, branch in enumerate(schema.get(key, [])):
            found += [(path, key, None), *_constraints(branch, f"{path}/{key}/{i}")]
    for name, sub in schema.get("properties", {}).items():
        found += _constraints(sub, f"{path}/properties/{name}")
    if "items" in schema:
        found += _constraints(schema["items"], f"{path}/items")
    return found


def _at(schema: dict[str, Any], path: str) -> Any:
    node: Any = schema
    for part in path.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def missing_constraints(tools: dict[str, dict[str, Any]]) -> list[str]:
    """Every spec constraint (parameter or body field) that our tool schema lacks or changed."""
    names = spec_tool_names()
    missing: list[str] = []
    for item in SPEC["paths"].values():
        for op in (o for o in item.values() if isinstance(o, dict) and "operationId" in o):
            schema = tools[names[op["operationId"]]]["inputSchema"]
            expected = []
            for param in [*item.get("parameters", []), *op.get("parameters", [])]:
                expected += _constraints(param["schema"], f"properties/{param['name']}")
            body = _deref(op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}))
            for name, sub in body.get("properties", {}).items():
                expected += _constraints(sub, f"properties/{name}")
            for path, key, value in expected:
                try:
                    node = _at(schema, path)
                except (KeyError, IndexError, TypeError):
                    missing.append(f"{op['operationId']}: {path} is gone")
                    continue
                if key not in node or (value is not None and key != "required" and node[key] != value):
                    missing.append(f"{op['operationId']}: {path} lost {key}={value!r}")
                elif key == "required" and not set(value) <= set(node[key]):
                    missing.append(f"{op['operationId']}: {path} lost required {value!r}")
    return missing


def measure() -> dict[str, Any]:
    names = set(spec_tool_names().values())
    _, ours_raw = time_to_first_tools_list(OURS, OURS_ENV)
    _, fast_raw = time_to_first_tools_list(FASTMCP)
    ours = [t for t in ours_raw["tools"] if t["name"] in names]
    fast = [t for t in fast_raw["tools"]]
    assert {t["name"] for t in ours} == names, "our server is missing spec tools"
    assert len(fast) == len(names), f"FastMCP listed {len(fast)} tools"
    o_tok, f_tok = count_tokens(compact({"tools": ours})), count_tokens(compact({"tools": fast}))
    lost = missing_constraints({t["name"]: t for t in ours})
    return {
        "ours": {"bytes": len(compact({"tools": ours}).encode()), "tokens": o_tok},
        "fastmcp": {"bytes": len(compact({"tools": fast}).encode()), "tokens": f_tok},
        "ratio": o_tok / f_tok,
        "constraints_checked": "every constraint keyword of every parameter and body field in the spec",
        "constraints_missing": lost,
        "per_tool": {t["name"]: count_tokens(compact(t)) for t in ours},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"tools/list, 10 spec tools: ours {result['ours']['tokens']} tokens ({result['ours']['bytes']} B), "
              f"FastMCP {result['fastmcp']['tokens']} tokens ({result['fastmcp']['bytes']} B): "
              f"{result['ratio']:.3f}x; constraints missing: {len(result['constraints_missing'])}")
        for line in result["constraints_missing"]:
            print("  MISSING", line)
    return 1 if result["constraints_missing"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
