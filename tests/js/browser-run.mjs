// Runs the suite in a page or, when loaded as a module worker (`?worker`), inside the worker.
import * as arbiter from '../../pkg/index.js';
import { tests } from './suite.mjs';

const root = new URL('../../', import.meta.url);

export async function runSuite() {
  const env = {
    arbiter,
    load: async (path) => {
      const res = await fetch(new URL(path.startsWith('../shared/') ? path.slice(2) : path, root));
      if (!res.ok) throw new Error(`cannot load ${path}: ${res.status}`);
      return res.text();
    },
  };
  const passed = [];
  const failed = [];
  await arbiter.init();
  for (const [name, fn] of tests) {
    try {
      await fn(env);
      passed.push(name);
    } catch (e) {
      failed.push({ name, error: String(e?.stack ?? e) });
    }
  }
  return { passed, failed };
}

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope && import.meta.url.endsWith('?worker')) {
  runSuite().then((r) => self.postMessage(r), (e) => self.postMessage({ passed: [], failed: [{ name: 'suite', error: String(e) }] }));
}
