"""A tiny Redis client: RESP2 over one anyio TCP (or TLS) stream per call, for the few commands neev-mcp needs.

Why not redis-py: the replay store sends one `SET … NX PX …` per confirmed mutation (plus AUTH/SELECT), so a
~100-line client on the event loop we already run avoids a dependency, its connection pool and its own timeouts.
Every failure (refused connection, timeout, TLS error, an `-ERR` reply, a garbled reply) is one `RedisError` whose
message names the server as `redis://host:port/db` and never the password.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import anyio
from anyio.abc import ByteStream
from anyio.streams.buffered import BufferedByteReceiveStream

Reply = str | int | bytes | list["Reply"] | None
MAX_LINE = 64 * 1024  # a status line or length header; anything longer is not Redis talking


class RedisError(Exception):
    """The server could not be reached or did not do what was asked; the message is safe to show and log."""


@dataclass(frozen=True)
class RedisURL:
    """`redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS, system trust store)."""

    host: str
    port: int = 6379
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> RedisURL:
        """Raise ValueError saying what is wrong (never echoing the URL: it may hold a password)."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("redis", "rediss"):
            raise ValueError("must start with redis:// or rediss:// (TLS)")
        try:
            port = parts.port or 6379
        except ValueError:
            raise ValueError("the port must be a number from 1 to 65535") from None
        if not parts.hostname:
            raise ValueError("names no host (expected redis://host:port/db)")
        db_text = parts.path.strip("/") or "0"
        if not db_text.isascii() or not db_text.isdigit() or int(db_text) > 10_000:
            raise ValueError("the database after the host must be a number, e.g. redis://redis:6379/0")
        if parts.query or parts.fragment:
            raise ValueError("takes no query or fragment")
        return cls(host=parts.hostname, port=port, db=int(db_text),
                   username=unquote(parts.username) if parts.username else None,
                   password=unquote(parts.password) if parts.password is not None else None,
                   tls=parts.scheme == "rediss")

    @property
    def display(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}/{self.db}"


async def run(url: RedisURL, commands: Sequence[Sequence[str]], *, timeout: float) -> list[Reply]:
    """Connect, authenticate and select the database as `url` says, run `commands` in order, close; all within
    `timeout` seconds. Returns one reply per command."""
    try:
        with anyio.fail_after(timeout):
            stream = await _connect(url)
            async with stream:
                rx = BufferedByteReceiveStream(stream)
                if url.password is not None:
                    auth = ["AUTH", url.username, url.password] if url.username else ["AUTH", url.password]
                    await _call(stream, rx, auth)
                if url.db:
                    await _call(stream, rx, ["SELECT", str(url.db)])
                return [await _call(stream, rx, command) for command in commands]
    except RedisError as exc:
        raise RedisError(f"{url.display}: {exc}") from None
    except TimeoutError:
        raise RedisError(f"{url.display}: no answer within {timeout:g} s") from None
    except (OSError, ssl.SSLError, anyio.EndOfStream, anyio.BrokenResourceError, anyio.IncompleteRead,
            anyio.DelimiterNotFound, ValueError) as exc:
        raise RedisError(f"{url.display}: {_describe(exc)}") from None


async def _connect(url: RedisURL) -> ByteStream:
    try:
        if url.tls:
            # System trust store (SSL_CERT_FILE / SSL_CERT_DIR honoured); no close_notify wait on close, so a
            # claim Redis answered is never turned into a timeout by a slow TLS shutdown.
            return await anyio.connect_tcp(url.host, url.port, tls=True, ssl_context=ssl.create_default_context(),
                                           tls_hostname=url.host, tls_standard_compatible=False)
        return await anyio.connect_tcp(url.host, url.port)
    except OSError as exc:  # refused, unreachable, unknown host, TLS handshake
        raise RedisError(f"cannot connect ({_describe(exc)})") from None


async def _call(stream: ByteStream, rx: BufferedByteReceiveStream, command: Sequence[str]) -> Reply:
    await stream.send(encode(command))
    return await _reply(rx)


def encode(command: Sequence[str]) -> bytes:
    """A RESP array of bulk strings: binary-safe, so no argument can inject a second command."""
    out = [f"*{len(command)}\r\n".encode()]
    for arg in command:
        raw = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(out)


async def _reply(rx: BufferedByteReceiveStream) -> Reply:
    line = await rx.receive_until(b"\r\n", MAX_LINE)
    kind, rest = line[:1], line[1:]
    if kind == b"+":
        return rest.decode(errors="replace")
    if kind == b"-":
        # e.g. "WRONGPASS invalid username-password pair", "NOAUTH Authentication required": never the password
        raise RedisError(f"Redis answered {rest.decode(errors='replace')[:200]!r}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        return None if size < 0 else (await rx.receive_exactly(size + 2))[:-2]
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [await _reply(rx) for _ in range(count)]
    raise RedisError("the answer is not a Redis (RESP) reply")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError | anyio.EndOfStream | anyio.BrokenResourceError | anyio.IncompleteRead):
        return "connection refused or closed"
    if isinstance(exc, OSError):
        return (exc.strerror or str(exc) or type(exc).__name__)[:200]
    return type(exc).__name__
