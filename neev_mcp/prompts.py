"""MCP prompts: one Markdown file per prompt in the top-level `prompts/` folder, served by `prompts/list` and `get`.

A prompt file is front matter between two `---` lines, then the template body:

    ---
    name: decommission_vm                # required; equals the file name without `.md`
    title: Safely decommission a VM      # required
    description: Stop, confirm, delete.  # required
    tools: get_vm, stop_vm, delete_vm    # required; every name must be a registry tool and appear in the body
    arguments:                           # optional; a list of items, each starting with `  - name: ...`
      - name: vm
        description: The VM to remove.   # required
        required: true                   # required; `true` or `false`
        complete: vm                     # optional; what completion/complete offers: `vm` (VM names) or `region`,
                                         # `vm_config`, `plan`, `image` (the values vm_options shows)
        default: ask the user            # optional arguments only, and then required: the text used when omitted
    ---
    Body with {{vm}} placeholders.

The front matter is a deliberately tiny subset of YAML (PyYAML is not a dependency): `key: value` lines, values are the
rest of the line (or one JSON string in double quotes), `#` starts a comment only at the start of a line, and blank
lines are ignored. Anything else is an error. Loading is strict: a malformed file stops the server at start-up with a
`PromptFileError` naming the file and line, so a broken prompt never reaches a user.

The wheel carries the folder as `neev_mcp/_prompts` (see pyproject.toml); a source checkout reads `prompts/`.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp import MCPError
from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument, UserMessage
from mcp.types import (
    INVALID_PARAMS,
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from .config import ConfigurationError
from .kinds import VM
from .resources import VM_TEMPLATE

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from .server import Reader

log = logging.getLogger("neev_mcp.prompts")

PACKAGED_DIR = Path(__file__).resolve().parent / "_prompts"  # inside an installed wheel
SOURCE_DIR = Path(__file__).resolve().parent.parent / "prompts"  # a source or editable checkout
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
TOP_KEYS = {"name", "title", "description", "tools", "arguments"}
REQUIRED_TOP_KEYS = ("name", "title", "description", "tools")
ARG_KEYS = {"name", "description", "required", "default", "complete"}
# an argument's `complete:` source → the vm_options category whose values completion offers
OPTION_SOURCES = {"region": "regions", "vm_config": "vm_configs", "plan": "plans", "image": "images"}
COMPLETION_SOURCES = {"vm", *OPTION_SOURCES}  # where an argument's values come from in completion/complete
MAX_COMPLETIONS = 100  # the protocol's limit per completion result
COMPLETION_DEADLINE = 3.0  # seconds a completion may spend reading the project (a person is typing)
MAX_ARGUMENT_LENGTH = 2000  # a prompt argument is a name or a sentence, never a document


class PromptFileError(ConfigurationError):
    """A prompt file is malformed; the message names the file (and line) and what is wrong."""


@dataclass
class _Item:
    """One `arguments` entry as written: its values and the line each key is on (for precise errors)."""

    values: dict[str, str]
    lines: dict[str, int]

    def line(self, key: str = "name") -> int:
        return self.lines.get(key, self.lines["name"])


@dataclass(frozen=True)
class PromptArg:
    name: str
    description: str
    required: bool
    default: str | None = None
    complete: str | None = None


@dataclass(frozen=True)
class PromptSpec:
    path: Path
    name: str
    title: str
    description: str
    tools: tuple[str, ...]
    arguments: tuple[PromptArg, ...]
    body: str

    def render(self, values: Mapping[str, str]) -> str:
        unknown = sorted(set(values) - {a.name for a in self.arguments})
        if unknown:
            raise MCPError(code=INVALID_PARAMS, message=f"Prompt {self.name} has no argument(s) {unknown}; it takes "
                           f"{[a.name for a in self.arguments]}.")
        filled: dict[str, str] = {}
        for arg in self.arguments:
            value = str(values.get(arg.name) or "").strip()
            if len(value) > MAX_ARGUMENT_LENGTH:
                raise MCPError(code=INVALID_PARAMS, message=f"Argument {arg.name} of prompt {self.name} is longer "
                               f"than {MAX_ARGUMENT_LENGTH} characters.")
            if not value and arg.required:
                raise MCPError(code=INVALID_PARAMS, message=f"Prompt {self.name} needs argument {arg.name}: "
                               f"{arg.description}")
            filled[arg.name] = value or (arg.default or "")
        return PLACEHOLDER_RE.sub(lambda m: filled[m.group(1)], self.body)


# -- loading -------------------------------------------------------------------------------------------------------
def prompts_dir() -> Path:
    """The packaged copy when installed from a wheel, else the checkout's top-level folder."""
    for candidate in (PACKAGED_DIR, SOURCE_DIR):
        if candidate.is_dir():
            return candidate
    raise PromptFileError(f"no prompts folder: looked for {PACKAGED_DIR} and {SOURCE_DIR}")


def load_prompts(directory: Path, known_tools: set[str]) -> list[PromptSpec]:
    files = sorted(directory.glob("*.md"))
    if not files:
        raise PromptFileError(f"{directory}: no prompt files (*.md) found")
    return [parse_prompt_file(path, known_tools) for path in files]


def parse_prompt_file(path: Path, known_tools: set[str]) -> PromptSpec:
    def fail(problem: str, line: int | None = None) -> PromptFileError:
        where = f"{path}: line {line}" if line else str(path)
        return PromptFileError(f"invalid prompt file {where}: {problem}")

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot be read ({exc})") from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise fail("must start with a '---' line opening the front matter", 1)
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise fail("the front matter is never closed by a second '---' line") from None
    top, items = _parse_front_matter(lines[1:end], first_line=2, fail=fail)
    body = "\n".join(lines[end + 1:]).strip("\n")
    return _build_spec(path, top, items, body, known_tools, fail)


def _parse_front_matter(
    lines: list[str], first_line: int, fail: Callable[..., PromptFileError]
) -> tuple[dict[str, str], list[_Item]]:
    top: dict[str, str] = {}
    items: list[_Item] = []
    in_arguments = False
    for number, raw in enumerate(lines, start=first_line):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if "\t" in raw:
            raise fail("tabs are not allowed; indent with spaces", number)
        indent = len(raw) - len(raw.lstrip(" "))
        stripped = raw.strip()
        if indent == 0:
            key, value = _key_value(stripped, number, fail)
            if key not in TOP_KEYS:
                raise fail(f"unknown key {key!r} (allowed: {', '.join(sorted(TOP_KEYS))})", number)
            if key in top or (key == "arguments" and in_arguments):
                raise fail(f"duplicate key {key!r}", number)
            if key == "arguments":
                if value:
                    raise fail("'arguments:' takes no value on its line; list the items below it", number)
                in_arguments = True
                top[key] = ""
                continue
            in_arguments = False
            if not value:
                raise fail(f"{key!r} has no value", number)
            top[key] = value
        elif in_arguments and indent == 2 and stripped.startswith("- "):
            key, value = _key_value(stripped[2:].strip(), number, fail)
            if key != "name":
                raise fail("each argument item must start with '- name: ...'", number)
            items.append(_Item({key: value}, {key: number}))
        elif in_arguments and indent == 4 and items:
            key, value = _key_value(stripped, number, fail)
            item = items[-1]
            if key not in ARG_KEYS:
                raise fail(f"unknown argument key {key!r} (allowed: {', '.join(sorted(ARG_KEYS))})", number)
            if key in item.values:
                raise fail(f"duplicate argument key {key!r}", number)
            item.values[key] = value
            item.lines[key] = number
        else:
            raise fail(f"unexpected line {stripped!r} (top-level keys start at column 0, argument items at "
                       "column 2 with '- ', their keys at column 4)", number)
    return top, items


def _key_value(text: str, number: int, fail: Callable[..., PromptFileError]) -> tuple[str, str]:
    key, sep, value = text.partition(":")
    key, value = key.strip(), value.strip()
    if not sep or not re.fullmatch(r"[a-z_]+", key):
        raise fail(f"expected 'key: value', got {text!r}", number)
    if value.startswith('"'):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            raise fail(f"{key!r}: a value starting with '\"' must be one JSON string", number) from None
        if not isinstance(decoded, str):
            raise fail(f"{key!r}: a value starting with '\"' must be one JSON string", number)
        value = decoded
    return key, value


def _build_spec(
    path: Path,
    top: dict[str, str],
    items: list[_Item],
    body: str,
    known_tools: set[str],
    fail: Callable[..., PromptFileError],
) -> PromptSpec:
    missing = [k for k in REQUIRED_TOP_KEYS if k not in top]
    if missing:
        raise fail(f"missing front-matter key(s): {', '.join(missing)}")
    name = top["name"]
    if not NAME_RE.fullmatch(name):
        raise fail(f"name {name!r} must be lowercase letters, digits and underscores, starting with a letter")
    if name != path.stem:
        raise fail(f"name {name!r} must equal the file name {path.stem!r}")
    tools = tuple(t.strip() for t in top["tools"].split(","))
    unknown_tools = [t for t in tools if t not in known_tools]
    if unknown_tools:
        raise fail(f"'tools' names tool(s) that do not exist: {', '.join(unknown_tools)}")
    if not body.strip():
        raise fail("the template body after the front matter is empty")
    unmentioned = [t for t in tools if not re.search(rf"\b{re.escape(t)}\b", body)]
    if unmentioned:
        raise fail(f"the body never mentions tool(s) listed in 'tools': {', '.join(unmentioned)}")
    arguments = tuple(_build_arg(item, fail) for item in items)
    names = [a.name for a in arguments]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise fail(f"duplicate argument name(s): {', '.join(duplicates)}")
    used = PLACEHOLDER_RE.findall(body)
    undeclared = sorted(set(used) - set(names))
    if undeclared:
        raise fail(f"the body uses placeholder(s) that are not declared arguments: {', '.join(undeclared)}")
    unused = [n for n in names if n not in used]
    if unused:
        raise fail(f"argument(s) never used in the body: {', '.join(unused)}")
    leftover = PLACEHOLDER_RE.sub("", body)
    if "{{" in leftover or "}}" in leftover:
        raise fail("the body has a malformed placeholder: write {{argument_name}}")
    return PromptSpec(path, name, top["title"], top["description"], tools, arguments, body)


def _build_arg(item: _Item, fail: Callable[..., PromptFileError]) -> PromptArg:
    values = item.values
    name = values["name"]
    if not NAME_RE.fullmatch(name):
        raise fail(f"argument name {name!r} must be lowercase letters, digits and underscores", item.line())
    for key in ("description", "required"):
        if key not in values:
            raise fail(f"argument {name!r} has no {key!r}", item.line())
    if values["required"] not in ("true", "false"):
        raise fail(f"argument {name!r}: 'required' must be true or false, not {values['required']!r}",
                   item.line("required"))
    required = values["required"] == "true"
    default = values.get("default")
    if required and default is not None:
        raise fail(f"argument {name!r} is required, so it cannot have a default", item.line("default"))
    if not required and not default:
        raise fail(f"optional argument {name!r} needs a 'default' (the text used when it is omitted)", item.line())
    complete = values.get("complete")
    if complete is not None and complete not in COMPLETION_SOURCES:
        raise fail(f"argument {name!r}: 'complete' must be one of {sorted(COMPLETION_SOURCES)}",
                   item.line("complete"))
    return PromptArg(name, values["description"], required, default, complete)


# -- serving -------------------------------------------------------------------------------------------------------
def install(server: MCPServer, reader: Reader, visible_tools: set[str], known_tools: set[str]) -> frozenset[str]:
    """Register every prompt file on `server` (skipping those that need tools this server hides) and the
    completions; `reader` supplies VM names. Returns the names of the prompts offered."""
    offered: dict[str, PromptSpec] = {}
    for spec in load_prompts(prompts_dir(), known_tools):
        hidden = [t for t in spec.tools if t not in visible_tools]
        if hidden:  # e.g. --read-only: a prompt must not steer the agent to tools it cannot call
            log.info("prompt %s not offered: needs %s, hidden by this configuration", spec.name, ", ".join(hidden))
            continue
        offered[spec.name] = spec
        server.add_prompt(to_mcp_prompt(spec))
    server.completion()(_completion_handler(reader, offered))
    return frozenset(offered)


class TemplatePrompt(Prompt):
    """A prompt whose bad arguments are the client's mistake (-32602 with a clear message), not a server error."""

    spec: PromptSpec

    async def render(self, arguments: dict[str, Any] | None, context: Any) -> Any:
        return [UserMessage(self.spec.render(arguments or {}))]


def to_mcp_prompt(spec: PromptSpec) -> Prompt:
    async def unused(**values: str) -> None:  # `Prompt` requires a function; `TemplatePrompt.render` does the work
        raise NotImplementedError

    return TemplatePrompt(
        spec=spec,
        name=spec.name,
        title=spec.title,
        description=spec.description,
        arguments=[PromptArgument(name=a.name, description=a.description, required=a.required)
                   for a in spec.arguments],
        fn=unused,
    )


def _completion_handler(
    reader: Reader, offered: Mapping[str, PromptSpec]
) -> Callable[[PromptReference | ResourceTemplateReference, CompletionArgument, CompletionContext | None],
              Any]:
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        source: str | None = None
        if isinstance(ref, PromptReference) and ref.name in offered:
            arg = next((a for a in offered[ref.name].arguments if a.name == argument.name), None)
            source = arg.complete if arg else None
        elif isinstance(ref, ResourceTemplateReference) and ref.uri == VM_TEMPLATE and argument.name == VM.id_arg:
            # the VM resource takes a name as well as an id, and names are what a person types
            source = "vm"
        if source in OPTION_SOURCES:
            return matching(await reader.option_values(OPTION_SOURCES[source]), argument.value)
        if source != "vm":
            return None
        return matching(await reader.vm_names(argument.value), argument.value)

    return complete


def matching(values: list[str], typed: str) -> Completion:
    """Prefix matches first (case-insensitive), then other substring matches; at most 100."""
    needle = typed.strip().lower()
    prefix = [v for v in values if v.lower().startswith(needle)]
    inside = [v for v in values if needle in v.lower() and v not in prefix]
    found = prefix + inside
    return Completion(values=found[:MAX_COMPLETIONS], total=len(found), has_more=len(found) > MAX_COMPLETIONS)
