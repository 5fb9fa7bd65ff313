#!/usr/bin/env bash
# The demo: builds the npm package and serves the arena page (www/, with the LLMFAO crowd votes embedded) on
# http://127.0.0.1:${PORT:-8080}/www/ . Installs what it needs first (no browser, no Python).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-browser
bash scripts/build-wasm.sh
[ -s www/data/llmfao-crowd.csv ] || node scripts/make-demo-data.mjs
port=${PORT:-8080}
echo "open http://127.0.0.1:$port/www/"
exec node scripts/serve.mjs "$port"
