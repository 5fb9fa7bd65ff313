// Writes N synthetic LMArena battles over M models as JSONL (deterministic): true ratings spread over ±300 Elo,
// outcomes drawn from Bradley-Terry with 30% ties. Usage: node benches/synthetic.mjs N M FILE
import { createWriteStream } from 'node:fs';

const [n = 1_000_000, m = 200, file = '/tmp/synthetic.jsonl'] = process.argv.slice(2);
let state = 0x9e3779b97f4a7c15n;
function random() {
  // SplitMix64
  state = (state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  let z = state;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
  return Number((z ^ (z >> 31n)) >> 11n) / 2 ** 53;
}
const models = Array.from({ length: Number(m) }, (_, i) => `model-${String(i).padStart(3, '0')}`);
const truth = models.map(() => (random() - 0.5) * 600);
const out = createWriteStream(file);
let chunk = '';
for (let k = 0; k < Number(n); k += 1) {
  const a = Math.floor(random() * models.length);
  let b = Math.floor(random() * (models.length - 1));
  if (b >= a) b += 1;
  const p = 1 / (1 + 10 ** ((truth[b] - truth[a]) / 400));
  const u = random();
  const winner = u < 0.3 ? 'tie' : random() < p ? 'model_a' : 'model_b';
  chunk += `{"model_a":"${models[a]}","model_b":"${models[b]}","winner":"${winner}"}\n`;
  if (chunk.length > 1 << 20) {
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
    chunk = '';
  }
}
out.end(chunk);
await new Promise((r) => out.on('finish', r));
console.error(`wrote ${n} battles over ${m} models to ${file}`);
