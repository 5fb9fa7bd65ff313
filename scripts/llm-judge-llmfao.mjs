#!/usr/bin/env node
// SmolLM2 as a likelihood judge of LLMFAO battles, through the npm API (wasm, CPU): each response is scored by its
// mean per-token log-probability under the model, given its prompt as a chat turn (Llama.logprobs); the judge prefers
// the response with the higher mean (length-normalised, so long answers are not penalised for their length). Its
// verdicts meet the crowd's votes on the same pairs in judgeAgreement (CapArena's protocol, as
// examples/judge_agreement does), on the first N voted prompts (scoring all 13 takes about an hour).
// `--rule implicit` judges by DPO's implicit reward instead: one policy under two system prompts, a quality-asking
// SYSTEM against the template's default (Llama.implicitReward, β = 1; the sign is all a verdict needs), so a
// response wins when the quality prompt raises its log-probability more than the other's (twice the scoring time).
//
// node scripts/llm-judge-llmfao.mjs [--prompts N] [--model FILE] [--out JUDGE.csv] [--rule mean|implicit]
// Prints one JSON object: prompts, responses scored, tokens, seconds, and the agreement.
import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { init, Battles, judgeAgreement, Llama } from '../pkg/index.js';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const data = new URL('../../shared/data/llmfao/', import.meta.url).pathname;
const model = option('--model', join(process.env.ARBITER_MODELS ?? join(homedir(), '.cache/arbiter/models'),
  'smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf'));
const promptCount = Number(option('--prompts', 2));
const rule = option('--rule', 'mean');
if (!['mean', 'implicit'].includes(rule)) throw new Error(`--rule: mean or implicit, not ${rule}`);
const SYSTEM = 'You are an expert assistant. Your answers are correct, complete, helpful and well written.';

const lines = (file) => readFileSync(join(data, file), 'utf8').split('\n').filter((l) => l.trim());
const prompts = new Map(lines('prompts.jsonl').map((l) => JSON.parse(l)).map((p) => [p.id, p.text]));
const results = new Map(lines('results.jsonl').map((l) => JSON.parse(l)).map((r) => [`${r.prompt}/${r.name}`, r.result]));

// The crowd's votes (id, prompt, model_x, model_y, worker, winner, left, right), on the first N voted prompts.
const [header, ...rows] = lines('crowd-comparisons.csv');
const csvRow = (l) => {
  const cells = l.split(',');
  return { line: l, id: cells[0], prompt: Number(cells[1]), left: cells[6], right: cells.slice(7).join(',') };
};
const crowd = rows.map(csvRow);
const chosen = [...new Set(crowd.map((r) => r.prompt))].sort((a, b) => a - b).slice(0, promptCount);
const votes = crowd.filter((r) => chosen.includes(r.prompt));

await init();
const llm = await Llama.load(model);
const started = performance.now();
let tokens = 0;
const scores = new Map();
async function score(prompt, name) {
  const key = `${prompt}/${name}`;
  if (!scores.has(key)) {
    const response = results.get(key)?.trim();
    let mean = -Infinity; // an empty or missing response loses to any other
    if (response) {
      const turn = [{ role: 'user', content: prompts.get(prompt) }];
      if (rule === 'implicit') {
        const r = await llm.implicitReward(turn, response, { beta: 1, system: SYSTEM });
        tokens += r.tokens;
        mean = r.reward;
      } else {
        const r = await llm.logprobs(turn, response);
        tokens += r.tokens.length;
        mean = r.total / r.tokens.length;
      }
    }
    scores.set(key, mean);
  }
  return scores.get(key);
}

// One verdict per pair (item id).
const judged = [];
for (const v of votes) {
  if (judged.some((j) => j.id === v.id)) continue;
  const [a, b] = [await score(v.prompt, v.left), await score(v.prompt, v.right)];
  judged.push({ id: v.id, left: v.left, right: v.right, winner: a > b ? 'left' : b > a ? 'right' : 'tie' });
}
llm.free();
const seconds = (performance.now() - started) / 1000;

const csv = (items) => `id,left,right,winner\n${items.map((j) => [j.id, j.left, j.right, j.winner].join(',')).join('\n')}\n`;
const judgeText = csv(judged);
if (option('--out')) writeFileSync(option('--out'), judgeText);
const columns = { columns: { modelA: 'left', modelB: 'right' } };
const human = Battles.parse(`${header}\n${votes.map((v) => v.line).join('\n')}\n`, columns);
const judge = Battles.parse(judgeText, columns);
const agreement = judgeAgreement(human, judge);
human.free();
judge.free();
console.log(JSON.stringify({
  prompts: chosen, crowd_votes: votes.length, pairs: judged.length, responses_scored: scores.size, tokens,
  seconds: Math.round(seconds), rule: rule === 'implicit' ? `higher implicit reward under system "${SYSTEM}"` : 'higher mean token log-probability',
  agreement,
}, null, 2));
