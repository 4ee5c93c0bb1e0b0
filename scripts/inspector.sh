#!/usr/bin/env bash
# Drive neev-mcp with an MCP client nobody here wrote: the MCP Inspector CLI (handshake-era protocol, over stdio),
# against `neev-mcp --sandbox`. Every step must succeed and return what a user would expect, or the script fails.
#
#   scripts/inspector.sh            # installs Node 22 and the Inspector under .cache/ on first use (npm registry)
#   PYTHON=/path/to/python scripts/inspector.sh   # the interpreter that has neev-mcp installed (default: python3)
#
# Not part of the test suite: it needs npm and a few hundred MB under .cache/ (gitignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
INSPECTOR_VERSION="2.12.0"
PYTHON="${PYTHON:-python3}"
# shellcheck source=scripts/node22.sh
. "$ROOT/scripts/node22.sh"
INSPECTOR="$CACHE/inspector/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
OUT="$CACHE/inspector-out"

install_tools() {
  ensure_node22 "$CACHE"  # the Inspector needs Node >= 22.19
  NODE="$NODE22"
  if [[ ! -f "$INSPECTOR" ]] || ! grep -q "\"version\": \"$INSPECTOR_VERSION\"" \
      "$CACHE/inspector/node_modules/@modelcontextprotocol/inspector/package.json"; then
    echo "installing @modelcontextprotocol/inspector@$INSPECTOR_VERSION into $CACHE/inspector" >&2
    mkdir -p "$CACHE/inspector" && (cd "$CACHE/inspector" && { [[ -f package.json ]] || npm init -y >/dev/null; } &&
      npm install --no-fund --no-audit "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >&2)
  fi
}

# inspect NAME CHECK [inspector options...]: run one Inspector call against a fresh `neev-mcp --sandbox` and check it.
inspect() {
  local name="$1" check="$2"; shift 2
  local started=$SECONDS
  if ! MCP_CATALOG_PATH="$OUT/catalog.json" "$NODE" "$INSPECTOR" --cli "$@" -- "$PYTHON" -m neev_mcp --sandbox \
      >"$OUT/$name.json" 2>"$OUT/$name.err"; then
    echo "FAIL $name: the Inspector exited non-zero; see $OUT/$name.err" >&2
    tail -5 "$OUT/$name.err" >&2
    return 1
  fi
  if ! "$PYTHON" "$ROOT/scripts/inspector_check.py" "$check" <"$OUT/$name.json"; then
    echo "FAIL $name: unexpected answer in $OUT/$name.json" >&2
    return 1
  fi
  echo "  ($((SECONDS - started))s)"
}

main() {
  command -v npm >/dev/null || { echo "npm is required" >&2; exit 2; }
  "$PYTHON" -c "import neev_mcp" 2>/dev/null || { echo "$PYTHON cannot import neev_mcp (set PYTHON=...)" >&2; exit 2; }
  install_tools
  mkdir -p "$OUT"
  echo "MCP Inspector $("$NODE" "$INSPECTOR" --cli --version 2>/dev/null || echo "$INSPECTOR_VERSION") on Node $("$NODE" --version), server: $PYTHON -m neev_mcp --sandbox"
  local failed=0
  inspect tools_list tools_list --method tools/list || failed=1
  inspect tools_call_list_vms list_vms --method tools/call --tool-name list_vms --tool-arg limit=5 || failed=1
  inspect prompts_list prompts_list --method prompts/list || failed=1
  inspect prompts_get prompts_get --method prompts/get --prompt-name decommission_vm --prompt-args vm=web-1 || failed=1
  inspect resource_templates resource_templates --method resources/templates/list || failed=1
  inspect resources_read resource_read --method resources/read --uri neev://vms/web-1 || failed=1
  if [[ $failed -ne 0 ]]; then
    echo "inspector: FAILED (outputs in $OUT)" >&2
    exit 1
  fi
  echo "inspector: all checks passed (outputs in $OUT)"
}

main "$@"
