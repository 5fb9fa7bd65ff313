// The two leaderboard examples (Rust and Node) take the same flags and print the same JSON; bad input exits 2
// with the same one-line error. The Rust binary comes from `cargo build --release --example leaderboard`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;
const rust = join(root, 'target/release/examples/leaderboard');
const node = [join(root, 'examples/leaderboard.mjs')];
const LLMFAO = join(root, '../shared/data/llmfao/crowd-comparisons.csv');

// Node gets WebGPU from Dawn (on SwiftShader) only when asked, as in the Node suite.
const WEBGPU = { ...process.env, VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json',
  NODE_OPTIONS: `--import ${join(root, 'tests/js/webgpu-node.mjs')}` };

function both(args, nodeEnv = process.env) {
  const r = spawnSync(rust, args, { encoding: 'utf8' });
  const n = spawnSync(process.execPath, [...node, ...args], { encoding: 'utf8', env: nodeEnv });
  return [r, n];
}

// Numbers agree to `tol` (relative, at least absolute); `device` names each runtime's own adapter, so it is compared
// by the callers.
function closeJson(a, b, path = '', tol = 1e-9) {
  if (typeof a === 'number' && typeof b === 'number') {
    assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(a)), `${path}: ${a} vs ${b}`);
  } else if (a && typeof a === 'object') {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), path);
    for (const k of Object.keys(a)) if (k !== 'device') closeJson(a[k], b[k], `${path}.${k}`, tol);
  } else {
    assert.equal(a, b, path);
  }
}

for (const flags of [
  ['--ci', 'sandwich'],
  ['--method', 'elo'],
  ['--ci', 'bootstrap', '--rounds', '200', '--seed', '7'],
  ['--method', 'elo', '--ci', 'bootstrap', '--rounds', '50', '--anchor', 'GPT 4=1200'],
  ['--baseline', 'GPT 3.5 Turbo', '--ci', 'sandwich', '--level', '0.9'],
]) {
  test(`examples agree: ${flags.join(' ')}`, () => {
    const [r, n] = both([LLMFAO, '--columns', 'left,right,winner', '--json', ...flags]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(n.status, 0, n.stderr);
    const [a, b] = [JSON.parse(r.stdout), JSON.parse(n.stdout)];
    for (const key of ['method', 'ci', 'models']) assert.ok(key in a, key);
    assert.equal(a.models[0].model, b.models[0].model);
    closeJson(a, b);
  });
}

test('a malformed JSONL line: exit 2 and one line naming the row', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arbiter-'));
  const file = join(dir, 'bad.jsonl');
  writeFileSync(file, '{"model_a":"x","model_b":"y","winner":"model_a"}\n{"model_a":"x","model_b":"y","winner":"model_b"}\n{"model_a":"x",\n');
  const [r, n] = both([file, '--json']);
  for (const p of [r, n]) {
    assert.equal(p.status, 2);
    assert.equal(p.stdout, '');
    const lines = p.stderr.trim().split('\n');
    assert.equal(lines.length, 1, p.stderr);
    assert.match(lines[0], /^error\[PARSE\] row 3: /);
  }
  assert.equal(r.stderr, n.stderr);
});

test('LMArena JSONL from LLMFAO gives the same leaderboard as the mapped CSV', () => {
  const dir = mkdtempSync(join(tmpdir(), 'arbiter-'));
  const file = join(dir, 'llmfao.jsonl');
  const code = `import { init, Battles } from '${join(root, 'pkg/index.js')}';
    import { readFileSync, writeFileSync } from 'node:fs';
    await init();
    const b = Battles.parse(readFileSync('${LLMFAO}'), { columns: { modelA: 'left', modelB: 'right' } });
    writeFileSync('${file}', b.toJsonl());`;
  execFileSync(process.execPath, ['--input-type=module', '-e', code]);
  const [a] = both([file, '--json', '--ci', 'sandwich']);
  const [c] = both([LLMFAO, '--columns', 'left,right,winner', '--json', '--ci', 'sandwich']);
  closeJson(JSON.parse(a.stdout).models, JSON.parse(c.stdout).models);
});

const STYLE = join(mkdtempSync(join(tmpdir(), 'arbiter-')), 'llmfao-style.jsonl');
execFileSync(process.execPath, [join(root, 'scripts/make-style-data.mjs'), STYLE]);

test('examples agree on style control on the CPU, and name the device', () => {
  for (const convention of ['fastchat', 'arena-rank']) {
    const [r, n] = both([STYLE, '--style', '--style-convention', convention, '--ci', 'sandwich', '--device', 'cpu', '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(n.status, 0, n.stderr);
    const [a, b] = [JSON.parse(r.stdout), JSON.parse(n.stdout)];
    assert.equal(a.style, convention);
    assert.deepEqual(a.coefficients.map((c) => c.name), ['sum_assistant_tokens', 'header_count', 'list_count', 'bold_count']);
    for (const c of a.coefficients) assert.ok(c.lower < c.value && c.value < c.upper, c.name);
    assert.equal(a.device, 'cpu');
    assert.equal(b.device, 'cpu');
    closeJson(a, b);
  }
});

test('examples agree on style control with a bootstrap on the GPU (lavapipe vs Dawn, within 0.01 Elo)', () => {
  const [r, n] = both([STYLE, '--style', '--ci', 'bootstrap', '--rounds', '5', '--seed', '3', '--device', 'gpu', '--json'], WEBGPU);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(n.status, 0, n.stderr);
  const [a, b] = [JSON.parse(r.stdout), JSON.parse(n.stdout)];
  assert.match(a.device, /^gpu: /);
  assert.match(b.device, /^gpu: /);
  closeJson(a.models.map(({ rating, lower, upper }) => ({ rating, lower, upper })),
    b.models.map(({ rating, lower, upper }) => ({ rating, lower, upper })), 'models', 1e-5);
  closeJson(a.coefficients, b.coefficients, 'coefficients', 1e-3);
});

test('a bad --device or --style-convention: exit 2 with the same error', () => {
  for (const flags of [['--device', 'tpu'], ['--style', '--style-convention', 'lmarena']]) {
    const [r, n] = both([STYLE, ...flags]);
    assert.equal(r.status, 2);
    assert.equal(n.status, 2);
    assert.match(r.stderr, /^error\[INVALID_OPTION\]/);
    assert.equal(r.stderr, n.stderr);
  }
});

test('examples agree on every method beyond Bradley-Terry, with the fields the issue names', () => {
  const cases = [['davidson'], ['rao-kupper'], ['pl'], ['weng-lin'], ['nash'], ['gpm'], ['mixture', '--groups', '3'], ['lcpo']];
  for (const [method, ...extra] of cases) {
    const [r, n] = both([LLMFAO, '--columns', 'left,right,winner,worker', '--json', '--method', method, ...extra]);
    assert.equal(r.status, 0, `${method}: ${r.stderr}`);
    assert.equal(n.status, 0, `${method}: ${n.stderr}`);
    const [a, b] = [JSON.parse(r.stdout), JSON.parse(n.stdout)];
    assert.equal(a.method, method);
    assert.equal(a.models.length, 59);
    closeJson(a, b, method);
    if (method === 'nash') {
      assert.ok(typeof a.exploitability === 'number');
      assert.ok(a.models.every((m) => typeof m.probability === 'number'));
    }
    if (method === 'mixture') {
      assert.equal(a.groups.length, 3);
      for (const g of a.groups) assert.equal(g.models.length, 59);
    }
  }
});

test('a method option for another method: exit 2 with the same error', () => {
  const [r, n] = both([LLMFAO, '--columns', 'left,right,winner', '--method', 'nash', '--groups', '2']);
  assert.equal(r.status, 2);
  assert.equal(n.status, 2);
  assert.match(r.stderr, /^error\[INVALID_OPTION\]/);
  assert.equal(r.stderr, n.stderr);
});

test('judge_agreement: the Rust and Node examples print the same agreement (GPT-4 and GPT-3.5 vs the crowd)', () => {
  const judgeRust = join(root, 'target/release/examples/judge_agreement');
  const judgeNode = join(root, 'examples/judge_agreement.mjs');
  for (const judge of ['gpt4-crowd-comparisons.csv', 'gpt3-crowd-comparisons.csv']) {
    const args = [LLMFAO, join(root, '../shared/data/llmfao', judge), '--json'];
    const r = spawnSync(judgeRust, args, { encoding: 'utf8' });
    const n = spawnSync(process.execPath, [judgeNode, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(n.status, 0, n.stderr);
    const [a, b] = [JSON.parse(r.stdout), JSON.parse(n.stdout)];
    for (const key of ['items', 'agreement_with_ties', 'agreement_without_ties', 'spearman', 'kendall']) assert.ok(key in a, key);
    assert.equal(a.items, 2139);
    closeJson(a, b, judge);
  }
  const bad = spawnSync(judgeRust, [LLMFAO], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^error\[INVALID_OPTION\]/);
});

test('reward: the Rust and Node examples print the same embeddings (first 8 dimensions, unit norms)', () => {
  const models = process.env.ARBITER_MODELS ?? join(process.env.HOME ?? '', '.cache/arbiter/models');
  const dir = mkdtempSync(join(tmpdir(), 'arbiter-'));
  const file = join(dir, 'texts.txt');
  writeFileSync(file, 'Explain quantum field theory to a high-school student.\nA haiku about kubernetes.\n\nÜnïcödé 日本語\n');
  const args = ['--model', join(models, 'all-MiniLM-L6-v2'), '--texts', file, '--json'];
  const cpu = [...args, '--device', 'cpu'];
  const r = spawnSync(join(root, 'target/release/examples/reward'), cpu, { encoding: 'utf8' });
  const n = spawnSync(process.execPath, [join(root, 'examples/reward.mjs'), ...cpu], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(n.status, 0, n.stderr);
  const [a, b] = [JSON.parse(r.stdout), JSON.parse(n.stdout)];
  assert.equal(a.texts.length, 4);
  assert.equal(a.device, 'cpu');
  for (const t of a.texts) assert.ok(Math.abs(t.norm - 1) < 1e-5 && t.head.length === 8);
  // f32 products in a different order (native vs wasm SIMD): equal to 1e-5.
  closeJson(a, b, 'reward', 1e-5);
  // The WGSL encoder (lavapipe here), asked for explicitly; `auto` skips a software adapter.
  const g = spawnSync(join(root, 'target/release/examples/reward'), [...args, '--device', 'gpu'], { encoding: 'utf8' });
  assert.equal(g.status, 0, g.stderr);
  const onGpu = JSON.parse(g.stdout);
  assert.match(onGpu.device, /^gpu: /);
  closeJson({ ...onGpu, device: 'cpu' }, a, 'reward on the GPU', 1e-4);
  // Node without WebGPU installed: `--device gpu` is a GPU error.
  const ng = spawnSync(process.execPath, [join(root, 'examples/reward.mjs'), ...args, '--device', 'gpu'], { encoding: 'utf8' });
  assert.equal(ng.status, 2);
  assert.match(ng.stderr, /^error\[GPU\]/);
});

test('reward --fit-llmfao: a head learned from LLMFAO crowd votes beats always-longer on held-out prompts, alike in Rust and Node', () => {
  const models = process.env.ARBITER_MODELS ?? join(process.env.HOME ?? '', '.cache/arbiter/models');
  const cache = join(mkdtempSync(join(tmpdir(), 'arbiter-')), 'llmfao-minilm.f32');
  const args = ['--model', join(models, 'all-MiniLM-L6-v2'), '--fit-llmfao', '--embeddings', cache, '--json'];
  // Rust embeds the 1,133 responses (CPU) and writes the cache; Node reads it, so both fit the same vectors.
  const r = spawnSync(join(root, 'target/release/examples/reward'), [...args, '--device', 'cpu'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const n = spawnSync(process.execPath, [join(root, 'examples/reward.mjs'), ...args], { encoding: 'utf8' });
  assert.equal(n.status, 0, n.stderr);
  const [a, b] = [JSON.parse(r.stdout), JSON.parse(n.stdout)];
  assert.equal(a.embeddings, 'cpu');
  assert.equal(b.embeddings, 'cache');
  assert.ok(a.n_test > 1000 && a.n_train > 4000, `sizes ${a.n_train} / ${a.n_test}`);
  assert.ok(a.heldout_accuracy > a.baseline_longer_accuracy + 0.15, `head ${a.heldout_accuracy} vs longer ${a.baseline_longer_accuracy}`);
  closeJson({ ...a, embeddings: 'cache' }, b, 'fit-llmfao', 1e-9);
});
