// Benchmarks arbiter's sentence encoder (Node, wasm) side by side with onnxruntime-web (wasm backend, one thread, SIMD)
// on the same model, all-MiniLM-L6-v2, in the same process: ms per text at batch 1 and batch 32, inputs of exactly
// 128 tokens ([CLS] + 126 single-token words + [SEP]). Both sides do the same work per call: arbiter embeds texts
// (tokenisation included); ORT gets the ids looked up in tokenizer.json's vocab and runs the exported graph
// (scripts/export-onnx.py), and the mean pooling over the mask + L2 norm are done here in JS. The two libraries'
// samples are interleaved so the load of this machine falls on both alike. Checks that they agree (cosine).
// Prints a table, or one JSON object with --json; writes nothing.
// Usage: node benches/encoder.mjs [--models DIR] [--json]
//   (DIR defaults to $ARBITER_MODELS or ~/.cache/arbiter/models; needs DIR/all-MiniLM-L6-v2/onnx/model.onnx:
//   .venv/bin/python scripts/export-onnx.py)
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { init, Encoder } from '../pkg/index.js';

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const asJson = args.includes('--json');
const modelName = 'all-MiniLM-L6-v2';
const models = option('--models') ?? process.env.ARBITER_MODELS ?? join(homedir(), '.cache', 'arbiter', 'models');
const folder = join(models, modelName);
const onnxPath = join(folder, 'onnx', 'model.onnx');
if (!existsSync(onnxPath)) {
  console.error(`encoder bench: ${onnxPath} is missing; run .venv/bin/python scripts/export-onnx.py${option('--models') ? ` --models ${models}` : ''}`);
  process.exit(1);
}

const TOKENS = 128;
const BATCH = 32;

// Texts: 126 words, each one WordPiece token (checked against the vocab), seeded so every run feeds the same texts.
const tokenizer = JSON.parse(await readFile(join(folder, 'tokenizer.json'), 'utf8'));
const vocab = new Map(Object.entries(tokenizer.model.vocab));
const WORDS = ('the of and to in is was for on with as by at from his her they this that which river house green water '
  + 'light city small night music table window garden winter summer morning paper story market school road bridge '
  + 'mountain forest stone letter song game church field').split(' ');
for (const w of WORDS) if (!vocab.has(w)) throw new Error(`encoder bench: "${w}" is not one token of ${modelName}`);
const CLS = vocab.get('[CLS]');
const SEP = vocab.get('[SEP]');
let seed = 12345;
const random = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const texts = Array.from({ length: BATCH }, () => Array.from({ length: TOKENS - 2 }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' '));

// ORT: the ids, mask and token types of a batch (the vocab look-up is part of the timed call), then mean + norm.
ort.env.wasm.numThreads = 1;
ort.env.wasm.simd = true;
ort.env.wasm.proxy = false;
const session = await ort.InferenceSession.create(onnxPath, { executionProviders: ['wasm'] });
async function ortEmbed(batch) {
  const n = batch.length;
  const ids = new BigInt64Array(n * TOKENS);
  batch.forEach((text, b) => {
    const words = text.split(' ');
    if (words.length !== TOKENS - 2) throw new Error('encoder bench: a text is not 126 words');
    ids[b * TOKENS] = BigInt(CLS);
    words.forEach((w, i) => { ids[b * TOKENS + 1 + i] = BigInt(vocab.get(w)); });
    ids[b * TOKENS + TOKENS - 1] = BigInt(SEP);
  });
  const dims = [n, TOKENS];
  const out = await session.run({
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(n * TOKENS).fill(1n), dims),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(n * TOKENS), dims),
  });
  const hidden = out.last_hidden_state;
  const d = hidden.dims[2];
  const data = hidden.data;
  const result = [];
  for (let b = 0; b < n; b += 1) {
    const v = new Float32Array(d);
    for (let t = 0; t < TOKENS; t += 1) { // every mask entry is 1: the mean over the mask is the mean over tokens
      const row = (b * TOKENS + t) * d;
      for (let j = 0; j < d; j += 1) v[j] += data[row + j];
    }
    let norm = 0;
    for (let j = 0; j < d; j += 1) norm += v[j] * v[j];
    norm = Math.sqrt(norm); // the 1/TOKENS of the mean cancels in the norm
    for (let j = 0; j < d; j += 1) v[j] /= norm;
    result.push(v);
  }
  hidden.dispose?.();
  return result;
}

await init();
const enc = await Encoder.load(folder);

// Agreement on all 32 texts (batch of 32 on both sides): the smallest cosine.
const ours = (await enc.embed(texts)).embeddings.map((v) => Float32Array.from(v));
const theirs = await ortEmbed(texts);
let cosine = 1;
ours.forEach((a, i) => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let j = 0; j < a.length; j += 1) {
    dot += a[j] * theirs[i][j];
    na += a[j] * a[j];
    nb += theirs[i][j] ** 2;
  }
  cosine = Math.min(cosine, dot / Math.sqrt(na * nb));
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Median ms per text of each side, warm-up first, the two sides' samples alternated. */
async function compare(batch, { warmup, repeat }) {
  const run = { arbiter: () => enc.embed(batch), ort: () => ortEmbed(batch) };
  for (let i = 0; i < warmup; i += 1) for (const fn of Object.values(run)) await fn();
  const samples = { arbiter: [], ort: [] };
  for (let i = 0; i < repeat; i += 1) {
    for (const [key, fn] of Object.entries(run)) {
      const t = performance.now();
      await fn();
      samples[key].push((performance.now() - t) / batch.length);
    }
  }
  const arbiter = median(samples.arbiter);
  const ortMs = median(samples.ort);
  return { arbiter_ms: arbiter, ort_ms: ortMs, ratio: arbiter / ortMs };
}

const batch1 = await compare([texts[0]], { warmup: 3, repeat: 15 });
const batch32 = await compare(texts, { warmup: 1, repeat: 5 });
enc.free();
await session.release();

const result = { model: modelName, tokens: TOKENS, batch1, batch32, cosine };
if (asJson) {
  console.log(JSON.stringify(result));
} else {
  const ratio = (r) => (r <= 1 ? `${(1 / r).toFixed(2)}x faster` : `${r.toFixed(2)}x slower`);
  console.log(`${modelName}, ${TOKENS} tokens per text, one thread, median ms per text (Node ${process.version}, onnxruntime-web ${ort.env.versions?.web ?? ''})`);
  console.log('| batch | arbiter (wasm) | onnxruntime-web (wasm, 1 thread) | arbiter/ORT | arbiter is |\n|---|---|---|---|---|');
  for (const [name, r] of [['1', batch1], [String(BATCH), batch32]]) {
    console.log(`| ${name} | ${r.arbiter_ms.toFixed(1)} ms | ${r.ort_ms.toFixed(1)} ms | ${r.ratio.toFixed(2)} | ${ratio(r.ratio)} |`);
  }
  console.log(`cosine, arbiter vs ORT (mean pooled, normalised), smallest over ${BATCH} texts: ${cosine.toFixed(6)}${cosine > 0.9999 ? '' : ' (BELOW 0.9999)'}`);
}
if (!(cosine > 0.9999)) process.exitCode = 1;
