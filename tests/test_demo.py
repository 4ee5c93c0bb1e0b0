"""`neev-mcp demo`: the scripted session runs end to end and prints what an agent sees."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from neev_mcp.demo import main

TOOLS = ["list_vms", "create_vm", "get_vm", "delete_vm", "list_root_disk_volumes", "get_root_disk_volume",
         "delete_root_disk_volume", "start_vm", "stop_vm", "restart_vm", "project_overview", "wait_for_vm",
         "vm_options"]
FULL_TOKEN = re.compile(r"confirmation_token=\"?[^\s\"…]{12,}")


def check_transcript(out: str) -> None:
    lines = out.splitlines()
    headers = [line.split(" ─")[0] for line in lines if line.startswith("── ")]
    assert headers == [
        "── 1. tools/list — what the agent is offered",
        "── 2. project_overview — the whole project in one answer",
        "── 3. vm_options, then create_vm with the values it shows",
        "── 4. wait_for_vm until it runs (MCP progress notifications)",
        "── 5. stop_vm, then wait until stopped",
        "── 6. start_vm, then wait until running",
        "── 7. delete_vm — destructive, so it needs the user's confirmation",
        "── 8. project_overview — the first line, afterwards",
    ]
    listed = [line.split()[0] for line in lines[lines.index(next(x for x in lines if x.startswith("── 1."))) + 1:]
              if line.startswith("  ") and line.split()[0] in TOOLS]
    assert listed == TOOLS
    # etl-2 boots on the sandbox's clock: on a loaded machine it may be further along when the overview runs
    first = r"  Project demo-org/demo-project: 6 VMs — (3 running, 1 stopped, 1 failed, 1 (provisioning|starting)|" \
            r"4 running, 1 stopped, 1 failed)\."
    assert any(re.fullmatch(first, line) for line in lines), [x for x in lines if "Project demo-org" in x]
    assert any(line.startswith("  Options for create_vm in project demo-org/demo-project (6 VMs, 7 root disks read).")
               for line in lines)
    # the agent picks from what vm_options showed: the most used region, plan and image, a configuration without GPUs
    assert re.search(r'→ create_vm \{"name": "demo-web", "region_id": "in-mum-1", "vm_config_id": "vcpu-8-ram-32",'
                     r'\s+"plan_id": "hourly", .*"image_id": "ubuntu-24.04"', out, re.DOTALL)
    assert any(line.startswith("  Create requested: VM demo-web (") for line in lines)
    progress = [line for line in lines if line.startswith("    … progress ")]
    assert any("demo-web (" in line and ": pending (in transition" in line for line in progress)
    assert sum(line.startswith("  Reached running after ") for line in lines) == 2
    assert sum(line.startswith("  Reached stopped after ") for line in lines) == 1
    assert "  (the user approves)" in lines
    assert any(line.startswith("  Deletion of VM demo-web (") for line in lines)
    assert re.search(r"VM demo-web \([0-9a-f-]{36}\) is deleted: it no longer exists \(HTTP 404\)", out)
    # the project is back to six VMs: etl-2 finished booting, demo-web is gone
    assert "  Project demo-org/demo-project: 6 VMs — 4 running, 1 stopped, 1 failed." in lines
    assert not FULL_TOKEN.search(out), "the transcript must not print a usable confirmation token"
    assert lines[-1].startswith("Done in ")


def test_the_in_process_demo_runs_the_whole_ops_conversation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--speed", "20"]) == 0
    captured = capsys.readouterr()
    check_transcript(captured.out)
    assert "HTTP Request" not in captured.out


@pytest.mark.slow
def test_neev_mcp_demo_runs_from_the_command_line() -> None:
    # `--stdio` (server as a subprocess) works too but polls at the agent's pace (1 s), about 7 s: run it by hand.
    done = subprocess.run([sys.executable, "-m", "neev_mcp", "demo", "--speed", "20"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(sandbox ×20, in-process; no account, no network)" in done.stdout
    check_transcript(done.stdout)
