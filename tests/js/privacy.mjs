// Privacy of local reward scoring, in headless Chromium (a page and a module Worker): once the model's bytes are
// loaded, embedding, fitting and scoring make no network request. Every request the browser makes is recorded;
// the run fetches a marker (`/__loaded__`) right after loading, and nothing may follow it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serve } from '../../scripts/serve.mjs';
import { launch } from './chromium.mjs';

const server = await serve(0);
const browser = await launch();

try {
  for (const mode of ['page', 'worker']) {
    test(`[chromium ${mode}] embedding, fitting and scoring make no request after the model is loaded`, async () => {
      const page = await browser.newPage();
      const requests = [];
      page.on('request', (r) => requests.push(new URL(r.url()).pathname));
      page.on('pageerror', (e) => requests.push(`pageerror: ${e}`));
      await page.goto(`${server.url}/tests/js/reward.html?mode=${mode}`);
      await page.waitForFunction(() => window.__results !== undefined, null, { timeout: 300_000 });
      const r = await page.evaluate(() => window.__results);
      await page.close();
      assert.equal(r.error, undefined, r.error);
      assert.equal(r.dimension, 384);
      assert.equal(r.device, 'cpu');
      assert.ok(r.files.includes('model.safetensors'), `progress for ${r.files}`);
      assert.ok(r.scores.every(Number.isFinite) && r.personal.every(Number.isFinite), 'finite scores');
      assert.ok(r.accuracy === 1, `the head fits its votes (${r.accuracy})`);
      assert.ok(![2, 5].includes(r.best), `best-of-N picks a substantive answer, not ${r.best}`);
      // The recording sees this runtime's requests (the model files), then the marker, then nothing.
      assert.ok(requests.includes('/models/all-MiniLM-L6-v2/model.safetensors'), `requests seen: ${requests}`);
      const marker = requests.indexOf('/__loaded__');
      assert.ok(marker >= 0, 'the marker was recorded');
      assert.deepEqual(requests.slice(marker + 1), [], 'requests after the model was loaded');
    });
  }
} finally {
  test.after(async () => {
    await browser.close();
    await server.close();
  });
}
