# shellcheck shell=bash
# Node 22 for the scripts that drive neev-mcp with outside JavaScript clients (inspector.sh, conformance.sh,
# ext-apps.sh, ts-client.sh). Source this file, then call `ensure_node22 CACHE_DIR`: it installs the `node` npm package
# (which ships a Node 22 binary) into CACHE_DIR/node22 on first use and sets NODE22 to that binary. Needs npm.
#
#   . "$ROOT/scripts/node22.sh" && ensure_node22 "$ROOT/.cache" && "$NODE22" --version

ensure_node22() {
  local cache="$1"
  NODE22="$cache/node22/node_modules/.bin/node"
  if [[ ! -x "$NODE22" ]]; then  # the Inspector needs Node >= 22.19; the `node` npm package ships one
    echo "installing Node 22 into $cache/node22" >&2
    mkdir -p "$cache/node22" &&
      (cd "$cache/node22" && { [[ -f package.json ]] || npm init -y >/dev/null; } &&
        npm install --no-fund --no-audit node@22 >&2)
  fi
  export NODE22
}
