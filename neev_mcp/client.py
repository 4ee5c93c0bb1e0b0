"""`NeevClient`: the only code that speaks HTTP to NeevCloud.

One pooled `httpx2.AsyncClient` per server. Requests are built from an `Operation` (path template, query, JSON body),
sent with the bearer token, and answers are mapped onto the error tree in `errors`. Retries follow the operation's
safety: reads and idempotent actions are retried on connection errors, timeouts, 5xx and 429; a create or a delete is
re-sent only when the first attempt provably never left this machine, so a mutation is never duplicated.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import anyio
import httpx2

from . import __version__, scrub, telemetry
from .bearer import expired_at
from .bounds import DEFAULT_BOUNDS, CallerSlots, RequestBounds, deadline_exceeded, read_capped
from .errors import (
    APIError,
    BadResponse,
    ConnectionLost,
    InvalidArguments,
    NeevError,
    NotConfigured,
    NotSendable,
    NotSent,
    Timeout,
    Unauthorized,
    api_error_class,
    may_have_applied,
)
from .kinds import GENERIC_EARLIER, GENERIC_UNSURE, Kind, not_found_hint
from .spec.infer import safe_to_retry
from .spec.openapi import Operation
from .validation import path_segment_problem

log = logging.getLogger("neev_mcp.client")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; `Retry-After` is honoured up to `max_retry_after`."""

    attempts: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        return random.uniform(0, min(self.max_backoff, self.backoff * (2**attempt)))


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 30.0


@dataclass(frozen=True)
class APIResponse:
    status: int
    data: Any  # parsed JSON, or None for an empty body


class NeevClient:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        token_source: str = "NEEV_API_TOKEN",
        bounds: RequestBounds = DEFAULT_BOUNDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Where the token comes from, for a 401 that tells the user what to fix (pass-through: the client's header).
        self.token_source = token_source
        self._token = token
        self._transport = transport
        self._timeouts = timeouts
        self._retry = retry
        self._bounds = bounds
        self._slots = CallerSlots(bounds.per_caller)
        self._http: httpx2.AsyncClient | None = None
        scrub.remember(token)
        scrub.guard_loggers()
        scrub.guard_loggers("mcp")  # the SDK logs a handler's unexpected exception, and its message, on its own loggers

    def _client(self) -> httpx2.AsyncClient:
        # Created on first use so a server can be built outside an event loop; closed by `aclose`.
        if self._http is None:
            self._http = httpx2.AsyncClient(
                transport=self._transport,
                timeout=httpx2.Timeout(self._timeouts.read, connect=self._timeouts.connect),
                limits=httpx2.Limits(max_connections=self._bounds.pool, max_keepalive_connections=20),
                headers={"User-Agent": f"neev-mcp/{__version__}", "Accept": "application/json"},
                follow_redirects=False,
            )
        return self._http

    def bearer(self, token: str | None = None) -> str | None:
        """The NeevCloud token a call made with `token` sends (None: the server's own)."""
        return token if token is not None else self._token

    def scrubber(self, token: str | None = None) -> scrub.Scrubber:
        """What removes the bearer of a call made with `token` from what it answered."""
        return scrub.scrubber(self.bearer(token))

    async def aclose(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    def url_for(self, op: Operation, path_params: Mapping[str, Any]) -> str:
        """Base URL (keeping its own path, e.g. `/vm`) + the spec path with each parameter encoded as one segment."""
        path = op.path
        for param in op.path_params:
            value = path_params.get(param.name)
            problem = path_segment_problem(param.name, value) if value is not None else f"{param.name}: required"
            if problem:
                raise InvalidArguments(op.tool_name, [problem])
            path = path.replace("{" + param.name + "}", quote(str(value), safe=""))
        return self.base_url + path

    async def call(
        self,
        op: Operation,
        path_params: Mapping[str, Any],
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        token: str | None = None,
        repeatable: bool | None = None,
        unsure: str = GENERIC_UNSURE,
        retry: RetryPolicy | None = None,
        earlier: str = GENERIC_EARLIER,
        not_found: tuple[Kind, ...] = (),
        scrub_body: bool = True,  # False: a 2xx JSON body as sent, for a caller that scrubs the aggregate it keeps
    ) -> APIResponse:
        """Send one operation, with retries as its safety allows; raises a `NeevError` subclass on failure.

        `repeatable`: whether the operation may be re-sent after an unclear failure (the tool declaration derives it
        from its annotations; by default only reads). `unsure`: what the agent should check when a mutation may or
        may not have been applied. `retry` replaces the client's policy for this call: the page walker retries pages
        itself, so that it can slow down as a whole when the API throttles. `earlier` (a refusal an earlier, lost
        attempt may explain) and `not_found` (what a 404 may be about) come from the declaration: no tool named here.

        Cancellation (the MCP request was cancelled, or the client went away) is never caught here: it interrupts the
        HTTP request or the backoff sleep in flight, and nothing is re-sent afterwards.
        """
        bearer = self.bearer(token)
        if not bearer:
            raise NotConfigured("No NeevCloud API token is configured. Set NEEV_API_TOKEN to a valid bearer JWT "
                                "(or run with --sandbox to try the server without an account).")
        scrub.remember(bearer)
        url = self.url_for(op, path_params)
        params = {k: _query_value(v) for k, v in (query or {}).items() if v is not None}
        headers = {"Authorization": f"Bearer {bearer}"}
        safe_to_repeat = safe_to_retry(op) if repeatable is None else repeatable
        policy = retry or self._retry
        attempt = 0
        earlier_may_have_applied = False
        reason: str | None = None
        deadline = anyio.current_time() + self._bounds.deadline
        while True:
            try:
                with telemetry.upstream(op.method, op.path, op.operation_id, attempt, reason, headers) as sent:
                    response = await self._send_once(op, url, params, body, sent.headers, bearer, deadline,
                                                      not_found, scrub_body)
                    sent.status = response.status
                return response
            except NeevError as exc:
                wait = policy.delay(attempt, getattr(exc, "retry_after", None))
                out_of_time = anyio.current_time() + wait >= deadline
                if out_of_time or not self._should_retry(exc, safe_to_repeat, attempt, policy):
                    raise self._final(exc, op, safe_to_repeat, attempt + 1, earlier_may_have_applied,
                                      unsure, earlier) from None
                earlier_may_have_applied = earlier_may_have_applied or may_have_applied(exc)
                reason = telemetry.retry_reason(exc)
                log.info("retrying %s after %s (attempt %d of %d, waiting %.2fs)", op.operation_id,
                         type(exc).__name__, attempt + 1, policy.attempts, wait)
                attempt += 1
                await anyio.sleep(wait)

    def _should_retry(self, exc: NeevError, safe_to_repeat: bool, attempt: int, policy: RetryPolicy) -> bool:
        if attempt + 1 >= policy.attempts:
            return False
        if isinstance(exc, NotSent):
            return exc.retryable  # never reached the API: repeating cannot duplicate anything (if it can help)
        if not safe_to_repeat:
            return False  # the API may have acted on it: a second create would make a second VM
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None and retry_after > policy.max_retry_after:
            return False  # the API asks for a longer pause than a tool call should hang: tell the agent instead
        return exc.retryable

    def _final(
        self, exc: NeevError, op: Operation, safe_to_repeat: bool, attempts: int, earlier_may_have_applied: bool,
        unsure: str, earlier: str,
    ) -> NeevError:
        """The error the agent sees: for a mutation that may have been applied, what to check before trying again."""
        if attempts > 1:
            exc.message += f" (gave up after {attempts} attempts)"
        if not safe_to_repeat and may_have_applied(exc):
            exc.message += unsure
        elif not safe_to_retry(op) and earlier_may_have_applied and isinstance(exc, APIError) and exc.status < 500:
            # e.g. stop → answer lost → retried stop refused with "VM is stopping": the first one worked.
            exc.message += earlier
        return exc

    async def _send_once(
        self, op: Operation, url: str, params: dict[str, str | list[str]], body: Any, headers: dict[str, str],
        bearer: str, deadline: float, not_found: tuple[Kind, ...] = (), scrub_body: bool = True,
    ) -> APIResponse:
        try:
            wait = min(self._bounds.slot_wait, deadline - anyio.current_time())
            async with self._slots.hold(bearer, wait, op.tool_name):
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    response = await self._exchange(op, url, params, body, headers)
        except TimeoutError:
            raise deadline_exceeded(op.tool_name, self._bounds.deadline) from None
        except (httpx2.LocalProtocolError, httpx2.UnsupportedProtocol, httpx2.InvalidURL) as exc:
            # Refused on this side before a byte was written (e.g. a header with a newline in it).
            raise NotSendable(f"The request for {op.tool_name} could not be sent ({type(exc).__name__}); nothing "
                              "was sent. Check NEEV_API_BASE_URL and that NEEV_API_TOKEN has no stray spaces or "
                              "newlines.") from None
        except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as exc:
            raise NotSent(f"Could not connect to NeevCloud at {self.base_url} for {op.tool_name} "
                          f"({type(exc).__name__}); nothing was sent. Check NEEV_API_BASE_URL and the network, "
                          "then retry.") from None
        except httpx2.TimeoutException as exc:
            raise Timeout(f"NeevCloud did not answer {op.tool_name} within {self._timeouts.read:g} s "
                          f"({type(exc).__name__}; the limit is NEEV_READ_TIMEOUT).") from None
        except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError, httpx2.NetworkError) as exc:
            raise ConnectionLost(
                f"The connection to NeevCloud broke during {op.tool_name} ({type(exc).__name__})."
            ) from None
        except httpx2.HTTPError as exc:
            raise ConnectionLost(f"HTTP failure during {op.tool_name} ({type(exc).__name__}).") from None
        return _interpret(op, response, bearer, self.token_source, not_found, scrub_body)

    async def _exchange(
        self, op: Operation, url: str, params: dict[str, str | list[str]], body: Any, headers: dict[str, str]
    ) -> httpx2.Response:
        """One request, its body streamed in under NEEV_MAX_RESPONSE_BYTES."""
        client = self._client()
        request = client.build_request(op.method, url, params=params or None,
                                       json=body if op.body_schema is not None else None, headers=headers)
        response = await client.send(request, stream=True)
        return await read_capped(response, self._bounds.max_response_bytes, op.tool_name)



def _query_value(value: Any) -> str | list[str]:
    """A query value as the spec's default serialisation sends it: an array as repeated `name=value` pairs."""
    if isinstance(value, list):
        return [str(_query_value(item)) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _retry_after(response: httpx2.Response) -> float | None:
    """`Retry-After` in seconds (delta-seconds or an HTTP date), or None when absent or unreadable."""
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.2g} s"


def _interpret(
    op: Operation, response: httpx2.Response, bearer: str, source: str = "NEEV_API_TOKEN",
    not_found: tuple[Kind, ...] = (), scrub_body: bool = True,
) -> APIResponse:
    status = response.status_code
    clean = scrub.scrubber(bearer)  # an upstream that echoes the token must not get it into our output
    if 200 <= status < 300:
        if not response.content.strip():
            if op.responses.get(str(status)) is not None:
                raise BadResponse(f"NeevCloud answered {op.tool_name} with HTTP {status} and an empty body "
                                  "where a JSON object was expected.")
            return APIResponse(status, None)
        try:
            data = response.json()
            return APIResponse(status, clean.value(data, raw=response.content) if scrub_body else data)
        except ValueError:
            kind = clean.excerpt(response.headers.get("content-type", "unknown content type"), 100)
            raise BadResponse(f"NeevCloud answered {op.tool_name} with HTTP {status} but the body is not valid "
                              f"JSON ({kind}).") from None
    code, api_message = _error_body(response, clean)
    cls = api_error_class(status)
    after = _retry_after(response)
    detail = "".join(part for part in (f" [{code}]" if code else "", f" {api_message}" if api_message else ""))
    message = f"NeevCloud refused {op.tool_name}: HTTP {status}{detail}."
    if cls is Unauthorized:
        when = expired_at(bearer)
        if source != "NEEV_API_TOKEN":
            state = f"expired at {when}" if when else "missing or invalid"
            message += (f" The NeevCloud token is {state}. This server uses {source} as the NeevCloud token: "
                        "update it in your MCP client's configuration.")
        elif when:
            message += (f" The API token expired at {when}. Set NEEV_API_TOKEN to a fresh NeevCloud bearer JWT and "
                        "restart the server.")
        else:
            message += (" The API token is missing or invalid. Set NEEV_API_TOKEN to a valid NeevCloud bearer JWT "
                        "and restart the server (NEEV_API_BASE_URL must point at the same environment).")
    elif status == 404 and code is None:
        # Not a NeevCloud ErrorResponse: most likely the request never reached the VM Service at all.
        message += (" That answer is not a NeevCloud error body: check NEEV_API_BASE_URL (it must include the /vm "
                    "path, e.g. https://api.ai.neevcloud.com/vm).")
    elif status == 404:
        message += " " + not_found_hint(not_found, api_message)
    elif status == 409:
        message += " The resource is in a state that does not allow this; read it again and resolve the conflict first."
    elif status == 429:
        message += " Rate limited; " + (f"retry after {_seconds(after)}." if after is not None else "retry later.")
    elif status >= 500:
        message += " NeevCloud had an internal problem; this is usually temporary."
        if after is not None:
            message += f" It asked to retry after {_seconds(after)}."
    elif status == 400:
        message += " Fix the arguments as the message says and try again."
    raise cls(status, code, api_message, message, retry_after=after)


def _error_body(response: httpx2.Response, clean: scrub.Scrubber) -> tuple[str | None, str | None]:
    """The API's `code` and `message`, or an excerpt of a non-JSON body; scrubbed before being cut to size."""
    try:
        data = response.json()
    except ValueError:
        text = clean.excerpt(response.text, 200)
        return None, (f"(non-JSON body: {text})" if text else None)
    if isinstance(data, dict):
        code = data.get("code")
        message = data.get("message")
        return (clean.excerpt(str(code), 100) if code is not None else None,
                clean.excerpt(str(message), 1000) if message is not None else None)
    return None, None


__all__ = ["APIError", "APIResponse", "NeevClient", "RetryPolicy", "Timeouts"]
