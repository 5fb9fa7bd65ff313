// Plain SVG charts for the leaderboard: a forest plot (ratings with interval whiskers), horizontal bars (the Nash
// lottery) and a win-rate heatmap. Names and numbers go in through textContent / setAttribute only.
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 560;
const ROW = 17;
const LABEL = 205;

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const clip = (s, n = 26) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function niceStep(raw) {
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) ?? 10 * p;
}

function axis(svg, lo, hi, x, top, bottom, format) {
  const step = niceStep((hi - lo) / 5 || 1);
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) {
    svg.append(el('line', { class: 'grid', x1: x(t), x2: x(t), y1: top, y2: bottom }));
    svg.append(el('text', { class: 'tick', x: x(t), y: bottom + 13, 'text-anchor': 'middle' }, format(t)));
  }
}

function frame(svg, rows) {
  svg.replaceChildren();
  const height = rows * ROW + 34;
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${height}`);
  return height;
}

/** Ratings best first with interval whiskers; `rows`: { model, rating, lower, upper, identified }. */
export function forest(svg, rows, { highlight = new Set() } = {}) {
  const height = frame(svg, rows.length);
  if (!rows.length) return;
  let lo = Math.min(...rows.map((r) => r.lower));
  let hi = Math.max(...rows.map((r) => r.upper));
  const pad = (hi - lo) * 0.06 || 10;
  lo -= pad;
  hi += pad;
  const x = (v) => LABEL + ((v - lo) / (hi - lo)) * (WIDTH - LABEL - 12);
  axis(svg, lo, hi, x, 6, height - 24, (t) => t.toFixed(0));
  rows.forEach((r, i) => {
    const y = 14 + i * ROW;
    const g = el('g', { class: `row${r.identified ? '' : ' unidentified'}${highlight.has(r.model) ? ' highlight' : ''}` });
    g.append(el('text', { class: 'label', x: LABEL - 8, y: y + 4, 'text-anchor': 'end' }, `${r.identified ? `${i + 1}. ` : ''}${clip(r.model)}`));
    if (r.upper > r.lower) g.append(el('line', { class: 'whisker', x1: x(r.lower), x2: x(r.upper), y1: y, y2: y }));
    const dot = el('circle', { class: 'dot', cx: x(r.rating), cy: y, r: 4 });
    const interval = r.upper > r.lower ? ` [${r.lower.toFixed(0)}, ${r.upper.toFixed(0)}]` : '';
    dot.append(el('title', {}, `${r.model}: ${r.rating.toFixed(1)}${interval}`));
    g.append(dot);
    svg.append(g);
  });
}

/** Horizontal bars of values in [0, max]; `rows`: { model, value }, drawn in the order given. */
export function bars(svg, rows, { format = (v) => v.toFixed(2), max = Math.max(...rows.map((r) => r.value), 1e-9) } = {}) {
  const height = frame(svg, rows.length);
  if (!rows.length) return;
  const x = (v) => LABEL + (v / max) * (WIDTH - LABEL - 60);
  axis(svg, 0, max, x, 6, height - 24, (t) => format(t));
  rows.forEach((r, i) => {
    const y = 14 + i * ROW;
    svg.append(el('text', { class: 'label', x: LABEL - 8, y: y + 4, 'text-anchor': 'end' }, clip(r.model)));
    const bar = el('rect', { class: 'bar', x: LABEL, y: y - 6, width: Math.max(x(r.value) - LABEL, 1), height: 12, rx: 2 });
    bar.append(el('title', {}, `${r.model}: ${format(r.value)}`));
    svg.append(bar);
    svg.append(el('text', { class: 'value', x: x(r.value) + 4, y: y + 4 }, format(r.value)));
  });
}

// Diverging colour for a win rate: red (0) through a light neutral (½) to blue (1).
function colour(p) {
  const t = Math.abs(p - 0.5) * 2;
  const [r, g, b] = p < 0.5 ? [214, 96, 77] : [33, 102, 172];
  const mix = (c) => Math.round(247 + (c - 247) * t);
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

/** Observed win rate of row over column (`null`: never met); `models` in leaderboard order. */
export function heatmap(svg, models, winRate, counts) {
  svg.replaceChildren();
  const n = models.length;
  const cell = Math.min(22, (WIDTH - LABEL) / Math.max(n, 1));
  const top = 120;
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${top + n * cell + 10}`);
  models.forEach((m, i) => {
    svg.append(el('text', { class: 'label', x: LABEL - 6, y: top + i * cell + cell / 2 + 4, 'text-anchor': 'end' }, clip(m)));
    const cx = LABEL + i * cell + cell / 2;
    svg.append(el('text', { class: 'label', x: cx, y: top - 6, transform: `rotate(-55 ${cx} ${top - 6})` }, clip(m, 20)));
    models.forEach((other, j) => {
      const p = winRate[i][j];
      const rect = el('rect', {
        class: p === null ? 'cell empty' : 'cell', x: LABEL + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1,
        ...(p === null ? {} : { fill: colour(p) }),
      });
      rect.append(el('title', {}, p === null ? `${m} vs ${other}: never met` : `${m} vs ${other}: ${(100 * p).toFixed(0)}% of ${counts[i][j]}`));
      svg.append(rect);
    });
  });
}
