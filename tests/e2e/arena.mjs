// End-to-end tests of the arena page in www/: headless Chromium (WebGPU on SwiftShader, and once without WebGPU)
// loads it from a 127.0.0.1 server. Every request the browser makes is recorded and must stay on that server.
// Screenshots go to tests/out/arena-*.png. The page's own timings (interactive, leaderboard refresh after a vote,
// judge prediction) are printed, not asserted tightly: they depend on the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { chromium } from 'playwright-core';
import { serve } from '../../scripts/serve.mjs';
import { launch, CHROMIUM_ARGS } from '../js/chromium.mjs';

const out = new URL('../out/', import.meta.url);
await mkdir(out, { recursive: true });
const shot = (page, name) => page.screenshot({ path: new URL(`arena-${name}.png`, out).pathname, fullPage: true });

/** A fresh profile (its own IndexedDB) that records requests leaving `server` and page errors. */
async function profile(browser, server) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
  const foreign = [];
  const errors = [];
  context.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(`${server.url}/`) && !url.startsWith('blob:') && !url.startsWith('data:')) foreign.push(url);
  });
  const open = async (query = '') => {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss(); });
    await page.goto(`${server.url}/www/${query}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 }).catch(async (e) => {
      throw new Error(`${e.message}\nstatus: ${await page.textContent('#status')}\nerrors: ${errors.join('\n')}`);
    });
    return page;
  };
  return { context, foreign, errors, open };
}

/** Runs `body(me, another)` in a fresh profile `me` of a browser that `start` launches, on a fresh 127.0.0.1 server;
 * `another()` opens a second profile there. Closes both after. */
async function browse(body, start = launch) {
  const server = await serve(0);
  const browser = await start();
  try {
    await body(await profile(browser, server), () => profile(browser, server));
  } finally {
    await browser.close();
    await server.close();
  }
}

const votesStored = (page) => page.evaluate(() => Number(document.body.dataset.votes));
const boardBattles = (page, n) => page.waitForFunction((k) => document.body.dataset.boardBattles === String(k), n, { timeout: 30_000 });
const labels = (page, chart) => page.locator(`#${chart} .label`).allTextContents();

async function exportVotes(page) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  return readFile(await download.path(), 'utf8');
}

// One vote by keyboard only: a digit votes, then N or Enter shows the next battle.
async function keyboardVote(page, i) {
  await page.waitForSelector('body[data-judge="ready"]', { timeout: 30_000 });
  const before = await votesStored(page);
  await page.keyboard.press(['1', '2', '3', '4', 'ArrowLeft', 'ArrowRight'][i % 6]);
  await page.waitForFunction((n) => Number(document.body.dataset.votes) === n + 1, before);
  assert.equal(await page.getAttribute('body', 'data-revealed'), 'true');
  const names = [await page.textContent('#name-a'), await page.textContent('#name-b')];
  assert.ok(names.every((n) => n.startsWith('· ') && n.length > 2), 'identities are revealed after the vote');
  return names;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('20 keyboard votes survive a reload and a killed tab; the leaderboard follows; export → import is lossless', async () => {
  await browse(async (me, another) => {
    const started = Date.now();
    let page = await me.open();
    const loadMs = Date.now() - started;
    await page.waitForSelector('body[data-path]');
    assert.match(await page.textContent('#path'), /^Compute: (CPU path|WebGPU) \(/);
    assert.match(await page.textContent('footer'), /LLMFAO.*CC BY 4\.0/s);
    assert.equal(await page.textContent('#name-a'), '', 'identities are hidden before the vote');
    assert.equal(await page.inputValue('#sampler'), 'information-gain', 'the information-gain sampler by default');
    await shot(page, 'battle');

    let last = null;
    let firstBoard = null;
    for (let i = 0; i < 20; i += 1) {
      const names = await keyboardVote(page, i);
      const pair = [...names].sort().join(' | ');
      assert.notEqual(pair, last, 'the same pair is never shown twice in a row');
      last = pair;
      await boardBattles(page, i + 1);
      if (i === 0) firstBoard = await labels(page, 'chart-bt');
      if (i === 4) await shot(page, 'revealed');
      if (i === 9) {
        await page.selectOption('#sampler', 'uniform');
        await page.locator('#sampler').blur();
      }
      await page.keyboard.press(i % 2 ? 'n' : 'Enter');
      await page.waitForSelector('body[data-revealed="false"]');
    }
    assert.equal(await votesStored(page), 20);
    assert.notDeepEqual(await labels(page, 'chart-bt'), firstBoard, 'the leaderboard changed with the votes');
    assert.match(await page.textContent('#judge-agreement'), /Reward model agrees with you on \d+ of \d+/);
    const timings = await page.evaluate(() => window.arena.timings);

    // Reload: the votes and the leaderboard are back.
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await votesStored(page), 20);
    await boardBattles(page, 20);
    assert.equal(await page.inputValue('#sampler'), 'uniform', 'the sampler choice is kept');

    // A vote, then the tab is killed the moment the page confirms it: the vote is on disk.
    await keyboardVote(page, 0);
    await page.close({ runBeforeUnload: false });
    page = await me.open();
    assert.equal(await votesStored(page), 21);
    await boardBattles(page, 21);

    // The crowd, style control and the tie model.
    await page.selectOption('#scope', 'crowd');
    await page.check('#style');
    await page.waitForFunction(() => /style control/.test(document.getElementById('bt-caption').textContent), null, { timeout: 30_000 });
    await boardBattles(page, 8931 + 21);
    assert.equal(await labels(page, 'chart-bt').then((l) => l.length), 20);
    assert.ok(await page.locator('#chart-bt .whisker').count() >= 15, 'interval whiskers');
    assert.ok(await page.locator('#chart-nash .bar').count() >= 1, 'a Nash mixture');
    assert.equal(await page.locator('#chart-heat rect').count(), 15 * 15, 'a 15 × 15 heatmap');
    await shot(page, 'crowd');
    await page.selectOption('#ties', 'davidson');
    await page.waitForFunction(() => /Davidson/.test(document.getElementById('bt-caption').textContent));

    // Export, import into a fresh profile, export again: the same bytes.
    const exported = await exportVotes(page);
    assert.equal(exported.trim().split('\n').length, 21);
    for (const line of exported.trim().split('\n')) {
      const v = JSON.parse(line);
      assert.ok(['model_a', 'model_b', 'tie', 'tie (bothbad)'].includes(v.winner));
      assert.ok(v.question_id && v.model_a && v.model_b && v.tstamp && v.conversation_a && v.conversation_b);
    }
    const fresh = await another();
    const other = await fresh.open();
    assert.equal(await votesStored(other), 0);
    await other.setInputFiles('#import-votes', { name: 'votes.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(exported) });
    await other.waitForFunction(() => document.body.dataset.votes === '21');
    await boardBattles(other, 21);
    assert.equal(await other.isHidden('#error'), true, await other.textContent('#error'));
    assert.equal(await exportVotes(other), exported);

    assert.deepEqual([...me.foreign, ...fresh.foreign], [], 'no request leaves the page');
    assert.deepEqual([...me.errors, ...fresh.errors], []);
    const stats = (xs) => `median ${median(xs).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms (n = ${xs.length})`;
    console.log(`timings: page interactive ${timings.interactive.toFixed(0)} ms after navigation (test side: ${loadMs} ms to ready); `
      + `vote on disk ${stats(timings.save)}; leaderboard redrawn after a vote (from the keypress's vote handler) ${stats(timings.refresh)}, `
      + `of which the worker's computation ${stats(timings.worker)}; `
      + `judge prediction ${stats(timings.judge)}`);
  });
});

const HOSTILE_IMG = '<img src=x onerror="window.__xss=1">';
const HOSTILE_SCRIPT = '<script>window.__xss=2</script>';

test('untrusted text (pool prompts, responses, model names, imported votes) is rendered as text', async () => {
  await browse(async (me) => {
    const page = await me.open();
    const pool = [HOSTILE_IMG, HOSTILE_SCRIPT].flatMap((model, m) => [0, 1].map((p) => JSON.stringify({
      prompt: `prompt ${p} ${HOSTILE_SCRIPT}`, model, response: `${m ? HOSTILE_SCRIPT : HOSTILE_IMG} answer ${p}`,
    })));
    pool.push(JSON.stringify({ prompt: `prompt 0 ${HOSTILE_SCRIPT}`, model: 'plain', response: HOSTILE_IMG }));
    await page.setInputFiles('#import-pool', { name: 'hostile.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(pool.join('\n')) });
    await page.waitForFunction(() => document.getElementById('battle-meta').textContent.startsWith('hostile.jsonl'));
    assert.match(await page.textContent('#prompt'), /<script>window.__xss=2<\/script>/);
    const responses = `${await page.textContent('#response-a')} ${await page.textContent('#response-b')}`;
    assert.ok(responses.includes('<img src=x') || responses.includes('<script>'), 'the hostile responses are shown as text');
    await keyboardVote(page, 0);
    await boardBattles(page, 1);
    const names = `${await page.textContent('#name-a')} ${await page.textContent('#name-b')}`;
    assert.ok(names.includes(HOSTILE_IMG) || names.includes(HOSTILE_SCRIPT));
    // Votes whose model names are markup, imported.
    const votes = [HOSTILE_IMG, HOSTILE_SCRIPT].map((m, i) => JSON.stringify({ question_id: `x${i}`, model_a: m, model_b: 'plain', winner: 'model_a', tstamp: 1 + i }));
    await page.setInputFiles('#import-votes', { name: 'votes.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(votes.join('\n')) });
    await page.waitForFunction(() => document.body.dataset.votes === '3');
    await boardBattles(page, 3);
    assert.equal(await page.isHidden('#error'), true, await page.textContent('#error'));
    const chartText = (await labels(page, 'chart-bt')).join('\n');
    assert.ok(chartText.includes('<img src=x') && chartText.includes('<script>'), 'model names in the chart are text');
    // Style control needs the texts: the imported votes without them are left out, with a warning (as text).
    await page.check('#style');
    await page.waitForFunction(() => /left out/.test(document.getElementById('warnings').textContent));
    assert.match(await page.textContent('#warnings'), /<img src=x|<script>/);
    assert.equal(await page.locator('main img, main script, main iframe').count(), 0, 'no element was created from the text');
    assert.equal(await page.evaluate(() => window.__xss ?? null), null, 'no injected code ran');
    await shot(page, 'xss');
    assert.deepEqual(me.foreign, []);
    assert.deepEqual(me.errors, []);
  });
});

test('without WebGPU the CPU path runs and says so; without the reward model the page says the judge is off', async () => {
  const noWebGpu = () => chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true,
    args: CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'),
  });
  await browse(async (me) => {
    await me.context.route('**/www/data/llmfao-judge.json', (route) => route.fulfill({ status: 404, body: 'not found' }));
    const page = await me.open();
    await page.waitForSelector('body[data-path]');
    await page.waitForFunction(() => /local judge: off/.test(document.getElementById('judge-note').textContent));
    assert.equal(await page.textContent('#path'), 'Compute: CPU path (this browser offers no WebGPU).');
    assert.equal(await page.getAttribute('body', 'data-path'), 'cpu');
    await page.click('[data-vote="model_b"]');
    await boardBattles(page, 1);
    assert.equal(await page.textContent('#judge-prediction'), 'Judge: off');
    assert.match(await page.textContent('#board-meta'), /cpu/);
    await shot(page, 'cpu');
    const missing = (e) => /status of 404/.test(e); // the judge's file, withheld above
    assert.deepEqual(me.errors.filter((e) => !missing(e)), []);
    // The page's CSP refuses any other origin, even to the page's own scripts: no request is made.
    const refused = await page.evaluate(() => fetch('http://192.0.2.1/beacon').then(() => false, () => true));
    assert.ok(refused, 'a request to another origin is refused');
    const blocked = me.errors.filter((e) => !missing(e));
    assert.ok(blocked.length > 0 && blocked.every((e) => /Content Security Policy/.test(e)), blocked.join('\n'));
    assert.deepEqual(me.foreign, []);
  }, noWebGpu);
});

const SMOLLM = `${process.env.ARBITER_MODELS ?? `${homedir()}/.cache/arbiter/models`}/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf`;

test('the local contestant (SmolLM2) streams its answer in the page, then takes part in the vote', { skip: !existsSync(SMOLLM) && 'SmolLM2 not installed (scripts/setup.sh)' }, async () => {
  await browse(async (me) => {
    const page = await me.open();
    await page.check('#local');
    await page.waitForSelector('body[data-streaming="a"], body[data-streaming="b"]', { timeout: 60_000 });
    assert.match(await page.textContent('#local-status'), /^ready \(cpu\)/, 'a software adapter leaves it on the CPU');
    const local = await page.getAttribute('body', 'data-streaming');
    await page.waitForFunction((s) => document.getElementById(`response-${s}`).textContent.length > 0, local, { timeout: 60_000 });
    const early = (await page.textContent(`#response-${local}`)).length;
    assert.ok(await page.isDisabled('[data-vote="model_a"]'), 'no vote while the answer is being written');
    await shot(page, 'local-streaming');
    await page.waitForSelector('body[data-streaming="false"]', { timeout: 180_000 });
    const text = await page.textContent(`#response-${local}`);
    assert.ok(text.length > early && text.length > 20, `the answer grew while streaming (${early} → ${text.length} characters)`);
    await page.waitForSelector('body[data-judge="ready"]', { timeout: 60_000 });
    await page.keyboard.press(local === 'a' ? '1' : '2');
    await page.waitForSelector('body[data-revealed="true"]');
    assert.equal(await page.textContent(`#name-${local}`), '· SmolLM2-135M-Instruct (local)');
    await boardBattles(page, 1);
    assert.ok((await labels(page, 'chart-bt')).some((l) => l.includes('SmolLM2')));
    const [vote] = (await exportVotes(page)).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(vote[`conversation_${local}`][1].content, text, 'the vote keeps the generated answer');
    assert.ok(vote.predictions?.reward, 'the judge predicted this battle too (embedding the new answer in the page)');
    await shot(page, 'local-voted');
    assert.deepEqual(me.foreign, []);
    assert.deepEqual(me.errors, []);
  });
});

// ?device=gpu puts the local contestant on any WebGPU adapter, SwiftShader's here (slow: only its first tokens are
// awaited). tests/js/llama.mjs checks that the WGSL path computes the CPU's tokens.
test('with ?device=gpu the local contestant runs on WebGPU and streams its answer; an unknown device is refused', { skip: !existsSync(SMOLLM) && 'SmolLM2 not installed (scripts/setup.sh)' }, async () => {
  await browse(async (me) => {
    const wrong = await me.open('?device=tpu');
    await wrong.check('#local');
    await wrong.waitForFunction(() => /^unavailable/.test(document.getElementById('local-status').textContent));
    assert.equal(await wrong.textContent('#local-status'), 'unavailable (device must be auto, gpu or cpu, not "tpu")');
    assert.equal(await wrong.isChecked('#local'), false);
    await wrong.close();
    const page = await me.open('?device=gpu');
    await page.check('#local');
    await page.waitForSelector('body[data-streaming="a"], body[data-streaming="b"]', { timeout: 120_000 });
    assert.match(await page.textContent('#local-status'), /^ready \(gpu: /);
    const local = await page.getAttribute('body', 'data-streaming');
    await page.waitForFunction((s) => document.getElementById(`response-${s}`).textContent.length > 0, local, { timeout: 300_000 });
    await shot(page, 'local-gpu');
    assert.deepEqual(me.foreign, []);
    assert.deepEqual(me.errors, []);
  });
});
