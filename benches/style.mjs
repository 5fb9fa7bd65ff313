// Style control in the wasm build on LLMFAO crowd votes with the compared responses, side by side with FastChat
// and arena-rank timed in the same session (benches/style_peers.py in .venv). Usage:
//   node benches/style.mjs [FASTCHAT_SRC_DIR]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { init, Battles, rankSync } from '../pkg/index.js';

const root = new URL('../', import.meta.url).pathname;
const data = `${root}target/llmfao-style.jsonl`;
if (!existsSync(data)) execFileSync(process.execPath, [`${root}scripts/make-style-data.mjs`, data]);
await init();
const text = readFileSync(data, 'utf8');

function median(label, fn, repeat) {
  fn();
  const samples = [];
  for (let i = 0; i < repeat; i += 1) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] / 1000;
}

const parse = median('parse', () => Battles.parse(text, { style: true }).free(), 5);
const battles = Battles.parse(text, { style: true });
const ours = {
  parse_and_count_s: parse,
  fastchat_fit_s: median('fit', () => rankSync(battles, { style: 'fastchat' }), 10),
  arena_rank_fit_sandwich_s: median('fit', () => rankSync(battles, { style: 'arena-rank', ci: 'sandwich' }), 10),
  bootstrap_100_s: median('boot', () => rankSync(battles, { style: 'fastchat', ci: 'bootstrap', rounds: 100 }), 3),
};
battles.free();
const python = `${root}.venv/bin/python`;
let peers = null;
if (existsSync(python)) {
  const args = [`${root}benches/style_peers.py`, ...process.argv.slice(2)];
  peers = JSON.parse(execFileSync(python, args, { encoding: 'utf8' }).trim().split('\n').pop());
}
const ms = (s) => (s == null ? '' : `${(s * 1000).toFixed(1)} ms`);
const rows = [
  ['parse 8,931 records + count style features (cl100k tokens, Markdown)', ours.parse_and_count_s, null, null],
  ['style fit, FastChat convention', ours.fastchat_fit_s, 'FastChat compute_style_control (L-BFGS-B, defaults)', peers?.fastchat_style_fit_s],
  ['style fit + sandwich, arena-rank convention', ours.arena_rank_fit_sandwich_s, 'arena-rank ContextualBradleyTerry, fresh model, defaults', peers?.arena_rank_style_fit_sandwich_s],
  ['100-round style bootstrap', ours.bootstrap_100_s, 'FastChat compute_bootstrap_style_control (2 processes)', peers?.fastchat_style_bootstrap_100_s],
];
for (const [task, a, peer, b] of rows) {
  const ratio = a && b ? `${(b / a).toFixed(0)}x faster` : '';
  console.log(`| ${task} | ${ms(a)} | ${peer ?? ''} | ${ms(b)} | ${ratio} |`);
}
