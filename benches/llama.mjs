// Benchmarks arbiter's small-policy inference (Node, wasm, one thread) side by side with llama.cpp on the same GGUF
// (SmolLM2-135M-Instruct Q4_1), in the same run: prefill tokens/s on a 128-token prompt (the one in
// tests/golden/smollm2-llamacpp.json's `perf`) and greedy decode tokens/s over 64 tokens; the runs are interleaved so
// the machine's load falls on both alike. Also the resident memory the loaded model adds to this process (RSS),
// against the file's size: after loading, at its peak, and in use (after a first generation, which is not timed:
// V8 compiles the hot functions then, and glibc keeps the compiler's freed memory). llama.cpp comes from whichever
// of these is present:
//   --python PY: llama-cpp-python built from source for this CPU (benches/llama_cpp_peer.py says how), one thread;
//   @fugood/llama.node 1.7.15 (npm install --no-save --omit=optional @fugood/llama.node@1.7.15
//     @fugood/node-llama-linux-x64@1.7.15): a prebuilt llama.cpp (its x64 build has no AVX: a floor, not a peer).
// Prints a table, or one JSON object with --json; --out FILE also writes the JSON there.
// Usage: node benches/llama.mjs [--model FILE] [--runs N] [--python PY] [--json] [--out FILE]
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir, cpus } from 'node:os';
import { join } from 'node:path';
import { init, Llama, memoryBytes } from '../pkg/index.js';

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const model = option('--model') ?? join(process.env.ARBITER_MODELS ?? join(homedir(), '.cache/arbiter/models'),
  'smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf');
const runs = Number(option('--runs') ?? 3);
const N_PREDICT = 64;
const golden = JSON.parse(readFileSync(new URL('../tests/golden/smollm2-llamacpp.json', import.meta.url), 'utf8'));
const promptText = golden.perf.prompt_text;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// arbiter: load (memory measured around it), then prefill + decode through the public API.
await init();
global.gc?.();
const rssBefore = process.memoryUsage().rss;
const llm = await Llama.load(model);
global.gc?.();
const memory = {
  fileBytes: statSync(model).size,
  rssAddedBytes: process.memoryUsage().rss - rssBefore,
  // The process's peak RSS (ru_maxrss) over the RSS before loading: an upper bound of what loading took at its peak.
  peakRssAddedBytes: process.resourceUsage().maxRSS * 1024 - rssBefore,
  wasmMemoryBytes: memoryBytes(),
};
const ids = llm.tokenize(promptText, { special: true });

async function ours() {
  const g = llm.generate({ text: promptText }, { maxTokens: N_PREDICT });
  const r = await g.complete();
  return { prefill_tokens_per_s: r.prefillTokensPerSecond, decode_tokens_per_s: r.decodeTokensPerSecond, tokens: r.tokens.length };
}

async function llamaNode() {
  let mod;
  try {
    mod = await import('@fugood/llama.node');
  } catch {
    return null;
  }
  const ctx = await mod.loadModel({ model, n_ctx: 2048, n_threads: 1, n_gpu_layers: 0, use_mmap: true });
  return {
    name: '@fugood/llama.node 1.7.15 (prebuilt llama.cpp)',
    async run() {
      await ctx.clearCache?.(true);
      const r = await ctx.completion({ prompt: promptText, n_predict: N_PREDICT, temperature: 0, top_k: 1, ignore_eos: true });
      return { prefill_tokens_per_s: r.timings.prompt_per_second, decode_tokens_per_s: r.timings.predicted_per_second };
    },
    release: () => ctx.release(),
  };
}

function llamaCppPython(python) {
  if (!python) return null;
  return {
    name: 'llama-cpp-python (llama.cpp built here, native)',
    run() {
      const out = execFileSync(python, [new URL('./llama_cpp_peer.py', import.meta.url).pathname, model, JSON.stringify(Array.from(ids)), String(N_PREDICT), '1'], { encoding: 'utf8' });
      const r = JSON.parse(out);
      this.info = r.system_info;
      return r.samples[0];
    },
    release() {},
  };
}

// Warm-up, before any peer loads into this process: the memory in use.
await ours();
global.gc?.();
memory.rssInUseAddedBytes = process.memoryUsage().rss - rssBefore;
memory.wasmInUseBytes = memoryBytes();

const peers = [await llamaNode(), llamaCppPython(option('--python'))].filter(Boolean);
const samples = { arbiter: [], ...Object.fromEntries(peers.map((p) => [p.name, []])) };
for (let i = 0; i < runs; i++) {
  samples.arbiter.push(await ours());
  for (const p of peers) samples[p.name].push(await p.run());
}
for (const p of peers) await p.release();
llm.free();

const summary = Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, {
  prefill_tokens_per_s: median(s.map((x) => x.prefill_tokens_per_s)),
  decode_tokens_per_s: median(s.map((x) => x.decode_tokens_per_s)),
}]));
const result = {
  model, cpu: cpus()[0]?.model, node: process.version, runs, prompt_tokens: ids.length, n_predict: N_PREDICT,
  memory: {
    ...memory,
    rssRatio: memory.rssAddedBytes / memory.fileBytes,
    peakRssRatio: memory.peakRssAddedBytes / memory.fileBytes,
    wasmRatio: memory.wasmMemoryBytes / memory.fileBytes,
    rssInUseRatio: memory.rssInUseAddedBytes / memory.fileBytes,
    wasmInUseRatio: memory.wasmInUseBytes / memory.fileBytes,
  },
  summary,
  ratios: Object.fromEntries(peers.map((p) => [p.name, {
    prefill: summary.arbiter.prefill_tokens_per_s / summary[p.name].prefill_tokens_per_s,
    decode: summary.arbiter.decode_tokens_per_s / summary[p.name].decode_tokens_per_s,
  }])),
  peer_info: Object.fromEntries(peers.filter((p) => p.info).map((p) => [p.name, p.info])),
  samples,
};
const json = JSON.stringify(result, null, 2);
if (option('--out')) writeFileSync(option('--out'), `${json}\n`);
if (args.includes('--json')) {
  console.log(json);
} else {
  console.log(`prompt ${ids.length} tokens, ${N_PREDICT} decoded, median of ${runs}; one thread each`);
  for (const [name, s] of Object.entries(summary)) {
    console.log(`${name.padEnd(50)} prefill ${s.prefill_tokens_per_s.toFixed(1).padStart(7)} tok/s   decode ${s.decode_tokens_per_s.toFixed(1).padStart(6)} tok/s`);
  }
  for (const [name, r] of Object.entries(result.ratios)) console.log(`arbiter / ${name}: prefill ${r.prefill.toFixed(2)}x, decode ${r.decode.toFixed(2)}x`);
  console.log(`memory: the model adds ${(memory.rssAddedBytes / 1e6).toFixed(1)} MB RSS for a ${(memory.fileBytes / 1e6).toFixed(1)} MB file (${result.memory.rssRatio.toFixed(2)}x; `
    + `peak ${(memory.peakRssAddedBytes / 1e6).toFixed(1)} MB, ${result.memory.peakRssRatio.toFixed(2)}x); wasm memory ${(memory.wasmMemoryBytes / 1e6).toFixed(1)} MB`);
  console.log(`in use (after one generation): ${(memory.rssInUseAddedBytes / 1e6).toFixed(1)} MB RSS (${result.memory.rssInUseRatio.toFixed(2)}x), `
    + `wasm memory ${(memory.wasmInUseBytes / 1e6).toFixed(1)} MB (${result.memory.wasmInUseRatio.toFixed(2)}x)`);
}
