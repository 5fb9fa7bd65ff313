// End-to-end test of the page in www/: headless Chromium (WebGPU on SwiftShader) loads it from a 127.0.0.1 server,
// the LLMFAO leaderboard renders with "GPT 4" first, a user's file replaces it, and no request leaves the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { serve } from '../../scripts/serve.mjs';
import { launch } from '../js/chromium.mjs';

const out = new URL('../out/', import.meta.url);
await mkdir(out, { recursive: true });

test('the LLMFAO leaderboard renders in the browser with GPT 4 first', async () => {
  const server = await serve(0);
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1600 } });
    const foreign = [];
    const errors = [];
    page.on('request', (r) => { if (!r.url().startsWith(server.url)) foreign.push(r.url()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${server.url}/www/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    const first = await page.textContent('#board tbody tr:first-child td:nth-child(2)');
    assert.equal(first, 'GPT 4');
    assert.equal(await page.locator('#board tbody tr').count(), 59);
    assert.equal(await page.locator('#chart .whisker').count(), 59);
    const device = await page.textContent('#device');
    assert.match(device, /device: /);
    await page.screenshot({ path: new URL('page.png', out).pathname, fullPage: false });

    // A user's own file, with hostile model names rendered as text.
    await page.evaluate(() => { document.body.dataset.ready = 'false'; });
    await page.setInputFiles('#file', {
      name: 'mine.jsonl',
      mimeType: 'application/x-ndjson',
      buffer: Buffer.from([
        '{"model_a":"<img src=x onerror=alert(1)>","model_b":"b","winner":"model_a"}',
        '{"model_a":"b","model_b":"<img src=x onerror=alert(1)>","winner":"model_a"}',
        '{"model_a":"<img src=x onerror=alert(1)>","model_b":"b","winner":"model_a"}',
      ].join('\n')),
    });
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    assert.equal(await page.locator('#board tbody tr').count(), 2);
    assert.equal(await page.locator('#board img').count(), 0);
    assert.equal(await page.textContent('#board tbody tr:first-child td:nth-child(2)'), '<img src=x onerror=alert(1)>');
    assert.deepEqual(foreign, []);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
  }
});
