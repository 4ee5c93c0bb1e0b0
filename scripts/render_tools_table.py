"""Print the README's tools table from the registry, so the README never drifts from the tools the server offers.

    python scripts/render_tools_table.py            # the table alone
    python scripts/render_tools_table.py --markers  # wrapped in the README markers, ready to paste

tests/test_readme_tools.py checks the README's copy against the registry (names, titles, read-only and destructive
flags); the "What it does" column is the first sentence of each tool's description and may be edited by hand.
"""

from __future__ import annotations

import sys

from neev_mcp.registry import ToolDef, build_registry

START, END = "<!-- tools-table:start -->", "<!-- tools-table:end -->"
HEADER = ("| Tool | Title | Read-only | Destructive | What it does |\n"
          "|---|---|---|---|---|")


def row(tool: ToolDef) -> str:
    first = tool.description.split(". ")[0].rstrip(".") + "."
    if tool.hints.destructive:
        first += " Asks a human to confirm first."
    flag = {True: "yes", False: "no"}
    return f"| `{tool.name}` | {tool.title} | {flag[tool.hints.read_only]} | {flag[tool.hints.destructive]} | {first} |"


def render(markers: bool = False) -> str:
    table = "\n".join([HEADER, *(row(t) for t in build_registry())])
    return f"{START}\n{table}\n{END}" if markers else table


if __name__ == "__main__":
    print(render(markers="--markers" in sys.argv[1:]))
