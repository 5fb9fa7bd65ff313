// Small-policy inference through the npm API in Node: SmolLM2-135M-Instruct (installed by scripts/setup.sh) loads
// with progress, tokenises like llama.cpp, answers greedily as the native build does, streams, samples
// reproducibly, stops, cancels, scores, and rejects bad input with typed errors; with a WebGPU adapter, generates and
// scores on the WGSL path as on the CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { init, Gpu, Llama } from '../../pkg/index.js';

const root = new URL('../../', import.meta.url).pathname;
const file = join(process.env.ARBITER_MODELS ?? join(homedir(), '.cache/arbiter/models'),
  'smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf');
const FRANCE = 'What is the capital of France?';
const COLORS = 'Name three colors.';
const golden = JSON.parse(readFileSync(join(root, 'tests/golden/smollm2-llamacpp.json'), 'utf8'));

await init();
const files = [];
const model = await Llama.load(file, { onProgress: (p) => files.push(p) });
test.after(() => model.free());

test('Llama.load reads the GGUF with progress and reports the shape', () => {
  assert.equal(files.at(-1).loaded, readFileSync(file).length);
  assert.deepEqual(
    { layers: model.config.layers, dim: model.config.dim, heads: model.config.heads, kvHeads: model.config.kvHeads, vocab: model.config.vocab },
    { layers: 30, dim: 576, heads: 9, kvHeads: 3, vocab: 49152 });
});

test('tokens and chat prompts are llama.cpp\'s', () => {
  const t = golden.tokenize;
  for (const c of [...t.hand, ...t.llmfao_prompts.slice(0, 5), ...t.llmfao_responses.slice(0, 5)]) {
    assert.deepEqual(Array.from(model.tokenize(c.text, { special: t.parse_special })), c.ids, c.text);
  }
  for (const c of golden.chat.conversations) {
    assert.equal(model.chatTemplate(c.messages, { addGenerationPrompt: c.add_generation_prompt }), c.prompt);
  }
  assert.equal(model.detokenize(model.tokenize('héllo 🌍 42')), 'héllo 🌍 42');
});

test('greedy generation streams llama.cpp\'s answer and ends at the end-of-turn token', async () => {
  // Two of the goldens' conversations (one ends at <|im_end|>): llama.cpp's greedy tokens, bit for bit in wasm.
  for (const id of [13, 19]) {
    const chat = golden.chat.conversations.find((c) => c.id === id);
    const run = golden.greedy.runs.find((r) => r.id === id);
    const pieces = [];
    const seen = [];
    const generation = model.generate(chat.messages, { maxTokens: 24, onToken: (s) => seen.push(s.token) });
    for await (const { text } of generation) pieces.push(text);
    const result = await generation.result;
    const ids = Array.from(result.tokens).filter((t) => ![0, 2, 4].includes(t));
    assert.deepEqual(ids, run.ids.slice(0, ids.length), `conversation ${id}`);
    assert.equal(result.finish, run.stopped_eos ? 'eos' : 'length');
    if (run.stopped_eos) assert.equal(result.text, run.text);
    assert.equal(pieces.join(''), result.text);
    assert.deepEqual(seen, Array.from(result.tokens));
    assert.equal(result.promptTokens, chat.ids.length);
    assert.ok(result.prefillTokensPerSecond > 0 && result.decodeTokensPerSecond > 0);
    assert.equal(result.device, 'cpu');
  }
});

test('sampling is reproducible by seed; stop strings, maxTokens and a system message apply', async () => {
  const options = { maxTokens: 20, temperature: 0.9, topK: 40, topP: 0.95, seed: 7 };
  const a = await model.generate('Write a short poem about the sea.', options).complete();
  const b = await model.generate('Write a short poem about the sea.', options).complete();
  assert.equal(a.text, b.text);
  assert.equal(a.finish, 'length');
  assert.equal(a.tokens.length, 20);
  const plain = await model.generate(COLORS, { maxTokens: 24 }).complete();
  const cut = plain.text.indexOf(' ', 8);
  const stop = plain.text.slice(cut, cut + 4);
  const stopped = await model.generate(COLORS, { stop: [stop], maxTokens: 24 }).complete();
  assert.equal(stopped.text, plain.text.slice(0, plain.text.indexOf(stop)), `stopped before ${JSON.stringify(stop)}`);
  assert.equal(stopped.finish, 'stop');
  const system = await model.generate(COLORS, { system: 'You answer in French.', maxTokens: 8 }).complete();
  assert.notEqual(system.text, plain.text.slice(0, system.text.length));
});

test('an AbortSignal cancels between tokens; breaking out of the loop ends the generation', async () => {
  const controller = new AbortController();
  const generation = model.generate('Tell me a long story.', { maxTokens: 64, signal: controller.signal });
  let n = 0;
  await assert.rejects(async () => {
    for await (const _ of generation) if (++n === 3) controller.abort();
  }, { name: 'AbortError' });
  assert.equal(n, 3);
  await assert.rejects(generation.result, { name: 'AbortError' });
  const early = model.generate('Tell me a long story.', { maxTokens: 64 });
  for await (const _ of early) break;
  const result = await early.result;
  assert.equal(result.finish, 'cancelled');
  assert.equal(result.tokens.length, 1);
});

test('logprobs score a response token by token; the implicit reward compares two system prompts', async () => {
  const right = await model.logprobs(COLORS, '1. Red\n2. Blue\n3. Green');
  const wrong = await model.logprobs(COLORS, '1. Red\n2. Blue\n3. Banana');
  assert.equal(right.tokens.length, 11);
  assert.ok(Math.abs(right.total - right.logprobs.reduce((s, x) => s + x, 0)) < 1e-9);
  assert.ok(right.logprobs.every((x) => x <= 0 && Number.isFinite(x)));
  assert.ok(right.total > wrong.total, `${right.total} vs ${wrong.total}`);
  const r = await model.implicitReward(FRANCE, 'Paris.', { beta: 0.5, system: 'Answer in one word.' });
  assert.ok(Math.abs(r.reward - 0.5 * (r.policy - r.reference)) < 1e-9 && Number.isFinite(r.reward));
  const same = await model.implicitReward(FRANCE, 'Paris.');
  assert.equal(same.reward, 0);
});

// Runs where WebGPU is installed (scripts/test.sh runs this file with Dawn on SwiftShader, slow: few tokens). The WGSL
// path computes the CPU's bits (tests/gpu_llama.rs), so tokens and log-probabilities are equal, not close.
test('Llama.load with a GPU generates and scores on the WGSL path as the CPU does, bit for bit', async (t) => {
  const gpu = await Gpu.request();
  if (!gpu) {
    t.skip('no WebGPU in this runtime');
    return;
  }
  const onGpu = await Llama.load(file, { gpu });
  try {
    assert.match(onGpu.device, /^gpu: /);
    assert.equal(model.device, 'cpu');
    const prompt = { text: '<|im_start|>user\nName three colors.<|im_end|>\n<|im_start|>assistant\n' };
    const want = await model.generate(prompt, { maxTokens: 2 }).complete();
    const got = await onGpu.generate(prompt, { maxTokens: 2 }).complete();
    assert.equal(got.device, onGpu.device);
    assert.deepEqual(Array.from(got.tokens), Array.from(want.tokens));
    const a = await model.logprobs(prompt, '1. Red');
    const b = await onGpu.logprobs(prompt, '1. Red');
    assert.deepEqual(b.tokens, a.tokens);
    assert.deepEqual(Array.from(b.logprobs), Array.from(a.logprobs));
  } finally {
    onGpu.free();
    gpu.free();
  }
});

test('bad input throws typed errors', async () => {
  await assert.rejects(Llama.load(new Uint8Array([1, 2, 3])), { code: 'MODEL' });
  await assert.rejects(Llama.load('/nonexistent/model.gguf'), { code: 'MODEL' });
  await assert.rejects(model.generate(FRANCE, { topP: 2 }).complete(), { code: 'INVALID_OPTION' });
  await assert.rejects(model.generate(FRANCE, { maxTokenz: 2 }).complete(), { code: 'INVALID_OPTION', message: /maxTokenz/ });
  await assert.rejects(model.logprobs(FRANCE, ''), { code: 'EMPTY' });
  assert.throws(() => model.chatTemplate([{ role: 'user' }]), { code: 'INVALID_OPTION' });
  const other = await Llama.load(readFileSync(file));
  other.free();
  assert.throws(() => other.generate(FRANCE), { code: 'FREED' });
});
