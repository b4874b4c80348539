#!/usr/bin/env bash
# make test: bring up a test stack of its own (var/teststack, ports 28xxx, so a
# running `make run` on 27xxx is never disturbed), run every test against it,
# and tear it down, keeping the tests' exit status.
set -euo pipefail
cd "$(dirname "$0")/.."

SLUICE=var/bin/sluice
DIR=${SLUICE_TEST_STACK_DIR:-var/teststack}
BASE=${SLUICE_TEST_PORT_BASE:-28000}

echo "== test stack: $DIR (ports from $BASE)"
"$SLUICE" stack up --dir "$DIR" --port-base "$BASE"
trap '"$SLUICE" stack down --dir "$DIR" || true' EXIT
eval "$("$SLUICE" stack env --dir "$DIR")"
export SLUICE_BIN="$PWD/$SLUICE"

echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './var/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed on: $unformatted" >&2
	exit 1
fi

echo "== staticcheck"
# pinned; installed into var/bin once (reused while the pin is unchanged)
STATICCHECK_VERSION=v0.8.2
if ! [ -x var/bin/staticcheck ] || ! grep -qx "$STATICCHECK_VERSION" var/bin/.staticcheck-version 2>/dev/null; then
	GOBIN="$PWD/var/bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	echo "$STATICCHECK_VERSION" >var/bin/.staticcheck-version
fi
var/bin/staticcheck ./...

echo "== go test -race"
go test -race -count=1 -timeout 40m ./...
