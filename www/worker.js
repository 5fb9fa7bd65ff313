// The leaderboard worker: keeps the user's votes (and the LLMFAO crowd's) as arbiter Battles and recomputes every
// board after each change, off the page's thread. Messages in:
//   { type: 'reset', votes }      all of the user's votes (LMArena records), e.g. after a load or an import
//   { type: 'add', vote }         one new vote
//   { type: 'options', options }  { crowd: bool, style: bool, ties: 'half' | 'davidson' | 'rao-kupper' }
// Message out: { type: 'board', id, ms, ... } (see compute), or { type: 'error', message }.
import { init, Battles, rankSync, davidson, raoKupper, nash } from '../pkg/index.js';

const ready = init();
const crowdText = fetch('data/llmfao-crowd.jsonl').then((r) => r.text());
let votes = [];
let options = { crowd: false, style: false, ties: 'half' };
// Parsed battles for the current `style` flag, each parsed when first needed and then grown by append: `mine` (the
// user's votes) and `all` (the crowd's and the user's). A parse of the crowd costs ~100 ms, an append well under 1 ms.
let sets = { mine: null, all: null };
let pending = null;
let generation = 0;

const line = (v) => JSON.stringify(v);
// Style control needs each battle's texts: votes without them are skipped (and counted in the warnings).
const parseOptions = () => ({ style: options.style, skipInvalid: true });

function free() {
  sets.mine?.free();
  sets.all?.free();
  sets = { mine: null, all: null };
}

async function current() {
  const key = options.crowd ? 'all' : 'mine';
  await ready;
  if (!sets[key]) {
    const text = (options.crowd ? await crowdText : '') + votes.map(line).join('\n');
    if (!sets[key] && text) sets[key] = Battles.parse(text, parseOptions()); // (another refresh may have parsed it meanwhile)
  }
  return sets[key];
}

function append(vote) {
  for (const battles of [sets.mine, sets.all]) battles?.append(line(vote), parseOptions());
}

// Every board of one battle set. BT gets sandwich intervals (exact, milliseconds; the bootstrap would take seconds)
// and the matrices for the heatmap; the tie models replace the BT rows when chosen (they have no intervals).
function compute(battles) {
  const style = options.style ? 'fastchat' : undefined;
  const bt = rankSync(battles, { ci: 'sandwich', matrices: true, style });
  const ties = options.ties === 'davidson' ? davidson(battles) : options.ties === 'rao-kupper' ? raoKupper(battles) : null;
  const lottery = nash(battles);
  return {
    battles: battles.total,
    bt: {
      rows: ties
        ? ties.models.map((m) => ({ model: m.model, rating: m.rating, lower: m.rating, upper: m.rating, identified: m.identified }))
        : bt.models.map(({ model, rating, lower, upper, identified }) => ({ model, rating, lower, upper, identified })),
      method: ties ? ties.method : style ? `bt + style (${style})` : 'bt',
      tie: ties?.tie ?? null,
      coefficients: bt.coefficients,
      warnings: [
        ...(battles.skipped.length ? [`${battles.skipped.length} votes without their responses are left out (style control needs the texts)`] : []),
        ...bt.warnings, ...(ties?.warnings ?? []),
      ],
      device: bt.device,
    },
    elo: rankSync(battles, { method: 'elo' }).models.map(({ model, rating }) => ({ model, rating })),
    nash: { rows: lottery.models.map(({ model, probability }) => ({ model, probability })), unique: lottery.unique },
    matrices: bt.matrices,
  };
}

async function refresh(id) {
  const started = performance.now();
  const battles = await current();
  if (id !== generation) return; // a newer request superseded this one
  if (!battles?.length) {
    postMessage({ type: 'board', id, empty: true, ms: performance.now() - started, options });
    return;
  }
  postMessage({ type: 'board', id, ...compute(battles), ms: performance.now() - started, options });
}

onmessage = (e) => {
  const msg = e.data;
  try {
    if (msg.type === 'reset') {
      votes = msg.votes;
      free();
    } else if (msg.type === 'add') {
      votes.push(msg.vote);
      append(msg.vote);
    } else if (msg.type === 'options') {
      if (msg.options.style !== options.style) free();
      options = msg.options;
    }
  } catch (err) {
    postMessage({ type: 'error', message: err.code ? `${err.code}: ${err.message}` : String(err) });
    return;
  }
  // Coalesce bursts (an import, a fast voter): one refresh after the current task.
  generation += 1;
  const id = generation;
  clearTimeout(pending);
  pending = setTimeout(() => refresh(id).catch((err) => postMessage({ type: 'error', id, message: err.code ? `${err.code}: ${err.message}` : String(err) })));
};
