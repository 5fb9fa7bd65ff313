// Greedy continuations of the npm package (wasm) against llama.cpp's goldens on all 10 chat prompts, 32 tokens each
// (or up to llama.cpp's end-of-turn). tests/js/llama.mjs checks two of them in CI; this checks all (about 3 minutes).
// Usage: node scripts/golden/check-llama-wasm.mjs [MODEL_FILE]
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { init, Llama } from '../../pkg/index.js';

const file = process.argv[2] ?? join(process.env.ARBITER_MODELS ?? join(homedir(), '.cache/arbiter/models'),
  'smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf');
const golden = JSON.parse(readFileSync(new URL('../../tests/golden/smollm2-llamacpp.json', import.meta.url), 'utf8'));
await init();
const model = await Llama.load(file);
let same = 0;
for (const chat of golden.chat.conversations) {
  const run = golden.greedy.runs.find((r) => r.id === chat.id);
  const want = run.ids.slice(0, 32);
  const r = await model.generate(chat.messages, { maxTokens: want.length + (run.stopped_eos && want.length < 32 ? 1 : 0) }).complete();
  const ids = Array.from(r.tokens).filter((t) => ![0, 2, 4].includes(t));
  let n = 0;
  while (n < want.length && ids[n] === want[n]) n += 1;
  if (n === want.length) same += 1;
  console.log(`conversation ${chat.id}: ${n} of ${want.length} tokens identical${run.stopped_eos && want.length < 32 ? `, finish ${r.finish}` : ''}`);
}
model.free();
console.log(`${same} of ${golden.chat.conversations.length} continuations identical to llama.cpp's`);
process.exit(same === golden.chat.conversations.length ? 0 : 1);
