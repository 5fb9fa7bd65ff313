// The arena page: blind battles from a pool, votes kept in IndexedDB, the next pair from one of arbiter's samplers,
// the leaderboard recomputed in a Worker after every vote, and a local judge that predicts each winner.
// Uses only arbiter's public npm API. Every untrusted string (responses, prompts, model names, imported files) is
// put on the page with textContent, never parsed as HTML.
import { init, Gpu, PairSampler } from '../pkg/index.js';
import { openStore, toJsonl, parseJsonl } from './store.js';
import { fromCompact, fromJsonl, toCompact, commonPrompts } from './pool.js';
import { forest, bars, heatmap } from './charts.js';
import { Judge, agreement } from './judge.js';
import { Contestant, LOCAL } from './contestant.js';

const $ = (id) => document.getElementById(id);
const SIDE = { model_a: 'a', model_b: 'b', tie: 'tie', 'tie (bothbad)': 'tie' };
const LABEL = { model_a: 'A', model_b: 'B', tie: 'a tie', 'tie (bothbad)': 'both bad' };
const KEYS = { 1: 'model_a', a: 'model_a', ArrowLeft: 'model_a', 2: 'model_b', b: 'model_b', ArrowRight: 'model_b', 3: 'tie', t: 'tie', 4: 'tie (bothbad)', x: 'tie (bothbad)' };
const TOP = 20; // models drawn per chart
const HEAT = 15; // models in the heatmap

/** Measured times in ms, for the e2e test and the footer. */
const timings = { interactive: null, save: [], refresh: [], worker: [], judge: [] };
window.arena = { timings };

let store;
let votes = [];
let pool;
let defaultPool;
let sampler = null;
let fallback = null;
let battle = null;
let judge = null;
let worker;
let votedAt = null;
let boards = 0;
let contestant = null; // the local SmolLM2, once switched on
let challenge = false; // the next battle pits the local contestant against a sampled opponent
let learning = Promise.resolve(); // the personal model's latest refit
let relearnAfterBoard = false; // refit once the leaderboard of the latest vote is drawn (keeps that refresh fast)

function showError(message) {
  const box = $('error');
  box.hidden = !message;
  box.textContent = message ?? '';
}

// ---- Pair sampling

function winnerSide(v) {
  return SIDE[v.winner];
}

const localOn = () => Boolean(contestant?.device) && $('local').checked;
const contestants = () => (localOn() ? [...pool.models, LOCAL] : pool.models);

function makeSampler() {
  sampler?.free();
  fallback?.free();
  const seed = Math.floor(Math.random() * 2 ** 32);
  const models = contestants();
  sampler = new PairSampler(models, { strategy: $('sampler').value, seed });
  fallback = new PairSampler(models, { strategy: 'uniform', seed: seed + 1 });
  const known = new Set(models);
  for (const v of votes) if (known.has(v.model_a) && known.has(v.model_b)) sampler.observe(v.model_a, v.model_b, winnerSide(v));
}

// Prompts both can answer: the local contestant answers any prompt.
function promptsFor(a, b) {
  if (a === LOCAL || b === LOCAL) {
    const other = a === LOCAL ? b : a;
    return [...pool.answers].filter(([, byModel]) => byModel.has(other)).map(([p]) => p);
  }
  return commonPrompts(pool, a, b);
}

const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];

// The sampler's pair unless it repeats the last battle's pair or the two share no prompt; then redraw, and after a
// few tries take the uniform sampler's pairs (a deterministic strategy may keep proposing the same one). Right after
// the local contestant is switched on, it meets the first model the sampler proposes.
function drawPair() {
  if (challenge) {
    challenge = false;
    const opponent = sampler.next().find((m) => m !== LOCAL);
    const [a, b] = Math.random() < 0.5 ? [LOCAL, opponent] : [opponent, LOCAL];
    return { a, b, prompt: pick(promptsFor(a, b)) };
  }
  const last = battle ? new Set([battle.model_a, battle.model_b]) : null;
  for (let i = 0; i < 40; i += 1) {
    const [a, b] = (i < 8 ? sampler : fallback).next();
    if (last && last.has(a) && last.has(b)) continue;
    const prompts = promptsFor(a, b);
    if (prompts.length) return { a, b, prompt: pick(prompts) };
  }
  throw new Error('no pair of models in this pool answered a common prompt');
}

// ---- The battle view

// Which buttons work: the vote buttons, the next-battle button.
function enable({ voting = false, next = false }) {
  for (const b of document.querySelectorAll('[data-vote]')) b.disabled = !voting;
  $('next').disabled = !next;
}

function showBattle() {
  const { a, b, prompt } = drawPair();
  const byModel = pool.answers.get(prompt);
  battle = {
    model_a: a, model_b: b, prompt: pool.prompts[prompt].text, prompt_id: pool.prompts[prompt].id,
    response_a: byModel.get(a) ?? '', response_b: byModel.get(b) ?? '', predictions: null,
  };
  $('prompt').textContent = battle.prompt;
  $('response-a').textContent = battle.response_a;
  $('response-b').textContent = battle.response_b;
  $('name-a').textContent = '';
  $('name-b').textContent = '';
  $('battle-meta').textContent = `${pool.name} · prompt ${prompt + 1} of ${pool.prompts.length}`;
  document.body.dataset.revealed = 'false';
  document.body.dataset.judge = 'pending';
  $('judge-prediction').textContent = 'Judge: waiting for both answers…';
  const local = a === LOCAL ? 'a' : b === LOCAL ? 'b' : null;
  if (local) streamLocal(battle, local);
  else ready();
}

// The battle can be judged and voted on.
function ready() {
  enable({ voting: true });
  $('status').textContent = 'Which answer is better? Keys: 1 = A, 2 = B, 3 = tie, 4 = both bad.';
  predictCurrent();
}

// The local contestant's answer streams into its side; voting opens when it is complete.
async function streamLocal(current, side) {
  current.streaming = true;
  enable({});
  document.body.dataset.streaming = side;
  $('status').textContent = 'One of the two answers is being written in this page…';
  const show = (text) => { if (current === battle) $(`response-${side}`).textContent = text; };
  try {
    current[`response_${side}`] = await contestant.answer(current.prompt, show);
  } catch (e) {
    showError(`The local contestant failed: ${e.message}`);
  }
  current.streaming = false;
  if (current !== battle) return;
  document.body.dataset.streaming = 'false';
  ready();
}

// The judges predict the shown battle now, before the vote; the page shows their guesses only after it, not to sway
// the voter. Called again once the judge has loaded, for the battle drawn before that.
async function predictCurrent() {
  const current = battle;
  if (!judge) {
    $('judge-prediction').textContent = 'Judge: loading…';
    return;
  }
  $('judge-prediction').textContent = judge.ready ? 'Judge: predicting…' : 'Judge: off';
  document.body.dataset.judge = 'pending';
  const started = performance.now();
  await learning;
  const predictions = await judge.predict(current.response_a, current.response_b);
  if (current !== battle || current.voted) return;
  current.predictions = predictions;
  $('judge-note').textContent = judge.note;
  if (predictions.reward) {
    timings.judge.push(performance.now() - started);
    $('judge-prediction').textContent = 'Judge: prediction ready (shown after your vote).';
  }
  document.body.dataset.judge = 'ready';
  showTimings();
}

function record(winner) {
  const conversation = (response) => [{ role: 'user', content: battle.prompt }, { role: 'assistant', content: response }];
  const vote = {
    question_id: crypto.randomUUID().replaceAll('-', ''),
    model_a: battle.model_a,
    model_b: battle.model_b,
    winner,
    judge: 'me',
    turn: 1,
    anony: true,
    tstamp: Date.now() / 1000,
    conversation_a: conversation(battle.response_a),
    conversation_b: conversation(battle.response_b),
    pool: pool.name,
    prompt_id: battle.prompt_id,
  };
  if (battle.predictions?.reward) vote.predictions = battle.predictions;
  return vote;
}

async function vote(winner) {
  if (!battle || battle.voted || battle.streaming) return;
  battle.voted = true;
  enable({});
  const v = record(winner);
  const started = performance.now();
  try {
    await store.add(v); // on disk before the page says so
    timings.save.push(performance.now() - started);
  } catch (e) {
    showError(`The vote could not be saved: ${e.message}`);
    battle.voted = false;
    enable({ voting: true });
    return;
  }
  votes.push(v);
  votedAt = started;
  worker.postMessage({ type: 'add', vote: v });
  sampler.observe(v.model_a, v.model_b, winnerSide(v));
  $('name-a').textContent = `· ${v.model_a}`;
  $('name-b').textContent = `· ${v.model_b}`;
  document.body.dataset.revealed = 'true';
  enable({ next: true });
  $('next').focus();
  $('status').textContent = `Vote saved: ${LABEL[winner]}. Press N for the next battle.`;
  showVoteCount();
  showJudge(v);
  relearnAfterBoard = true;
}

// Refits the personal model on all votes; predictions wait for it.
function relearn() {
  relearnAfterBoard = false;
  if (judge) learning = judge.learn(votes).then(showAgreement);
}

function showJudge(v) {
  const p = v.predictions;
  if (!p) {
    $('judge-prediction').textContent = judge?.ready ? 'Judge: no prediction for this battle.' : 'Judge: off';
    return;
  }
  const name = (side) => (side === 'model_a' ? 'A' : 'B');
  $('judge-prediction').textContent = `Reward model predicted ${name(p.reward)}${p.personal ? `; your personal model predicted ${name(p.personal)}` : ''}. You chose ${LABEL[v.winner]}.`;
  showAgreement();
}

function showAgreement() {
  const text = (label, { agree, of }) => `${label} agrees with you on ${agree} of ${of} decisive votes${of ? ` (${Math.round((100 * agree) / of)}%)` : ''}`;
  const reward = agreement(votes, 'reward');
  $('judge-agreement').textContent = !judge?.ready ? ''
    : reward.of === 0 ? 'The judges\' agreement with you shows after your first decisive vote (A or B).'
      : `${text('Reward model', reward)}. ${text('Personal model (trained on your earlier votes)', agreement(votes, 'personal'))}.`;
}

function showVoteCount() {
  $('vote-count').textContent = `${votes.length} vote${votes.length === 1 ? '' : 's'} stored on this device.`;
  document.body.dataset.votes = String(votes.length);
}

// ---- The leaderboard

function sendOptions() {
  worker.postMessage({ type: 'options', options: { crowd: $('scope').value === 'crowd', style: $('style').checked, ties: $('ties').value } });
}

function drawBoard(msg) {
  boards += 1;
  $('board-empty').hidden = !msg.empty;
  document.querySelector('.charts').hidden = Boolean(msg.empty);
  if (!msg.empty) {
    const mine = new Set(votes.flatMap((v) => [v.model_a, v.model_b]));
    const highlight = msg.options.crowd ? mine : new Set();
    $('legend').hidden = false;
    // Models the votes cannot pin down (no finite MLE: undefeated, winless, cut off) go last, greyed, so the top of
    // each chart shows the ratings that mean something.
    const loose = new Set(msg.bt.rows.filter((r) => !r.identified).map((r) => r.model));
    const pinnedFirst = (rows) => [...rows.filter((r) => !loose.has(r.model)), ...rows.filter((r) => loose.has(r.model))];
    forest($('chart-bt'), pinnedFirst(msg.bt.rows).slice(0, TOP), { highlight });
    forest($('chart-elo'), msg.elo.slice(0, TOP).map((r) => ({ ...r, lower: r.rating, upper: r.rating, identified: true })), { highlight });
    const lottery = msg.nash.rows.filter((r) => r.probability > 0.001).sort((x, y) => y.probability - x.probability).slice(0, TOP);
    bars($('chart-nash'), lottery.map((r) => ({ model: r.model, value: r.probability })), { format: (v) => `${(100 * v).toFixed(0)}%` });
    const m = msg.matrices;
    const top = pinnedFirst(m.models.map((model, i) => ({ model, i }))).slice(0, HEAT).map((r) => r.i);
    const sub = (matrix) => top.map((i) => top.map((j) => matrix[i][j]));
    heatmap($('chart-heat'), top.map((i) => m.models[i]), sub(m.winRate), sub(m.counts));
    const tie = msg.bt.tie === null ? '' : ` · tie parameter ${msg.bt.tie.toFixed(2)}`;
    const style = msg.bt.coefficients.length ? ` · style: ${msg.bt.coefficients.map((c) => `${c.name} ${c.value.toFixed(2)}`).join(', ')}` : '';
    $('bt-caption').textContent = msg.bt.method.startsWith('bt')
      ? `Bradley-Terry rating${msg.options.style ? ' with style control' : ''}, 95% sandwich interval${style}`
      : `${msg.bt.method === 'davidson' ? 'Davidson' : 'Rao-Kupper'} tie model rating (no intervals)${tie}`;
    $('nash-caption').textContent = `Nash mixture (maximal lottery${msg.nash.unique ? '' : ', not unique'}): share of each model`;
    $('board-meta').textContent = `${msg.battles} battles · ${msg.options.crowd ? 'your votes + LLMFAO crowd' : 'your votes'} · computed in ${msg.ms.toFixed(0)} ms (${msg.bt.device}, Web Worker)`;
    $('warnings').replaceChildren(...msg.bt.warnings.map((w) => Object.assign(document.createElement('li'), { textContent: w })));
  } else {
    $('board-meta').textContent = '';
  }
  if (votedAt !== null) {
    timings.refresh.push(performance.now() - votedAt);
    timings.worker.push(msg.ms);
    votedAt = null;
  }
  document.body.dataset.board = String(boards);
  document.body.dataset.boardBattles = String(msg.battles ?? 0);
  showTimings();
  if (relearnAfterBoard) relearn();
}

function showTimings() {
  const last = (xs) => (xs.length ? `${xs.at(-1).toFixed(0)} ms` : '–');
  $('timings').textContent = `Interactive after ${timings.interactive?.toFixed(0) ?? '–'} ms; last leaderboard refresh ${last(timings.refresh)}; last judge prediction ${last(timings.judge)}.`;
}

// ---- Import / export

function download() {
  const url = URL.createObjectURL(new Blob([toJsonl(votes)], { type: 'application/x-ndjson' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: 'arena-votes.jsonl' });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function importVotes(file) {
  showError(null);
  try {
    const imported = parseJsonl(await file.text());
    await store.putAll(imported);
    votes = await store.all();
    worker.postMessage({ type: 'reset', votes });
    makeSampler();
    showVoteCount();
    $('status').textContent = `Imported ${imported.length} votes.`;
    relearn();
    await learning;
  } catch (e) {
    showError(`Import failed: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  }
}

function usePool(next, keep) {
  pool = next;
  try {
    if (keep) localStorage.setItem('arena-pool', JSON.stringify(toCompact(pool)));
    else localStorage.removeItem('arena-pool');
  } catch {
    showError('The pool is too large to keep for the next visit; it is used for now.');
  }
  battle = null;
  makeSampler();
  showBattle();
}

async function importPool(file) {
  showError(null);
  try {
    usePool(fromJsonl(file.name, await file.text()), true);
  } catch (e) {
    showError(`Pool import failed: ${e.message}`);
  }
}

// Where the local contestant runs: ?device=auto (the default: a hardware WebGPU adapter, else the CPU), gpu or cpu.
const LOCAL_DEVICE = new URLSearchParams(location.search).get('device') ?? 'auto';

// Switching the local contestant on loads it (once), then puts it in the next battle; off, it leaves the sampler.
async function switchLocal() {
  if ($('local').checked && !contestant) {
    $('local-status').textContent = 'loading…';
    contestant = new Contestant((loaded, total) => {
      $('local-status').textContent = `loading ${(loaded / 2 ** 20).toFixed(0)} of ${(total / 2 ** 20).toFixed(0)} MB…`;
    }, LOCAL_DEVICE);
    try {
      await contestant.loaded;
    } catch (e) {
      contestant.close();
      contestant = null;
      $('local').checked = false;
      const hint = /HTTP 404/.test(e.message) ? '; scripts/setup.sh installs it' : '';
      $('local-status').textContent = `unavailable (${e.message}${hint})`;
      return;
    }
  }
  $('local-status').textContent = localOn() ? `ready (${contestant.device}); it answers in the battles the sampler gives it` : '';
  makeSampler();
  if (localOn()) {
    challenge = true;
    if (!battle?.streaming && !battle?.voted) showBattle();
  }
}

// ---- Start

function pathNote(gpu) {
  if (!gpu) return 'Compute: CPU path (this browser offers no WebGPU).';
  const adapter = gpu.adapter.trim() || 'unnamed adapter';
  if (gpu.isSoftware) return `Compute: CPU path (the WebGPU adapter here is a software one, ${adapter}, slower than the CPU).`;
  return `Compute: WebGPU (${adapter}) for the encoder and the local contestant; rankings on the CPU in a Web Worker.`;
}

// WebGPU is asked for alongside, not waited for: the battle does not need it.
const gpuRequest = Gpu.request().catch(() => null);
const poolFile = fetch('data/llmfao-pool.json').then((r) => (r.ok ? r.json() : Promise.reject(new Error(`data/llmfao-pool.json: HTTP ${r.status}`))));
const [, compact, opened] = await Promise.all([init(), poolFile, openStore()]);
store = opened;
defaultPool = fromCompact(compact);
votes = await store.all();
worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
worker.onmessage = (e) => {
  if (e.data.type === 'board') drawBoard(e.data);
  else {
    showError(`Leaderboard: ${e.data.message}`);
    if (relearnAfterBoard) relearn();
  }
};
worker.postMessage({ type: 'reset', votes });
sendOptions();

const saved = localStorage.getItem('arena-pool');
pool = saved ? fromCompact(JSON.parse(saved)) : defaultPool;
$('sampler').value = localStorage.getItem('arena-sampler') ?? 'information-gain';
makeSampler();
showVoteCount();

for (const b of document.querySelectorAll('[data-vote]')) b.addEventListener('click', () => vote(b.dataset.vote));
$('next').addEventListener('click', () => showBattle());
document.addEventListener('keydown', (e) => {
  // Keys belong to fields that take text or choices (a select's arrows); buttons and checkboxes leave them to voting.
  if (e.ctrlKey || e.metaKey || e.altKey || e.target.matches?.('select, textarea, input:not([type="checkbox"], [type="file"])')) return;
  if (KEYS[e.key] && battle && !battle.voted && !battle.streaming) {
    e.preventDefault();
    vote(KEYS[e.key]);
  } else if ((e.key === 'n' || e.key === 'N' || e.key === 'Enter') && !$('next').disabled) {
    e.preventDefault();
    showBattle();
  }
});
for (const id of ['scope', 'ties', 'style']) $(id).addEventListener('change', sendOptions);
$('sampler').addEventListener('change', () => { localStorage.setItem('arena-sampler', $('sampler').value); makeSampler(); });
$('export').addEventListener('click', download);
$('import-votes').addEventListener('change', (e) => e.target.files[0] && importVotes(e.target.files[0]));
$('import-pool').addEventListener('change', (e) => e.target.files[0] && importPool(e.target.files[0]));
$('default-pool').addEventListener('click', () => usePool(defaultPool, false));
$('local').addEventListener('change', switchLocal);

showBattle();
timings.interactive = performance.now();
document.body.dataset.ready = 'true';
showTimings();
const gpu = await gpuRequest;
$('path').textContent = pathNote(gpu);
document.body.dataset.path = gpu && !gpu.isSoftware ? 'gpu' : 'cpu';
judge = await Judge.load(gpu, compact);
$('judge-note').textContent = judge.note;
relearn();
if (!battle.voted) await predictCurrent();
