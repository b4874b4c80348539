#!/usr/bin/env bash
# make run: the local stack (var/stack, ports 27xxx), migrated; a demo
# merchant whose webhooks go to a receiver that logs them; then sluice serve
# in the foreground (API, indexers, payments workers, webhook delivery).
# Ctrl-C (or TERM, HUP) stops the server, the receiver and the price server,
# and waits for them; the stack stays up ('make stack-down' stops it).
# SLUICE_RUN_BIN and SLUICE_RUN_DIR replace the binary and the stack directory
# (scripts/run_test.go runs this with a stand-in binary).
set -euo pipefail
cd "$(dirname "$0")/.."

SLUICE=${SLUICE_RUN_BIN:-var/bin/sluice}
DIR=${SLUICE_RUN_DIR:-var/stack}
RECEIVER=127.0.0.1:27090
PRICES=127.0.0.1:27095 # rates.sources in $DIR/sluice.yaml (port base + 95)

"$SLUICE" stack up --dir "$DIR"
eval "$("$SLUICE" stack env --dir "$DIR")"
"$SLUICE" migrate

# The demo merchant is made once; its API key and webhook secret are shown
# only at creation, so they are kept (0600) for the recipe below.
if [ ! -s "$DIR/demo-merchant.json" ]; then
	(umask 077 && "$SLUICE" merchant create --name demo --webhook-url "http://$RECEIVER/webhook" --rate-limit 1000 --convert USD \
		>"$DIR/demo-merchant.json.tmp" && mv "$DIR/demo-merchant.json.tmp" "$DIR/demo-merchant.json")
	echo "demo merchant created: $DIR/demo-merchant.json"
fi

# Every child started below stops with this script. A script's background
# children ignore SIGINT (bash does that without job control), so Ctrl-C
# reaches only the server: each child is sent TERM by its pid, then waited
# for (KILL after 20 s).
children=()
stop() {
	trap - EXIT INT TERM HUP
	local p left
	for p in "${children[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for _ in $(seq 100); do
		left=0
		for p in "${children[@]}"; do kill -0 "$p" 2>/dev/null && left=1; done
		[ "$left" = 0 ] && break
		sleep 0.2
	done
	for p in "${children[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait || true
	rm -f "$DIR/receiver.pid" "$DIR/prices.pid"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# One receiver: replace a leftover of an earlier run (killed with -9).
if [ -s "$DIR/receiver.pid" ] && kill -0 "$(cat "$DIR/receiver.pid")" 2>/dev/null; then
	kill "$(cat "$DIR/receiver.pid")" || true
	sleep 0.2
fi
"$SLUICE" devnet receiver --listen "$RECEIVER" >>"$DIR/receiver.log" 2>>"$DIR/receiver.err" &
children+=($!)
echo $! >"$DIR/receiver.pid"

# The fiat price server (fixed prices in CoinGecko's format: no internet here),
# for webhook conversions and the litepay 1 USD minimum; one, like the receiver.
if [ -s "$DIR/prices.pid" ] && kill -0 "$(cat "$DIR/prices.pid")" 2>/dev/null; then
	kill "$(cat "$DIR/prices.pid")" || true
	sleep 0.2
fi
"$SLUICE" devnet prices --listen "$PRICES" >>"$DIR/prices.log" 2>&1 &
children+=($!)
echo $! >"$DIR/prices.pid"

# litepay's /api/receive takes no key (as its spec): keyless calls belong to
# the demo merchant, limited per IP (api.unauthenticated_limit).
DEMO_ID=$(sed -n 's/.*"id": *\([0-9][0-9]*\).*/\1/p' "$DIR/demo-merchant.json" | head -n 1)
if [ -n "$DEMO_ID" ]; then
	export SLUICE_API_RECEIVE_MERCHANT="$DEMO_ID"
fi

cat <<EOT

sluice API: $SLUICE_API   (Ctrl-C stops the server; 'make stack-down' stops the stack)
try it, in another shell, once the server says the chains are indexed:
  KEY=\$(sed -n 's/.*"api_key": "\(.*\)".*/\1/p' $DIR/demo-merchant.json); ADDR=\$(curl -s -X POST -H "Authorization: \$KEY" -d '{"extId":"alice"}' $SLUICE_API/wallet/create/LTC | sed -n 's/.*"publicKey":"\([^"]*\)".*/\1/p')
  $SLUICE devnet pay --currency LTC --to "\$ADDR" --amount 0.5 && $SLUICE devnet mine --chain ltc -n 6
  tail $DIR/receiver.log    # the status 0 webhook, the confirmation updates, then status 1 at 6 confirmations
litepay, no key needed (payments forwarded to DEST after one confirmation):
  DEST=\$($SLUICE devnet address --chain ltc); curl -s "$SLUICE_API/api/receive?method=ltc&address=\$DEST&callback=http://$RECEIVER/litepay"

EOT
# In the background so that the traps run while it serves; its exit status
# is the script's.
"$SLUICE" serve &
children+=($!)
wait "$!"
