// Runs tests/js/suite.mjs in Node against the built package in pkg/.
import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import * as arbiter from '../../pkg/index.js';
import { tests } from './suite.mjs';

const root = new URL('../../', import.meta.url);
const env = { arbiter, load: (path) => readFile(new URL(path, root), 'utf8') };

for (const [name, fn] of tests) {
  test(name, async () => {
    await arbiter.init();
    await fn(env);
  });
}
