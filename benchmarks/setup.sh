#!/usr/bin/env bash
# Idempotent benchmark setup: PyPI + npm registries only, everything under benchmarks/ (gitignored).
#   BENCH_PYTHON   python that runs tokens.py / drivers (default: /tmp/venv/bin/python if present, else python3);
#                  tiktoken is pip-installed into it if missing (it is the project's `bench` extra).
#   FASTMCP_SPEC   pip requirement for the baseline venv (default fastmcp==4.2.3).
# Usage: bash benchmarks/setup.sh [--no-verify]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$HERE/.cache"
TIKTOKEN_NPM="tiktoken@1.0.22"      # ships encoders/o200k_base.json (same ranks as OpenAI's o200k_base.tiktoken)
GPT_TOKENIZER_NPM="gpt-tokenizer@4.0.0"  # independent pure-JS o200k_base, only for verification
FASTMCP_SPEC="${FASTMCP_SPEC:-fastmcp==4.2.3}"
if [[ -z "${BENCH_PYTHON:-}" ]]; then
  if [[ -x /tmp/venv/bin/python ]]; then BENCH_PYTHON=/tmp/venv/bin/python; else BENCH_PYTHON="$(command -v python3)"; fi
fi
VERIFY=1
[[ "${1:-}" == "--no-verify" ]] && VERIFY=0

mkdir -p "$CACHE/npm"

# 1. tiktoken in the benchmark python.
if ! "$BENCH_PYTHON" -c "import tiktoken" 2>/dev/null; then
  echo "installing tiktoken into $BENCH_PYTHON"
  "$BENCH_PYTHON" -m pip install -q "tiktoken>=0.7"
fi

# 2. o200k_base ranks from the npm `tiktoken` tarball -> tiktoken cache (sha256-checked by tokens.py and tiktoken).
if ! "$BENCH_PYTHON" -c "import sys; sys.path.insert(0, '$HERE'); import tokens; sys.exit(not tokens.cache_path().exists())"; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  tgz="$(cd "$tmp" && npm pack --silent "$TIKTOKEN_NPM")"
  tar -xzf "$tmp/$tgz" -C "$tmp" package/encoders/o200k_base.json
  (cd "$HERE" && "$BENCH_PYTHON" tokens.py --install-from "$tmp/package/encoders/o200k_base.json")
fi

# 3. FastMCP baseline venv (never import fastmcp next to neev_mcp).
if ! "$HERE/.venv-fastmcp/bin/python" -c "import fastmcp" 2>/dev/null; then
  "$BENCH_PYTHON" -m venv "$HERE/.venv-fastmcp" 2>/dev/null || python3 -m venv "$HERE/.venv-fastmcp"
  "$HERE/.venv-fastmcp/bin/python" -m pip install -q "$FASTMCP_SPEC"
fi
"$HERE/.venv-fastmcp/bin/python" -c "import fastmcp, importlib.metadata as m; print('fastmcp', fastmcp.__version__, 'mcp', m.version('mcp'))"

# 4. Verification against gpt-tokenizer (node).
if [[ "$VERIFY" == 1 ]]; then
  if [[ ! -d "$CACHE/npm/node_modules/gpt-tokenizer" ]]; then
    npm install --silent --no-audit --no-fund --prefix "$CACHE/npm" "$GPT_TOKENIZER_NPM"
  fi
  (cd "$HERE" && "$BENCH_PYTHON" verify_tokenizer.py "$HERE/../neev_mcp/spec/neevcloud-vm-openapi.json")
fi
echo "benchmark setup ok"
