// One JS test suite for every runtime: Node (tests/js/node.mjs), a page and a Web Worker in headless Chromium
// (tests/js/browser.mjs). A runner passes `env`: { arbiter, load(path) -> Promise<string> } where path is relative
// to the repository root, and `../shared/...` reaches the shared data.

export function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

function close(a, b, tol, what) {
  assert(Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tol ${tol})`);
}

async function throwsCode(fn, code) {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof Error && e.name === 'ArbiterError', `expected an ArbiterError, got ${e}`);
    assert(e.code === code, `expected code ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  throw new Error(`expected an error with code ${code}`);
}

const LLMFAO = '../shared/data/llmfao/crowd-comparisons.csv';
const MAPPING = { columns: { modelA: 'left', modelB: 'right' } };

async function llmfao(env) {
  return env.arbiter.Battles.parse(await env.load(LLMFAO), MAPPING);
}

function byModel(board) {
  return Object.fromEntries(board.models.map((m) => [m.model, m]));
}

export const tests = [
  ['init is idempotent', async ({ arbiter }) => {
    const a = arbiter.init();
    assert(a === arbiter.init(), 'same promise');
    await a;
  }],

  ['parses LLMFAO crowd votes with a column mapping', async (env) => {
    const b = await llmfao(env);
    assert(b.length === 8931 && b.total === 8931, `length ${b.length}`);
    assert(b.models.length === 59, 'models');
    const again = env.arbiter.Battles.parse(new TextEncoder().encode(b.toJsonl()));
    assert(again.length === 8931, 'JSONL round trip');
    b.free();
    again.free();
  }],

  ['Bradley-Terry matches arena-rank and evalica to 1e-6 Elo; sandwich matches arena-rank to 1e-3', async (env) => {
    const golden = JSON.parse(await env.load('tests/golden/llmfao.json'));
    const b = await llmfao(env);
    const board = byModel(env.arbiter.rankSync(b, { ci: 'sandwich' }));
    b.free();
    const ar = golden.arena_rank_bt;
    for (const [model, rating] of Object.entries(ar.ratings)) {
      close(board[model].rating, rating, 1e-6, `${model} rating vs arena-rank`);
      close(board[model].rating, golden.evalica_bt.ratings[model], 1e-6, `${model} rating vs evalica`);
      close(board[model].lower, ar.rating_lower[model], 1e-3, `${model} lower`);
      close(board[model].upper, ar.rating_upper[model], 1e-3, `${model} upper`);
    }
  }],

  ['online Elo matches evalica (K=4, file order) to 1e-9', async (env) => {
    const csv = await env.load('../shared/data/llmfao/evalica-llmfao-golden.csv');
    const b = await llmfao(env);
    const board = byModel(env.arbiter.rankSync(b, { method: 'elo' }));
    b.free();
    let n = 0;
    for (const line of csv.split('\n')) {
      const m = line.match(/^elo,(.*),([^,]+)$/);
      if (!m) continue;
      const model = m[1].replace(/^"|"$/g, '');
      close(board[model].rating, Number(m[2]), 1e-9, `${model} Elo`);
      n += 1;
    }
    assert(n === 59, `compared ${n} models`);
  }],

  ['a seeded bootstrap is reproducible and equals the native result', async (env) => {
    const golden = JSON.parse(await env.load('tests/golden/arbiter-bootstrap.json'));
    const b = await llmfao(env);
    const options = { ci: 'bootstrap', rounds: golden.rounds, seed: golden.seed };
    const first = await env.arbiter.rank(b, options);
    const second = env.arbiter.rankSync(b, options);
    b.free();
    assert(JSON.stringify(first.models) === JSON.stringify(second.models), 'repeated runs identical');
    const native = Object.fromEntries(golden.models.map((m) => [m.model, m]));
    for (const m of first.models) {
      close(m.lower, native[m.model].lower, 1e-9, `${m.model} lower vs native`);
      close(m.upper, native[m.model].upper, 1e-9, `${m.model} upper vs native`);
    }
  }],

  ['rank() reports progress and can be cancelled', async (env) => {
    const b = await llmfao(env);
    const seen = [];
    await env.arbiter.rank(b, { ci: 'bootstrap', rounds: 50, onProgress: (p) => seen.push(p) });
    assert(seen.length > 0 && seen.at(-1).done === 50 && seen.at(-1).total === 50, JSON.stringify(seen.at(-1)));
    const controller = new AbortController();
    await throwsCode(
      () => env.arbiter.rank(b, { ci: 'bootstrap', rounds: 100000, signal: controller.signal, onProgress: () => controller.abort() }),
      'CANCELLED',
    );
    b.free();
  }],

  ['errors are ArbiterErrors with a code and a row', async ({ arbiter }) => {
    const good = '{"model_a":"x","model_b":"y","winner":"model_a"}';
    const e = await throwsCode(() => arbiter.Battles.parse(`${good}\n{"model_a":"x",\n`), 'PARSE');
    assert(e.row === 2, `row ${e.row}`);
    await throwsCode(() => arbiter.Battles.parse('{"model_a":"x","model_b":"x","winner":"tie"}'), 'SELF_BATTLE');
    await throwsCode(() => arbiter.Battles.parse(good, { colums: {} }), 'INVALID_OPTION');
    const b = arbiter.Battles.parse(good);
    await throwsCode(() => arbiter.rankSync(b, { cii: 'sandwich' }), 'INVALID_OPTION');
    await throwsCode(() => arbiter.rankSync(b, { anchor: { model: 'nope', value: 1 } }), 'UNKNOWN_MODEL');
    await throwsCode(() => arbiter.rankSync(arbiter.Battles.parse(''), {}), 'EMPTY');
    b.free();
    await throwsCode(() => b.length, 'FREED');
    const skipped = arbiter.Battles.parse(`${good}\nnot json\n`, { skipInvalid: true });
    assert(skipped.length === 1 && skipped.skipped[0].row === 2 && skipped.skipped[0].code === 'PARSE', 'skipped');
    skipped.free();
  }],

  ['degenerate data gives finite, flagged results', async ({ arbiter }) => {
    const b = arbiter.Battles.parse('model_a,model_b,winner\ntop,a,model_a\na,b,model_a\nb,a,model_a\n');
    for (const ci of ['none', 'sandwich', 'bootstrap']) {
      const board = arbiter.rankSync(b, { ci, rounds: 20 });
      for (const m of board.models) {
        for (const v of [m.rating, m.lower, m.upper, m.variance]) assert(Number.isFinite(v), `${ci} ${m.model}`);
      }
      assert(byModel(board).top.identified === false && byModel(board).a.identified === true, 'identified');
      assert(board.warnings.length === 1, 'warning');
    }
    b.free();
  }],

  ['matrices, anchors and baselines', async (env) => {
    const b = await llmfao(env);
    const board = env.arbiter.rankSync(b, { matrices: true, anchor: { model: 'GPT 4', value: 1200 } });
    assert(byModel(board)['GPT 4'].rating === 1200, 'anchor');
    const m = board.matrices;
    assert(m.models.length === 59 && m.counts.length === 59 && m.predicted[0].length === 59, 'shape');
    close(m.predicted[0][1] + m.predicted[1][0], 1, 1e-12, 'P + P^T = 1');
    assert(m.winRate.some((row) => row.includes(null)), 'unmet pairs are null');
    const win = env.arbiter.rankSync(b, { baseline: 'GPT 4' });
    close(byModel(win)['GPT 4'].rating, 50, 1e-12, 'baseline is 50%');
    b.free();
  }],
];

function syntheticBattles(arbiter, n) {
  const lines = ['model_a,model_b,winner'];
  for (let i = 0; i < n; i += 1) {
    for (let j = i + 1; j < n; j += 1) {
      if ((i * 7 + j * 3) % 5 === 0 && j - i > 2) continue;
      const w = (i * 13 + j * 17) % 3;
      lines.push(`m${i},m${j},${['model_a', 'model_b', 'tie'][w]}`, `m${j},m${i},${w === 0 ? 'model_a' : 'model_b'}`);
    }
  }
  return arbiter.Battles.parse(lines.join('\n'));
}

tests.push(['the GPU predicted-probability kernel matches its CPU twin at odd sizes (|Δp| ≤ 2e-6)', async ({ arbiter }) => {
  const gpu = await arbiter.Gpu.request();
  const expected = globalThis.__arbiterExpectGpu || typeof window !== 'undefined' || typeof WorkerGlobalScope !== 'undefined';
  if (!gpu) {
    assert(!expected, 'a WebGPU adapter was expected here');
    return;
  }
  try {
    assert(gpu.adapter.length > 0, 'adapter name');
    for (const n of [3, 17, 59, 137]) {
      const b = syntheticBattles(arbiter, n);
      const cpu = arbiter.rankSync(b, { matrices: true });
      const onGpu = await arbiter.rank(b, { matrices: true, gpu });
      b.free();
      assert(onGpu.device === `gpu: ${gpu.adapter}` && cpu.device === 'cpu', `device ${onGpu.device}`);
      for (let i = 0; i < n; i += 1) {
        for (let j = 0; j < n; j += 1) {
          close(onGpu.matrices.predicted[i][j], cpu.matrices.predicted[i][j], 2e-6, `n=${n} P[${i}][${j}]`);
        }
      }
    }
  } finally {
    gpu.free();
  }
}]);

/** LLMFAO crowd votes as LMArena JSONL with the compared responses (as scripts/make-style-data.mjs writes it). */
async function llmfaoStyle(env) {
  const texts = new Map();
  for (const line of (await env.load('../shared/data/llmfao/results.jsonl')).split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    texts.set(`${r.prompt}:${r.model}`, r.result ?? '');
  }
  const [, ...rows] = (await env.load(LLMFAO)).trim().split('\n');
  const winner = { left: 'model_a', right: 'model_b', tie: 'tie' };
  const lines = rows.map((row) => {
    const [, prompt, x, y, , w, left, right] = row.split(',');
    return JSON.stringify({ model_a: left, model_b: right, winner: winner[w],
      response_a: texts.get(`${prompt}:${x}`), response_b: texts.get(`${prompt}:${y}`) });
  });
  return env.arbiter.Battles.parse(lines.join('\n'), { style: true });
}

tests.push(['style control matches FastChat (1e-4 Elo) and arena-rank, with coefficients to 1e-6', async (env) => {
  const golden = JSON.parse(await env.load('tests/golden/llmfao-style.json'));
  const b = await llmfaoStyle(env);
  for (const [style, name] of [['fastchat', 'fastchat_converged'], ['arena-rank', 'arena_rank']]) {
    const board = env.arbiter.rankSync(b, { style, ci: 'sandwich' });
    assert(board.style === style, `style ${board.style}`);
    const by = byModel(board);
    for (const [model, rating] of Object.entries(golden[name].ratings)) close(by[model].rating, rating, 1e-4, `${style} ${model}`);
    board.coefficients.forEach((c, j) => {
      close(c.value, golden[name].coefficients[j], 1e-6, `${style} ${c.name}`);
      assert(c.lower < c.value && c.value < c.upper, `${c.name} interval`);
    });
  }
  b.free();
}]);

tests.push(['style options are checked', async (env) => {
  await throwsCode(() => env.arbiter.Battles.parse('model_a,model_b,winner\nx,y,tie\n', { style: true }), 'INVALID_OPTION');
  const b = env.arbiter.Battles.parse('{"model_a":"x","model_b":"y","winner":"tie"}');
  await throwsCode(() => env.arbiter.rankSync(b, { style: 'lmarena' }), 'INVALID_OPTION');
  await throwsCode(() => env.arbiter.rankSync(b, { style: 'fastchat' }), 'INVALID_OPTION');
  b.free();
  await throwsCode(() => env.arbiter.Battles.parse('{"model_a":"x","model_b":"y","winner":"tie","response_a":"hi"}', { style: true }), 'MISSING_FIELD');
}]);

tests.push(['style control and bootstraps on the GPU match the CPU (≤ 0.01 Elo; BT bootstrap exactly)', async (env) => {
  const { arbiter } = env;
  const gpu = await arbiter.Gpu.request();
  const expected = globalThis.__arbiterExpectGpu || typeof window !== 'undefined' || typeof WorkerGlobalScope !== 'undefined';
  if (!gpu) {
    assert(!expected, 'a WebGPU adapter was expected here');
    return;
  }
  const b = await llmfaoStyle(env);
  try {
    const options = { style: 'fastchat', ci: 'bootstrap', rounds: 6, seed: 5 };
    const cpu = arbiter.rankSync(b, options);
    let progress = 0;
    const onGpu = await arbiter.rank(b, { ...options, gpu, onProgress: ({ done }) => { progress = done; } });
    assert(onGpu.device === `gpu: ${gpu.adapter}`, `device ${onGpu.device}`);
    assert(progress === 6, `progress ${progress}`);
    const by = byModel(cpu);
    for (const m of onGpu.models) {
      for (const key of ['rating', 'lower', 'upper']) close(m[key], by[m.model][key], 0.01, `${m.model} ${key}`);
    }
    onGpu.coefficients.forEach((c, j) => close(c.value, cpu.coefficients[j].value, 1e-4, c.name));
    const bt = { ci: 'bootstrap', rounds: 20, seed: 1 };
    const btGpu = await arbiter.rank(b, { ...bt, gpu });
    const btCpu = arbiter.rankSync(b, bt);
    assert(JSON.stringify(btGpu.models) === JSON.stringify(btCpu.models), 'BT bootstrap: the same resamples');
    const controller = new AbortController();
    controller.abort();
    await throwsCode(() => arbiter.rank(b, { ...options, gpu, signal: controller.signal }), 'CANCELLED');
  } finally {
    b.free();
    gpu.free();
  }
}]);

tests.push(['parseStream reads JSONL chunks cut anywhere, with global row numbers in errors', async (env) => {
  const { arbiter } = env;
  const b = await llmfaoStyle(env);
  const text = b.toJsonl();
  const bytes = new TextEncoder().encode(text);
  async function* pieces(size) {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  }
  const streamed = await arbiter.Battles.parseStream(pieces(65_537), { style: true });
  assert(streamed.length === b.length && streamed.toJsonl() === text, 'same battles');
  const one = arbiter.rankSync(b, { style: 'fastchat' });
  const two = arbiter.rankSync(streamed, { style: 'fastchat' });
  assert(JSON.stringify(one) === JSON.stringify(two), 'same leaderboard');
  streamed.free();
  b.free();
  async function* bad() {
    yield '{"model_a":"x","model_b":"y","winner":"tie"}\n{"model_a":"x","model_b":"y",';
    yield '"winner":"tie"}\n{"model_a":"x"}\n';
  }
  const e = await throwsCode(() => arbiter.Battles.parseStream(bad()), 'MISSING_FIELD');
  assert(e.row === 3, `row ${e.row}`);
}]);

// ---- Beyond Bradley-Terry: the same results in every runtime as natively (the goldens are the Rust tests').

const CROWD = { columns: { modelA: 'left', modelB: 'right', judge: 'worker' } };

tests.push(['every method runs on LLMFAO with finite, sorted rows; the tie models and Weng-Lin match the references', async (env) => {
  const { arbiter } = env;
  const b = arbiter.Battles.parse(await env.load(LLMFAO), CROWD);
  try {
    for (const name of ['davidson', 'raoKupper', 'plackettLuce', 'wengLin', 'nash', 'gpm', 'mixture', 'lcpo']) {
      const board = arbiter[name](b);
      assert(board.models.length === 59, `${name}: 59 models`);
      assert(board.models.every((m) => Number.isFinite(m.rating)), `${name}: finite ratings`);
    }
    // Davidson ν and Rao-Kupper θ agree with an independent scipy fit (tests/ties_pl.rs).
    close(arbiter.davidson(b).tie, 1.479708, 1e-5, 'Davidson ν');
    close(arbiter.raoKupper(b).tie, 2.566000, 1e-5, 'Rao-Kupper θ');
    // openskill 6.2.0's Plackett-Luce over the same votes (tests/golden/openskill-llmfao.json).
    const golden = JSON.parse(await env.load('tests/golden/openskill-llmfao.json'));
    const got = byModel(arbiter.wengLin(b));
    for (const [model, want] of Object.entries(golden.models['plackett-luce'].ratings)) {
      close(got[model].mu, want.mu, 1e-9, `${model} μ vs openskill`);
      close(got[model].sigma, want.sigma, 1e-9, `${model} σ vs openskill`);
    }
    const nash = arbiter.nash(b);
    close(nash.models.reduce((s, m) => s + m.probability, 0), 1, 1e-9, 'lottery sums to 1');
    assert(nash.exploitability < 1e-9, `exploitability ${nash.exploitability}`);
    close(nash.btTopExploitability, 1 / 3, 0.01, 'exploitability of the BT #1');
    const mix = arbiter.mixture(b, { groups: 3 });
    assert(mix.groups.length === 3 && mix.groups.every((g) => g.models.length === 59), 'three group leaderboards');
  } finally {
    b.free();
  }
}]);

tests.push(['Nash on payoff matrices: rock-paper-scissors, the weighted cycle, the regularised cycle', async ({ arbiter }) => {
  const rps = arbiter.nash({ matrix: [[0, 1, -1], [-1, 0, 1], [1, -1, 0]] });
  for (const p of rps.probabilities) close(p, 1 / 3, 1e-12, 'RPS');
  // P(A≻B)=.9, P(B≻C)=.6, P(C≻A)=.7 → (1/7, 2/7, 4/7); β = 0.1 → (0.28131, 0.19767, 0.52102) (spec 1.6).
  const cycle = [[0, 0.4, -0.2], [-0.4, 0, 0.1], [0.2, -0.1, 0]];
  [1 / 7, 2 / 7, 4 / 7].forEach((p, i) => close(arbiter.nash({ matrix: cycle }).probabilities[i], p, 1e-12, 'cycle'));
  const reg = arbiter.nash({ matrix: cycle }, { beta: 0.1 });
  [0.28131, 0.19767, 0.52102].forEach((p, i) => close(reg.probabilities[i], p, 1e-5, 'regularised'));
  // A reference lottery leaning on C pulls the regularised equilibrium towards C.
  const leaning = arbiter.nash({ matrix: cycle }, { beta: 0.1, mu: [0.1, 0.1, 0.8] });
  assert(leaning.probabilities[2] > reg.probabilities[2] + 0.05, `μ pulls: ${leaning.probabilities}`);
  await throwsCode(() => arbiter.nash({ matrix: [[0, 1], [1, 0]] }), 'INVALID_OPTION');
  await throwsCode(() => arbiter.nash({ matrix: cycle }, { solver: 'magic' }), 'INVALID_OPTION');
}]);

tests.push(['Plackett-Luce on named rankings matches choix; Weng-Lin single matches match openskill', async (env) => {
  const { arbiter } = env;
  const fixture = JSON.parse(await env.load('../shared/data/fixtures/choix/testcase-rankings-2.json'));
  const board = arbiter.plackettLuce(fixture.data.map((r) => r.map((i) => `m${i}`)), { scale: 1, base: Math.E, init: 0 });
  const rows = byModel(board);
  fixture.ml_est.forEach((want, i) => close(rows[`m${i}`].rating, want, 1e-4, `choix m${i}`));
  const r = { mu: 25, sigma: 25 / 3 };
  const [[a], [b]] = arbiter.wengLinRate([[r], [r]]);
  close(a.mu, 27.635389493140497, 1e-12, 'openskill winner μ');
  close(b.sigma, 8.06590141354368, 1e-12, 'openskill σ');
  await throwsCode(() => arbiter.wengLinRate([[r]]), 'INVALID_OPTION');
  await throwsCode(() => arbiter.plackettLuce([['x', 'x']]), 'INVALID_NUMBER');
}]);

tests.push(['judges, annotators and samplers: GPT-4 vs the crowd, Dawid-Skene, strength, pair sampling', async (env) => {
  const { arbiter } = env;
  const crowd = arbiter.Battles.parse(await env.load(LLMFAO), CROWD);
  const gpt4 = arbiter.Battles.parse(await env.load('../shared/data/llmfao/gpt4-crowd-comparisons.csv'), MAPPING);
  try {
    const a = arbiter.judgeAgreement(crowd, gpt4);
    assert(a.items === 2139 && a.votes === 8931, `items ${a.items}`);
    close(a.agreementWithTies, 0.4148471615720524, 1e-12, 'agreement with ties');
    close(a.spearman, 0.7309175920514319, 1e-9, 'Spearman');
    const gpt3 = arbiter.Battles.parse(await env.load('../shared/data/llmfao/gpt3-crowd-comparisons.csv'), MAPPING);
    const population = arbiter.nash([{ battles: gpt4, weight: 0.5 }, { battles: gpt3, weight: 0.5 }]);
    gpt3.free();
    assert(population.models.length === 59 && population.battles === 2 * 2139, 'population of two judges');
    close(population.models.reduce((s, m) => s + m.probability, 0), 1, 1e-9, 'population lottery');
    const ds = arbiter.dawidSkene(crowd);
    assert(ds.items.length === 2139 && ds.annotators.length === 124, 'Dawid-Skene sizes');
    assert(arbiter.preferenceStrength(crowd).length === 2139, 'strength items');
    await throwsCode(() => arbiter.lcpo(gpt4), 'MISSING_FIELD');
    const sampler = new arbiter.PairSampler(crowd.models, { strategy: 'information-gain', seed: 4 });
    const [x, y] = sampler.next();
    assert(x !== y && crowd.models.includes(x), 'a pair of models');
    sampler.observe(x, y, 'tie');
    await throwsCode(() => sampler.observe(x, 'nobody', 'a'), 'UNKNOWN_MODEL');
    sampler.free();
    await throwsCode(() => sampler.next(), 'FREED');
    await throwsCode(() => new arbiter.PairSampler(['a', 'b'], { strategy: 'fastchat', boost: ['c'] }), 'UNKNOWN_MODEL');
    const sim = arbiter.simulateSampling({ ratings: { a: 0, b: 100, c: -100 }, targetWidth: 200, seed: 1 });
    assert(sim.reached && sim.votes > 0, 'simulation reaches the target');
  } finally {
    crowd.free();
    gpt4.free();
  }
}]);

// A deterministic generator for the synthetic reward tests (the same draws in every runtime).
function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

tests.push(['reward heads: fit, score, preferences, JSON round trip, errors', async ({ arbiter }) => {
  const rand = lcg(7);
  const dim = 6;
  const truth = [1, -0.5, 0.25, 0, 0.75, -1];
  const rows = Array.from({ length: 60 }, () => Float32Array.from({ length: dim }, () => rand() * 2 - 1));
  const utility = (r) => r.reduce((s, x, k) => s + x * truth[k], 0);
  const votes = Array.from({ length: 400 }, () => {
    const a = Math.floor(rand() * 60);
    const b = (a + 1 + Math.floor(rand() * 59)) % 60;
    const p = 1 / (1 + Math.exp(-(utility(rows[a]) - utility(rows[b])) * 3));
    return { a, b, score: rand() < p ? 1 : 0 };
  });
  const { head, report } = arbiter.fitRewardHead(rows, votes.slice(0, 300), { validation: votes.slice(300) });
  assert(head.kind === 'linear' && head.weights.length === dim, 'a linear head');
  assert(report.validation.accuracy > 0.7, `validation accuracy ${report.validation.accuracy}`);
  const cos = head.weights.reduce((s, w, k) => s + w * truth[k], 0)
    / Math.hypot(...head.weights) / Math.hypot(...truth);
  assert(cos > 0.9, `recovered direction, cosine ${cos}`);
  const scores = arbiter.rewardScores(head, rows);
  assert(scores.length === 60 && scores.every(Number.isFinite), 'finite scores');
  const data = new Float32Array(60 * dim);
  rows.forEach((r, i) => data.set(r, i * dim));
  const again = arbiter.rewardScores(JSON.parse(JSON.stringify(head)), { data, dim });
  assert(scores.every((s, i) => s === again[i]), 'JSON round trip and flat input score alike');
  const p = arbiter.rewardPreferences(head, rows.slice(0, 3));
  close(p[1] + p[3], 1, 1e-12, 'P(0≻1) + P(1≻0)');
  close(p[0], 0.5, 0, 'P(0≻0)');
  await throwsCode(() => arbiter.rewardScores(head, [new Float32Array(5)]), 'INVALID_OPTION');
  await throwsCode(() => arbiter.rewardScores({ kind: 'linear', weights: [] , bias: 0 }, rows), 'MODEL');
  await throwsCode(() => arbiter.fitRewardHead(rows, []), 'EMPTY');
  await throwsCode(() => arbiter.fitRewardHead(rows, [{ a: 0, b: 99, score: 1 }]), 'INVALID_OPTION');
  await throwsCode(() => arbiter.fitRewardHead(rows, votes, { l3: 1 }), 'INVALID_OPTION');
}]);

tests.push(['reward: a personal PAL model beats the pooled head on two groups of users', async ({ arbiter }) => {
  const rand = lcg(11);
  const dim = 4;
  const rows = Array.from({ length: 80 }, () => Float32Array.from({ length: dim }, () => rand() * 2 - 1));
  const ideal = (g) => [g === 0 ? 1 : -1, 0, 0, 0];
  const dist = (r, g) => Math.hypot(...r.map((x, k) => x - ideal(g)[k]));
  const vote = (user, g) => {
    const a = Math.floor(rand() * 80);
    const b = (a + 1 + Math.floor(rand() * 79)) % 80;
    const p = 1 / (1 + Math.exp(-(dist(rows[b], g) - dist(rows[a], g)) * 4));
    return { a, b, score: rand() < p ? 1 : 0, user };
  };
  const users = Array.from({ length: 8 }, (_, u) => [`u${u}`, u % 2]);
  const train = users.flatMap(([u, g]) => Array.from({ length: 60 }, () => vote(u, g)));
  const { head: pal } = arbiter.fitPal(rows, train, { prototypes: 2, seed: 1 });
  assert(pal.kind === 'pal' && pal.prototypes.length === 2, 'two prototypes');
  const { head: pooled } = arbiter.fitRewardHead(rows, train);
  // A new user of group 1 with 30 votes: only their weights are fitted.
  const mine = Array.from({ length: 30 }, () => vote('me', 1));
  const { head: personal } = arbiter.fitRewardUser(pal, 'me', rows, mine);
  assert(personal.users.me.length === 2, 'the new user has K weights');
  const test = Array.from({ length: 300 }, () => vote('me', 1));
  const accuracy = (s) => test.reduce((n, v) => n + ((s[v.a] > s[v.b]) === (v.score === 1) ? 1 : 0), 0) / test.length;
  const personalAcc = accuracy(arbiter.rewardScores(personal, rows, { user: 'me' }));
  const pooledAcc = accuracy(arbiter.rewardScores(pooled, rows));
  assert(personalAcc > pooledAcc + 0.1, `personal ${personalAcc} vs pooled ${pooledAcc}`);
  await throwsCode(() => arbiter.rewardScores(personal, rows, { user: 'nobody' }), 'INVALID_OPTION');
}]);

tests.push(['reward: best-of-N rules and the MAP palette', async ({ arbiter }) => {
  assert(arbiter.bestOfN({ rule: 'max', scores: [0.1, 0.9, 0.9] }).index === 1, 'max, ties to the lowest index');
  assert(arbiter.bestOfN({ rule: 'maxmin', rewards: [[1, -1], [0.2, 0.3], [2, 0]] }).index === 1, 'maxmin: the best worst case');
  assert(arbiter.bestOfN({ rule: 'direction', rewards: [[1, 0], [0, 1]], direction: [0, 3] }).index === 1, 'direction');
  const rps = [0.5, 0.9, 0.1, 0.1, 0.5, 0.9, 0.9, 0.1, 0.5];
  const nash = arbiter.bestOfN({ rule: 'nash', preferences: rps });
  nash.mixture.probabilities.forEach((x) => close(x, 1 / 3, 1e-9, 'uniform mixture on rock-paper-scissors'));
  const spo = arbiter.bestOfN({ rule: 'spo', preferences: rps });
  assert(spo.index === 0 && spo.values.every((v) => Math.abs(v - 0.5) < 1e-12), 'SPO three-way tie to index 0');
  const rand = lcg(3);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const rewards = [Array.from({ length: 200 }, normal), Array.from({ length: 200 }, normal)];
  const map = arbiter.mapPalette(rewards, [0.5, 0.3]);
  assert(map.kkt.satisfied, 'KKT holds');
  close(map.expected[0], 0.5, 1e-6, 'E_w[r_1]');
  close(map.expected[1], 0.3, 1e-6, 'E_w[r_2]');
  await throwsCode(() => arbiter.mapPalette(rewards, [99, 0]), 'INVALID_OPTION');
  await throwsCode(() => arbiter.bestOfN({ rule: 'best' }), 'INVALID_OPTION');
  await throwsCode(() => arbiter.bestOfN({ rule: 'max', scores: [] }), 'EMPTY');
}]);
