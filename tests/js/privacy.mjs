// Privacy of the local models in headless Chromium (a page and a module Worker): once a model's bytes are loaded,
// embedding, fitting and scoring (MiniLM), and generating and scoring text (SmolLM2) make no network request. Every request the browser makes is recorded;
// the run fetches a marker (`/__loaded__`) right after loading, and nothing may follow it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../../scripts/serve.mjs';
import { launch } from './chromium.mjs';

const server = await serve(0);
const browser = await launch();

/** Runs tests/js/<run>-run.mjs in a page or a Worker: its result and the path of every request, in order. */
async function open(run, mode) {
  const page = await browser.newPage();
  const requests = [];
  page.on('request', (r) => requests.push(new URL(r.url()).pathname));
  page.on('pageerror', (e) => requests.push(`pageerror: ${e}`));
  await page.goto(`${server.url}/tests/js/local.html?run=${run}&mode=${mode}`);
  await page.waitForFunction(() => window.__results !== undefined, null, { timeout: 300_000 });
  const r = await page.evaluate(() => window.__results);
  await page.close();
  return { r, requests };
}

/** The recording sees this runtime's requests (the model files), then the marker, then nothing. */
function nothingAfterLoading(requests, file) {
  assert.ok(requests.includes(file), `requests seen: ${requests}`);
  const marker = requests.indexOf('/__loaded__');
  assert.ok(marker >= 0, 'the marker was recorded');
  assert.deepEqual(requests.slice(marker + 1), [], 'requests after the model was loaded');
}

try {
  for (const mode of ['page', 'worker']) {
    test(`[chromium ${mode}] embedding, fitting and scoring make no request after the model is loaded`, async () => {
      const { r, requests } = await open('reward', mode);
      assert.equal(r.error, undefined, r.error);
      assert.equal(r.dimension, 384);
      assert.equal(r.device, 'cpu');
      assert.ok(r.files.includes('model.safetensors'), `progress for ${r.files}`);
      assert.ok(r.scores.every(Number.isFinite) && r.personal.every(Number.isFinite), 'finite scores');
      assert.ok(r.accuracy === 1, `the head fits its votes (${r.accuracy})`);
      assert.ok(![2, 5].includes(r.best), `best-of-N picks a substantive answer, not ${r.best}`);
      nothingAfterLoading(requests, '/models/all-MiniLM-L6-v2/model.safetensors');
    });
  }
  // SmolLM2 in a Worker, where an app runs it (the page stays responsive); 98 MB of weights, so one runtime only.
  test('[chromium worker] SmolLM2 generates, streams, cancels and scores without a request after loading', async () => {
    const { r, requests } = await open('llama', 'worker');
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.loaded, 98_362_432, 'progress reached the whole file');
    assert.equal(r.text, 'The name of the vendor is **Mike**', 'llama.cpp\'s answer');
    assert.equal(r.streamed, r.text, 'the streamed pieces make the text');
    assert.equal(r.finish, 'eos');
    assert.equal(r.tokens.at(-1), 2, 'ends with <|im_end|>');
    assert.equal(r.abortedWith, 'AbortError');
    assert.ok(Number.isFinite(r.logprob) && r.logprob < 0 && r.scoredTokens === 11, `logprob ${r.logprob}`);
    nothingAfterLoading(requests, '/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf');
  });
} finally {
  test.after(async () => {
    await browser.close();
    await server.close();
  });
}
