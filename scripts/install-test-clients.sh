#!/usr/bin/env bash
# Installs the official OpenAI JavaScript client (npm `openai`, major 4) that
# tests/serve/openai_js.sh drives phi3vk serve with, into a cache folder
# outside the repository: $PHI3VK_NODE_DIR (default ~/.cache/phi3vk-test/node).
# Needs node and npm (scripts/install-deps.sh) and the npm registry. Prints the
# folder; does nothing when the client is already there.
set -euo pipefail
dir=${PHI3VK_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/phi3vk-test/node}
if [ -f "$dir/node_modules/openai/package.json" ]; then echo "$dir"; exit 0; fi
command -v npm >/dev/null || { echo "install-test-clients: npm is needed (scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"name": "phi3vk-test-clients", "private": true}' >"$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error 'openai@^4' >&2
echo "$dir"
