// Derives the arena demo's embedded data from ../shared/data/llmfao (LLMFAO by Dmitry Ustalov, CC BY 4.0; see
// www/data/README.md), using only arbiter's npm API:
//   www/data/llmfao-pool.json    the 19 prompts and the 1,133 responses of 70 models (the battle pool; the crowd
//                                compared 59 of them on 13 prompts)
//   www/data/llmfao-crowd.jsonl  the 8,931 crowd votes as LMArena JSONL in file order (Elo depends on the order),
//                                each with its style `features` (LMArena's four counts of the two responses, as
//                                arbiter's style parser computes them), so the page needs no response text for them
// and, when the MiniLM encoder is installed (scripts/setup.sh; ARBITER_MODELS or ~/.cache/arbiter/models):
//   www/data/llmfao-minilm.f32   the responses' unit embeddings, row-major in pool order (1,133 × 384 f32)
//   www/data/llmfao-judge.json   the local judge: a linear reward head fitted on the crowd votes (validation on 3
//                                prompts) and a PAL-A model of the 124 crowd workers, which the page adapts to its
//                                user with fitRewardUser
// CLI: node scripts/make-demo-data.mjs   (existing embeddings of the right size are kept: embedding takes minutes)
import { readFile, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { init, Battles, Encoder, fitRewardHead, fitPal } from '../pkg/index.js';

const src = (name) => new URL(`../../shared/data/llmfao/${name}`, import.meta.url);
const out = (name) => new URL(`../www/data/${name}`, import.meta.url);
const jsonl = async (name) => (await readFile(src(name), 'utf8')).split('\n').filter((l) => l).map((l) => JSON.parse(l));

await init();

// ---- The pool: prompts in file order, models by name, responses in results.jsonl order (the embeddings' order).
const results = await jsonl('results.jsonl');
const prompts = (await jsonl('prompts.jsonl')).filter((p) => results.some((r) => r.prompt === p.id));
const promptIndex = new Map(prompts.map((p, i) => [p.id, i]));
const models = [...new Set(results.map((r) => r.name))];
const modelIndex = new Map(models.map((m, i) => [m, i]));
const responseOf = new Map(results.map((r, i) => [`${r.prompt}/${r.model}`, i]));
const pool = {
  name: 'LLMFAO',
  prompts: prompts.map((p) => ({ id: String(p.id), text: p.text })),
  models,
  responses: results.map((r) => [promptIndex.get(r.prompt), modelIndex.get(r.name), r.result]),
};
await writeFile(out('llmfao-pool.json'), JSON.stringify(pool));
console.log(`pool: ${pool.prompts.length} prompts, ${models.length} models, ${results.length} responses`);

// ---- The crowd votes (no quoted fields in this CSV), with the two responses they compared.
const [header, ...rows] = (await readFile(src('crowd-comparisons.csv'), 'utf8')).split('\n').filter((l) => l);
const keys = header.split(',');
const WINNER = { left: 'model_a', right: 'model_b', tie: 'tie' };
const ids = new Map((await jsonl('models.jsonl')).map((m) => [m.name, m.id]));
const votes = rows.map((line) => {
  const r = Object.fromEntries(line.split(',').map((v, k) => [keys[k], v]));
  const a = responseOf.get(`${r.prompt}/${ids.get(r.left)}`);
  const b = responseOf.get(`${r.prompt}/${ids.get(r.right)}`);
  if (a === undefined || b === undefined || !(r.winner in WINNER)) throw new Error(`crowd row ${r.id}: cannot join`);
  return { a, b, winner: WINNER[r.winner], worker: r.worker, prompt: Number(r.prompt), record: { model_a: r.left, model_b: r.right, winner: WINNER[r.winner] } };
});
// arbiter computes the style features from the texts; toJsonl writes them back as per-battle `features`.
const withTexts = votes.map((v) => JSON.stringify({ ...v.record, response_a: results[v.a].result, response_b: results[v.b].result })).join('\n');
const styled = Battles.parse(withTexts, { style: true });
// Six significant digits keep the features' f32 precision and halve the file.
const round = (line) => JSON.stringify(JSON.parse(line), (k, v) => (typeof v === 'number' ? Number(v.toPrecision(6)) : v));
await writeFile(out('llmfao-crowd.jsonl'), `${styled.toJsonl().split('\n').filter((l) => l).map(round).join('\n')}\n`);
console.log(`crowd: ${styled.length} votes with style features`);
styled.free();

// ---- The local judge, when the encoder is installed.
const modelDir = join(process.env.ARBITER_MODELS ?? join(homedir(), '.cache/arbiter/models'), 'all-MiniLM-L6-v2');
const haveModel = await stat(join(modelDir, 'model.safetensors')).then(() => true, () => false);
if (!haveModel) {
  console.log(`no encoder in ${modelDir}: the demo runs without its local judge (run scripts/setup.sh)`);
} else {
  const dim = 384;
  let data = await readFile(out('llmfao-minilm.f32')).catch(() => null);
  if (data?.length !== results.length * dim * 4) {
    console.log(`embedding ${results.length} responses (CPU, a few minutes)…`);
    const encoder = await Encoder.load(modelDir);
    const { embeddings } = await encoder.embed(results.map((r) => r.result));
    encoder.free();
    const flat = new Float32Array(results.length * dim);
    embeddings.forEach((e, i) => flat.set(e, i * dim));
    data = new Uint8Array(flat.buffer);
    await writeFile(out('llmfao-minilm.f32'), data);
  }
  const embeddings = { data: new Float32Array(data.buffer, data.byteOffset, data.length / 4), dim };
  const score = { model_a: 1, model_b: 0, tie: 0.5 };
  const voted = [...new Set(votes.map((v) => v.prompt))];
  const part = (v) => voted.indexOf(v.prompt) % 4 === 3; // validation: 3 of the 13 crowd prompts
  const asVote = (v) => ({ a: v.a, b: v.b, score: score[v.winner] });
  const { head, report } = fitRewardHead(embeddings, votes.filter((v) => !part(v)).map(asVote), { validation: votes.filter(part).map(asVote) });
  console.log(`judge head: train accuracy ${report.train.accuracy.toFixed(3)}, validation ${report.validation.accuracy.toFixed(3)}`);
  const pal = fitPal(embeddings, votes.map((v) => ({ ...asVote(v), user: `crowd-${v.worker}` })), { prototypes: 2, seed: 0 });
  console.log(`PAL: ${Object.keys(pal.head.users).length} users, train accuracy ${pal.report.train.accuracy.toFixed(3)}`);
  await writeFile(out('llmfao-judge.json'), JSON.stringify({ encoder: 'all-MiniLM-L6-v2', head, pal: pal.head }));
}
