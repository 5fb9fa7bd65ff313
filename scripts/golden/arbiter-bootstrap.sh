#!/usr/bin/env bash
# Pins arbiter's own native bootstrap on LLMFAO (seed 42, 1000 rounds) so the Node and browser suites can check that
# wasm gives the same intervals as native code. Rerun after a deliberate change to the bootstrap.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run -q --release --example leaderboard -- ../shared/data/llmfao/crowd-comparisons.csv \
  --columns left,right,winner --ci bootstrap --rounds 1000 --seed 42 --json > tests/golden/arbiter-bootstrap.json
