#!/usr/bin/env bash
# Build and smoke-test the Dockerfile with podman on a Debian host that has no Docker daemon and no Docker Hub:
# python:3.11-slim is replaced by a local stand-in (debootstrap'd bookworm, whose python3 is 3.11, with a venv at
# /usr/local so python/pip sit on PATH like in the official image). Downloads only from the Debian mirror and PyPI.
# Run as root from anywhere:  bash scripts/container_check.sh      (PORT=18500 KEEP=1 to leave the container up)
set -euo pipefail
REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
BASE=docker.io/library/python:3.11-slim IMAGE=neev-mcp:test NAME=neev-check PORT=${PORT:-18500}
MIRROR=${MIRROR:-$(grep -rhoE 'https?://[^ ]+/debian/?$' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | head -1 || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# Sandbox workarounds (harmless elsewhere): crun rejects hybrid cgroup v1 here, and podman's default rlimits exceed
# what the sandbox lets a process set, so use runc and explicit ulimits. Override with PODMAN_FLAGS=... if needed.
PODMAN_FLAGS=${PODMAN_FLAGS:---runtime runc --ulimit nofile=$(ulimit -Hn):$(ulimit -Hn) --ulimit nproc=32768:32768}

command -v podman >/dev/null && command -v debootstrap >/dev/null && command -v runc >/dev/null ||
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman debootstrap runc; }

if ! podman image exists "$BASE"; then
  ROOT=$(mktemp -d /tmp/py311-rootfs.XXXX)
  debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR"
  mount -t proc proc "$ROOT/proc"
  chroot "$ROOT" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ca-certificates python3 python3-venv'
  # A TLS-intercepting egress proxy's CA (if the host trusts one) must be trusted inside too, or pip cannot reach PyPI.
  if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
    mkdir -p "$ROOT/usr/local/share/ca-certificates" && cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  fi
  chroot "$ROOT" sh -c 'update-ca-certificates && python3 -m venv /usr/local && apt-get clean && rm -rf /var/lib/apt/lists/*'
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n%s\n' "${PIP_INDEX_URL:+index-url = $PIP_INDEX_URL}" > "$ROOT/etc/pip.conf"
  umount "$ROOT/proc"
  tar -C "$ROOT" -c . | podman import --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE"
  rm -rf "$ROOT"
fi

# --format docker keeps HEALTHCHECK (the OCI format drops it).
podman build --format docker --pull=never $PODMAN_FLAGS -t "$IMAGE" "$REPO"
podman image inspect "$IMAGE" --format 'image size: {{.Size}} bytes'

TOKEN=$(openssl rand -hex 32)
podman rm -f "$NAME" >/dev/null 2>&1 || true
[ -n "${KEEP:-}" ] || trap 'podman rm -f "$NAME" >/dev/null 2>&1 || true' EXIT
podman run -d --name "$NAME" $PODMAN_FLAGS -p "127.0.0.1:$PORT:8000" -e NEEV_MCP_AUTH_TOKEN="$TOKEN" "$IMAGE" --sandbox \
  2> >(grep -v "systemd connection" >&2)  # no systemd here: podman cannot schedule the periodic healthcheck
URL=http://127.0.0.1:$PORT
for _ in $(seq 30); do curl -fsS "$URL/healthz" >/dev/null 2>&1 && break; sleep 1; done
code() { curl -sS -o /dev/null -w '%{http_code}' "$@"; }
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"check","version":"0"}}}'
MCPH=(-X POST -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$INIT")
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what"; exit 1; fi; }
check "/healthz status ok"         grep -q '"status":"ok"' <<<"$(curl -fsS "$URL/healthz")"
check "/mcp without token: 401"    test "$(code "${MCPH[@]}" "$URL/mcp")" = 401
check "foreign Host header: 421"   test "$(code "${MCPH[@]}" -H "Authorization: Bearer $TOKEN" -H 'Host: evil.example' "$URL/mcp")" = 421
check "runs as neev (uid:gid 10001:10001)" test "$(podman exec "$NAME" id)" = "uid=10001(neev) gid=10001(neev) groups=10001(neev)"
check "HEALTHCHECK passes"         podman healthcheck run "$NAME"
# A real MCP client (the image's own mcp + httpx2) through the published port.
podman run --rm -i $PODMAN_FLAGS --network=host --entrypoint python "$IMAGE" - "$URL/mcp" "$TOKEN" 2> >(grep -v "systemd connection" >&2) <<'EOF'
import asyncio, sys, httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
async def main(url, token):
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10.0)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        tools = (await client.list_tools()).tools
        assert len(tools) == 12, [t.name for t in tools]
        sc = (await client.call_tool("list_vms", {})).structured_content
        assert sc["pagination"]["total_items"] == 6, sc
        print(f"ok   MCP client: {len(tools)} tools; list_vms: {[v['name'] for v in sc['data']]}")
asyncio.run(main(*sys.argv[1:]))
EOF
echo "all container checks passed"
