# neev-mcp over streamable HTTP: slim, non-root, health-checked.
#
#   docker build -t neev-mcp .
#   export NEEV_MCP_AUTH_TOKEN=$(openssl rand -hex 32)   # clients send it as "Authorization: Bearer ..."
#   docker run --rm -p 127.0.0.1:8000:8000 -e NEEV_MCP_AUTH_TOKEN neev-mcp --sandbox
#
# See docs/deploy.md for the variables (NEEV_API_TOKEN, NEEV_MCP_SECRET, NEEV_MCP_AUTH_TOKEN, NEEV_MCP_ALLOWED_HOSTS).

# ---- build: a wheel from the source tree (build tools stay in this stage) ----------------------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY prompts ./prompts
COPY neev_mcp ./neev_mcp
RUN pip wheel --no-deps --wheel-dir /dist .

# ---- runtime ------------------------------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # Host names the server answers to; a request with any other Host header gets 421 (DNS-rebinding protection).
    # Enough for `docker run -p 127.0.0.1:8000:8000`; set your own (Service DNS, ingress host) when deploying.
    NEEV_MCP_ALLOWED_HOSTS=localhost,127.0.0.1
RUN groupadd --system --gid 10001 neev \
    && useradd --system --uid 10001 --gid neev --no-create-home --shell /usr/sbin/nologin neev
COPY --from=build /dist/ /tmp/dist/
RUN pip install /tmp/dist/*.whl && rm -rf /tmp/dist
USER 10001:10001
EXPOSE 8000
# python, not curl: the slim image has no curl. /healthz needs no auth and reveals no secret.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
# Binding 0.0.0.0 requires inbound auth: NEEV_MCP_AUTH_TOKEN, or NEEV_MCP_AUTH=passthrough (or =none behind an
# authenticating proxy). Extra arguments (e.g. --stateless, --read-only, --sandbox) are appended.
ENTRYPOINT ["neev-mcp", "--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
