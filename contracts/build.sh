#!/usr/bin/env bash
# Rebuilds contracts/build/<Name>.bin and <Name>.abi from the Solidity sources
# with a pinned solc-js from the npm registry (installed into
# contracts/node_modules, which git ignores). Usage: bash contracts/build.sh
# The artifacts are committed: Go builds embed them and need neither npm nor solc.
set -euo pipefail

SOLC_VERSION=0.8.30

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

command -v node >/dev/null || { echo "build.sh: node is not installed (apt-get install nodejs npm)" >&2; exit 1; }

installed="$(node -p 'require("./node_modules/solc/package.json").version' 2>/dev/null || true)"
if [ "$installed" != "$SOLC_VERSION" ]; then
	echo "installing solc@$SOLC_VERSION into $here/node_modules" >&2
	npm install --prefix "$here" --no-save --no-package-lock --no-audit --no-fund --ignore-scripts \
		"solc@$SOLC_VERSION" >&2
fi

SOLC_VERSION="$SOLC_VERSION" node compile.js
