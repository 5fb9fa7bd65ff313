#!/usr/bin/env bash
# The demo: builds the npm package and serves the arena page (www/: blind battles over the embedded LLMFAO pool, the
# crowd's votes and a local judge) on http://127.0.0.1:${PORT:-8080}/www/ . Installs what it needs first (no browser,
# no Python); the judge's model files come from scripts/setup.sh and are served at /models/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --no-browser
bash scripts/build-wasm.sh
[ -s www/data/llmfao-pool.json ] || node scripts/make-demo-data.mjs
port=${PORT:-8080}
echo "open http://127.0.0.1:$port/www/"
exec node scripts/serve.mjs "$port"
