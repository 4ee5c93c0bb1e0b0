"""The token never leaks, and an expired one is named as such (at start-up and on 401).

The suite-wide scan lives in tests/support/hygiene.py (every MCP result, log record and captured output of every test);
these tests prove that scan can fail, and push the token through the paths most likely to leak it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from neev_mcp.cli import announce
from neev_mcp.config import Settings
from neev_mcp.sandbox import DEFAULT_TOKEN, Fault, Sandbox, make_token, redact_authorization

from .conftest import MakeServer
from .support import hygiene as _hygiene
from .support import text as text_of

EXPIRED = make_token(sub="hygiene-expired", exp=1767225600)  # 2026-01-01T00:00:00Z
_hygiene.watch(EXPIRED, "the expired test token")
REPO = Path(__file__).resolve().parent.parent



def test_the_suite_wide_scan_fails_a_leaking_test_and_never_prints_the_value(tmp_path: Path) -> None:
    (tmp_path / "test_leak.py").write_text(textwrap.dedent("""
        import logging
        from neev_mcp.sandbox import DEFAULT_TOKEN

        def test_prints_it():
            print("debug:", DEFAULT_TOKEN)

        def test_logs_it():
            logging.getLogger("neev_mcp.x").warning("token=%s", DEFAULT_TOKEN)

        def test_traces_it():
            from opentelemetry import trace
            with trace.get_tracer("t").start_as_current_span("leak") as span:
                span.add_event("sent", {"header": "Bearer " + DEFAULT_TOKEN})

        def test_clean():
            print("nothing to see")
    """))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.support.hygiene", "-p", "no:cacheprovider", "-o",
         "addopts=", str(tmp_path / "test_leak.py")],
        cwd=REPO, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert "3 failed, 1 passed" in run.stdout, run.stdout[-2000:]
    assert "token hygiene: the NeevCloud token appeared in captured stdout call (value withheld)" in run.stdout
    assert "token hygiene: the NeevCloud token appeared in a log record of neev_mcp.x" in run.stdout
    assert "token hygiene: the NeevCloud token appeared in span 'leak'" in run.stdout
    assert DEFAULT_TOKEN not in run.stdout + run.stderr


def test_leaks_finds_every_watched_secret_by_name() -> None:
    assert _hygiene.leaks(f"x {DEFAULT_TOKEN} y {_hygiene.SUITE_SECRET}") == ["the NeevCloud token", "NEEV_MCP_SECRET"]
    assert _hygiene.leaks("Bearer [redacted]") == []


def test_leaks_finds_a_cut_or_wrapped_token_but_not_the_header_every_jwt_shares() -> None:
    cut = DEFAULT_TOKEN[:-30]  # e.g. an exception message quoting the first 200 characters of a longer token
    wrapped = "\n".join(DEFAULT_TOKEN[i:i + 20] for i in range(40, 120, 20))
    assert _hygiene.leaks(f"invalid literal: {cut!r}") == _hygiene.leaks(wrapped) == ["the NeevCloud token"]
    assert _hygiene.leaks(DEFAULT_TOKEN.split(".")[0] + ".") == []
    assert _hygiene.leaks(EXPIRED) == ["the expired test token"]  # made alike, yet told apart


@pytest.mark.anyio
async def test_a_401_for_an_expired_token_says_when_it_expired_and_never_shows_it(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    async with Client(make_server(api_token=EXPIRED), raise_exceptions=True) as client:
        result = await client.call_tool("list_vms", {})
    assert result.is_error
    assert text_of(result) == (
        "NeevCloud refused list_vms: HTTP 401 [unauthorized] missing or invalid bearer token. The API token expired "
        "at 2026-01-01T00:00:00Z. Set NEEV_API_TOKEN to a fresh NeevCloud bearer JWT and restart the server."
    )
    # it was sent (the log keeps a fingerprint), just never shown
    assert sandbox.requests[0].headers["authorization"] == redact_authorization(f"Bearer {EXPIRED}")


def test_start_up_warns_that_the_token_expired_and_when(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="neev_mcp"):
        announce(Settings(api_token=EXPIRED))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "NEEV_API_TOKEN looks expired (the token expired at 2026-01-01T00:00:00Z): calls will be refused "
                    "with 401"),
    ]


def test_start_up_is_quiet_about_a_token_that_is_still_valid(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="neev_mcp"):
        announce(Settings(api_token=DEFAULT_TOKEN))
    assert not [r for r in caplog.records if "token" in r.getMessage().lower()]


@pytest.mark.anyio
async def test_a_stdio_server_with_an_expired_token_says_so_on_stderr_and_never_prints_the_token(
    tmp_path: Path,
) -> None:
    errlog = tmp_path / "stderr.txt"
    env = {**os.environ, "NEEV_API_TOKEN": EXPIRED, "NEEV_MCP_SECRET": "hygiene-secret-value-0123456789abcdef-0123",
           "NEEV_API_BASE_URL": "http://127.0.0.1:9/vm", "NEEV_ORG_ID": "o", "NEEV_PROJECT_ID": "p",
           "NEEV_MAX_ATTEMPTS": "1", "NEEV_MCP_LOG_LEVEL": "DEBUG"}
    _hygiene.watch("hygiene-secret-value-0123456789abcdef-0123", "NEEV_MCP_SECRET of the subprocess")
    params = StdioServerParameters(command=sys.executable, args=["-m", "neev_mcp"], env=env)
    with errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err)) as client:
            result = await client.call_tool("list_vms", {})
    stderr = errlog.read_text()
    assert "NEEV_API_TOKEN looks expired (the token expired at 2026-01-01T00:00:00Z)" in stderr
    assert result.is_error and "nothing was sent" in text_of(result)
    for secret in (EXPIRED, "hygiene-secret-value-0123456789abcdef-0123"):
        assert secret not in stderr
        assert secret not in text_of(result)


@pytest.mark.anyio
async def test_a_tour_of_every_tool_through_faults_at_debug_logging_leaks_nothing(
    make_server: MakeServer, sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    web = sandbox.vm_by_name("web-1").id
    disk = next(d.id for d in sandbox.root_disks.values() if d.name == "old-root-disk")
    calls = [
        ("list_vms", {}), ("get_vm", {"vm_id": web}), ("stop_vm", {"vm_id": web}), ("start_vm", {"vm_id": web}),
        ("restart_vm", {"vm_id": web}), ("list_root_disk_volumes", {}),
        ("get_root_disk_volume", {"root_disk_id": disk}),
        ("delete_root_disk_volume", {"root_disk_id": disk}), ("delete_vm", {"vm_id": web}),
        ("project_overview", {}), ("vm_options", {}),
        ("wait_for_vm", {"vm_id": web, "target_status": "deleted", "timeout_seconds": 1}),
        ("create_vm", {"name": "x", "region_id": "nowhere", "vm_config_id": "c", "plan_id": "p",
                       "root_disk": {"attach_disk_request": {"disk_id": disk}}}),
        ("get_vm", {"vm_id": "not-a-uuid"}),
    ]
    sandbox.add_faults(Fault(kind="status", status=503, count=3), Fault(kind="drop", count=2),
                       Fault(kind="malformed", count=2), Fault(kind="non_json", status=502, count=2))
    with caplog.at_level(logging.DEBUG):
        async with Client(make_server(confirm="off", max_attempts=2), raise_exceptions=True) as client:
            texts = [text_of(await client.call_tool(name, args)) for name, args in calls]
        async with Client(make_server(api_token=EXPIRED), raise_exceptions=True) as client:
            texts.append(text_of(await client.call_tool("get_vm", {"vm_id": web})))
    assert len(sandbox.requests) > len(calls)
    assert "expired at 2026-01-01T00:00:00Z" in texts[-1]
    everything = "\n".join(texts) + caplog.text
    for secret in (DEFAULT_TOKEN, EXPIRED, "test-secret-for-neev-mcp"):
        assert secret not in everything
