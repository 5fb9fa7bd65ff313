// Local reward scoring in a browser (page or module Worker): load all-MiniLM-L6-v2 from the test server, then embed,
// fit and score. After loading, the code fetches `/__loaded__`, a marker, so the runner (tests/js/privacy.mjs) can
// check that nothing after it touched the network.
import * as arbiter from '../../pkg/index.js';

const TEXTS = [
  'Kubernetes: containers set free, / yet its complexity / is the price we pay.',
  'Kubernetes is a container orchestration system. It is flexible but complex.',
  'I do not know.',
  'Quantum field theory says every particle is a ripple in a field that fills space.',
  'Fields everywhere; particles are their excitations, created and destroyed in interactions.',
  'Physics is hard.',
];

export async function run() {
  await arbiter.init();
  const files = [];
  const encoder = await arbiter.Encoder.load(new URL('/models/all-MiniLM-L6-v2/', location.href), {
    onProgress: ({ file }) => { if (!files.includes(file)) files.push(file); },
  });
  await fetch(new URL('/__loaded__', location.href)).catch(() => {});
  const { embeddings, device } = await encoder.embed(TEXTS);
  // Votes of one user who prefers substance over brevity (rows 2 and 5 are the curt answers).
  const votes = [[0, 2], [1, 2], [3, 5], [4, 5], [0, 5], [3, 2], [1, 5], [4, 2]].map(([a, b]) => ({ a, b, score: 1 }));
  const { head, report } = arbiter.fitRewardHead(embeddings, votes);
  const scores = Array.from(arbiter.rewardScores(head, embeddings));
  const pal = arbiter.fitPal(embeddings, votes.map((v, i) => ({ ...v, user: `u${i % 2}` })), { prototypes: 2, iterations: 100 });
  const mine = arbiter.fitRewardUser(pal.head, 'me', embeddings, votes.slice(0, 4));
  const personal = Array.from(arbiter.rewardScores(mine.head, embeddings, { user: 'me' }));
  const best = arbiter.bestOfN({ rule: 'max', scores }).index;
  encoder.free();
  return { files, device, dimension: embeddings[0].length, scores, personal, best, accuracy: report.train.accuracy };
}

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope && import.meta.url.endsWith('?worker')) {
  run().then((r) => self.postMessage(r), (e) => self.postMessage({ error: String(e?.stack ?? e) }));
}
