// Decode speed against the context length (Node, wasm, one thread): greedy decoding of 32 tokens after prompts of
// about 12, 128, 257 and 386 tokens (the start of, once, twice and three times the 128-token prompt of
// tests/golden/smollm2-llamacpp.json's `perf`), three rounds; prints each round's decode tokens/s. Attention is the
// part of a decoding step that grows with the context.
// Usage: node benches/llama-context.mjs [--model FILE]
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { init, Llama } from '../pkg/index.js';

const args = process.argv.slice(2);
const at = args.indexOf('--model');
const model = at >= 0 ? args[at + 1] : join(process.env.ARBITER_MODELS ?? join(homedir(), '.cache/arbiter/models'),
  'smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf');
const golden = JSON.parse(readFileSync(new URL('../tests/golden/smollm2-llamacpp.json', import.meta.url), 'utf8'));
const t = golden.perf.prompt_text;
const prompts = [t.slice(0, 40), t, `${t}\n${t}`, `${t}\n${t}\n${t}`];

await init();
const llm = await Llama.load(model);
const rows = prompts.map((text) => ({ tokens: llm.tokenize(text, { special: true }).length, speeds: [] }));
for (let round = 0; round < 3; round++) {
  for (const [i, text] of prompts.entries()) {
    const r = await llm.generate({ text }, { maxTokens: 32 }).complete();
    rows[i].speeds.push(r.tokens.length === 32 ? r.decodeTokensPerSecond.toFixed(1) : `(stopped after ${r.tokens.length})`);
  }
}
for (const r of rows) console.log(`after ${r.tokens} prompt tokens: decode ${r.speeds.join(' / ')} tok/s`);
llm.free();
