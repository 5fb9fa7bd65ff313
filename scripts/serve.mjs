// A static file server for tests and the demo, bound to 127.0.0.1 only. It serves the repository at `/`, the
// shared data beside it (../shared) at `/shared/`, and the model cache (ARBITER_MODELS, default
// ~/.cache/arbiter/models, filled by scripts/setup.sh) at `/models/`, so pages and test suites can reach all three.
// CLI: node scripts/serve.mjs [port]   (prints the URL)
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { homedir } from 'node:os';

const repo = resolve(fileURLToPath(new URL('..', import.meta.url)));
const shared = resolve(repo, '../shared');
const models = resolve(process.env.ARBITER_MODELS ?? join(homedir(), '.cache/arbiter/models'));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.jsonl': 'application/x-ndjson; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
  '.d.ts': 'text/plain; charset=utf-8',
};

function locate(urlPath) {
  const path = normalize(decodeURIComponent(urlPath.split('?')[0]));
  const mounts = [['/shared/', shared], ['/models/', models]];
  const [prefix, base] = mounts.find(([p]) => path.startsWith(p)) ?? ['/', repo];
  const rest = path.slice(prefix.length);
  const file = resolve(base, rest);
  return file.startsWith(base) ? file : null;
}

/** Starts the server; resolves to { url, close() }. `port` 0 picks a free port. */
export function serve(port = 0, { headers = {} } = {}) {
  const server = createServer(async (req, res) => {
    let file = locate(req.url ?? '/');
    try {
      if (!file) throw new Error('outside');
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store', ...headers });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((ok) => {
    server.listen(port, '127.0.0.1', () => {
      const { port: p } = server.address();
      ok({ url: `http://127.0.0.1:${p}`, close: () => new Promise((done) => server.close(done)) });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { url } = await serve(Number(process.argv[2] ?? 8080));
  console.log(`serving ${repo} on ${url}`);
}
