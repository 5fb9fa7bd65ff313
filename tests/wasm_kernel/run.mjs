// Exactness of the wasm SIMD kernels (the mat-vec and the attention row) against scalar arithmetic, and their times;
// see harness.rs.
// Usage: WASM_KERNEL=FILE.wasm node --test tests/wasm_kernel/run.mjs
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const { instance } = await WebAssembly.instantiate(readFileSync(process.env.WASM_KERNEL));
const e = instance.exports;

test('the wasm SIMD kernel is bit-identical to scalar arithmetic', () => {
  for (const [kind, name] of ['Q4_0', 'Q4_1', 'Q8_0'].entries()) {
    // 7 weight rows: all of them in the one-row tail of decode; 19: two rows of each eighth (decode's eight
    // streams) and three in the tail.
    for (const [blocks, t] of [[1, 1], [2, 3], [3, 2], [4, 1], [5, 5], [7, 2], [18, 3], [48, 2], [13, 7], [18, 37], [5, 70]]) {
      for (const rows of [7, 19]) {
        assert.equal(e.check(kind, rows, 32 * blocks, t), 0, `${name}: ${rows} rows of ${blocks} blocks, ${t} activation rows`);
      }
    }
  }
});

test('the wasm SIMD attention row is bit-identical to scalar arithmetic', () => {
  // Head sizes 1 to 130 (every remainder mod 4), 1 to 100 keys (every remainder mod 8, the keys scored together),
  // cache rows with and without padding; moderate values, any finite f16, and f16 with infinities and NaNs.
  for (const d of [64, 1, 2, 3, 4, 5, 7, 8, 12, 17, 130]) {
    for (const keys of [1, 2, 3, 7, 8, 9, 15, 16, 17, 40, 100]) {
      for (const regime of [0, 1, 2]) {
        for (const pad of [0, 3]) {
          const seed = d * 1000 + keys * 10 + regime;
          assert.equal(e.check_attention(d, keys, pad, regime, seed), 0, `d ${d}, ${keys} keys, regime ${regime}, pad ${pad}`);
        }
      }
    }
  }
});

test("the attention's f16 rounding is the definition's on every 251st float and at the edges", () => {
  assert.equal(e.check_rounding(251), 0);
});

test('time per attention key (printed; a shared machine, not a benchmark)', () => {
  // SmolLM2's head size, 160 keys.
  e.time_attention(64, 160, 20, 1);
  const t0 = performance.now();
  e.time_attention(64, 160, 500, 1);
  console.log(`attention row: ${(((performance.now() - t0) * 1e6) / 500 / 160).toFixed(0)} ns per key`);
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
