// Small-policy inference in a browser (page or module Worker): load SmolLM2-135M-Instruct from the test server with
// progress, then generate greedily (streaming), cancel a second generation with an AbortSignal, and score. After
// loading, the code fetches `/__loaded__`, a marker, so the runner (tests/js/privacy.mjs) can check that nothing
// after it touched the network.
import * as arbiter from '../../pkg/index.js';

export async function run() {
  await arbiter.init();
  let loaded = 0;
  const model = await arbiter.Llama.load(new URL('/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf', location.href), {
    onProgress: (p) => { loaded = p.loaded; },
  });
  await fetch(new URL('/__loaded__', location.href)).catch(() => {});
  const pieces = [];
  const generation = model.generate([{ role: 'user', content: 'Extract the name of the vendor from the invoice: PURCHASE #0521 NIKE XXX3846. Reply with only the name.' }], { maxTokens: 16 });
  for await (const { text } of generation) pieces.push(text);
  const result = await generation.result;
  const controller = new AbortController();
  let abortedWith = null;
  try {
    for await (const _ of model.generate('Tell me a long story.', { maxTokens: 64, signal: controller.signal })) {
      controller.abort();
    }
  } catch (e) {
    abortedWith = e.name;
  }
  const scored = await model.logprobs('Name three colors.', '1. Red\n2. Blue\n3. Green');
  model.free();
  return {
    loaded,
    streamed: pieces.join(''),
    text: result.text,
    tokens: Array.from(result.tokens),
    finish: result.finish,
    abortedWith,
    logprob: scored.total,
    scoredTokens: scored.tokens.length,
  };
}

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope && import.meta.url.endsWith('?worker')) {
  run().then((r) => self.postMessage(r), (e) => self.postMessage({ error: String(e?.stack ?? e) }));
}
