// Exactness of the wasm SIMD mat-vec kernel against scalar arithmetic, and its time per block; see harness.rs.
// Usage: WASM_KERNEL=FILE.wasm node --test tests/wasm_kernel/run.mjs
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const { instance } = await WebAssembly.instantiate(readFileSync(process.env.WASM_KERNEL));
const e = instance.exports;

test('the wasm SIMD kernel is bit-identical to scalar arithmetic', () => {
  for (const [kind, name] of ['Q4_0', 'Q4_1', 'Q8_0'].entries()) {
    for (const [blocks, t] of [[1, 1], [2, 3], [3, 2], [4, 1], [5, 5], [7, 2], [18, 3], [48, 2], [13, 7], [18, 37], [5, 70]]) {
      assert.equal(e.check(kind, 7, 32 * blocks, t), 0, `${name}: ${blocks} blocks, ${t} activation rows`);
    }
  }
});

test('time per block (printed; a shared machine, not a benchmark)', () => {
  // Q4_1, 1536 × 576 (SmolLM2's ffn_up).
  [1, 32].forEach((t, i) => {
    e.setup(t);
    const reps = t === 1 ? 200 : 8;
    e.go(i, 1);
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) e.go(i, 1);
    const ns = ((performance.now() - t0) * 1e6) / reps / (1536 * 18 * t);
    console.log(`${t} activation row(s): ${ns.toFixed(1)} ns per Q4_1 block`);
  });
});
