// Benchmarks the wasm build in Node on LLMFAO (and 1M synthetic battles) side by side with the Python peers,
// run in the same session (benches/peers.py in .venv, if present: scripts/setup.sh --python). Prints a table with
// ratios and writes benches/results.json. Usage: node benches/node.mjs [--quick]
import { readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { init, Battles, rankSync } from '../pkg/index.js';

const root = new URL('../', import.meta.url);
const quick = process.argv.includes('--quick');
await init();

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const mins = {};
/** Median seconds of `repeat` runs after `warmup`; the best run is kept in `mins[label]`. */
function time(label, fn, { repeat = 20, warmup = 3 } = {}) {
  for (let i = 0; i < warmup; i += 1) fn();
  const samples = [];
  for (let i = 0; i < repeat; i += 1) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  mins[label] = Math.min(...samples) / 1000;
  return median(samples) / 1000;
}

const csv = await readFile(new URL('../shared/data/llmfao/crowd-comparisons.csv', root));
const mapping = { columns: { modelA: 'left', modelB: 'right' } };
const battles = Battles.parse(csv, mapping);
const ours = {
  parse_s: time('parse_s', () => Battles.parse(csv, mapping).free()),
  bt_fit_s: time('bt_fit_s', () => rankSync(battles, {}), { repeat: 200, warmup: 20 }),
  sandwich_s: time('sandwich_s', () => rankSync(battles, { ci: 'sandwich' }), { repeat: 200, warmup: 20 }),
  elo_s: time('elo_s', () => rankSync(battles, { method: 'elo' }), { repeat: 200, warmup: 20 }),
  bootstrap_1000_s: time('bootstrap_1000_s', () => rankSync(battles, { ci: 'bootstrap', rounds: 1000 }), { repeat: quick ? 3 : 11, warmup: 1 }),
};

// 1M synthetic battles over 200 models: parse + BT + sandwich, and the process's peak resident memory.
const big = '/tmp/arbiter-synthetic-1m.jsonl';
if (!existsSync(big)) execFileSync(process.execPath, [new URL('synthetic.mjs', import.meta.url).pathname, '1000000', '200', big]);
const bytes = await readFile(big);
const t = performance.now();
const b = Battles.parse(bytes);
rankSync(b, { ci: 'sandwich' });
ours.synthetic_1m_parse_bt_sandwich_s = (performance.now() - t) / 1000;
b.free();
ours.peak_rss_mb = process.resourceUsage().maxRSS / 1024;

let peers = null;
const python = new URL('.venv/bin/python', root).pathname;
if (existsSync(python)) {
  peers = JSON.parse(execFileSync(python, [new URL('peers.py', import.meta.url).pathname, quick ? '--quick' : ''], { encoding: 'utf8', maxBuffer: 1 << 26 }));
}

const rows = [
  ['BT fit (LLMFAO)', 'bt_fit_s', 'evalica_bt_s', 'evalica'],
  ['BT + sandwich CIs', 'sandwich_s', 'arena_rank_fit_sandwich_s', 'arena-rank (fresh model: fit + CIs)'],
  ['BT + sandwich CIs', 'sandwich_s', 'arena_rank_sandwich_warm_s', 'arena-rank (CIs only, fitted and compiled)'],
  ['online Elo', 'elo_s', 'evalica_elo_s', 'evalica'],
  ['1000-round bootstrap', 'bootstrap_1000_s', 'evalica_bootstrap_s', 'evalica'],
  ['parse LLMFAO CSV', 'parse_s', null, ''],
  ['1M battles: parse + BT + sandwich', 'synthetic_1m_parse_bt_sandwich_s', null, ''],
];
const fmt = (s) => (s < 1 ? `${(s * 1000).toFixed(2)} ms` : `${s.toFixed(2)} s`);
console.log(`| task | arbiter (Node, wasm): median (best) | peer | peer time (median) | ratio of medians |\n|---|---|---|---|---|`);
for (const [name, key, peerKey, peerName] of rows) {
  const theirs = peerKey && peers ? peers[peerKey] : null;
  const best = mins[key] ? ` (${fmt(mins[key])})` : '';
  console.log(`| ${name} | ${fmt(ours[key])}${best} | ${peerName} | ${theirs ? fmt(theirs) : '–'} | ${theirs ? `${(theirs / ours[key]).toFixed(0)}x faster` : '–'} |`);
}
console.log(`peak RSS of the Node process: ${ours.peak_rss_mb.toFixed(0)} MB`);
await writeFile(new URL('results.json', import.meta.url), `${JSON.stringify({ node: process.version, ours, best: mins, peers }, null, 2)}\n`);
