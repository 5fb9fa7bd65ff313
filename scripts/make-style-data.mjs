#!/usr/bin/env node
// Writes LLMFAO crowd votes as LMArena JSONL with the two compared responses (response_a, response_b): the input of
// the style-control examples and tests. Usage: node scripts/make-style-data.mjs [OUT] (default
// target/llmfao-style.jsonl). Data: ../shared/data/llmfao (CC BY 4.0, see its LICENSE and SOURCE.txt).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = new URL('../', import.meta.url).pathname;
const data = join(root, '../shared/data/llmfao');
const out = process.argv[2] ?? join(root, 'target/llmfao-style.jsonl');

const texts = new Map();
for (const line of readFileSync(join(data, 'results.jsonl'), 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const r = JSON.parse(line);
  texts.set(`${r.prompt}:${r.model}`, r.result ?? '');
}
// crowd-comparisons.csv: id,prompt,model_x,model_y,worker,winner,left,right (names have no commas or quotes).
const [header, ...rows] = readFileSync(join(data, 'crowd-comparisons.csv'), 'utf8').trim().split('\n');
if (header !== 'id,prompt,model_x,model_y,worker,winner,left,right') throw new Error(`unexpected header ${header}`);
const winner = { left: 'model_a', right: 'model_b', tie: 'tie' };
const lines = rows.map((row) => {
  const [, prompt, x, y, , w, left, right] = row.split(',');
  return JSON.stringify({
    model_a: left,
    model_b: right,
    winner: winner[w],
    response_a: texts.get(`${prompt}:${x}`),
    response_b: texts.get(`${prompt}:${y}`),
  });
});
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${lines.join('\n')}\n`);
console.error(`wrote ${lines.length} battles to ${out}`);
