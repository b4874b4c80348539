#!/usr/bin/env bash
# make run: the local stack (var/stack, ports 27xxx), migrated; a demo
# merchant whose webhooks go to a receiver that logs them; then sluice serve
# in the foreground (API, indexers, payments workers, webhook delivery).
set -euo pipefail
cd "$(dirname "$0")/.."

SLUICE=var/bin/sluice
DIR=var/stack
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

# One receiver: replace a leftover of an earlier run.
if [ -s "$DIR/receiver.pid" ] && kill -0 "$(cat "$DIR/receiver.pid")" 2>/dev/null; then
	kill "$(cat "$DIR/receiver.pid")" || true
	sleep 0.2
fi
nohup "$SLUICE" devnet receiver --listen "$RECEIVER" >>"$DIR/receiver.log" 2>>"$DIR/receiver.err" &
echo $! >"$DIR/receiver.pid"

# The fiat price server (fixed prices in CoinGecko's format: no internet here),
# for webhook conversions and the litepay 1 USD minimum; one, like the receiver.
if [ -s "$DIR/prices.pid" ] && kill -0 "$(cat "$DIR/prices.pid")" 2>/dev/null; then
	kill "$(cat "$DIR/prices.pid")" || true
	sleep 0.2
fi
nohup "$SLUICE" devnet prices --listen "$PRICES" >>"$DIR/prices.log" 2>&1 &
echo $! >"$DIR/prices.pid"

cat <<EOT

sluice API: $SLUICE_API   (Ctrl-C stops the server; 'make stack-down' stops the stack)
try it, in another shell, once the server says the chains are indexed:
  KEY=\$(sed -n 's/.*"api_key": "\(.*\)".*/\1/p' $DIR/demo-merchant.json); ADDR=\$(curl -s -X POST -H "Authorization: \$KEY" -d '{"extId":"alice"}' $SLUICE_API/wallet/create/LTC | sed -n 's/.*"publicKey":"\([^"]*\)".*/\1/p')
  $SLUICE devnet pay --currency LTC --to "\$ADDR" --amount 0.5 && $SLUICE devnet mine --chain ltc -n 6
  tail $DIR/receiver.log    # the status 0 webhook, the confirmation updates, then status 1 at 6 confirmations

EOT
exec "$SLUICE" serve
