"""Finding 4 of issue 13, the command line: what a new user sees when a setting or a flag is wrong, and what the
sandbox prints so that another process can use it. Subprocesses of the real CLI where the message is the product."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from neev_mcp.cli import NOT_A_JWT_WARNING, announce, applicable
from neev_mcp.config import ConfigurationError, Settings
from neev_mcp.sandbox import DEFAULT_TOKEN, Sandbox, make_token
from neev_mcp.sandbox.server import banner
from neev_mcp.sandbox.server import main as sandbox_main

from .support.http import base_env, connect, free_port, spawn, stop_process, wait_ready

REPO = Path(__file__).resolve().parent.parent


def run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "neev_mcp", *argv], env={**base_env(), **(env or {})},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)


# -- configuration problems ------------------------------------------------------------------------------------------
def test_each_configuration_problem_is_one_plain_line_naming_its_variable() -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.load({"NEEV_API_BASE_URL": "ftp://x", "NEEV_CONFIRM": "bogus", "NEEV_CONNECT_TIMEOUT": "-1",
                       "NEEV_READ_ONLY": "maybe", "NEEV_MAX_ATTEMPTS": "many", "NEEV_CONFIRM_TTL": "soon"})
    assert str(refused.value).splitlines() == [
        "invalid configuration: NEEV_API_BASE_URL: must start with https:// (or http:// for a local test server)",
        "invalid configuration: NEEV_READ_ONLY: must be true or false (also 1/0, yes/no, on/off)",
        "invalid configuration: NEEV_CONFIRM: must be 'destructive', 'mutating' or 'off'",
        "invalid configuration: NEEV_CONFIRM_TTL: must be a number",
        "invalid configuration: NEEV_CONNECT_TIMEOUT: must be greater than 0",
        "invalid configuration: NEEV_MAX_ATTEMPTS: must be a whole number",
    ]
    assert "Value error" not in str(refused.value) and "Input should" not in str(refused.value)


def test_the_cli_prints_each_problem_on_its_own_line_and_exits_2() -> None:
    done = run_cli(env={"NEEV_CONFIRM": "bogus", "NEEV_MCP_LOG_LEVEL": "loud"})
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "neev-mcp: invalid configuration: NEEV_CONFIRM: must be 'destructive', 'mutating' or 'off'",
        "neev-mcp: invalid configuration: NEEV_MCP_LOG_LEVEL: must be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
    ]


@pytest.mark.parametrize("value", [f"Bearer {DEFAULT_TOKEN}", f"bearer  {DEFAULT_TOKEN}", f"BEARER\t{DEFAULT_TOKEN}"])
def test_a_token_with_its_bearer_prefix_says_to_remove_the_prefix_and_never_echoes_it(value: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.load({"NEEV_API_TOKEN": value})
    assert str(refused.value) == ("invalid configuration: NEEV_API_TOKEN: starts with 'Bearer ': remove the 'Bearer ' "
                                  "prefix and set only the token itself (the server adds the prefix)")


def test_inner_whitespace_in_a_token_is_still_called_whitespace() -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.load({"NEEV_MCP_AUTH_TOKEN": "two words-0123456789abcdef0123456789"})
    assert str(refused.value) == ("invalid configuration: NEEV_MCP_AUTH_TOKEN: contains whitespace or control "
                                  "characters; a bearer token is one word")


# -- a token that is not a JWT ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("token", ["abc", "not.a.jwt", "sk-live-0123456789"])
def test_a_token_that_is_not_a_jwt_is_warned_about_at_start_up(token: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="neev_mcp"):
        announce(Settings(api_token=token))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("WARNING", NOT_A_JWT_WARNING)]
    assert NOT_A_JWT_WARNING == (
        "NEEV_API_TOKEN is not a JWT (a NeevCloud token is three dot-separated parts, eyJ…): NeevCloud will likely "
        "refuse every call with 401; copy the whole token from NeevCloud")


@pytest.mark.parametrize("settings", [Settings(api_token=DEFAULT_TOKEN), Settings(api_token="abc", sandbox=True),
                                      Settings(sandbox=True), Settings(api_token=make_token(sub="someone-else"))])
def test_the_sandbox_token_and_real_jwts_get_no_such_warning(settings: Settings,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="neev_mcp"):
        announce(settings)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.anyio
async def test_a_stdio_server_with_a_non_jwt_token_warns_on_stderr_without_printing_it(tmp_path: Path) -> None:
    token = "opaque-token-value-that-is-no-jwt"
    errlog = tmp_path / "stderr.txt"
    env = {**base_env(), "NEEV_API_TOKEN": token, "NEEV_API_BASE_URL": "http://127.0.0.1:9/vm"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "neev_mcp"], env=env)
    with errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err)) as client:
            await client.list_tools()
    stderr = errlog.read_text()
    assert f"WARNING neev_mcp: {NOT_A_JWT_WARNING}" in stderr
    assert token not in stderr


# -- flags that do not apply -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "error"), [
    (["--port", "9000"], "--port only applies to --transport http; this server would speak stdio. Add --transport "
                         "http, or remove it"),
    (["--transport", "stdio", "--host", "0.0.0.0", "--stateless"],
     "--host and --stateless only apply to --transport http; this server would speak stdio. Add --transport http, "
     "or remove them"),
    (["--sandbox", "--base-url", "http://127.0.0.1:8765/vm"],
     "--base-url does not apply with --sandbox (the embedded sandbox has no URL). To use a sandbox served over HTTP, "
     "run `neev-mcp sandbox` and start this server without --sandbox, as it prints"),
])
def test_a_flag_that_does_not_apply_is_refused_with_exit_2(argv: list[str], error: str) -> None:
    done = run_cli(*argv)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == f"neev-mcp: error: {error}"
    assert done.stderr.startswith("usage: neev-mcp")
    assert done.stdout == ""


# -- environment variables that do not apply ------------------------------------------------------------------------
@pytest.mark.anyio
async def test_http_only_variables_on_a_stdio_server_are_named_and_left_out(tmp_path: Path) -> None:
    # An environment copied from an HTTP deployment: with pass-through auth kept, every stdio call failed for want of
    # an Authorization header that stdio never carries.
    errlog = tmp_path / "stderr.txt"
    env = {**base_env(), "NEEV_MCP_AUTH": "passthrough", "NEEV_MCP_METRICS": "1", "NEEV_API_TOKEN": DEFAULT_TOKEN,
           "NEEV_MCP_OAUTH_ISSUER": "ftp://not-checked-for-stdio"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "neev_mcp", "--sandbox"], env=env)
    with errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err)) as client:
            result = await client.call_tool("list_vms", {})
    assert not result.is_error and "web-1" in result.content[0].text
    lines = [line.split(" ", 2)[2] for line in errlog.read_text().splitlines() if " neev_mcp: " in line]
    assert lines[:2] == [
        "WARNING neev_mcp: NEEV_MCP_AUTH, NEEV_MCP_OAUTH_ISSUER, NEEV_MCP_METRICS apply only to the HTTP transport "
        "(--transport http); this server speaks stdio, so they are ignored",
        "INFO neev_mcp: NEEV_API_TOKEN is not used with --sandbox: the embedded sandbox has its own URL and token",
    ]


def test_only_an_http_server_reads_the_http_only_variables() -> None:
    env = {"NEEV_MCP_AUTH": "passthrough", "NEEV_MCP_OAUTH_ISSUER": "ftp://x", "NEEV_CONFIRM": "mutating"}
    assert applicable(env, "http") == env
    assert applicable(env, "stdio") == applicable(env, None) == {"NEEV_CONFIRM": "mutating"}


# -- stateless HTTP logs ---------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_stateless_http_does_not_log_terminating_session_none_per_request() -> None:
    port = free_port()
    proc = spawn("server", ["-m", "neev_mcp", "--transport", "http", "--port", str(port), "--stateless",
                            "--sandbox"], {**base_env(), "NEEV_MCP_AUTH": "none", "NEEV_MCP_LOG_LEVEL": "INFO"}, port)
    try:
        wait_ready(proc)
        for mode in ("legacy", "auto", "legacy"):  # the handshake era is where the SDK logged it
            async with connect(proc.url, mode=mode) as client:
                await client.list_tools()
                await client.call_tool("list_vms", {})
        stop_process(proc.popen, signal.SIGINT)
        stderr = proc.stderr()
    finally:
        proc.stop()
    assert "on the embedded sandbox" in stderr  # INFO lines are there at all
    assert "Terminating session" not in stderr
    assert "INFO uvicorn.error: Finished server process" in stderr
    assert "Traceback" not in stderr  # and Ctrl-C (SIGINT) ends it quietly


def test_the_filter_drops_only_the_sessionless_line() -> None:
    from neev_mcp.inbound import StatelessNoise

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("mcp.server.streamable_http", logging.INFO, __file__, 1, message, None, None)

    assert StatelessNoise().filter(record("Terminating session: None")) is False
    assert StatelessNoise().filter(record("Terminating session: <session id>")) is True


# -- neev-mcp sandbox ------------------------------------------------------------------------------------------------
def test_the_sandbox_banner_prints_its_public_token_and_the_command_to_use_it() -> None:
    lines = banner(Sandbox(), "http://127.0.0.1:8765", DEFAULT_TOKEN).splitlines()
    assert lines[3] == f"  token       : {DEFAULT_TOKEN}"
    assert lines[-1] == (f"  use it      : NEEV_API_BASE_URL=http://127.0.0.1:8765/vm NEEV_API_TOKEN={DEFAULT_TOKEN} "
                         "NEEV_ORG_ID=demo-org NEEV_PROJECT_ID=demo-project neev-mcp")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert lines[-1] in readme.splitlines() and lines[3] in readme.splitlines(), "README shows another banner"


def test_a_token_given_with_dash_dash_token_is_never_printed() -> None:
    own = "my-own-sandbox-token-0123456789"
    shown = banner(Sandbox(token=own), "http://127.0.0.1:8765", own)
    assert own not in shown
    assert "NEEV_API_TOKEN=<the value passed with --token> NEEV_ORG_ID=demo-org" in shown


def test_sandbox_help_documents_every_flag_with_its_default(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per flag
    with pytest.raises(SystemExit) as done:
        sandbox_main(["--help"], prog="neev-mcp sandbox")
    assert done.value.code == 0
    options: list[str] = []
    for line in capsys.readouterr().out.split("options:")[1].splitlines()[2:]:  # after -h
        if line.startswith("  --"):
            options.append(line.strip())
        elif line.strip():
            options[-1] += " " + line.strip()  # the help of a long option starts on the next line
    assert [line.split()[0] for line in options] == [
        "--host", "--port", "--speed", "--token", "--also-accept", "--bulk", "--no-seed", "--latency",
        "--max-parallel", "--allow-remote", "--allowed-hosts", "--log-size"]
    assert [line for line in options if "default: " not in line] == []
    assert "--port PORT           port to bind; 0 = any free port (default: 8765)" in options
    assert DEFAULT_TOKEN not in "\n".join(options)


@pytest.mark.anyio
async def test_the_printed_command_points_neev_mcp_at_the_served_sandbox(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "neev_mcp", "sandbox", "--port", "0", "--speed", "0"],
                            env=base_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        banner_lines = [proc.stderr.readline() for _ in range(8)]
        command = banner_lines[-1].removeprefix("  use it      : ").split()
        assert command[-1] == "neev-mcp" and f"NEEV_API_TOKEN={DEFAULT_TOKEN}" in command, banner_lines
        env = dict(pair.split("=", 1) for pair in command[:-1])
        wait_ready_url(env["NEEV_API_BASE_URL"].removesuffix("/vm") + "/_sandbox/healthz")
        params = StdioServerParameters(command=sys.executable, args=["-m", "neev_mcp"], env={**base_env(), **env})
        with (tmp_path / "stderr.txt").open("w") as err:
            async with Client(stdio_client(params, errlog=err)) as client:
                listed = await client.call_tool("list_vms", {})
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
    assert not listed.is_error
    assert listed.structured_content is not None
    assert listed.structured_content["pagination"]["total_items"] == 6


def wait_ready_url(url: str, timeout: float = 30.0) -> None:
    import time

    import httpx2

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx2.get(url, timeout=1.0).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} never answered"
        time.sleep(0.05)


# -- tests that need the shared contract files -----------------------------------------------------------------------
def test_the_shared_contract_checks_say_what_they_check_and_how_to_run_them(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-o", "addopts=",
         "tests/test_openapi.py::test_the_vendored_spec_is_the_shared_spec_byte_for_byte",
         "tests/test_bundle.py::test_environment_variable_names_match_the_interface_document"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "NEEV_SHARED_DIR": str(tmp_path / "no-shared-here")},
    )
    skipped = re.findall(r"SKIPPED \[1\] \S+ (.*)", done.stdout)
    how = ("which a plain clone does not have; to run it, put the shared directory beside this checkout (../shared) "
           "or set NEEV_SHARED_DIR=/path/to/shared")
    assert sorted(skipped) == sorted([
        "not checked: that the environment variables manifest.json sets are the ones the project's interface "
        f"document (docs/interface.md) names. It needs the project's shared contract file docs/interface.md, {how}",
        "not checked: that the vendored spec neev_mcp/spec/neevcloud-vm-openapi.json is the project's shared "
        f"NeevCloud OpenAPI spec. It needs the project's shared contract file neevcloud-vm-openapi.json, {how}",
    ]), done.stdout
