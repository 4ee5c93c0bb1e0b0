"""NeevClient against a recording fake upstream (httpx2.MockTransport): retries, Retry-After, timeouts, cancellation.

The fake answers from a script, one entry per request; every request it sees is kept, so each test can say exactly how
many times the client sent what. Nothing of ours is mocked: the client runs its real code over a fake network.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import pytest

from neev_mcp.client import NeevClient, RetryPolicy, Timeouts
from neev_mcp.errors import (
    BadResponse,
    ConnectionLost,
    NotSent,
    RateLimited,
    ServerError,
    Timeout,
    Unauthorized,
)
from neev_mcp.registry import build_registry, spec_operations
from neev_mcp.sandbox import make_token
from neev_mcp.spec.openapi import Operation

TOKEN = make_token(sub="client-tests")
EXPIRED = make_token(sub="client-tests-expired", exp=1767225600)  # 2026-01-01T00:00:00Z
BASE = "http://upstream.test/vm"
VM_ID = "6f1c2b7e-0d2a-4c1e-9a55-2b8f3f6f9a10"
PATH = {"org_id": "o", "project_id": "p", "vm_id": VM_ID, "root_disk_id": VM_ID}
VM = {"id": VM_ID, "name": "web-1", "status": "running"}
CREATE_BODY = {"name": "web-2", "region_id": "in-mum-1", "vm_config_id": "c", "plan_id": "p",
               "root_disk": {"create_disk_request": {"name": "web-2-root", "size_gb": 40, "image_id": "ubuntu-24.04"}}}

Step = httpx2.Response | type[Exception] | Callable[[httpx2.Request], Any]


TOOLS = {t.name: t for t in build_registry()}


def op(tool: str) -> Operation:
    return next(o for o in spec_operations() if o.tool_name == tool)


@dataclass
class FakeUpstream:
    """Answers each request with the next step of `script` (the last step repeats); keeps every request."""

    script: list[Step]
    seen: list[httpx2.Request] = field(default_factory=list)

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request)
        step = self.script[min(len(self.seen), len(self.script)) - 1]
        if isinstance(step, type) and issubclass(step, Exception):
            raise step("injected by the fake upstream", request=request)  # type: ignore[call-arg]
        if callable(step) and not isinstance(step, httpx2.Response):
            return await step(request)
        return step

    @property
    def methods(self) -> list[str]:
        return [r.method for r in self.seen]


def make_client(fake: FakeUpstream, *, attempts: int = 3, token: str = TOKEN, **retry: Any) -> NeevClient:
    policy = RetryPolicy(attempts=attempts, backoff=retry.pop("backoff", 0.0), **retry)
    return NeevClient(BASE, token, transport=httpx2.MockTransport(fake), retry=policy,
                      timeouts=Timeouts(connect=1.5, read=2.5))


def status(code: int, body: Any = None, **headers: str) -> httpx2.Response:
    body = body if body is not None else {"code": f"http_{code}", "message": "injected"}
    return httpx2.Response(code, json=body, headers=headers)


async def call(client: NeevClient, tool: str, body: Any = None) -> Any:
    """Send `tool`'s operation the way the server does: with the retry class its declaration derives."""
    declared = TOOLS[tool]
    o = op(tool)
    path = {p.name: PATH[p.name] for p in o.path_params}
    try:
        return await client.call(o, path, None, body, repeatable=declared.repeatable, unsure=declared.unsure)
    finally:
        await client.aclose()


# -- reads and idempotent actions are retried -------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_read_is_retried_through_a_burst_of_500s_and_returns_the_answer() -> None:
    fake = FakeUpstream([status(500), status(503), httpx2.Response(200, json=VM)])
    response = await call(make_client(fake), "get_vm")
    assert response.data == VM
    assert fake.methods == ["GET", "GET", "GET"]


@pytest.mark.anyio
async def test_a_read_gives_up_after_the_configured_attempts_and_says_so() -> None:
    fake = FakeUpstream([status(502)])
    with pytest.raises(ServerError) as info:
        await call(make_client(fake, attempts=4), "list_vms")
    assert len(fake.seen) == 4
    assert info.value.message == (
        "NeevCloud refused list_vms: HTTP 502 [http_502] injected. NeevCloud had an internal problem; this is usually "
        "temporary. (gave up after 4 attempts)"
    )


@pytest.mark.anyio
@pytest.mark.parametrize("failure", [httpx2.ReadTimeout, httpx2.RemoteProtocolError, httpx2.ReadError])
async def test_a_read_is_retried_after_a_timeout_or_a_broken_connection(failure: type[Exception]) -> None:
    fake = FakeUpstream([failure, httpx2.Response(200, json=VM)])
    assert (await call(make_client(fake), "get_vm")).data == VM
    assert fake.methods == ["GET", "GET"]


@pytest.mark.anyio
async def test_a_garbled_answer_to_a_read_is_retried() -> None:
    fake = FakeUpstream([httpx2.Response(200, content=b'{"id": "6f1c', headers={"content-type": "application/json"}),
                         httpx2.Response(200, json=VM)])
    assert (await call(make_client(fake), "get_vm")).data == VM
    assert len(fake.seen) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("tool", ["start_vm", "stop_vm"])
async def test_start_and_stop_are_idempotent_and_retried_after_a_gateway_error(tool: str) -> None:
    fake = FakeUpstream([status(502), httpx2.Response(202, json=VM)])
    assert (await call(make_client(fake), tool)).data == VM
    assert fake.methods == ["POST", "POST"]


# -- Retry-After ------------------------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_retry_after_is_waited_for_before_the_next_attempt() -> None:
    fake = FakeUpstream([status(429, **{"Retry-After": "0.3"}), httpx2.Response(200, json=VM)])
    started = time.monotonic()
    assert (await call(make_client(fake), "get_vm")).data == VM
    assert time.monotonic() - started >= 0.3
    assert len(fake.seen) == 2


@pytest.mark.anyio
async def test_retry_after_given_as_an_http_date_is_understood() -> None:
    soon = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2), usegmt=True)
    fake = FakeUpstream([status(429, **{"Retry-After": soon})])
    with pytest.raises(RateLimited) as info:
        await call(make_client(fake, attempts=1), "get_vm")
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 2


@pytest.mark.anyio
async def test_a_retry_after_longer_than_the_cap_is_not_waited_for_and_the_agent_is_told_when_to_retry() -> None:
    fake = FakeUpstream([status(429, **{"Retry-After": "120"})])
    started = time.monotonic()
    with pytest.raises(RateLimited) as info:
        await call(make_client(fake, max_retry_after=30.0), "get_vm")
    assert time.monotonic() - started < 1
    assert len(fake.seen) == 1
    assert info.value.retry_after == 120
    assert info.value.message.endswith("Rate limited; retry after 120 s.")
    assert info.value.to_structured()["retry_after"] == 120


@pytest.mark.anyio
async def test_retry_after_on_a_503_is_honoured_too() -> None:
    fake = FakeUpstream([status(503, **{"Retry-After": "0.2"}), httpx2.Response(200, json=VM)])
    started = time.monotonic()
    await call(make_client(fake), "get_vm")
    assert time.monotonic() - started >= 0.2


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=3.0, max_retry_after=10.0)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 3.0), (8, 3.0)]:
        delays = [policy.delay(attempt, None) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spreads over the whole range, not a fixed step
    assert policy.delay(0, 4.0) == 4.0
    assert policy.delay(0, 99.0) == 10.0


# -- mutations are never duplicated -----------------------------------------------------------------------------------

CREATE_FAILURES: list[Step] = [
    status(500),
    status(502),
    httpx2.ReadTimeout,
    httpx2.RemoteProtocolError,
    httpx2.WriteError,
    httpx2.Response(201, content=b"<html>bad gateway</html>", headers={"content-type": "text/html"}),
]


@pytest.mark.anyio
@pytest.mark.parametrize("failure", CREATE_FAILURES, ids=lambda f: getattr(f, "__name__", None) or str(f))
async def test_create_vm_is_sent_once_when_it_may_have_reached_the_server_and_the_agent_is_told_to_check(
    failure: Step,
) -> None:
    fake = FakeUpstream([failure, httpx2.Response(201, json=VM)])
    with pytest.raises((ServerError, Timeout, ConnectionLost, BadResponse)) as info:
        await call(make_client(fake, attempts=5), "create_vm", CREATE_BODY)
    assert fake.methods == ["POST"]
    assert info.value.message.endswith(
        "The VM may or may not have been created: call list_vms and look for its name before trying again, so that no "
        "duplicate VM is created."
    )


@pytest.mark.anyio
async def test_create_vm_is_not_retried_when_rate_limited() -> None:
    fake = FakeUpstream([status(429, **{"Retry-After": "0"}), httpx2.Response(201, json=VM)])
    with pytest.raises(RateLimited):
        await call(make_client(fake), "create_vm", CREATE_BODY)
    assert fake.methods == ["POST"]


@pytest.mark.anyio
@pytest.mark.parametrize("never_sent", [httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout])
async def test_create_vm_is_retried_when_the_request_provably_never_left(never_sent: type[Exception]) -> None:
    fake = FakeUpstream([never_sent, httpx2.Response(201, json=VM)])
    assert (await call(make_client(fake), "create_vm", CREATE_BODY)).data == VM
    assert fake.methods == ["POST", "POST"]
    assert fake.seen[0].read() == fake.seen[1].read()  # the very same body, sent once more


@pytest.mark.anyio
@pytest.mark.parametrize("tool", ["delete_vm", "delete_root_disk_volume"])
@pytest.mark.parametrize("failure", [status(503), httpx2.ReadTimeout, httpx2.RemoteProtocolError],
                         ids=["503", "timeout", "dropped"])
async def test_a_delete_is_not_retried_once_it_may_have_been_sent(tool: str, failure: Step) -> None:
    fake = FakeUpstream([failure, httpx2.Response(202)])
    with pytest.raises((ServerError, Timeout, ConnectionLost)) as info:
        await call(make_client(fake), tool)
    assert fake.methods == ["DELETE"]
    assert "may or may not have been accepted" in info.value.message


@pytest.mark.anyio
async def test_a_delete_is_retried_when_the_connection_could_not_be_made() -> None:
    fake = FakeUpstream([httpx2.ConnectError, httpx2.Response(202)])
    response = await call(make_client(fake), "delete_vm")
    assert (response.status, response.data) == (202, None)
    assert fake.methods == ["DELETE", "DELETE"]


@pytest.mark.anyio
async def test_restart_is_not_idempotent_and_is_not_retried_after_a_gateway_error() -> None:
    fake = FakeUpstream([status(502), httpx2.Response(202, json=VM)])
    with pytest.raises(ServerError) as info:
        await call(make_client(fake), "restart_vm")
    assert fake.methods == ["POST"]
    assert info.value.message.endswith("The restart may or may not have been accepted: call get_vm to check its "
                                       "status first.")


@pytest.mark.anyio
async def test_connection_refused_everywhere_ends_in_a_not_sent_error_that_names_the_base_url() -> None:
    fake = FakeUpstream([httpx2.ConnectError])
    with pytest.raises(NotSent) as info:
        await call(make_client(fake), "create_vm", CREATE_BODY)
    assert len(fake.seen) == 3
    assert info.value.message == (
        "Could not connect to NeevCloud at http://upstream.test/vm for create_vm (ConnectError); nothing was sent. "
        "Check NEEV_API_BASE_URL and the network, then retry. (gave up after 3 attempts)"
    )
    assert info.value.to_structured()["may_have_applied"] is False


# -- timeouts and cancellation ----------------------------------------------------------------------------------------

@pytest.mark.anyio
async def test_configured_timeouts_reach_every_request() -> None:
    fake = FakeUpstream([httpx2.Response(200, json=VM)])
    await call(make_client(fake), "get_vm")
    assert fake.seen[0].extensions["timeout"] == {"connect": 1.5, "read": 2.5, "write": 2.5, "pool": 2.5}


@pytest.mark.anyio
async def test_a_timeout_message_names_the_limit_and_the_setting() -> None:
    fake = FakeUpstream([httpx2.ReadTimeout])
    with pytest.raises(Timeout) as info:
        await call(make_client(fake, attempts=1), "get_vm")
    assert info.value.message == "NeevCloud did not answer get_vm within 2.5 s (ReadTimeout; the limit is " \
                                 "NEEV_READ_TIMEOUT)."


@pytest.mark.anyio
async def test_cancelling_the_call_cancels_the_http_request_in_flight_and_sends_nothing_more() -> None:
    events: list[str] = []

    async def hang(request: httpx2.Request) -> httpx2.Response:
        try:
            await anyio.sleep(30)
        except anyio.get_cancelled_exc_class():
            events.append("http request cancelled")
            raise
        return httpx2.Response(200, json=VM)

    fake = FakeUpstream([hang])
    client = make_client(fake)
    started = time.monotonic()
    with anyio.move_on_after(0.2) as scope:
        await call(client, "get_vm")
    assert scope.cancelled_caught
    assert time.monotonic() - started < 2
    assert events == ["http request cancelled"]
    await anyio.sleep(0.1)
    assert len(fake.seen) == 1


@pytest.mark.anyio
async def test_cancelling_during_the_backoff_pause_stops_the_retries() -> None:
    fake = FakeUpstream([status(503, **{"Retry-After": "20"}), httpx2.Response(200, json=VM)])
    with anyio.move_on_after(0.3) as scope:
        await call(make_client(fake), "get_vm")
    assert scope.cancelled_caught
    assert len(fake.seen) == 1


# -- auth errors say why, and never show the token --------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_401_with_an_expired_token_says_when_it_expired() -> None:
    fake = FakeUpstream([status(401, {"code": "unauthorized", "message": "token expired"})])
    with pytest.raises(Unauthorized) as info:
        await call(make_client(fake, token=EXPIRED), "list_vms")
    assert len(fake.seen) == 1
    assert info.value.message == (
        "NeevCloud refused list_vms: HTTP 401 [unauthorized] token expired. The API token expired at "
        "2026-01-01T00:00:00Z. Set NEEV_API_TOKEN to a fresh NeevCloud bearer JWT and restart the server."
    )


@pytest.mark.anyio
async def test_a_401_with_a_token_that_is_not_expired_says_it_is_missing_or_invalid() -> None:
    fake = FakeUpstream([status(401, {"code": "unauthorized", "message": "bad signature"})])
    with pytest.raises(Unauthorized) as info:
        await call(make_client(fake), "list_vms")
    assert "The API token is missing or invalid." in info.value.message
    assert "expired" not in info.value.message


@pytest.mark.anyio
async def test_an_upstream_that_echoes_the_token_back_never_gets_it_into_the_error() -> None:
    fake = FakeUpstream([status(403, {"code": f"bad-{TOKEN}", "message": f"token {TOKEN} may not do this"})])
    with pytest.raises(Exception) as info:
        await call(make_client(fake), "get_vm")
    shown = repr(info.value.to_structured()) + info.value.message  # type: ignore[attr-defined]
    assert TOKEN not in shown
    assert "token [redacted] may not do this" in shown
    assert fake.seen[0].headers["authorization"] == f"Bearer {TOKEN}"
