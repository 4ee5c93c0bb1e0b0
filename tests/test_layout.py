"""The house rules, checked: every per-tool fact lives on the tool's declaration, and functions fit on a screen."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from neev_mcp.kinds import ROOT_DISK, VM
from neev_mcp.registry import build_registry

PACKAGE = Path(__file__).resolve().parent.parent / "neev_mcp"
TOOL_NAMES = {t.name for t in build_registry()}
ID_ARGS = {VM.id_arg, ROOT_DISK.id_arg}
# The registry is where per-tool facts live; the demo is a script of calls; the sandbox simulates the cloud itself.
EXEMPT = {"registry.py", "demo.py"}
MAX_FUNCTION_LINES = 60


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "sandbox" not in p.parts and p.name not in EXEMPT)


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_but_the_registry_compares_with_a_tool_name_or_keys_a_table_by_one(path: Path) -> None:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            named = _strings(node) & (TOOL_NAMES | ID_ARGS)
            found += [f"line {node.lineno}: compares with {sorted(named)}"] if named else []
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):  # a table of rows: ("vms", "VMs", "list_vms"), ...
            named = {e.value for e in node.elts if isinstance(e, ast.Constant)} & TOOL_NAMES
            found += [f"line {node.lineno}: a row naming {sorted(named)}"] if named else []
        elif isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            found += [f"line {node.lineno}: a table keyed by {sorted(keys & TOOL_NAMES)}"] if keys & TOOL_NAMES else []
    assert found == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_is_longer_than_a_screen(path: Path) -> None:
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def test_the_readme_module_map_lists_exactly_the_modules_of_the_package() -> None:
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- module-map:start -->", 1)[1].split("<!-- module-map:end -->", 1)[0]
    listed = {line.split()[0] for line in block.splitlines() if line.startswith("  ") and line.split()}
    actual = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
              if p.name not in ("__init__.py", "__main__.py") and "sandbox" not in p.parts}
    assert sorted(listed - {"sandbox/"}) == sorted(actual)


def test_every_file_the_docs_name_exists() -> None:
    """Review finding: README and docs/benchmarks.md still named tests/_hygiene.py after the redesign moved it."""
    root = PACKAGE.parent
    docs = [root / "README.md", root / "CHANGELOG.md", *sorted((root / "docs").glob("*.md"))]
    named = {m.group(0) for doc in docs for m in re.finditer(
        r"\b(?:neev_mcp|tests|scripts|benchmarks|deploy|docs)/[\w./-]*\.(?:py|md|sh|json|ya?ml)", doc.read_text())}
    assert sorted(n for n in named if not (root / n).exists()) == []
