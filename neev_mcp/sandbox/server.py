"""Serve the sandbox over real HTTP (uvicorn), for clients and tests in another process."""

from __future__ import annotations

import argparse
import logging
import socket
import sys

from ..loopback import is_loopback
from .app import ConnectionDropped
from .capacity import Capacity
from .clock import SimClock
from .guard import LOOPBACK_NAMES, HostGuard
from .sandbox import DEFAULT_TOKEN, Sandbox


class _DropNoiseFilter(logging.Filter):
    """A ``drop`` fault is intentional; keep uvicorn from logging it as an application crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


def _bind(host: str, port: int) -> socket.socket:
    """Bind ourselves so port 0 works and the printed URL is the real one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this; without it Nagle + delayed ACK stall each response by ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def allowed_hosts(bind: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Host names the served sandbox answers to: loopback names, the bound address (unless a wildcard), `extra`."""
    own = () if bind in ("0.0.0.0", "::", "") else (bind,)
    return tuple(dict.fromkeys((*LOOPBACK_NAMES, *own, *extra)))


def serve(host: str = "127.0.0.1", port: int = 8765, speed: float | None = None, token: str = DEFAULT_TOKEN,
          bulk: int = 0, *, allow_remote: bool = False, seed: bool = True, capacity: Capacity | None = None,
          extra_tokens: tuple[str, ...] = (), hosts: tuple[str, ...] = (),
          log_size: int | None = None) -> None:
    """Run a fresh Sandbox until interrupted. Refuses non-loopback hosts unless ``allow_remote``:
    the admin API has no auth and the token is a public constant. Every request must name an allowed Host
    (DNS-rebinding protection; ``hosts`` adds names). ``speed=None`` honours $NEEV_SANDBOX_SPEED."""
    import uvicorn  # imported here so in-process users of the sandbox never need it

    if not allow_remote and not is_loopback(host):
        raise ValueError(f"refusing to serve the sandbox on non-loopback host {host!r} (use --allow-remote)")
    sb = Sandbox(token=token, seed=seed, clock=None if speed is None else SimClock(speed=speed), capacity=capacity,
                 extra_tokens=extra_tokens, log_size=log_size)
    if bulk:
        sb.seed_bulk(bulk)
    sock = _bind(host, port)
    shown_host = f"[{host}]" if ":" in host else host
    origin = f"http://{shown_host}:{sock.getsockname()[1]}"
    print(banner(sb, origin, token), file=sys.stderr, flush=True)
    logging.getLogger("uvicorn.error").addFilter(_DropNoiseFilter())
    app = HostGuard(sb.app, allowed_hosts(host, hosts))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def banner(sb: Sandbox, origin: str, token: str) -> str:
    """What the sandbox is, and the exact command that points `neev-mcp` at it. The built-in token is printed: it is a
    public constant of this package, not a secret. A token given with --token is not (it may be real)."""
    builtin = token == DEFAULT_TOKEN
    shown = token if builtin else "<the value passed with --token>"
    return (
        f"neev sandbox: simulated NeevCloud VM Service at {origin}{sb.base_path}\n"
        f"  org/project : {sb.org_id}/{sb.project_id} ({len(sb.vms)} VMs)\n"
        f"  auth        : Authorization: Bearer <token>, with "
        f"{'the built-in token (public, not a secret)' if builtin else 'the value passed with --token'}\n"
        + (f"  token       : {token}\n" if builtin else "")
        + f"  clock       : {sb.clock.speed:g}x simulated time\n"
        f"  capacity    : {_capacity_note(sb.gatekeeper.capacity)}\n"
        f"  admin       : {origin}/_sandbox/healthz (requests, reset, faults, clock/advance)\n"
        f"  use it      : NEEV_API_BASE_URL={origin}{sb.base_path} NEEV_API_TOKEN={shown} "
        f"NEEV_ORG_ID={sb.org_id} NEEV_PROJECT_ID={sb.project_id} neev-mcp"
    )


def _capacity_note(capacity: Capacity) -> str:
    limit = f"at most {capacity.max_parallel} requests in flight (429 beyond)" if capacity.max_parallel \
        else "no parallel limit"
    return f"{capacity.latency * 1000:g} ms added latency, {limit} (POST /_sandbox/capacity changes it)"


def main(argv: list[str] | None = None, prog: str = "python -m neev_mcp.sandbox") -> int:
    """Also behind `neev-mcp sandbox` (with its own `prog`), so the two front ends cannot drift apart."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Serve the simulated NeevCloud VM Service API over HTTP (base URL http://HOST:PORT/vm), "
        "with a seeded demo project, for MCP servers and clients in other processes. On start it prints the base URL, "
        "the token it accepts and the exact NEEV_API_BASE_URL=… NEEV_API_TOKEN=… neev-mcp command to use it.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind; loopback only unless --allow-remote "
                        "(default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind; 0 = any free port (default: 8765)")
    parser.add_argument("--speed", type=float, default=None,
                        help="simulated seconds per real second; 0 = frozen (default: $NEEV_SANDBOX_SPEED or 1)")
    parser.add_argument("--token", default=DEFAULT_TOKEN,
                        help="bearer token to accept (default: the built-in public sandbox token, "
                        "neev_mcp.sandbox.DEFAULT_TOKEN, printed on start)")
    parser.add_argument("--also-accept", action="append", default=[], metavar="TOKEN",
                        help="another bearer token to accept (repeatable): several tenants on one project "
                        "(default: none)")
    parser.add_argument("--bulk", type=int, default=0, help="add N extra VMs to the demo project (default: 0)")
    parser.add_argument("--no-seed", action="store_true",
                        help="start with an empty demo project (default: seeded with 6 VMs and their root disks)")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="real seconds added to every API answer (models network and service time; default: 0)")
    parser.add_argument("--max-parallel", type=int, default=0,
                        help="answer 429 (Retry-After) to requests beyond this many in flight; 0 = no limit "
                        "(default: 0)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow binding a non-loopback address (default: off; the admin API has no auth)")
    parser.add_argument("--allowed-hosts", default="",
                        help="comma-separated extra Host names to answer to (loopback names always are; "
                        "default: none)")
    parser.add_argument("--log-size", type=int, default=None,
                        help="requests kept in the request log (default: $NEEV_SANDBOX_LOG_SIZE or 1000)")
    args = parser.parse_args(argv)
    try:
        capacity = Capacity(latency=args.latency, max_parallel=args.max_parallel)
        serve(args.host, args.port, args.speed, args.token, args.bulk, allow_remote=args.allow_remote,
              seed=not args.no_seed, capacity=capacity, extra_tokens=tuple(args.also_accept),
              hosts=tuple(h.strip() for h in args.allowed_hosts.split(",") if h.strip()), log_size=args.log_size)
    except (ValueError, OverflowError, OSError) as exc:  # non-loopback host, bad speed, port busy or out of range
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
