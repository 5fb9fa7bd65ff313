// Style control at arena scale in the wasm build: N synthetic battles (default 10 million) with four per-side
// features, streamed in chunks, then a style-controlled fit (FastChat convention) on the CPU path and, with --gpu
// (WebGPU in Node, e.g. NODE_OPTIONS=--import ./tests/js/webgpu-node.mjs), on the GPU path. Prints wall times and
// the process's peak resident memory (the wasm heap included), the figure a browser tab would show.
//
// node benches/style-10m.mjs [N] [--gpu]
import { init, memoryBytes, Battles, Gpu, rank, rankSync } from '../pkg/index.js';

const n = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10_000_000);
const useGpu = process.argv.includes('--gpu');
await init();

const MODELS = 100;
const theta = Array.from({ length: MODELS }, (_, i) => Math.sin(i * 1.7) * 1.5);
const beta = [0.3, 0.2, 0.1, -0.05];
let state = 12345;
const rand = () => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state / 2 ** 32;
};

function* chunks(size) {
  for (let done = 0; done < n; done += size) {
    const lines = [];
    for (let i = 0; i < Math.min(size, n - done); i += 1) {
      const a = Math.floor(rand() * MODELS);
      const b = (a + 1 + Math.floor(rand() * (MODELS - 1))) % MODELS;
      const fa = [Math.floor(rand() * 1500), Math.floor(rand() * 6), Math.floor(rand() * 12), Math.floor(rand() * 8)];
      const fb = [Math.floor(rand() * 1500), Math.floor(rand() * 6), Math.floor(rand() * 12), Math.floor(rand() * 8)];
      let s = theta[a] - theta[b];
      for (let f = 0; f < 4; f += 1) s += beta[f] * 3 * (fa[f] - fb[f]) / (fa[f] + fb[f] + 1);
      const u = rand();
      const p = 1 / (1 + Math.exp(-s));
      const winner = u < p * 0.9 ? 'model_a' : u < 0.9 ? 'model_b' : 'tie';
      lines.push(`{"model_a":"m${a}","model_b":"m${b}","winner":"${winner}","features_a":{"tokens":${fa[0]},"headers":${fa[1]},"lists":${fa[2]},"bold":${fa[3]}},"features_b":{"tokens":${fb[0]},"headers":${fb[1]},"lists":${fb[2]},"bold":${fb[3]}}}`);
    }
    yield `${lines.join('\n')}\n`;
  }
}

const mb = () => `wasm memory ${Math.round(memoryBytes() / 2 ** 20)} MiB, process peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`;
let t = performance.now();
let generate = 0;
async function* timed(source) {
  for (;;) {
    const g = performance.now();
    const next = source.next();
    generate += performance.now() - g;
    if (next.done) return;
    yield next.value;
  }
}
const battles = await Battles.parseStream(timed(chunks(200_000)), { style: true });
const parseS = (performance.now() - t - generate) / 1000;
console.log(`${n} battles parsed in ${parseS.toFixed(1)} s (+${(generate / 1000).toFixed(1)} s generating the text); ${mb()}`);

t = performance.now();
const cpu = rankSync(battles, { style: 'fastchat' });
const cpuS = (performance.now() - t) / 1000;
console.log(`CPU style fit: ${cpuS.toFixed(1)} s, ${cpu.iterations} Newton iterations; ${mb()}`);
console.log(`coefficients: ${cpu.coefficients.map((c) => `${c.name} ${c.value.toFixed(4)}`).join(', ')}`);

if (useGpu) {
  const gpu = await Gpu.request();
  if (!gpu) throw new Error('--gpu: no WebGPU adapter in this Node');
  t = performance.now();
  const onGpu = await rank(battles, { style: 'fastchat', gpu });
  const gpuS = (performance.now() - t) / 1000;
  let gap = 0;
  const by = Object.fromEntries(cpu.models.map((m) => [m.model, m.rating]));
  for (const m of onGpu.models) gap = Math.max(gap, Math.abs(m.rating - by[m.model]));
  console.log(`GPU style fit (${onGpu.device}): ${gpuS.toFixed(1)} s; max |ΔElo| vs CPU ${gap.toExponential(1)}; ${mb()}`);
  gpu.free();
}
battles.free();
