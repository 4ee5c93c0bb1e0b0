#!/usr/bin/env bash
# Install what tests/test_ts_client.py needs: Node 22 (.cache/node22) and the official MCP TypeScript SDK
# (@modelcontextprotocol/sdk, pinned) into .cache/ts-client, from the npm registry. Idempotent; .cache/ is gitignored.
# The test itself (tests/ts_client/flows.mjs driven by pytest) installs nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
SDK_VERSION="1.32.2"
DIR="$CACHE/ts-client"
# shellcheck source=scripts/node22.sh
. "$ROOT/scripts/node22.sh"

command -v npm >/dev/null || { echo "npm is required" >&2; exit 2; }
ensure_node22 "$CACHE"
if ! grep -qs "\"version\": \"$SDK_VERSION\"" "$DIR/node_modules/@modelcontextprotocol/sdk/package.json"; then
  echo "installing @modelcontextprotocol/sdk@$SDK_VERSION into $DIR" >&2
  mkdir -p "$DIR" && (cd "$DIR" && { [[ -f package.json ]] || echo '{"private": true}' >package.json; } &&
    PATH="$(dirname "$NODE22"):$PATH" npm install --no-fund --no-audit "@modelcontextprotocol/sdk@$SDK_VERSION" >&2)
fi
echo "TypeScript MCP SDK $SDK_VERSION on Node $("$NODE22" --version) in $DIR"
