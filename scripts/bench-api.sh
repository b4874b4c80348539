#!/usr/bin/env bash
# POST /wallet/create under load from wrk, next to the same server's ceiling
# (GET /healthz) and the read path (the same extId again), in one run.
# Needs a running `make run` (or SLUICE_STACK_DIR pointing at a stack whose
# `sluice serve` runs). Usage: scripts/bench-api.sh [DURATION] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-20s}
CONNS=${2:-32}
SLUICE=var/bin/sluice
DIR=${SLUICE_STACK_DIR:-var/stack}

if ! command -v wrk >/dev/null; then
	echo "== installing wrk (Debian package)"
	if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi
eval "$("$SLUICE" stack env --dir "$DIR")"
if ! curl -sf "$SLUICE_API/healthz" >/dev/null; then
	echo "no sluice serve answers at $SLUICE_API: start it with 'make run'" >&2
	exit 1
fi
merchant=$("$SLUICE" merchant create --name "bench-$(date +%s)" --rate-limit 1000000)
export KEY=$(sed -n 's/.*"api_key": "\(.*\)".*/\1/p' <<<"$merchant")
export PREFIX="bench-$(date +%s)"

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "== wrk -t2 -c$CONNS -d$DUR, sluice serve at $SLUICE_API"
echo "-- ceiling: GET /healthz"
wrk -t2 -c"$CONNS" -d"$DUR" --latency "$SLUICE_API/healthz" | grep -E "Requests/sec|Latency|50%|99%"
echo "-- read path: POST /wallet/create/LTC, the same extId every time"
REPEAT=1 wrk -t2 -c"$CONNS" -d"$DUR" --latency -s bench/wrk/wallet_create.lua "$SLUICE_API/wallet/create/LTC" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx"
echo "-- write path: POST /wallet/create/LTC, a new extId every request (new address, ledger insert, watch set)"
wrk -t2 -c"$CONNS" -d"$DUR" --latency -s bench/wrk/wallet_create.lua "$SLUICE_API/wallet/create/LTC" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx"
