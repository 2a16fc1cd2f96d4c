#!/usr/bin/env bash
# Install what the project needs on a fresh machine, skipping what is there:
# uv (from PyPI), the locked virtual environment in .venv, and redis-server
# (Debian) for the cache tests. Go comes with the machine; its modules are
# fetched by `go build` from daprd/go.sum.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet "uv==0.13.9"
fi
uv sync --frozen --quiet

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
fi
# The Debian package starts a system redis on 6379; the tests start their own.
command -v go >/dev/null 2>&1 || { echo "setup: Go is required to build daprd (https://go.dev/dl)" >&2; exit 1; }
