#!/usr/bin/env bash
# Builds the npm package in pkg/: the release .wasm, wasm-bindgen's glue (--target web, which also loads in Node
# through pkg/index.js), wasm-opt -O3 from npm's binaryen (Debian's wasm-opt 108 breaks wasm-bindgen output).
# Checks the gzip size against the budget in scripts/wasm-budget.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
features=${ARBITER_FEATURES:-}
cargo build -q --release --target wasm32-unknown-unknown --lib ${features:+--features "$features"} \
  --config profile.release.lto=true --config profile.release.codegen-units=1
rm -rf pkg/wasm
wasm-bindgen --target web --out-dir pkg/wasm --out-name arbiter target/wasm32-unknown-unknown/release/arbiter.wasm
# -ocimfs 50: a function with one caller is inlined only when small. Binaryen inlines every such function by
# default, whatever its size, and so made one 24 KB function of the whole model loader; V8 recompiled it with its
# optimising compiler, in vain (it runs once), and that took 12.6 MB of compiler memory that glibc keeps. With the
# loader's loops left in functions of their own (src/nn/bpe.rs), loading SmolLM2 adds 1.13-1.18x the file's size to
# Node's RSS instead of 1.24-1.33x (benches/llama.mjs); speed is unchanged (benches/llama-ab.mjs), gzip 10 KB smaller.
node_modules/.bin/wasm-opt -ocimfs 50 -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
  pkg/wasm/arbiter_bg.wasm -o pkg/wasm/arbiter_bg.wasm
size=$(gzip -9 -c pkg/wasm/arbiter_bg.wasm | wc -c)
budget=$(cat scripts/wasm-budget.txt)
echo "pkg/wasm/arbiter_bg.wasm: $(wc -c <pkg/wasm/arbiter_bg.wasm) bytes, $size gzip (budget $budget)"
if [ "$size" -gt "$budget" ]; then
  echo "error: the .wasm (gzip) is over its budget of $budget bytes" >&2
  exit 1
fi
