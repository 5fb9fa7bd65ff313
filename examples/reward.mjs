#!/usr/bin/env node
// Local reward scoring with a real encoder, with the npm package in pkg/.
//
// node examples/reward.mjs --model DIR --texts FILE [--device cpu|gpu|auto] [--json]
// node examples/reward.mjs --model DIR --fit-llmfao [--data DIR] [--embeddings FILE] [--json]
//
// The same arguments and output as `cargo run --example reward` (see examples/reward.rs for what they mean).
// WebGPU in Node needs `NODE_OPTIONS="--import ./tests/js/webgpu-node.mjs"` (Dawn); without it `auto` is the CPU.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { init, Encoder, Gpu, fitRewardHead, rewardScores } from '../pkg/index.js';

function fail(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

const USAGE = 'usage: reward --model DIR (--texts FILE | --fit-llmfao [--data DIR] [--embeddings FILE]) [--device cpu|gpu|auto] [--json]';

function parseArgs(args) {
  const a = { model: null, texts: null, fit: false, data: fileURLToPath(new URL('../../shared/data/llmfao', import.meta.url)), cache: null, device: 'auto', json: false };
  for (let i = 0; i < args.length; i += 1) {
    const value = (name) => {
      if (i + 1 >= args.length) throw fail('INVALID_OPTION', `invalid option \`${name}\`: needs a value`);
      return args[++i];
    };
    switch (args[i]) {
      case '--model': a.model = value('--model'); break;
      case '--texts': a.texts = value('--texts'); break;
      case '--fit-llmfao': a.fit = true; break;
      case '--data': a.data = value('--data'); break;
      case '--embeddings': a.cache = value('--embeddings'); break;
      case '--device': a.device = value('--device'); break;
      case '--json': a.json = true; break;
      default: throw fail('INVALID_OPTION', `invalid option \`arguments\`: unknown argument \`${args[i]}\``);
    }
  }
  if (!a.model || (a.texts === null) === !a.fit) throw fail('INVALID_OPTION', `invalid option \`arguments\`: ${USAGE}`);
  if (!['cpu', 'gpu', 'auto'].includes(a.device)) throw fail('INVALID_OPTION', `invalid option \`--device\`: \`${a.device}\` is not cpu, gpu or auto`);
  return a;
}

/** The encoder on the chosen path, and what `device` says when the CPU is chosen up front. */
async function open(a) {
  if (a.device === 'cpu') return Encoder.load(a.model);
  const gpu = await Gpu.request();
  if (!gpu) {
    if (a.device === 'gpu') throw fail('GPU', 'gpu: no WebGPU adapter');
    return Encoder.load(a.model);
  }
  if (a.device === 'auto' && gpu.isSoftware) {
    const why = `cpu (${gpu.adapter} is a software adapter)`;
    gpu.free();
    const encoder = await Encoder.load(a.model);
    encoder.why = why;
    return encoder;
  }
  return Encoder.load(a.model, { gpu });
}

async function embed(encoder, texts) {
  const { embeddings, device } = await encoder.embed(texts);
  return { embeddings, device: device === 'cpu' && encoder.why ? encoder.why : device };
}

async function embedTexts(a, encoder) {
  let text;
  try {
    text = await readFile(a.texts, 'utf8');
  } catch (e) {
    throw fail('INVALID_OPTION', `invalid option \`--texts\`: cannot read \`${a.texts}\`: ${e.message}`);
  }
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const { embeddings, device } = await embed(encoder, lines);
  const rows = embeddings.map((e, i) => ({
    text: lines[i],
    head: Array.from(e.subarray(0, 8)),
    norm: Math.sqrt(e.reduce((s, x) => s + x * x, 0)),
  }));
  const dimension = encoder.dimension;
  if (a.json) return JSON.stringify({ device, dimension, texts: rows });
  return [`device: ${device}, dimension ${dimension}`,
    ...rows.map((r) => `${r.head.map((x) => (x >= 0 ? '+' : '') + x.toFixed(4)).join(' ')} | norm ${r.norm.toFixed(6)} | ${r.text}`)].join('\n');
}

// ---- --fit-llmfao: the same join, split and scoring as examples/reward.rs.

const SCORE = { left: 1, right: 0, tie: 0.5 };

async function readLlmfao(dir) {
  const read = async (name) => {
    try {
      return await readFile(`${dir}/${name}`, 'utf8');
    } catch (e) {
      throw fail('INVALID_OPTION', `invalid option \`--data\`: cannot read ${dir}/${name}: ${e.message}`);
    }
  };
  const rows = new Map();
  const texts = [];
  for (const line of (await read('results.jsonl')).split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    rows.set(`${r.prompt}/${r.model}`, texts.length);
    texts.push(r.result);
  }
  // These CSV files have no quoted fields.
  const table = async (name) => {
    const [header, ...lines] = (await read(name)).split('\n').filter((l) => l.length > 0);
    const keys = header.split(',');
    return lines.map((l) => Object.fromEntries(l.split(',').map((v, k) => [keys[k], v])));
  };
  const gpt4 = new Map((await table('gpt4-crowd-comparisons.csv')).map((r) => [r.id, SCORE[r.winner]]));
  const votes = (await table('crowd-comparisons.csv')).map((r, i) => {
    const row = (k) => {
      const at = rows.get(`${r.prompt}/${r[k]}`);
      if (at === undefined) throw fail('INVALID_OPTION', `invalid option \`--data\`: crowd-comparisons.csv row ${i + 1}: no response of model ${r[k]} to prompt ${r.prompt}`);
      return at;
    };
    if (!(r.winner in SCORE)) throw fail('INVALID_OPTION', `invalid option \`--data\`: crowd-comparisons.csv row ${i + 1}: winner is not left, right or tie`);
    return { prompt: Number(r.prompt), x: row('model_x'), y: row('model_y'), score: SCORE[r.winner], judge: gpt4.get(r.id) };
  });
  return { texts, votes };
}

async function cachedEmbeddings(a, encoder, texts) {
  const size = texts.length * encoder.dimension;
  if (a.cache) {
    try {
      const bytes = await readFile(a.cache);
      if (bytes.length === size * 4) {
        const data = new Float32Array(size);
        new Uint8Array(data.buffer).set(bytes);
        return { embeddings: { data, dim: encoder.dimension }, device: 'cache' };
      }
    } catch { /* no cache yet */ }
  }
  const { embeddings, device } = await embed(encoder, texts);
  const data = new Float32Array(size);
  embeddings.forEach((e, i) => data.set(e, i * encoder.dimension));
  if (a.cache) await writeFile(a.cache, new Uint8Array(data.buffer));
  return { embeddings: { data, dim: encoder.dimension }, device };
}

const side = (a, b) => (a > b ? 1 : a < b ? 0 : 0.5);
const accuracy = (votes, predict) => votes.reduce((s, v) => s + 1 - Math.abs(predict(v) - v.score), 0) / Math.max(votes.length, 1);

async function fitLlmfao(a, encoder) {
  const data = await readLlmfao(a.data);
  const { embeddings, device } = await cachedEmbeddings(a, encoder, data.texts);
  const prompts = [...new Set(data.votes.map((v) => v.prompt))].sort((x, y) => x - y);
  const part = (p) => {
    const i = prompts.indexOf(p);
    return i % 4 === 0 ? 2 : [3, 9, 15].includes(i) ? 1 : 0;
  };
  const votesOf = (k) => data.votes.filter((v) => part(v.prompt) === k).map((v) => ({ a: v.x, b: v.y, score: v.score }));
  const train = votesOf(0);
  const validation = votesOf(1);
  const { head, report } = fitRewardHead(embeddings, train, { validation });
  const scores = rewardScores(head, embeddings);
  const test = data.votes.filter((v) => part(v.prompt) === 2 && v.score !== 0.5);
  const length = (i) => [...data.texts[i]].length;
  const out = {
    heldout_accuracy: accuracy(test, (v) => side(scores[v.x], scores[v.y])),
    baseline_longer_accuracy: accuracy(test, (v) => side(length(v.x), length(v.y))),
    gpt4_judge_accuracy: accuracy(test, (v) => v.judge ?? 0.5),
    n_train: train.length,
    n_validation: validation.length,
    n_test: test.length,
    test_prompts: prompts.filter((p) => part(p) === 2),
    iterations: report.iterations,
    best_iteration: report.bestIteration,
    embeddings: device,
  };
  if (a.json) return JSON.stringify(out);
  return `LLMFAO, ${data.texts.length} responses embedded (${device}); train ${out.n_train} votes, validation ${out.n_validation}, `
    + `test ${out.n_test} decisive votes on prompts [${out.test_prompts.join(', ')}]\n`
    + `held-out accuracy: reward head ${out.heldout_accuracy.toFixed(4)}, always-longer ${out.baseline_longer_accuracy.toFixed(4)}, `
    + `GPT-4 judge ${out.gpt4_judge_accuracy.toFixed(4)}`;
}

try {
  const a = parseArgs(process.argv.slice(2));
  await init();
  const encoder = await open(a);
  try {
    console.log(a.fit ? await fitLlmfao(a, encoder) : await embedTexts(a, encoder));
  } finally {
    encoder.free();
  }
} catch (e) {
  if (!e.code) throw e;
  console.error(`error[${e.code}] ${e.message}`);
  process.exit(2);
}
