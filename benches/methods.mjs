// Benchmarks the methods beyond Bradley-Terry in Node (wasm) on LLMFAO crowd votes (8931 votes, 59 models, 124
// workers), side by side with the Python peers where one exists (benches/methods_peers.py in .venv, same session).
// Targets (issue 4): every method under 50 ms, GPM and mixtures under 1 s. Prints a table; writes
// benches/methods-results.json. Usage: node benches/methods.mjs
import { readFile, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as arbiter from '../pkg/index.js';

const root = new URL('../', import.meta.url);
await arbiter.init();
const read = (f) => readFile(new URL(`../shared/data/llmfao/${f}`, root));
const crowd = arbiter.Battles.parse(await read('crowd-comparisons.csv'), { columns: { modelA: 'left', modelB: 'right', judge: 'worker' } });
const gpt4 = arbiter.Battles.parse(await read('gpt4-crowd-comparisons.csv'), { columns: { modelA: 'left', modelB: 'right' } });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn, repeat = 21) {
  for (let i = 0; i < 3; i += 1) fn();
  const samples = [];
  for (let i = 0; i < repeat; i += 1) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  return median(samples) / 1000;
}

const payoff = arbiter.preferenceMatrix(crowd);
const sampler = new arbiter.PairSampler(crowd.models, { strategy: 'information-gain' });
const rows = [
  ['Davidson', 'davidson', () => arbiter.davidson(crowd), 0.05],
  ['Rao-Kupper', 'rao_kupper', () => arbiter.raoKupper(crowd), 0.05],
  ['Plackett-Luce (MM, decisive battles)', 'pl', () => arbiter.plackettLuce(crowd), 0.05, 'choix_mm_pairwise_s', 'choix mm_pairwise'],
  ['Weng-Lin PL, every vote in order', 'weng_lin', () => arbiter.wengLin(crowd), 0.05, 'openskill_pl_s', 'openskill 6.2.0'],
  ['Nash (NLHF, BT-imputed, exact), from battles', 'nash', () => arbiter.nash(crowd), 0.05],
  ['Nash, solve the 59×59 payoff only', 'nash_solve', () => arbiter.nash({ matrix: payoff.matrix, n: payoff.n }), 0.05, 'scipy_highs_nash_s', 'scipy HiGHS LP'],
  ['GPM k=1 hybrid', 'gpm_k1', () => arbiter.gpm(crowd), 1],
  ['GPM k=4 hybrid', 'gpm_k4', () => arbiter.gpm(crowd, { k: 4 }), 1],
  ['mixture K=2', 'mixture_k2', () => arbiter.mixture(crowd), 1],
  ['mixture K=3', 'mixture_k3', () => arbiter.mixture(crowd, { groups: 3 }), 1],
  ['LCPO per worker', 'lcpo', () => arbiter.lcpo(crowd), 0.05],
  ['Dawid-Skene', 'dawid_skene', () => arbiter.dawidSkene(crowd), 0.05, 'crowdkit_dawid_skene_s', 'crowd-kit DawidSkene'],
  ['preference strength', 'strength', () => arbiter.preferenceStrength(crowd), 0.05],
  ['judge agreement (GPT-4 vs crowd, 2 BT fits)', 'judge', () => arbiter.judgeAgreement(crowd, gpt4), 0.05],
  ['information-gain pair (59 models)', 'sampler_next', () => sampler.next(), 0.05],
];
const ours = {};
for (const [, key, fn] of rows) ours[key] = time(fn, key.startsWith('mixture') || key.startsWith('gpm') ? 7 : 21);

let peers = null;
const python = new URL('.venv/bin/python', root).pathname;
if (existsSync(python)) {
  // The same payoff matrix arbiter solves: NLHF margins, Jeffreys ½, BT imputation.
  peers = JSON.parse(execFileSync(python, [new URL('methods_peers.py', import.meta.url).pathname],
    { encoding: 'utf8', input: JSON.stringify(payoff), maxBuffer: 1 << 26 }));
}
const fmt = (s) => (s < 1 ? `${(s * 1000).toFixed(2)} ms` : `${s.toFixed(2)} s`);
console.log('| method (LLMFAO) | arbiter, Node wasm (median) | target | peer | peer (median) | ratio |\n|---|---|---|---|---|---|');
for (const [name, key, , target, peerKey, peerName] of rows) {
  const theirs = peerKey && peers ? peers[peerKey] : null;
  const r = theirs / ours[key];
  const ratio = !theirs ? '–' : r >= 1 ? `${r.toFixed(r < 10 ? 1 : 0)}x faster` : `${(1 / r).toFixed(1)}x slower`;
  console.log(`| ${name} | ${fmt(ours[key])} | ${ours[key] < target ? '<' : '**over**'} ${fmt(target)} | ${peerName ?? ''} | ${theirs ? fmt(theirs) : '–'} | ${ratio} |`);
}
sampler.free();
await writeFile(new URL('methods-results.json', import.meta.url), `${JSON.stringify({ node: process.version, ours, peers }, null, 2)}\n`);
