#!/usr/bin/env bash
# Installs every prerequisite of the build and tests; skips what is already present so a warm machine stays fast.
# Usage: scripts/setup.sh [--no-browser] [--python]   (--python: the venv of peers that regenerates goldens)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
log() { printf '[setup] %s\n' "$*" >&2; }

want_browser=1; want_python=0
for a in "$@"; do
  case $a in
    --no-browser) want_browser=0 ;;
    --python) want_python=1 ;;
  esac
done

# --- Debian packages: lavapipe (native wgpu tests) and Chromium (browser tests, Dawn's SwiftShader driver for Node).
need_apt=()
[ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || [ -e /usr/share/vulkan/icd.d/lvp_icd.json ] || need_apt+=(mesa-vulkan-drivers)
ldconfig -p | grep -q 'libvulkan.so.1' || need_apt+=(libvulkan1)
if [ $want_browser = 1 ]; then
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
  [ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# --- Rust: the wasm32 target and wasm-bindgen-cli at exactly the Cargo.lock version.
rustup target list --installed | grep -q '^wasm32-unknown-unknown$' || rustup target add wasm32-unknown-unknown
wb_version=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p;q}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  log "cargo install wasm-bindgen-cli $wb_version (about 4 minutes)"
  # --locked fails on this registry (a pinned dependency is missing), so resolve freshly.
  cargo install -q wasm-bindgen-cli --version "$wb_version" --force
fi

# --- npm packages (playwright-core, the Dawn 'webgpu' package, binaryen's wasm-opt, typescript).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- Python peers for regenerating goldens (optional; goldens are committed).
if [ $want_python = 1 ]; then
  if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
  .venv/bin/pip install -q -r scripts/golden/requirements.txt
fi
log "ok"
