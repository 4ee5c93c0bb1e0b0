"""Prompts: served from the `prompts/` files through a real MCP client, VM names completed, malformed files refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.types import PromptReference, ResourceTemplateReference

from neev_mcp import prompts
from neev_mcp.prompts import PromptFileError, parse_prompt_file
from neev_mcp.registry import build_registry
from neev_mcp.sandbox import Fault

from .conftest import MakeServer, api_requests, vm_path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = {t.name for t in build_registry()}
MUTATING = {t.name for t in build_registry() if not t.hints.read_only}
EXPECTED = {
    "cleanup_unattached_disks": [("min_age", False)],
    "decommission_vm": [("vm", True)],
    "diagnose_failed_vm": [("vm", True)],
    "project_health_report": [("focus", False)],
    "provision_vm": [("vm_name", False), ("purpose", False), ("region", False), ("vm_config", False), ("plan", False),
                     ("image", False)],
}


def specs() -> list[prompts.PromptSpec]:
    return prompts.load_prompts(ROOT / "prompts", TOOLS)


# -- served through a real client ----------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_every_prompt_file_is_listed_with_its_title_description_and_arguments(client: Client) -> None:
    listed = (await client.list_prompts()).prompts
    assert {p.name: [(a.name, a.required) for a in p.arguments or []] for p in listed} == EXPECTED
    by_name = {s.name: s for s in specs()}
    for p in listed:
        spec = by_name[p.name]
        assert (p.title, p.description) == (spec.title, spec.description)
        assert [a.description for a in p.arguments or []] == [a.description for a in spec.arguments]
        assert all(a.description for a in p.arguments or [])


@pytest.mark.anyio
async def test_getting_a_prompt_fills_its_arguments_into_the_template_and_calls_no_api(client, sandbox) -> None:
    sandbox.clear_requests()
    result = await client.get_prompt("decommission_vm", {"vm": "web-1"})
    text = result.messages[0].content.text
    assert result.messages[0].role == "user"
    assert text.startswith("Help me decommission the VM web-1 safely: stop it, confirm, then delete it.")
    assert '"web-1" is a name rather than an id' in text
    assert "{{" not in text
    assert sandbox.requests == []


@pytest.mark.anyio
async def test_an_omitted_optional_argument_is_replaced_by_its_documented_default(client: Client) -> None:
    text = (await client.get_prompt("provision_vm", {"purpose": "GPU training"})).messages[0].content.text
    assert "Name: (not given yet: ask the user)\nPurpose: GPU training" in text


@pytest.mark.anyio
async def test_a_missing_required_argument_is_a_clear_invalid_params_error(client: Client) -> None:
    with pytest.raises(MCPError) as exc:
        await client.get_prompt("diagnose_failed_vm", {})
    assert exc.value.code == -32602
    assert exc.value.message == "Prompt diagnose_failed_vm needs argument vm: The VM to diagnose (its name or id)."


@pytest.mark.anyio
async def test_an_unknown_argument_is_refused_naming_the_accepted_ones(client: Client) -> None:
    with pytest.raises(MCPError) as exc:
        await client.get_prompt("decommission_vm", {"vm": "web-1", "force": "yes"})
    assert exc.value.code == -32602
    assert exc.value.message == "Prompt decommission_vm has no argument(s) ['force']; it takes ['vm']."


@pytest.mark.anyio
async def test_prompts_are_served_to_handshake_era_clients_too(legacy_client: Client) -> None:
    names = {p.name for p in (await legacy_client.list_prompts()).prompts}
    assert names == set(EXPECTED)
    text = (await legacy_client.get_prompt("project_health_report", {})).messages[0].content.text
    assert "Focus: (no particular focus: cover everything)" in text


@pytest.mark.anyio
async def test_read_only_mode_offers_only_prompts_whose_tools_are_all_available(make_server: MakeServer) -> None:
    async with Client(make_server(read_only=True)) as c:
        assert [p.name for p in (await c.list_prompts()).prompts] == ["project_health_report"]


@pytest.mark.anyio
async def test_a_stdio_server_started_from_the_checkout_serves_prompts_completion_and_resources() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "neev_mcp", "--sandbox"], env=env,
                                   cwd=str(ROOT))
    async with Client(params, mode="legacy") as c:
        assert {p.name for p in (await c.list_prompts()).prompts} == set(EXPECTED)
        ref = PromptReference(type="ref/prompt", name="diagnose_failed_vm")
        assert (await c.complete(ref, {"name": "vm", "value": "bat"})).completion.values == ["batch-7"]
        text = (await c.read_resource("neev://vms/batch-7")).contents[0].text
        assert text.startswith("VM batch-7 (") and "failed" in text


# -- what the prompts say ------------------------------------------------------------------------------------------
def test_every_prompt_names_existing_tools_and_mentions_each_in_its_body() -> None:
    for spec in specs():
        assert spec.tools and set(spec.tools) <= TOOLS, spec.name
        for tool in spec.tools:
            assert f"`{tool}`" in spec.body, (spec.name, tool)


def test_every_prompt_that_can_change_something_asks_for_approval_before_the_change() -> None:
    for spec in specs():
        if set(spec.tools) & MUTATING:
            body = " ".join(spec.body.split()).lower()
            assert "approv" in body and ("show me" in body or "tell me" in body), spec.name


def test_the_provisioning_prompt_covers_every_required_create_vm_field() -> None:
    create = next(t for t in build_registry() if t.name == "create_vm")
    body = next(s.body for s in specs() if s.name == "provision_vm")
    for field in create.input_schema["required"]:
        assert f"`{field}`" in body, field


def test_the_decommission_prompt_stops_before_it_deletes() -> None:
    body = next(s.body for s in specs() if s.name == "decommission_vm")
    assert body.index("`stop_vm`") < body.index('`target_status` "stopped"') < body.index("`delete_vm`")


# -- completion ----------------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_vm_argument_completes_to_vm_names_prefix_matches_first(client: Client, sandbox) -> None:
    sandbox.clear_requests()
    ref = PromptReference(type="ref/prompt", name="decommission_vm")
    result = await client.complete(ref, {"name": "vm", "value": "b"})
    assert result.completion.values == ["batch-7", "web-1", "db-1"]
    assert result.completion.total == 3
    assert result.completion.has_more is False
    [request] = api_requests(sandbox)
    assert (request.method, request.path, request.query) == ("GET", vm_path(), {"page": "1", "limit": "100"})


@pytest.mark.anyio
async def test_the_vm_resource_template_completes_to_vm_names(client: Client) -> None:
    ref = ResourceTemplateReference(type="ref/resource", uri="neev://vms/{vm_id}")
    result = await client.complete(ref, {"name": "vm_id", "value": "TRAIN"})
    assert result.completion.values == ["train-gpu-1"]


@pytest.mark.anyio
async def test_an_argument_that_is_not_a_vm_completes_to_nothing_without_calling_the_api(client, sandbox) -> None:
    sandbox.clear_requests()
    ref = PromptReference(type="ref/prompt", name="project_health_report")
    result = await client.complete(ref, {"name": "focus", "value": "g"})
    assert result.completion.values == []
    assert sandbox.requests == []


@pytest.mark.anyio
async def test_completion_is_best_effort_when_the_api_refuses(client: Client, sandbox) -> None:
    sandbox.add_faults(Fault(kind="status", status=401, path_regex=r"/vms$"))
    ref = PromptReference(type="ref/prompt", name="diagnose_failed_vm")
    result = await client.complete(ref, {"name": "vm", "value": ""})
    assert result.completion.values == []
    assert [r.status for r in api_requests(sandbox)] == [401]


@pytest.mark.anyio
async def test_completion_without_a_default_project_offers_nothing(make_server: MakeServer, sandbox) -> None:
    async with Client(make_server(org_id=None, project_id=None)) as c:
        sandbox.clear_requests()
        ref = PromptReference(type="ref/prompt", name="decommission_vm")
        assert (await c.complete(ref, {"name": "vm", "value": "w"})).completion.values == []
    assert sandbox.requests == []


@pytest.mark.anyio
async def test_the_create_arguments_of_provision_vm_complete_to_the_values_vm_options_shows(client, sandbox) -> None:
    """Issue 13: the values an agent picks create_vm arguments from are offered as completions, most used first,
    each once (the project's VMs and root disks are read through the walker, one page each here)."""
    ref = PromptReference(type="ref/prompt", name="provision_vm")
    sandbox.clear_requests()
    region = await client.complete(ref, {"name": "region", "value": ""})
    assert region.completion.values == ["in-mum-1", "in-del-1"]
    assert sorted((r.method, r.path, r.query["page"]) for r in api_requests(sandbox)) == [
        ("GET", vm_path().replace("/vms", "/root_disks"), "1"), ("GET", vm_path(), "1")]
    configs = await client.complete(ref, {"name": "vm_config", "value": "vcpu"})
    assert configs.completion.values == ["vcpu-8-ram-32", "vcpu-2-ram-8", "vcpu-4-ram-16"]
    assert (await client.complete(ref, {"name": "plan", "value": "MON"})).completion.values == ["monthly"]
    images = await client.complete(ref, {"name": "image", "value": "u"})
    assert images.completion.values == ["ubuntu-24.04", "ubuntu-22.04"] and images.completion.total == 2


@pytest.mark.anyio
async def test_option_values_complete_each_value_once_however_many_vms_use_it(make_server: MakeServer,
                                                                             sandbox) -> None:
    sandbox.seed_bulk(250)
    async with Client(make_server()) as c:
        ref = PromptReference(type="ref/prompt", name="provision_vm")
        result = await c.complete(ref, {"name": "plan", "value": ""})
    assert result.completion.values == ["hourly", "monthly"] and result.completion.total == 2


# -- strict loading ------------------------------------------------------------------------------------------------
GOOD = """---
name: {name}
title: A title
description: A description.
tools: get_vm
arguments:
  - name: vm
    description: The VM.
    required: true
---
Look at {{{{vm}}}} with `get_vm`.
"""


def write(tmp_path: Path, text: str, name: str = "sample") -> Path:
    path = tmp_path / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_well_formed_file_parses_into_its_spec(tmp_path: Path) -> None:
    spec = parse_prompt_file(write(tmp_path, GOOD.format(name="sample")), TOOLS)
    assert (spec.name, spec.title, spec.tools) == ("sample", "A title", ("get_vm",))
    assert [(a.name, a.required) for a in spec.arguments] == [("vm", True)]
    assert spec.render({"vm": "db-1"}) == "Look at db-1 with `get_vm`."


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("---\nname", "name", "line 1: must start with a '---' line opening the front matter"),
        ("\n---\nLook", "\nLook", "the front matter is never closed by a second '---' line"),
        ("title: A title\n", "", "missing front-matter key(s): title"),
        ("title: A title", "title: A title\ncolour: blue", "line 4: unknown key 'colour'"),
        ("title: A title", "title:", "line 3: 'title' has no value"),
        ("name: sample", "name: other", "name 'other' must equal the file name 'sample'"),
        ("tools: get_vm", "tools: get_vm, reboot_everything", "'tools' names tool(s) that do not exist: "
         "reboot_everything"),
        ("tools: get_vm", "tools: get_vm, list_vms", "the body never mentions tool(s) listed in 'tools': list_vms"),
        ("required: true", "required: yes", "line 9: argument 'vm': 'required' must be true or false, not 'yes'"),
        ("required: true", "required: false", "line 7: optional argument 'vm' needs a 'default'"),
        ("    description: The VM.\n", "", "line 7: argument 'vm' has no 'description'"),
        ("    required: true", "     required: true", "line 9: unexpected line 'required: true'"),
        ("{{vm}}", "{{vm}} {{size}}", "placeholder(s) that are not declared arguments: size"),
        ("Look at {{vm}}", "Look at it", "argument(s) never used in the body: vm"),
        ("{{vm}}", "{{vm}} {{ bad-name }}", "the body has a malformed placeholder"),
        ('title: A title', 'title: "unterminated', "line 3: 'title': a value starting with '\"' must be one JSON "
         "string"),
        ("  - name: vm", "  - name: vm\n    complete: disks",
         "line 8: argument 'vm': 'complete' must be one of ['image', 'plan', 'region', 'vm', 'vm_config']"),
    ],
)
def test_a_malformed_file_is_refused_with_the_file_line_and_problem(
    tmp_path: Path, old: str, new: str, problem: str
) -> None:
    good = GOOD.format(name="sample")
    assert old in good
    path = write(tmp_path, good.replace(old, new, 1))
    with pytest.raises(PromptFileError) as exc:
        parse_prompt_file(path, TOOLS)
    message = str(exc.value)
    assert message.startswith(f"invalid prompt file {path}")
    assert problem in message


def test_a_malformed_prompt_file_stops_the_server_at_start_up_naming_the_file(
    tmp_path: Path, make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, GOOD.format(name="fine"), name="fine")
    broken = write(tmp_path, GOOD.format(name="broken").replace("required: true", "required: maybe"), name="broken")
    monkeypatch.setattr(prompts, "PACKAGED_DIR", tmp_path / "absent")
    monkeypatch.setattr(prompts, "SOURCE_DIR", tmp_path)
    with pytest.raises(PromptFileError, match=f"invalid prompt file {broken}: line 9: argument 'vm'"):
        make_server()


def test_the_command_line_refuses_to_start_on_a_malformed_prompt_file_naming_it(tmp_path: Path) -> None:
    # an installed copy (neev_mcp/_prompts) whose decommission prompt was broken by hand
    shutil.copytree(ROOT / "neev_mcp", tmp_path / "neev_mcp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "prompts", tmp_path / "neev_mcp" / "_prompts")
    broken = tmp_path / "neev_mcp" / "_prompts" / "decommission_vm.md"
    broken.write_text(broken.read_text(encoding="utf-8").replace("required: true", "required: maybe"), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "neev_mcp", "--sandbox"], env=env, cwd=tmp_path,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.splitlines()[-1] == (f"neev-mcp: invalid prompt file {broken}: line 9: argument 'vm': "
                                           "'required' must be true or false, not 'maybe'")
    assert "Traceback" not in out.stderr


def test_a_prompts_folder_without_prompt_files_stops_the_server(
    tmp_path: Path, make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prompts, "PACKAGED_DIR", tmp_path / "absent")
    monkeypatch.setattr(prompts, "SOURCE_DIR", tmp_path)
    with pytest.raises(PromptFileError, match="no prompt files"):
        make_server()


# -- packaging -----------------------------------------------------------------------------------------------------
def test_the_wheel_carries_the_prompts_and_an_installed_copy_loads_them(tmp_path: Path) -> None:
    build = pytest.importorskip("hatchling.build", reason="hatchling (the build backend) is not installed here")
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        wheel = Path(build.build_wheel(str(tmp_path / "dist")))
    finally:
        os.chdir(cwd)
    wheel = tmp_path / "dist" / wheel.name
    with zipfile.ZipFile(wheel) as zf:
        packaged = sorted(n for n in zf.namelist() if n.startswith("neev_mcp/_prompts/"))
        zf.extractall(tmp_path / "site")
    assert packaged == [f"neev_mcp/_prompts/{p.name}" for p in sorted((ROOT / "prompts").glob("*.md"))]
    code = "from neev_mcp import prompts; print(prompts.prompts_dir())"
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == str(tmp_path / "site" / "neev_mcp" / "_prompts")


def test_a_source_checkout_reads_the_top_level_prompts_folder() -> None:
    assert prompts.prompts_dir() == ROOT / "prompts"


@pytest.mark.anyio
async def test_an_unknown_prompt_is_the_clients_mistake_not_an_internal_error(client: Client) -> None:
    with pytest.raises(MCPError) as refused:
        await client.get_prompt("nope", {})
    assert refused.value.code == -32602
    assert refused.value.message.startswith(
        "Unknown prompt 'nope': prompts/list shows the prompts this server offers (")
