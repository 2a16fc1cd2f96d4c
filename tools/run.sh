#!/usr/bin/env bash
# `make run`: the component on the echo default, then daprd with components/,
# so that localhost:3500/v1.0-alpha2/conversation/pyllm/converse answers.
# Ctrl-C stops both (daprd first, then the component).
set -euo pipefail
cd "$(dirname "$0")/.."

SOCKETS="${DAPR_COMPONENTS_SOCKETS_FOLDER:-/tmp/dapr-components-sockets}"
HTTP_PORT="${DAPR_HTTP_PORT:-3500}"
GRPC_PORT="${DAPR_GRPC_PORT:-50001}"
mkdir -p "$SOCKETS"

.venv/bin/python -m component --sockets-folder "$SOCKETS" &
component=$!
cleanup() { kill -TERM "$component" 2>/dev/null || true; wait "$component" 2>/dev/null || true; }
trap cleanup EXIT

# daprd lists the sockets folder once, at its start: wait for the component.
for _ in $(seq 1 100); do
  [ -S "$SOCKETS/pyllm.sock" ] && break
  kill -0 "$component" 2>/dev/null || { echo "run: the component exited" >&2; exit 1; }
  sleep 0.1
done
[ -S "$SOCKETS/pyllm.sock" ] || { echo "run: no socket at $SOCKETS/pyllm.sock" >&2; exit 1; }

DAPR_COMPONENTS_SOCKETS_FOLDER="$SOCKETS" ./daprd/bin/daprd \
  --app-id pyllm-demo \
  --resources-path ./components \
  --config ./daprd/config/standalone.yaml \
  --dapr-http-port "$HTTP_PORT" \
  --dapr-grpc-port "$GRPC_PORT" \
  --placement-host-address "" \
  --scheduler-host-address "" \
  --enable-metrics=false &
daprd=$!
trap 'kill -TERM "$daprd" 2>/dev/null || true; wait "$daprd" 2>/dev/null || true; cleanup' EXIT
echo "run: daprd on http://localhost:$HTTP_PORT (gRPC $GRPC_PORT); Ctrl-C stops"
wait "$daprd"
