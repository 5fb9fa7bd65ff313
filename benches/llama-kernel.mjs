// Times the wasm SIMD kernel (src/nn/quant/simd.rs, through tests/wasm_kernel/harness.rs) on a model's own weights:
// one pass over every quantised matrix of the GGUF as a decode step makes it (one activation row; ~96 MB for
// SmolLM2-135M Q4_1, more than the caches hold) and over the layers' matrices as a prefill makes it (128 rows; the
// output matrix meets only the last row there). Random weights that stay in
// cache flatter a decode kernel by 2x; this is the number that tells kernels apart. The best of --runs passes.
// Build the kernel first (scripts/test.sh does):
//   rustc --edition 2021 -C opt-level=3 --crate-type=cdylib --target wasm32-unknown-unknown \
//     -C target-feature=+simd128 -o target/wasm-kernel.wasm tests/wasm_kernel/harness.rs
// Usage: node benches/llama-kernel.mjs [--model FILE] [--kernel FILE.wasm ...] [--runs N]
//   (several --kernel files: passes alternate between them, so the machine's load falls on each alike)
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const all = (name) => args.flatMap((a, i) => (a === name ? [args[i + 1]] : []));
const model = all('--model')[0] ?? join(homedir(), '.cache/arbiter/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf');
const kernels = all('--kernel').length ? all('--kernel') : ['target/wasm-kernel.wasm'];
const runs = Number(all('--runs')[0] ?? 7);

/** The quantised 2-D tensors of a GGUF v3 file: offset of their data, rows, columns and kernel kind. */
function matrices(file) {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let at = 4;
  const u32 = () => ((at += 4), view.getUint32(at - 4, true));
  const u64 = () => ((at += 8), Number(view.getBigUint64(at - 8, true)));
  const str = () => {
    const n = u64();
    at += n;
    return file.subarray(at - n, at).toString();
  };
  const scalar = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const skip = (type) => {
    if (type === 8) return void str();
    if (type !== 9) return void (at += scalar[type]);
    const [inner, n] = [u32(), u64()];
    for (let i = 0; i < n; i++) skip(inner);
  };
  u32();
  const [tensors, keys] = [u64(), u64()];
  let alignment = 32;
  for (let i = 0; i < keys; i++) {
    const key = str();
    const type = u32();
    if (key === 'general.alignment') alignment = view.getUint32(at, true);
    skip(type);
  }
  const kinds = { 2: 0, 3: 1, 8: 2 }; // ggml Q4_0, Q4_1, Q8_0 → the harness's kinds
  const infos = [];
  for (let i = 0; i < tensors; i++) {
    const name = str();
    const shape = Array.from({ length: u32() }, u64);
    const [type, offset] = [u32(), u64()];
    if (type in kinds && shape.length === 2) infos.push({ name, kind: kinds[type], offset, cols: shape[0], rows: shape[1] });
  }
  const base = Math.ceil(at / alignment) * alignment;
  return infos.map((t) => ({ ...t, offset: base + t.offset }));
}

const file = readFileSync(model);
const mats = matrices(file);
const layers = mats.filter((m) => m.name.startsWith('blk.'));
const count = (list) => list.reduce((n, m) => n + (m.rows * m.cols) / 32, 0);
const blocks = { 1: count(mats), 128: count(layers) };
const mods = [];
for (const path of kernels) {
  const { exports } = (await WebAssembly.instantiate(readFileSync(path))).instance;
  const ptr = exports.alloc(file.length);
  new Uint8Array(exports.memory.buffer, ptr, file.length).set(file);
  mods.push({ path, exports, best: { 1: Infinity, 128: Infinity } });
}
for (let r = 0; r < runs; r++) {
  for (const t of [1, 128]) {
    for (const m of mods) {
      const t0 = performance.now();
      for (const x of t === 1 ? mats : layers) m.exports.mm(x.kind, x.offset, x.rows, x.cols, t);
      m.best[t] = Math.min(m.best[t], performance.now() - t0);
    }
  }
}
console.log(`${model}: ${mats.length} matrices, ${blocks[1]} blocks; best of ${runs} passes (Node, one thread)`);
for (const m of mods) {
  const perBlock = (t) => ((m.best[t] * 1e6) / blocks[t] / t).toFixed(2);
  console.log(`${m.path}: decode (1 row) ${m.best[1].toFixed(1)} ms per pass, ${perBlock(1)} ns per block; ` +
    `prefill (128 rows) ${perBlock(128)} ns per block·row`);
}
