// Compares the small-policy speed of two builds of the npm package in one Node process: both load the model, then
// generate (the 128-token prompt of tests/golden/smollm2-llamacpp.json's `perf`, 64 tokens, greedy) in turn, so the
// machine's load falls on both alike. The first round is a warm-up. Prints each build's median prefill and decode
// tokens/s. For build flags (scripts/build-wasm.sh): copy pkg/ aside, rebuild, compare.
// Usage: node benches/llama-ab.mjs PKG_A/index.js PKG_B/index.js [--model FILE] [--rounds N]
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const model = option('--model') ?? join(process.env.ARBITER_MODELS ?? join(homedir(), '.cache/arbiter/models'),
  'smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf');
const rounds = Number(option('--rounds') ?? 8);
if (args.length !== 2) throw new Error('usage: node benches/llama-ab.mjs PKG_A/index.js PKG_B/index.js');
const golden = JSON.parse(readFileSync(new URL('../tests/golden/smollm2-llamacpp.json', import.meta.url), 'utf8'));
const text = golden.perf.prompt_text;

const builds = [];
for (const path of args) {
  const pkg = await import(pathToFileURL(resolve(path)).href);
  await pkg.init();
  builds.push({ path, llm: await pkg.Llama.load(model), prefill: [], decode: [] });
}
for (let round = 0; round <= rounds; round++) {
  for (const b of builds) {
    const r = await b.llm.generate({ text }, { maxTokens: 64 }).complete();
    if (round === 0) continue;
    b.prefill.push(r.prefillTokensPerSecond);
    b.decode.push(r.decodeTokensPerSecond);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const b of builds) {
  console.log(`${b.path}: prefill ${median(b.prefill).toFixed(1)} tok/s, decode ${median(b.decode).toFixed(1)} tok/s `
    + `(median of ${rounds})`);
  b.llm.free();
}
