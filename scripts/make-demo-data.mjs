// Derives the demo's embedded default data from ../shared/data/llmfao (CC BY 4.0, see www/data/README.md):
// the crowd votes reduced to the three columns arbiter reads, in file order (Elo depends on the order).
import { readFile, writeFile } from 'node:fs/promises';

const source = new URL('../../shared/data/llmfao/crowd-comparisons.csv', import.meta.url);
const target = new URL('../www/data/llmfao-crowd.csv', import.meta.url);

function fields(line) {
  const out = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { cur += '"'; i += 1; } else if (ch === '"') quoted = false; else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { out.push(cur); cur = ''; } else cur += ch;
  }
  out.push(cur);
  return out;
}

const quote = (s) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
const lines = (await readFile(source, 'utf8')).split('\n').filter((l) => l.trim() !== '');
const header = fields(lines[0]);
const [w, l, r] = ['winner', 'left', 'right'].map((c) => header.indexOf(c));
const out = ['left,right,winner', ...lines.slice(1).map((line) => {
  const f = fields(line);
  return [f[l], f[r], f[w]].map(quote).join(',');
})];
await writeFile(target, `${out.join('\n')}\n`);
console.log(`wrote ${out.length - 1} votes to www/data/llmfao-crowd.csv`);
