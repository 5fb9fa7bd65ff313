// The sentence encoder through the npm API in Node: all-MiniLM-L6-v2 (installed by scripts/setup.sh) matches
// sentence-transformers' embeddings (tests/golden/minilm-embeddings.json) with cosine ≥ 0.9999, and bad files
// throw MODEL errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { init, Encoder, Gpu } from '../../pkg/index.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = join(process.env.ARBITER_MODELS ?? join(homedir(), '.cache/arbiter/models'), 'all-MiniLM-L6-v2');

test('Encoder.load from a folder embeds like sentence-transformers', async () => {
  await init();
  const progress = [];
  const encoder = await Encoder.load(dir, { onProgress: (p) => progress.push(p.file) });
  assert.equal(encoder.dimension, 384);
  assert.ok(progress.includes('model.safetensors'));
  const golden = JSON.parse(readFileSync(join(root, 'tests/golden/minilm-embeddings.json'), 'utf8'));
  // Twelve texts keep the test quick: prompts, long (truncated) responses, the empty and non-ASCII texts.
  const pick = [0, 1, 5, 13, 14, 20, 30, 40, 52, 59, 60, 61];
  const { embeddings: got, device } = await encoder.embed(pick.map((i) => golden.texts[i]));
  assert.equal(device, 'cpu');
  got.forEach((e, k) => {
    const want = golden.embeddings[pick[k]];
    let dot = 0;
    let norm = 0;
    e.forEach((x, j) => { dot += x * want[j]; norm += x * x; });
    assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
    assert.ok(dot >= 0.9999, `text ${pick[k]}: cosine ${dot}`);
  });
  encoder.free();
  await assert.rejects(encoder.embed(['x']), (e) => e.code === 'FREED');
});

// Runs where WebGPU is installed (scripts/test.sh runs this file with Dawn on SwiftShader): the WGSL encoder.
test('Encoder.load with a GPU embeds like sentence-transformers on the WGSL path', async (t) => {
  await init();
  const gpu = await Gpu.request();
  if (!gpu) {
    t.skip('no WebGPU in this runtime');
    return;
  }
  const encoder = await Encoder.load(dir, { gpu });
  const golden = JSON.parse(readFileSync(join(root, 'tests/golden/minilm-embeddings.json'), 'utf8'));
  const pick = [0, 5, 14, 52, 61];
  const { embeddings, device } = await encoder.embed(pick.map((i) => golden.texts[i]));
  assert.match(device, /^gpu: /);
  embeddings.forEach((e, k) => {
    const dot = e.reduce((s, x, j) => s + x * golden.embeddings[pick[k]][j], 0);
    assert.ok(dot >= 0.9999, `text ${pick[k]}: cosine ${dot} on ${device}`);
  });
  encoder.free();
  gpu.free();
});

test('bad model files throw MODEL errors naming the file', async () => {
  await init();
  const read = (f) => readFileSync(join(dir, f));
  await assert.rejects(Encoder.load('/nonexistent/model'), (e) => e.code === 'MODEL' && /config\.json/.test(e.message));
  await assert.rejects(Encoder.load({ config: '{"model_type":"t5"}', weights: read('model.safetensors'), tokenizer: read('tokenizer.json') }),
    (e) => e.code === 'MODEL' && /config\.json/.test(e.message));
  await assert.rejects(Encoder.load({ config: read('config.json'), weights: new Uint8Array(16), tokenizer: read('tokenizer.json') }),
    (e) => e.code === 'MODEL' && /model\.safetensors/.test(e.message));
  await assert.rejects(Encoder.load({ config: read('config.json'), tokenizer: read('tokenizer.json') }),
    (e) => e.code === 'MODEL' && /model\.safetensors is missing/.test(e.message));
});
