"""The README's tools table lists exactly the registry's tools, with their titles and read-only/destructive flags.

Regenerate the table with `python scripts/render_tools_table.py --markers` and paste it between the README markers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from neev_mcp.registry import build_registry

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- tools-table:start -->", "<!-- tools-table:end -->"
FLAGS = {"yes": True, "no": False}


def renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_tools_table", ROOT / "scripts" / "render_tools_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_between_markers(text: str) -> str:
    return text.split(START, 1)[1].split(END, 1)[0]


def disagreements(table: str) -> list[str]:
    """Every way `table` differs from the registry (empty when they agree)."""
    lines = [line.strip() for line in table.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        return ["the table is empty"]
    header = [c.strip().lower() for c in lines[0].strip("|").split("|")]
    problems = [] if header[:4] == ["tool", "title", "read-only", "destructive"] else [f"header is {header}"]
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|", 4)]
        if len(cells) != 5:
            problems.append(f"row has {len(cells)} cells, not 5: {line}")
            continue
        rows.append(cells)
    tools = build_registry()
    listed = [cells[0].strip("`") for cells in rows]
    if listed != [t.name for t in tools]:
        problems.append(f"tools listed {listed}, registry has {[t.name for t in tools]}")
    by_name = {t.name: t for t in tools}
    for name, title, read_only, destructive, what in ((c[0].strip("`"), *c[1:]) for c in rows):
        tool = by_name.get(name)
        if tool is None:
            continue
        if title != tool.title:
            problems.append(f"{name}: title {title!r}, registry {tool.title!r}")
        if FLAGS.get(read_only) is not tool.hints.read_only:
            problems.append(f"{name}: read-only {read_only!r}, registry {tool.hints.read_only}")
        if FLAGS.get(destructive) is not tool.hints.destructive:
            problems.append(f"{name}: destructive {destructive!r}, registry {tool.hints.destructive}")
        if not what:
            problems.append(f"{name}: 'What it does' is empty")
    return problems


def test_the_readme_tools_table_lists_exactly_the_registry_tools_with_their_flags() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if START not in readme or END not in readme:
        pytest.skip(f"README.md has no tools table yet (markers {START} … {END} missing)")
    problems = disagreements(table_between_markers(readme))
    assert problems == [], "README tools table is out of date; regenerate it with " \
                           "`python scripts/render_tools_table.py --markers`"


def test_the_rendered_table_agrees_with_the_registry() -> None:
    rendered = renderer().render(markers=True)
    assert rendered.startswith(START) and rendered.endswith(END)
    assert disagreements(table_between_markers(rendered)) == []


def test_the_docs_copy_of_the_table_is_the_rendered_one() -> None:
    docs = (ROOT / "docs" / "readme-tools-table.md").read_text(encoding="utf-8")
    assert renderer().render(markers=True) in docs


def test_a_wrong_flag_a_wrong_title_or_a_missing_tool_is_reported() -> None:
    table = renderer().render()
    broken = (table.replace("| `delete_vm` | Delete VM | no | yes |", "| `delete_vm` | Delete VM | no | no |")
              .replace("| Get VM |", "| Show VM |"))
    broken = "\n".join(line for line in broken.splitlines() if "`wait_for_vm`" not in line)
    problems = disagreements(broken)
    assert "get_vm: title 'Show VM', registry 'Get VM'" in problems
    assert "delete_vm: destructive 'no', registry True" in problems
    assert any(p.startswith("tools listed [") for p in problems)
    assert len(problems) == 3
