"""Every way a tool call can fail, each with the message an agent can act on.

    NeevError                      base: `.message` is safe to show (never a token), `.retryable` guides the agent
    ├── InvalidArguments           our own validation refused the call; nothing was sent
    ├── NotConfigured              the call needs a setting the server lacks (token, org, project); nothing sent
    ├── APIError                   NeevCloud answered with an error status (carries its `code` and `message`)
    │   ├── BadRequest             400
    │   ├── Unauthorized           401 (token missing, invalid or expired)
    │   ├── Forbidden              403
    │   ├── NotFound               404
    │   ├── Conflict               409
    │   ├── RateLimited            429
    │   └── ServerError            5xx
    │                              (every APIError carries `.retry_after`: the API's `Retry-After`, in seconds, if any)
    ├── TransportError             no usable answer came back
    │   ├── NotSent                the request provably never left (connect failed): always safe to retry
    │   │   ├── NotSendable        refused before sending (malformed header or URL): retrying cannot help
    │   │   └── CallerBusy         this caller already has its share of the connection pool in flight
    │   ├── Timeout                no answer in time: the request may have been applied
    │   └── ConnectionLost         the connection broke mid-request: the request may have been applied
    └── BadResponse                a 2xx answer that is not the JSON the spec promises
        └── TooLarge               an answer above NEEV_MAX_RESPONSE_BYTES (not read to the end)

Results built from these carry `isError: true`; the server turns any other exception into a generic tool error and
logs it, so an unexpected bug never takes the server down.
"""

from __future__ import annotations

from typing import Any


class NeevError(Exception):
    """Base class; `message` is what the agent reads."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_structured(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, "retryable": self.retryable}


class InvalidArguments(NeevError):
    """The arguments break the tool's input schema; `violations` lists each one."""

    def __init__(self, tool: str, violations: list[str]) -> None:
        self.violations = violations
        lines = "\n".join(f"- {v}" for v in violations)
        super().__init__(f"Invalid arguments for {tool} (nothing was sent to NeevCloud):\n{lines}")

    def to_structured(self) -> dict[str, Any]:
        return {**super().to_structured(), "violations": self.violations}


class NotConfigured(NeevError):
    """This call needs a setting the server lacks (start-up problems are `config.ConfigurationError`)."""


class APIError(NeevError):
    """NeevCloud answered with an error status."""

    status: int = 0

    def __init__(
        self, status: int, code: str | None, api_message: str | None, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.api_message = api_message
        self.retry_after = retry_after

    def to_structured(self) -> dict[str, Any]:
        # `http_status`, not `status`: a helper result already uses `status` for the VM's status (its outputSchema)
        data = {**super().to_structured(), "http_status": self.status, "code": self.code,
                "api_message": self.api_message}
        if self.retry_after is not None:
            data["retry_after"] = self.retry_after
        return data


class BadRequest(APIError):
    pass


class Unauthorized(APIError):
    pass


class Forbidden(APIError):
    pass


class NotFound(APIError):
    pass


class Conflict(APIError):
    pass


class RateLimited(APIError):
    retryable = True


class ServerError(APIError):
    retryable = True


class TransportError(NeevError):
    """No usable answer came back; `may_have_applied` says whether the API could have acted on the request."""

    may_have_applied: bool = True
    retryable = True

    def to_structured(self) -> dict[str, Any]:
        return {**super().to_structured(), "may_have_applied": self.may_have_applied}


class NotSent(TransportError):
    may_have_applied = False


class NotSendable(NotSent):
    """Refused on this side (a malformed header or URL): sending it again would fail the same way."""

    retryable = False


class CallerBusy(NotSent):
    """Not sent: this caller's requests in flight already hold its whole share of the shared connection pool."""

    retryable = False


class Timeout(TransportError):
    pass


class ConnectionLost(TransportError):
    pass


class BadResponse(NeevError):
    retryable = True


class TooLarge(BadResponse):
    """The answer was bigger than NEEV_MAX_RESPONSE_BYTES; asking again would only fetch the same flood."""

    retryable = False


def may_have_applied(exc: NeevError) -> bool:
    """Could NeevCloud have acted on the request although this error came back?"""
    if isinstance(exc, TransportError):
        return exc.may_have_applied
    # A 5xx (above all a gateway's 502/504) or a garbled 2xx can come after the API acted on the request.
    return isinstance(exc, ServerError | BadResponse)


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


def api_error_class(status: int) -> type[APIError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)
