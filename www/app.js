// The arena page: ranks the embedded LLMFAO crowd votes (or the user's own file) in the browser and draws the
// leaderboard with confidence-interval whiskers. Uses only arbiter's public npm API. Untrusted text (model names,
// file contents) is only ever set through textContent, never parsed as HTML.
import { init, Battles, Gpu, rank } from '../pkg/index.js';

const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';
const DEFAULT = { url: 'data/llmfao-crowd.csv', name: 'LLMFAO crowd votes', parse: { columns: { modelA: 'left', modelB: 'right' } } };

let source = null;
let controller = null;
let gpu = null;

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function showError(e) {
  const box = $('error');
  box.hidden = false;
  box.textContent = e.code ? `${e.code}: ${e.message}` : String(e);
}

function drawChart(board) {
  const chart = $('chart');
  chart.replaceChildren();
  const models = board.models;
  const rowH = 18;
  const left = 290;
  const right = 30;
  const width = 1000;
  const height = models.length * rowH + 40;
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const lo = Math.min(...models.map((m) => m.lower));
  const hi = Math.max(...models.map((m) => m.upper));
  const pad = (hi - lo) * 0.05 || 1;
  const x = (v) => left + ((v - (lo - pad)) / (hi - lo + 2 * pad)) * (width - left - right);
  const step = niceStep((hi - lo + 2 * pad) / 8);
  for (let t = Math.ceil((lo - pad) / step) * step; t <= hi + pad; t += step) {
    chart.append(svg('line', { class: 'axis', x1: x(t), x2: x(t), y1: 10, y2: height - 20 }));
    chart.append(svg('text', { class: 'tick', x: x(t), y: height - 5, 'text-anchor': 'middle' }, t.toFixed(0)));
  }
  models.forEach((m, i) => {
    const y = 20 + i * rowH;
    const name = m.model.length > 36 ? `${m.model.slice(0, 35)}…` : m.model;
    chart.append(svg('text', { class: 'label', x: left - 8, y: y + 4, 'text-anchor': 'end' }, `${m.rank}. ${name}`));
    chart.append(svg('line', { class: 'whisker', x1: x(m.lower), x2: x(m.upper), y1: y, y2: y }));
    const dot = svg('circle', { class: m.identified ? 'dot' : 'dot unidentified', cx: x(m.rating), cy: y, r: 4 });
    dot.append(svg('title', {}, `${m.model}: ${m.rating.toFixed(1)} [${m.lower.toFixed(1)}, ${m.upper.toFixed(1)}]`));
    chart.append(dot);
  });
}

function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) ?? 10 * p;
}

function cell(text, numeric = false) {
  const td = document.createElement('td');
  td.textContent = text;
  if (numeric) td.className = 'num';
  return td;
}

function drawTable(board) {
  const rows = board.models.map((m) => {
    const tr = document.createElement('tr');
    if (!m.identified) tr.className = 'unidentified';
    tr.append(
      cell(String(m.rank), true),
      cell(m.model),
      cell(m.rating.toFixed(1), true),
      cell(board.ci === 'none' ? '' : `${m.lower.toFixed(1)} – ${m.upper.toFixed(1)}`, true),
      cell(String(m.battles), true),
      cell(`${m.wins} / ${m.losses} / ${m.ties}`, true),
    );
    return tr;
  });
  $('board').tBodies[0].replaceChildren(...rows);
  $('warnings').replaceChildren(...board.warnings.map((w) => Object.assign(document.createElement('li'), { textContent: w })));
}

async function recompute() {
  if (!source) return;
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  $('error').hidden = true;
  const options = { method: $('method').value, ci: $('ci').value, rounds: Number($('rounds').value), seed: 0, matrices: true, gpu };
  if (options.method === 'elo' && options.ci === 'sandwich') options.ci = 'bootstrap';
  const progress = $('progress');
  progress.hidden = options.ci !== 'bootstrap';
  progress.value = 0;
  const started = performance.now();
  $('status').textContent = `Ranking ${source.name}…`;
  try {
    const board = await rank(source.battles, { ...options, signal, onProgress: ({ done, total }) => { progress.value = done / total; } });
    const ms = performance.now() - started;
    drawChart(board);
    drawTable(board);
    $('caption').textContent = `${board.models.length} models, ${board.battles} battles · ${board.method.toUpperCase()} · ${board.ci === 'bootstrap' ? `${board.rounds}-round bootstrap, ` : ''}${board.ci} intervals at ${board.level * 100}%`;
    $('status').textContent = `${source.name}: ranked in ${ms.toFixed(0)} ms.`;
    $('device').textContent = `device: ${board.device}`;
    document.body.dataset.ready = 'true';
  } catch (e) {
    if (e.code !== 'CANCELLED') showError(e);
  } finally {
    progress.hidden = true;
  }
}

function load(data, name, parse = {}) {
  try {
    const battles = Battles.parse(data, { ...parse, skipInvalid: true });
    source?.battles.free();
    source = { battles, name };
    const skipped = battles.skipped;
    if (skipped.length) showError({ code: 'SKIPPED', message: `${skipped.length} invalid rows were skipped; first: ${skipped[0].message}` });
    return recompute();
  } catch (e) {
    showError(e);
  }
}

async function loadDefault() {
  const res = await fetch(DEFAULT.url);
  return load(new Uint8Array(await res.arrayBuffer()), DEFAULT.name, DEFAULT.parse);
}

async function loadFile(file) {
  return load(new Uint8Array(await file.arrayBuffer()), file.name);
}

await init();
gpu = await Gpu.request();
$('device').textContent = `device: ${gpu ? gpu.adapter : 'cpu (no WebGPU adapter)'}`;
for (const id of ['method', 'ci', 'rounds']) $(id).addEventListener('change', recompute);
$('reset').addEventListener('click', loadDefault);
$('file').addEventListener('change', (e) => e.target.files[0] && loadFile(e.target.files[0]));
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer.files[0]) loadFile(e.dataTransfer.files[0]);
});
await loadDefault();
