// The local judge: a reward model (MiniLM sentence embeddings + a linear head fitted on the LLMFAO crowd, made by
// scripts/make-demo-data.mjs) predicts each battle's winner before the vote, and a personal model (PAL-A, the crowd's
// prototypes with this user's own weights, refitted with fitRewardUser after every vote) does the same.
// Embeddings of the default pool come precomputed (www/data/llmfao-minilm.f32); other texts are embedded in the
// page with the encoder served at /models/all-MiniLM-L6-v2/ (scripts/setup.sh), when it is there.
import { Encoder, rewardScores, fitRewardUser } from '../pkg/index.js';

const USER = 'me';
const SCORE = { model_a: 1, model_b: 0, tie: 0.5, 'tie (bothbad)': 0.5 };
const lastAssistant = (conv) => conv.filter((m) => m.role === 'assistant').at(-1)?.content ?? '';

export class Judge {
  #head = null;
  #pal = null;
  #personal = null;
  #cache = new Map(); // text → embedding
  #encoder = null;
  #gpu = null;
  /** A line for the page: what the judge is and where it runs, or why there is none. */
  note = 'local judge: loading…';

  /** `pool`: the default pool as www/data/llmfao-pool.json has it (its responses, in the embeddings' order). */
  static async load(gpu, pool) {
    const judge = new Judge();
    judge.#gpu = gpu;
    try {
      const [model, vectors] = await Promise.all([
        fetch('data/llmfao-judge.json').then((r) => (r.ok ? r.json() : null)),
        fetch('data/llmfao-minilm.f32').then((r) => (r.ok ? r.arrayBuffer() : null)),
      ]);
      if (!model || !vectors) {
        judge.note = 'local judge: off (no reward model; run scripts/setup.sh, then node scripts/make-demo-data.mjs)';
        return judge;
      }
      judge.#head = model.head;
      judge.#pal = model.pal;
      const all = new Float32Array(vectors);
      const dim = all.length / pool.responses.length;
      pool.responses.forEach(([, , text], i) => judge.#cache.set(text, all.subarray(i * dim, (i + 1) * dim)));
      judge.note = `local judge: ${model.encoder} + a reward head fitted on the LLMFAO crowd; personal model: PAL-A adapted to your votes`;
    } catch (e) {
      judge.note = `local judge: off (${e.message})`;
    }
    return judge;
  }

  get ready() {
    return this.#head !== null;
  }

  // Embeddings of texts, from the cache or the encoder (loaded on first need; null when it cannot be had).
  async #embed(texts) {
    const missing = [...new Set(texts.filter((t) => !this.#cache.has(t)))];
    if (missing.length) {
      this.#encoder ??= Encoder.load(new URL('/models/all-MiniLM-L6-v2/', location.href), { gpu: this.#gpu?.isSoftware ? null : this.#gpu }).catch((e) => {
        this.note = `local judge: only for the LLMFAO pool (the encoder for other texts did not load: ${e.message})`;
        return null;
      });
      const encoder = await this.#encoder;
      if (!encoder) return null;
      const { embeddings } = await encoder.embed(missing);
      missing.forEach((t, i) => this.#cache.set(t, embeddings[i]));
    }
    return texts.map((t) => this.#cache.get(t));
  }

  /** The predicted winners of a battle: { reward, personal } as 'model_a' / 'model_b', null where unavailable. */
  async predict(responseA, responseB) {
    if (!this.ready) return { reward: null, personal: null };
    const rows = await this.#embed([responseA, responseB]);
    if (!rows) return { reward: null, personal: null };
    const pick = (s) => (s[0] >= s[1] ? 'model_a' : 'model_b');
    return {
      reward: pick(rewardScores(this.#head, rows)),
      personal: this.#personal ? pick(rewardScores(this.#personal, rows, { user: USER })) : null,
    };
  }

  /** Refits the personal model on the user's votes that carry their conversations (LMArena records). */
  async learn(all) {
    const votes = all.filter((v) => Array.isArray(v.conversation_a) && Array.isArray(v.conversation_b));
    if (!this.ready || !votes.length) {
      this.#personal = null;
      return;
    }
    const texts = votes.flatMap((v) => [lastAssistant(v.conversation_a), lastAssistant(v.conversation_b)]);
    const rows = await this.#embed(texts);
    if (!rows) return;
    const pairs = votes.map((v, i) => ({ a: 2 * i, b: 2 * i + 1, score: SCORE[v.winner] }));
    this.#personal = fitRewardUser(this.#pal, USER, rows, pairs).head;
  }
}

/** Running agreement of a judge with the user on decisive votes: { agree, of } (ties and both-bad left out). */
export function agreement(votes, key) {
  let agree = 0;
  let of = 0;
  for (const v of votes) {
    const guess = v.predictions?.[key];
    if (!guess || (v.winner !== 'model_a' && v.winner !== 'model_b')) continue;
    of += 1;
    if (guess === v.winner) agree += 1;
  }
  return { agree, of };
}
