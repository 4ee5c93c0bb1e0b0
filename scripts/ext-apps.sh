#!/usr/bin/env bash
# Everything the dashboard's browser test (tests/test_dashboard_browser.py) needs from outside, installed by name:
#   - Debian's chromium and npm (apt-get, only if missing),
#   - Node 22 (the `node` npm package) under .cache/node22,
#   - @modelcontextprotocol/ext-apps (the official AppBridge, host side) and esbuild under .cache/ext-apps,
# then bundles tests/browser/host.js into .cache/ext-apps/host.bundle.js. Idempotent; .cache/ is gitignored.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
EXT_APPS_VERSION="2.0.4"
ESBUILD_VERSION="0.25.12"
# shellcheck source=scripts/node22.sh
. "$ROOT/scripts/node22.sh"
DIR="$CACHE/ext-apps"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "installing Debian's chromium" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null; then
  echo "installing Debian's npm" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
fi
ensure_node22 "$CACHE"
NODE="$NODE22"
if ! grep -qs "\"version\": \"$EXT_APPS_VERSION\"" "$DIR/node_modules/@modelcontextprotocol/ext-apps/package.json" ||
   [[ ! -d "$DIR/node_modules/esbuild" ]]; then
  echo "installing @modelcontextprotocol/ext-apps@$EXT_APPS_VERSION and esbuild@$ESBUILD_VERSION into $DIR" >&2
  mkdir -p "$DIR" && (cd "$DIR" && { [[ -f package.json ]] || echo '{"private": true}' >package.json; } &&
    PATH="$(dirname "$NODE"):$PATH" npm install --no-fund --no-audit \
      "@modelcontextprotocol/ext-apps@$EXT_APPS_VERSION" "esbuild@$ESBUILD_VERSION" >&2)
fi
# Through esbuild's JS API: it finds the platform binary whether or not npm ran esbuild's install script.
# The first line names the source's hash, so a test can tell a stale bundle from a current one.
SOURCE_SHA="$(sha256sum "$ROOT/tests/browser/host.js" | cut -d' ' -f1)"
(cd "$DIR" && NODE_PATH="$DIR/node_modules" "$NODE" -e '
  require("esbuild").buildSync({ entryPoints: [process.argv[1]], outfile: process.argv[2], bundle: true, minify: true,
    format: "iife", platform: "browser", logLevel: "warning", nodePaths: [process.argv[3]],
    banner: { js: "/* host.js sha256:" + process.argv[4] + " */" } });' \
  "$ROOT/tests/browser/host.js" "$DIR/host.bundle.js" "$DIR/node_modules" "$SOURCE_SHA")
echo "ext-apps host bundle: $DIR/host.bundle.js ($(wc -c <"$DIR/host.bundle.js") bytes)"
