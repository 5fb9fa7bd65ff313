// The vote store: one IndexedDB object store of LMArena battle records keyed by `question_id`. A vote counts as
// saved only when its transaction has committed with strict durability (flushed to disk), so a vote the page
// confirmed survives a reload and a killed tab. Export and import are LMArena JSONL: the stored records, one per
// line, field for field, so export → import → export gives the same bytes.
import { Battles } from '../pkg/index.js';

const DB = 'arbiter-arena';
const STORE = 'votes';

function request(req) {
  return new Promise((ok, fail) => {
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
}

function committed(tx) {
  return new Promise((ok, fail) => {
    tx.oncomplete = () => ok();
    tx.onerror = () => fail(tx.error);
    tx.onabort = () => fail(tx.error ?? new Error('transaction aborted'));
  });
}

export async function openStore() {
  const open = indexedDB.open(DB, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: 'question_id' });
  const db = await request(open);
  const write = async (records) => {
    const tx = db.transaction(STORE, 'readwrite', { durability: 'strict' });
    const store = tx.objectStore(STORE);
    for (const r of records) store.put(r);
    await committed(tx);
  };
  return {
    /** Resolves once the vote is on disk. */
    add: (vote) => write([vote]),
    /** Adds (or replaces, by question_id) many votes in one transaction. */
    putAll: (votes) => write(votes),
    /** Every vote, oldest first. */
    async all() {
      const votes = await request(db.transaction(STORE).objectStore(STORE).getAll());
      return votes.sort((a, b) => a.tstamp - b.tstamp || (a.question_id < b.question_id ? -1 : 1));
    },
  };
}

export const WINNERS = ['model_a', 'model_b', 'tie', 'tie (bothbad)'];

export function toJsonl(votes) {
  return votes.map((v) => `${JSON.stringify(v)}\n`).join('');
}

/**
 * Reads LMArena JSONL votes. arbiter's parser checks the battle fields (models, winner label; errors name the
 * line); this adds what the store needs: a string question_id and a numeric tstamp on every line.
 */
export function parseJsonl(text) {
  Battles.parse(text, { format: 'jsonl' }).free();
  const votes = [];
  text.split('\n').forEach((l, i) => {
    if (!l.trim()) return;
    const v = JSON.parse(l);
    if (typeof v.question_id !== 'string' || !v.question_id) throw new Error(`line ${i + 1}: question_id must be a non-empty string`);
    if (typeof v.tstamp !== 'number') throw new Error(`line ${i + 1}: tstamp must be a number`);
    if (!WINNERS.includes(v.winner)) throw new Error(`line ${i + 1}: winner must be one of ${WINNERS.join(', ')}`);
    votes.push(v);
  });
  return votes;
}
