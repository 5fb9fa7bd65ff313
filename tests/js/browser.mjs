// Runs tests/js/suite.mjs in headless Chromium, in a page and in a module Web Worker, and reports like node:test.
import { test } from 'node:test';
import { serve } from '../../scripts/serve.mjs';
import { launch } from './chromium.mjs';

const server = await serve(0);
const browser = await launch();

async function run(mode) {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${server.url}/tests/js/browser.html?mode=${mode}`);
  await page.waitForFunction(() => window.__results !== undefined, null, { timeout: 120_000 });
  const results = await page.evaluate(() => window.__results);
  await page.close();
  return { ...results, errors };
}

try {
  for (const mode of ['page', 'worker']) {
    const { passed, failed, errors } = await run(mode);
    for (const name of passed) test(`[chromium ${mode}] ${name}`, () => {});
    for (const { name, error } of failed) {
      test(`[chromium ${mode}] ${name}`, () => { throw new Error(error); });
    }
    if (errors.length) test(`[chromium ${mode}] no page errors`, () => { throw new Error(errors.join('\n')); });
  }
} finally {
  await browser.close();
  await server.close();
}
