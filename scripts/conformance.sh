#!/usr/bin/env bash
# Run the official MCP conformance suite (npm @modelcontextprotocol/conformance, Node 22) against neev-mcp over
# streamable HTTP, stateful and stateless, on the HTTP sandbox. Only the scenarios that need no fixture tools
# (the suite's `test_*` tools) apply to a real server; see docs/deploy.md for the list and why.
#
#   scripts/conformance.sh                 # installs Node 22 (.cache/node22) + the suite ($CONFORMANCE_DIR) on first use
#   PYTHON=/tmp/venv/bin/python scripts/conformance.sh
#
# Exit status: 0 when every selected scenario passed, 1 otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"  # so that `python -m neev_mcp` finds this checkout even when it is not installed
PYTHON="${PYTHON:-python3}"
CONFORMANCE_VERSION="${CONFORMANCE_VERSION:-0.1.16}"
CONFORMANCE_DIR="${CONFORMANCE_DIR:-${TMPDIR:-/tmp}/neev-mcp-conformance}"
SCENARIOS=(server-initialize ping tools-list resources-list prompts-list completion-complete dns-rebinding-protection)
STATEFUL_ONLY=(server-sse-multiple-streams)  # needs Mcp-Session-Id; in stateless mode it has nothing to check

# -- Node 22 (shared, under .cache/node22) and the suite, in a scratch folder -----------------------------------------
# shellcheck source=scripts/node22.sh
. "$ROOT/scripts/node22.sh"
ensure_node22 "$ROOT/.cache"
if [[ ! -x "$CONFORMANCE_DIR/node_modules/.bin/conformance" ]]; then
  echo "installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $CONFORMANCE_DIR" >&2
  mkdir -p "$CONFORMANCE_DIR"
  (cd "$CONFORMANCE_DIR" && { [[ -f package.json ]] || npm init -y >/dev/null; } &&
    PATH="$(dirname "$NODE22"):$PATH" npm install --no-audit --no-fund \
      "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION" >&2)
fi
export PATH="$CONFORMANCE_DIR/node_modules/.bin:$(dirname "$NODE22"):$PATH"
echo "node $(node --version), conformance $(conformance --version)" >&2

# -- processes we start, and only those, are stopped on exit ---------------------------------------------------------
PIDS=()
LOGS="$(mktemp -d)"
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$LOGS"
}
trap cleanup EXIT

free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_for() {  # url, log file
  for _ in $(seq 1 150); do
    if "$PYTHON" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "not ready: $1" >&2; cat "$2" >&2; exit 1
}

SANDBOX_PORT="$(free_port)"
"$PYTHON" -m neev_mcp.sandbox --port "$SANDBOX_PORT" --speed 0 >/dev/null 2>"$LOGS/sandbox.log" &
PIDS+=($!)
wait_for "http://127.0.0.1:$SANDBOX_PORT/_sandbox/healthz" "$LOGS/sandbox.log"
TOKEN="$("$PYTHON" -c 'from neev_mcp.sandbox import DEFAULT_TOKEN; print(DEFAULT_TOKEN)')"

start_server() {  # name, extra flags...; sets PORT (not run in a subshell, so that PIDS keeps the server's pid)
  local name="$1"; shift
  PORT="$(free_port)"
  # Loopback bind, no inbound auth: the conformance client cannot send a bearer token.
  env -u NEEV_MCP_AUTH_TOKEN -u NEEV_MCP_AUTH NEEV_API_TOKEN="$TOKEN" NEEV_API_BASE_URL="http://127.0.0.1:$SANDBOX_PORT/vm" \
    NEEV_ORG_ID=demo-org NEEV_PROJECT_ID=demo-project \
    "$PYTHON" -m neev_mcp --transport http --host 127.0.0.1 --port "$PORT" "$@" >/dev/null 2>"$LOGS/$name.log" &
  PIDS+=($!)
  wait_for "http://127.0.0.1:$PORT/healthz" "$LOGS/$name.log"
}

start_server stateful
STATEFUL_PORT="$PORT"
start_server stateless --stateless
STATELESS_PORT="$PORT"

FAILED=()
PASSED=()
run() {  # label, port, scenario
  local out
  if out="$(conformance server --url "http://127.0.0.1:$2/mcp" --scenario "$3" 2>&1)"; then
    PASSED+=("$1/$3")
    echo "PASS $1 $3: $(grep -E '^Passed:' <<<"$out" | head -1)"
  else
    FAILED+=("$1/$3")
    echo "FAIL $1 $3"; echo "$out"
  fi
}

started=$SECONDS
for scenario in "${SCENARIOS[@]}" "${STATEFUL_ONLY[@]}"; do run stateful "$STATEFUL_PORT" "$scenario"; done
for scenario in "${SCENARIOS[@]}"; do run stateless "$STATELESS_PORT" "$scenario"; done

echo "conformance: ${#PASSED[@]} passed, ${#FAILED[@]} failed in $((SECONDS - started)) s"
[[ ${#FAILED[@]} -eq 0 ]]
