"""Outside components some tests need (redis-server, chromium, npm packages, …): found here, skipped with a reason
when absent, and a failure instead of a skip when NEEV_REQUIRE_COMPONENTS=1 (CI sets it in .ci/run, so a missing
component cannot silently turn a race test or the browser test into a skip).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from .support.http import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
# Debian's chromium, run headless with nothing that phones home (no browser download anywhere)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require(name: str, path: str | None, how: str) -> str:
    """`path` if the component is there; otherwise skip (or fail under NEEV_REQUIRE_COMPONENTS=1) saying `how`."""
    if path:
        return path
    message = f"{name} not found: {how}"
    if os.environ.get("NEEV_REQUIRE_COMPONENTS") == "1":
        pytest.fail(f"{message} (NEEV_REQUIRE_COMPONENTS=1)", pytrace=False)
    pytest.skip(message)


def redis_server_binary() -> str:
    return require("redis-server", shutil.which("redis-server"), "apt-get install -y redis-server")


def chromium() -> str:
    """Debian's chromium (`NEEV_CHROMIUM` may point at another build of it)."""
    path = os.environ.get("NEEV_CHROMIUM") or shutil.which("chromium")
    return require("chromium", path, "apt-get install -y chromium (scripts/ext-apps.sh does it)")


def playwright_api() -> None:
    """The Python playwright package, which drives that chromium (it never downloads a browser here)."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        require("the Python playwright package", None, "pip install -e '.[browser]'")


def ext_apps_host_bundle() -> Path:
    """The browser test's host script: tests/browser/host.js bundled with the official ext-apps AppBridge; its first
    line names the hash of the source it was built from, so a stale bundle is never used."""
    bundle = CACHE / "ext-apps" / "host.bundle.js"
    source = ROOT / "tests" / "browser" / "host.js"
    first = bundle.read_text(encoding="utf-8").split("\n", 1)[0] if bundle.is_file() else ""
    current = f"sha256:{hashlib.sha256(source.read_bytes()).hexdigest()}" in first
    require("the ext-apps host bundle (built from this tests/browser/host.js)", str(bundle) if current else None,
            "bash scripts/ext-apps.sh (npm @modelcontextprotocol/ext-apps and esbuild into .cache/)")
    return bundle


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(cert, key) for 127.0.0.1, made with the openssl command; the cert is also the CA a client must trust."""
    openssl = require("openssl", shutil.which("openssl"), "apt-get install -y openssl")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@dataclass
class RedisProcess:
    """A private redis-server on a free loopback port: no persistence, a password, stopped by its fixture."""

    popen: subprocess.Popen[bytes]
    port: int
    password: str
    tls: bool = False

    def url(self, db: int = 1) -> str:
        return f"{'rediss' if self.tls else 'redis'}://:{self.password}@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        stop_process(self.popen, signal.SIGTERM)


@contextmanager
def redis_server(
    password: str = "redis-test-password-5b1f0c", port: int | None = None, tls: tuple[Path, Path] | None = None
) -> Iterator[RedisProcess]:
    """redis-server on `port` (default: a free one), requiring `password`, TLS only when `tls` = (cert, key) is
    given; stopped when the block ends."""
    binary = redis_server_binary()
    port = port or free_port()
    listen = ["--port", str(port)]
    if tls is not None:
        listen = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(tls[0]), "--tls-key-file",
                  str(tls[1]), "--tls-auth-clients", "no"]
    popen = subprocess.Popen(
        [binary, *listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", password,
         "--databases", "4"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    proc = RedisProcess(popen, port, password, tls=tls is not None)
    try:
        _wait_listening(proc)
        yield proc
    finally:
        proc.stop()


def _wait_listening(proc: RedisProcess, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise AssertionError(f"redis-server exited with {proc.popen.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", proc.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"redis-server not listening on port {proc.port} after {timeout} s")


ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache"  # outside tools, gitignored; CI installs into the checkout's own .cache/


def node22() -> str:
    """Node 22 from `.cache/node22` (what scripts/inspector.sh and .ci/run install), else a `node` on PATH."""
    cached = CACHE / "node22" / "node_modules" / ".bin" / "node"
    found = str(cached) if cached.exists() else shutil.which("node")
    return require("Node 22", found, "install Node 22 into .cache/node22 (as scripts/inspector.sh does)")


def oauth2_mock_server() -> str:
    """The folder holding `node_modules/oauth2-mock-server` (a real OAuth 2 / OIDC authorization server)."""
    folder = CACHE / "oauth2-mock-server"
    found = str(folder) if (folder / "node_modules" / "oauth2-mock-server" / "package.json").exists() else None
    return require("the npm package oauth2-mock-server", found,
                   "mkdir -p .cache/oauth2-mock-server && cd .cache/oauth2-mock-server && npm init -y && "
                   "npm install oauth2-mock-server@9.3.0 (.ci/run does this)")


TS_SDK_VERSION = "1.32.2"  # scripts/ts-client.sh installs exactly this


def ts_sdk() -> str:
    """The folder whose node_modules holds the official MCP TypeScript SDK (@modelcontextprotocol/sdk), pinned."""
    folder = CACHE / "ts-client"
    package = folder / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"
    found = package.is_file() and f'"version": "{TS_SDK_VERSION}"' in package.read_text(encoding="utf-8")
    return require(f"the npm package @modelcontextprotocol/sdk@{TS_SDK_VERSION}", str(folder) if found else None,
                   "bash scripts/ts-client.sh (Node 22 and the SDK into .cache/; .ci/run does this)")
