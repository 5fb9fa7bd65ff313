#!/usr/bin/env bash
# Runs every test: Rust unit, golden, property and GPU-parity tests (lavapipe), the wasm build and its size budget,
# the TypeScript declarations under tsc --strict, the JS suite in Node (Dawn) and in headless Chromium (page and
# Worker), the examples' agreement, and the e2e test of the page. Installs what it needs first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
log=$(mktemp)
exec > >(tee "$log") 2>&1

export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
chmod 700 "$XDG_RUNTIME_DIR"
# Each step says when it starts (seconds since setup finished), so a slow CI run shows where the time went.
step() { printf '\n== %s (at %d s)\n' "$*" "$SECONDS"; }
printf 'setup: %d s\n' "$SECONDS"
SECONDS=0

step "rustfmt and clippy (native and wasm32, warnings are errors)"
cargo fmt --check
cargo clippy -q --release --all-targets -- -D warnings
cargo clippy -q --release --target wasm32-unknown-unknown --lib -- -D warnings

step "cargo test (unit, golden, properties, GPU parity on lavapipe)"
cargo test --release --all-targets

step "wasm build and size budget"
bash scripts/build-wasm.sh

step "wasm SIMD mat-vec kernel against scalar arithmetic"
rustc --edition 2021 -C opt-level=3 --crate-type=cdylib --target wasm32-unknown-unknown -C target-feature=+simd128 \
  -o target/wasm-kernel.wasm tests/wasm_kernel/harness.rs
WASM_KERNEL=target/wasm-kernel.wasm node --test tests/wasm_kernel/run.mjs

step "TypeScript declarations (tsc --strict)"
node_modules/.bin/tsc -p tests/js/tsconfig.json

step "examples"
cargo build -q --release --example leaderboard --example judge_agreement --example reward
node --test tests/js/examples.mjs

step "JS suite in Node (WebGPU from Dawn on SwiftShader)"
VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json NODE_OPTIONS="--import ./tests/js/webgpu-node.mjs" \
  node --test tests/js/node.mjs tests/js/encoder.mjs tests/js/llama.mjs

step "JS suite in headless Chromium (page and Worker, WebGPU on SwiftShader)"
node --test tests/js/browser.mjs tests/js/privacy.mjs

step "e2e: the arena page in www/"
node --test tests/e2e/arena.mjs

# One closing line over every runner: cargo's "test result" lines and node:test's "# pass/# fail" lines.
sum() { grep -oE '[0-9]+' | awk '{ s += $1 } END { print s + 0 }'; }
passed=$(grep -hoE '(test result: ok\. [0-9]+ passed|^# pass [0-9]+)' "$log" | sum)
failed=$(grep -hoE '^# fail [0-9]+' "$log" | sum)
printf '\nall tests passed\n%s passed, %s failed, %d s after setup\n' "$passed" "$failed" "$SECONDS"
