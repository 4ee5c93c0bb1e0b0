"""Finding 4 of issue 12, in process: the shared replay store (NEEV_MCP_REPLAY_STORE=redis://…) against a real
redis-server started by the test on a free loopback port.

Two servers built on one sandbox stand for two replicas sharing NEEV_MCP_SECRET. Without the store each replica
remembers only its own redeems, so a `create_vm` token runs once *per replica* (the control); with the store it runs
once in all. A store that is down refuses the call before anything is sent; once it is back, the same token works.
The processes-and-concurrency version is tests/test_replay_replicas.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import CallToolResult

from neev_mcp.config import ConfigurationError, Settings
from neev_mcp.gate.replay import CLOCK_SKEW, KEY_PREFIX, RedisReplays, ReplayStoreUnavailable
from neev_mcp.resp import RedisError, RedisURL, run
from neev_mcp.sandbox import Sandbox
from neev_mcp.server import NeevServer

from .components import RedisProcess, redis_server, self_signed_certificate
from .conftest import CREATE, START, MakeServer, vm_path
from .support import text, vm_id
from .support.gate import audit_lines, upstream
from .support.hygiene import watch

pytestmark = pytest.mark.anyio

USED = "this confirmation has already been used."


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisProcess]:
    with redis_server() as proc:
        watch(proc.password, "the Redis password")
        yield proc


@pytest.fixture
async def store_url(redis: RedisProcess) -> str:
    """A clean database 1 for each test."""
    await run(RedisURL.parse(redis.url()), [["FLUSHDB"]], timeout=5)
    return redis.url()


async def create_token(client: Client) -> str:
    preview = await client.call_tool("create_vm", CREATE)
    assert not preview.is_error, text(preview)
    return preview.structured_content["confirmation_token"]


async def redeem_create(server: NeevServer, token: str) -> CallToolResult:
    async with Client(server) as client:
        return await client.call_tool("create_vm", {**CREATE, "confirmation_token": token})


async def test_without_the_store_a_create_token_runs_once_per_replica(make_server: MakeServer, sandbox: Sandbox
                                                                       ) -> None:
    """The control, and what the README says can repeat: each replica guards only its own redeems."""
    a, b = make_server(confirm="mutating"), make_server(confirm="mutating")
    async with Client(a) as client:
        token = await create_token(client)
    first, second, again_on_a = (await redeem_create(a, token), await redeem_create(b, token),
                                 await redeem_create(a, token))
    assert (first.is_error, second.is_error, again_on_a.is_error) == (False, False, True)
    assert upstream(sandbox, "POST") == [vm_path(), vm_path()]


async def test_with_the_store_a_create_token_runs_once_across_replicas(
    make_server: MakeServer, sandbox: Sandbox, store_url: str, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    a = make_server(confirm="mutating", replay_store=store_url, audit_log=audit)
    b = make_server(confirm="mutating", replay_store=store_url, audit_log=audit)
    async with Client(a) as client:
        token = await create_token(client)
    first, on_b, on_a = await redeem_create(a, token), await redeem_create(b, token), await redeem_create(a, token)
    assert not first.is_error, text(first)
    for replay in (on_b, on_a):
        assert replay.is_error
        assert text(replay).startswith(f"VM web-2 (new) was not created: {USED}")
    assert upstream(sandbox, "POST") == [vm_path()]
    assert [(e["event"], e.get("reason")) for e in audit_lines(audit)] == [
        ("requested", None), ("confirmed", None), ("executed", None),
        ("confirmed", None), ("invalid", "replayed"), ("confirmed", None), ("invalid", "replayed")]


async def test_a_2026_07_28_round_state_is_claimed_in_the_store_too(
    make_server: MakeServer, sandbox: Sandbox, store_url: str
) -> None:
    from mcp.types import ElicitResult, InputRequiredResult

    web = vm_id(sandbox, "web-1")
    a = make_server(confirm="mutating", replay_store=store_url)
    b = make_server(confirm="mutating", replay_store=store_url)
    answer = {"confirm": ElicitResult(action="accept", content={"confirm_name": "web-1"})}
    async with Client(a, elicitation_callback=lambda *_: None) as on_a:
        asked = await on_a.session.call_tool("restart_vm", {"vm_id": web}, allow_input_required=True)
        assert isinstance(asked, InputRequiredResult)
        first = await on_a.call_tool("restart_vm", {"vm_id": web}, input_responses=answer,
                                     request_state=asked.request_state)
    sandbox.clock.advance(60)  # running again: the facts hold, only the store can stop the replay on B
    async with Client(b, elicitation_callback=lambda *_: None) as on_b:
        again = await on_b.call_tool("restart_vm", {"vm_id": web}, input_responses=answer,
                                     request_state=asked.request_state)
    assert not first.is_error, text(first)
    assert again.is_error and text(again).startswith(f"VM web-1 ({web}) was not restarted: {USED}")
    assert upstream(sandbox, "POST") == [vm_path(web, "/restart")]


async def test_a_store_that_is_down_refuses_before_anything_is_sent_and_the_token_works_once_it_is_back(
    make_server: MakeServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    with redis_server() as down:
        url, port = down.url(), down.port
        watch(down.password, "the Redis password")
        server = make_server(confirm="mutating", replay_store=url, audit_log=audit)
        async with Client(server) as client:
            token = await create_token(client)
    # stopped: nothing listens on its port any more
    refused = await redeem_create(server, token)
    assert refused.is_error
    assert text(refused) == (
        f"VM web-2 (new) was not created: the shared replay store (NEEV_MCP_REPLAY_STORE) could not record that this "
        f"confirmation is being used (redis://127.0.0.1:{port}/1: cannot connect (All connection attempts "
        "failed)), and without it the "
        "call could run twice. Nothing was sent to NeevCloud. Try again in a moment; if the store stays down, an "
        "operator must restore it.")
    assert upstream(sandbox, "POST") == []  # only the name look-ups read (preview, redeem): nothing sent to change
    last = audit_lines(audit)[-1]
    assert (last["event"], last["reason"]) == ("refused", "replay store unavailable")

    with redis_server(port=port) as back:
        watch(back.password, "the Redis password")
        executed = await redeem_create(server, token)
    assert not executed.is_error, text(executed)
    assert upstream(sandbox, "POST") == [vm_path()]


async def test_a_delete_with_the_store_down_reads_the_target_but_sends_no_delete(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    with redis_server() as gone:
        server = make_server(replay_store=gone.url())
    web = vm_id(sandbox, "web-1")
    async with Client(server) as client:
        preview = await client.call_tool("delete_vm", {"vm_id": web})
        result = await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token":
                                                      preview.structured_content["confirmation_token"]})
    assert result.is_error and "could not record that this confirmation is being used" in text(result)
    assert [r.method for r in sandbox.requests] == ["GET", "GET"]  # the preview and the re-check; no DELETE


# -- the store and its client directly ----------------------------------------------------------------------------
async def test_a_claim_is_one_set_nx_px_that_outlives_the_token_by_the_clock_skew(redis: RedisProcess,
                                                                                    store_url: str) -> None:
    url = RedisURL.parse(store_url)
    store = RedisReplays(url, lambda: START)
    expires = START + dt.timedelta(seconds=300)
    assert await store.claim("nonce-1", expires) is True
    assert await store.claim("nonce-1", expires) is False
    assert await store.claim("nonce-2", expires) is True
    (ttl,) = await run(url, [["PTTL", KEY_PREFIX + "nonce-1"]], timeout=5)
    assert isinstance(ttl, int)
    assert (300 + CLOCK_SKEW.total_seconds() - 5) * 1000 < ttl <= (300 + CLOCK_SKEW.total_seconds()) * 1000
    (other_db,) = await run(RedisURL.parse(redis.url(db=2)), [["EXISTS", KEY_PREFIX + "nonce-1"]], timeout=5)
    assert other_db == 0  # the database in the URL is the one used


async def test_rediss_claims_over_tls_and_refuses_a_server_it_cannot_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed_certificate(tmp_path)
    with redis_server(tls=(cert, key)) as tls:
        watch(tls.password, "the Redis password")
        url = RedisURL.parse(tls.url())
        store = RedisReplays(url, lambda: START)
        with pytest.raises(ReplayStoreUnavailable) as untrusted:  # not in the trust store yet: fail closed
            await store.claim("tls-nonce", START + dt.timedelta(seconds=300))
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        first = await store.claim("tls-nonce", START + dt.timedelta(seconds=300))
        second = await store.claim("tls-nonce", START + dt.timedelta(seconds=300))
    assert str(untrusted.value).startswith(f"rediss://127.0.0.1:{tls.port}/1: cannot connect (")
    assert "CERTIFICATE_VERIFY_FAILED" in str(untrusted.value)
    assert (first, second) == (True, False)


async def test_a_wrong_password_is_an_error_that_does_not_repeat_it(redis: RedisProcess) -> None:
    wrong = f"redis://:not-the-password-{redis.port}@127.0.0.1:{redis.port}/1"
    with pytest.raises(RedisError) as caught:
        await run(RedisURL.parse(wrong), [["PING"]], timeout=5)
    assert str(caught.value).startswith(f"redis://127.0.0.1:{redis.port}/1: Redis answered 'WRONGPASS")
    assert "not-the-password" not in str(caught.value)


@pytest.mark.parametrize(("url", "problem"), [
    ("http://h:1/0", "must start with redis:// or rediss:// (TLS)"),
    ("redis://:pw@h:99999/0", "the port must be a number from 1 to 65535"),
    ("redis://:pw@/0", "names no host (expected redis://host:port/db)"),
    ("redis://:pw@h:1/zero", "the database after the host must be a number, e.g. redis://redis:6379/0"),
    ("redis://:pw@h:1/٣", "the database after the host must be a number, e.g. redis://redis:6379/0"),
])
def test_a_bad_replay_store_url_stops_start_up_naming_the_variable_and_not_the_url(url: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings.load({"NEEV_MCP_REPLAY_STORE": url})
    assert str(caught.value) == f"invalid configuration: NEEV_MCP_REPLAY_STORE: {problem}"


def test_a_replay_store_url_parses_into_its_parts_and_keeps_the_password_out_of_its_repr() -> None:
    parsed = RedisURL.parse("rediss://app:p%40ss@redis.internal:6380/3")
    assert (parsed.host, parsed.port, parsed.db, parsed.username, parsed.password, parsed.tls) == (
        "redis.internal", 6380, 3, "app", "p@ss", True)
    assert "p@ss" not in repr(parsed) and parsed.display == "rediss://redis.internal:6380/3"
    assert RedisURL.parse("redis://localhost").display == "redis://localhost:6379/0"
    settings = Settings.load({"NEEV_MCP_REPLAY_STORE": "redis://:secret-pw@h:1/0"})
    assert "secret-pw" not in repr(settings)
