// arbiter: the public JS API. A thin layer over the wasm-bindgen module in ./wasm: it loads the module once,
// accepts strings or bytes, turns long computations into Promises with progress and cancellation, and returns plain
// objects. Types and documentation: index.d.ts.
import initWasm, {
  RawBattles, RawGpu, RawRanking, RawPairSampler, rawAnalyze, rawPlackettLuce, rawJudgeAgreement, rawNetWinScore,
  rawDawidSkene, rawPreferenceStrength, rawWengLinRate, rawNashMatrix, rawSimulateSampling, rawPreferenceMatrix, RawPopulation, RawEncoder,
  RawLlama, RawBytes, rawRewardScores, rawRewardPreferences, rawFitRewardHead, rawFitRewardUser, rawFitPal, rawBestOfN, rawMapPalette,
} from './wasm/arbiter.js';

let ready = null;
let loaded = false;
let exports = null;

const isNode = typeof process === 'object' && process !== null && typeof process.versions?.node === 'string';

/**
 * Loads the wasm module. Idempotent: every call returns the same Promise. In Node the module is read from disk; in a
 * page or worker it is fetched next to this file unless `input` (URL, Response, bytes or WebAssembly.Module) is given.
 */
export function init(input) {
  if (!ready) {
    ready = (async () => {
      let source = input;
      if (source === undefined && isNode) {
        const { readFile } = await import('node:fs/promises');
        source = await readFile(new URL('./wasm/arbiter_bg.wasm', import.meta.url));
      }
      exports = await initWasm(source === undefined ? undefined : { module_or_path: source });
      loaded = true;
    })();
    ready.catch(() => { ready = null; });
  }
  return ready;
}

/** Bytes of wasm memory arbiter holds (it grows as needed and is not returned to the system until the page ends). */
export function memoryBytes() {
  requireInit();
  return exports.memory.buffer.byteLength;
}

function arbiterError(code, message) {
  const err = new Error(message);
  err.name = 'ArbiterError';
  err.code = code;
  return err;
}

function requireInit() {
  if (!loaded) throw arbiterError('NOT_INITIALIZED', 'call `await init()` before using arbiter');
}

const PIECE = 4 << 20;

/** A parsed set of battles. Long-lived: call `free()` when done (or use `using`). */
export class Battles {
  #raw;
  constructor(raw) {
    this.#raw = raw;
  }

  /** Parses LMArena JSON/JSONL, mapped CSV or a counts table, from a string or UTF-8 bytes. */
  static parse(data, options = {}) {
    requireInit();
    if (typeof data === 'string') return new Battles(RawBattles.parse(data, options));
    if (data instanceof Uint8Array) return new Battles(RawBattles.parseBytes(data, options));
    throw arbiterError('INVALID_OPTION', 'invalid argument `data`: expected a string or a Uint8Array');
  }

  /**
   * Parses JSONL battles from a stream of chunks (a `ReadableStream` such as `fetch(url).body`, or any async
   * iterable of strings or bytes) without holding the whole text: records are parsed as whole lines arrive.
   */
  static async parseStream(stream, options = {}) {
    await init();
    const decoder = new TextDecoder();
    let raw = null;
    let carry = '';
    const put = (text) => {
      if (raw === null) raw = RawBattles.parse(text, { ...options, format: 'jsonl' });
      else raw.append(text, { ...options, format: 'jsonl' });
    };
    // A chunk's text is copied into wasm memory, which never shrinks: hand it over in pieces of about 4 MB.
    const take = (text) => {
      let start = 0;
      while (text.length - start > PIECE) {
        const end = text.indexOf('\n', start + PIECE);
        if (end < 0) break;
        put(text.slice(start, end + 1));
        start = end + 1;
      }
      put(start === 0 ? text : text.slice(start));
    };
    try {
      for await (const chunk of stream) {
        const text = carry + (typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
        const end = text.lastIndexOf('\n');
        if (end < 0) {
          carry = text;
          continue;
        }
        take(text.slice(0, end + 1));
        carry = text.slice(end + 1);
      }
      const rest = carry + decoder.decode();
      if (rest.trim() !== '' || raw === null) take(rest);
    } catch (e) {
      raw?.free();
      throw e;
    }
    return new Battles(raw);
  }

  /** Appends JSONL records (whole lines) read with `options` (those of the first parse); all or nothing. */
  append(text, options = {}) {
    this.#live().append(text, { ...options, format: 'jsonl' });
  }

  get length() { return this.#live().length; }
  get total() { return this.#live().total; }
  get models() { return this.#live().models; }
  get skipped() { return this.#live().skipped; }
  toJsonl() { return this.#live().toJsonl(); }

  /** Releases the wasm memory. Further use throws. */
  free() {
    if (this.#raw) {
      this.#raw.free();
      this.#raw = null;
    }
  }
  [Symbol.dispose]() { this.free(); }

  /** @internal */
  get raw() { return this.#live(); }

  #live() {
    if (!this.#raw) throw arbiterError('FREED', 'these battles were freed');
    return this.#raw;
  }
}

const JS_ONLY = ['onProgress', 'signal', 'matrices', 'chunkMs', 'gpu'];

function split(options) {
  const core = { ...options };
  for (const key of JS_ONLY) delete core[key];
  return core;
}

function toBattles(battles) {
  if (battles instanceof Battles) return battles.raw;
  throw arbiterError('INVALID_OPTION', 'invalid argument `battles`: expected a Battles object from Battles.parse()');
}

function finish(ranking, options) {
  const board = ranking.leaderboard();
  if (options.matrices) board.matrices = ranking.matrices();
  return board;
}

/** Replaces the CPU predicted matrix by the GPU's; on a GPU failure keeps the CPU result and says so. */
async function predictOnGpu(board, ranking, options) {
  const { gpu, scale = 400, base = 10 } = options;
  if (!gpu || !board.matrices) return board;
  try {
    const flat = await gpu.predicted(ranking.ratingScale(), { scale, base });
    const n = board.matrices.models.length;
    board.matrices.predicted = Array.from({ length: n }, (_, i) => Array.from(flat.subarray(i * n, (i + 1) * n)));
    if (board.device.startsWith('cpu (nothing')) board.device = `gpu: ${gpu.adapter}`;
  } catch (e) {
    board.warnings.push(`the GPU failed (${e.message}); the CPU result is shown`);
  }
  return board;
}

/** A WebGPU device with arbiter's kernels. Long-lived: call `free()` when done. */
export class Gpu {
  #raw;
  constructor(raw) {
    this.#raw = raw;
  }

  /** Resolves to a GPU context, or to `null` where WebGPU or an adapter is unavailable. */
  static async request() {
    await init();
    if (typeof navigator === 'undefined' || !navigator.gpu) return null;
    try {
      return new Gpu(await RawGpu.request());
    } catch {
      return null;
    }
  }

  /** The adapter's name and backend. */
  get adapter() { return this.#live().adapter; }

  /** True for a software adapter (SwiftShader, lavapipe), which is slower than arbiter's CPU paths. */
  get isSoftware() { return this.#live().isSoftware; }

  /** @internal */
  get raw() { return this.#live(); }

  /** P(i beats j) for ratings (row-major n×n Float32Array), the GPU twin of `matrices.predicted`. */
  async predicted(ratings, { scale = 400, base = 10 } = {}) {
    return this.#live().predicted(Float64Array.from(ratings), scale, base);
  }

  free() {
    if (this.#raw) {
      this.#raw.free();
      this.#raw = null;
    }
  }
  [Symbol.dispose]() { this.free(); }

  #live() {
    if (!this.#raw) throw arbiterError('FREED', 'this GPU context was freed');
    return this.#raw;
  }
}

/**
 * The GPU path: style-control fits and bootstraps on the device, with the same chunking, progress and cancellation as
 * the CPU path. Falls back to the CPU inside the module when the device fails; `device` in the result says which.
 */
async function rankOnGpu(battles, options) {
  const { onProgress, signal, gpu } = options;
  const ranking = gpu.raw.ranking(toBattles(battles), split(options));
  try {
    await ranking.fit();
    if (signal?.aborted) throw arbiterError('CANCELLED', 'cancelled');
    const total = ranking.remaining;
    // A GPU round is one dispatch per Newton iteration: a few rounds per slice keep the page responsive.
    const chunk = Math.max(1, Math.min(64, Math.ceil(total / 50)));
    while (ranking.remaining > 0) {
      await ranking.runRounds(chunk);
      onProgress?.({ done: ranking.done, total });
      await tick();
      if (signal?.aborted) throw arbiterError('CANCELLED', 'cancelled');
    }
    return await predictOnGpu(finish(ranking, options), ranking, options);
  } finally {
    ranking.free();
  }
}

/**
 * Ranks battles synchronously (the whole bootstrap at once). Prefer `rank()` in a page: it keeps the page responsive.
 */
export function rankSync(battles, options = {}) {
  requireInit();
  const ranking = new RawRanking(toBattles(battles), split(options));
  try {
    ranking.runRounds(ranking.remaining);
    return finish(ranking, options);
  } finally {
    ranking.free();
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Ranks battles. The bootstrap runs in slices of about `chunkMs` (default 20 ms), yielding to the event loop between
 * slices, calling `onProgress({done, total})`, and stopping with an error of code `CANCELLED` when `signal` aborts.
 */
export async function rank(battles, options = {}) {
  await init();
  const { onProgress, signal, chunkMs = 20 } = options;
  if (signal?.aborted) throw arbiterError('CANCELLED', 'cancelled');
  if (options.gpu) return rankOnGpu(battles, options);
  const ranking = new RawRanking(toBattles(battles), split(options));
  try {
    const total = ranking.remaining;
    let chunk = 1;
    while (ranking.remaining > 0) {
      const start = performance.now();
      ranking.runRounds(chunk);
      const elapsed = performance.now() - start;
      chunk = Math.max(1, Math.min(1000, Math.round(chunk * (elapsed > 0 ? chunkMs / elapsed : 2))));
      onProgress?.({ done: ranking.done, total });
      await tick();
      if (signal?.aborted) throw arbiterError('CANCELLED', 'cancelled');
    }
    return await predictOnGpu(finish(ranking, options), ranking, options);
  } finally {
    ranking.free();
  }
}

// ---- Beyond Bradley-Terry: synchronous, CPU, plain objects out (each runs in milliseconds on an arena's data).

function analyze(method, battles, options) {
  requireInit();
  return rawAnalyze(toBattles(battles), method, options ?? {});
}

/** Davidson's tie model: ratings plus the tie propensity ν (`tie`); P(tie) = ν√(πiπj)/(πi+πj+ν√(πiπj)). */
export function davidson(battles, options = {}) { return analyze('davidson', battles, options); }

/** Rao-Kupper's tie model: ratings plus the threshold θ ≥ 1 (`tie`). */
export function raoKupper(battles, options = {}) { return analyze('rao-kupper', battles, options); }

/**
 * Plackett-Luce by Hunter's MM. `input` is a Battles (decisive battles are 2-item rankings; ties are dropped and
 * counted in `dropped`) or an array of rankings (model names, best first) and top-1 choices `{chosen, among}`.
 */
export function plackettLuce(input, options = {}) {
  requireInit();
  if (Array.isArray(input)) return rawPlackettLuce(input, options);
  return analyze('pl', input, options);
}

/** Weng-Lin online ratings (openskill's models) over the battles in input order: rows with `mu`, `sigma`. */
export function wengLin(battles, options = {}) { return analyze('weng-lin', battles, options); }

/** One Weng-Lin match: teams of `{mu, sigma}` → updated teams; `ranks` or `scores` give the result. */
export function wengLinRate(teams, options = {}) {
  requireInit();
  return rawWengLinRate(teams, options);
}

/**
 * The Nash equilibrium (maximal lottery). With a Battles: rows with `probability`, `exploitability` of the lottery
 * and of the Bradley-Terry #1 (`btTopExploitability`). With an array of `{battles, weight}` (one per judge): the
 * equilibrium against the judges' weighted population (MNPO). With `{matrix, n}` (a skew-symmetric payoff,
 * row-major): the equilibrium of that game (`beta` > 0 for the KL-regularised one).
 */
export function nash(input, options = {}) {
  requireInit();
  if (input instanceof Battles) return analyze('nash', input, options);
  if (Array.isArray(input)) {
    const population = new RawPopulation();
    try {
      for (const { battles, weight = 1 } of input) population.add(toBattles(battles), weight);
      return population.solve(options);
    } finally {
      population.free();
    }
  }
  const { matrix, n } = input ?? {};
  const flat = Float64Array.from(Array.isArray(matrix) && Array.isArray(matrix[0]) ? matrix.flat() : matrix ?? []);
  const size = n ?? Math.round(Math.sqrt(flat.length));
  const { beta = 0, mu, solver = beta > 0 || mu ? 'extragradient' : 'exact', ...rest } = options;
  if (Object.keys(rest).length > 0) throw arbiterError('INVALID_OPTION', `invalid option \`${Object.keys(rest)[0]}\`: a matrix takes beta, mu and solver`);
  if (!['exact', 'extragradient'].includes(solver)) throw arbiterError('INVALID_OPTION', `invalid option \`solver\`: \`${solver}\` is not exact or extragradient`);
  return rawNashMatrix(flat, size, beta, mu === undefined ? undefined : Float64Array.from(mu), solver === 'exact');
}

/** The payoff matrix `nash` solves: `matrix` row-major n×n, A_ij = i's margin over j (NLHF: P̂_ij − ½). */
export function preferenceMatrix(battles, options = {}) {
  requireInit();
  return rawPreferenceMatrix(toBattles(battles), options);
}

/** GPM skew-symmetric embeddings (intransitive preferences): rows with `winRate` and `embedding`. */
export function gpm(battles, options = {}) { return analyze('gpm', battles, options); }

/** EM mixture of Bradley-Terry over annotator groups (`judge`): `groups[]` each with `models`; `models` = min over groups. */
export function mixture(battles, options = {}) { return analyze('mixture', battles, options); }

/** Noise-robust EM (LCPO): ratings with per-annotator correctness `annotators[].eta`. */
export function lcpo(battles, options = {}) { return analyze('lcpo', battles, options); }

/** Dawid-Skene consensus of items (`id`) judged by several annotators (`judge`). */
export function dawidSkene(battles) {
  requireInit();
  return rawDawidSkene(toBattles(battles));
}

/** Mean and spread of the votes on each item (`id`), sides aligned. */
export function preferenceStrength(battles) {
  requireInit();
  return rawPreferenceStrength(toBattles(battles));
}

/** Agreement of a judge's verdicts with the human votes on the same items, and of their leaderboards (CapArena). */
export function judgeAgreement(human, judge, options = {}) {
  requireInit();
  return rawJudgeAgreement(toBattles(human), toBattles(judge), options);
}

/** CapArena-Auto's score: net wins in % against each baseline, averaged over the baselines. */
export function netWinScore(battles, model, baselines) {
  requireInit();
  return rawNetWinScore(toBattles(battles), model, baselines);
}

const SCORE = { a: 1, b: 0, tie: 0.5 };

/** Draws the next pair to show in an arena. Long-lived: call `free()` when done. */
export class PairSampler {
  #raw;
  #models;
  constructor(models, options = {}) {
    requireInit();
    this.#models = [...models];
    this.#raw = new RawPairSampler(this.#models, options);
  }

  /** The next pair of model names, sides already shuffled. */
  next() {
    const [a, b] = this.#live().next();
    return [this.#models[a], this.#models[b]];
  }

  /** Reports a vote (`winner`: 'a', 'b' or 'tie'); the information-gain strategy learns from it. */
  observe(a, b, winner) {
    const i = this.#models.indexOf(a);
    const j = this.#models.indexOf(b);
    if (i < 0 || j < 0) throw arbiterError('UNKNOWN_MODEL', `unknown model \`${i < 0 ? a : b}\` in option \`observe\``);
    if (!(winner in SCORE)) throw arbiterError('INVALID_OPTION', `invalid option \`winner\`: \`${winner}\` is not a, b or tie`);
    this.#live().observe(i, j, SCORE[winner]);
  }

  free() {
    if (this.#raw) {
      this.#raw.free();
      this.#raw = null;
    }
  }
  [Symbol.dispose]() { this.free(); }

  #live() {
    if (!this.#raw) throw arbiterError('FREED', 'this sampler was freed');
    return this.#raw;
  }
}

/** Simulates an arena with known `ratings` ({model: Elo}) until the mean 95% CI width is under `targetWidth`. */
export function simulateSampling(options) {
  requireInit();
  return rawSimulateSampling(options);
}

// ---- Local embeddings: a sentence encoder that runs in this process or page (the text never leaves it).

const MODEL_FILES = { config: 'config.json', weights: 'model.safetensors', tokenizer: 'tokenizer.json', sentenceConfig: 'sentence_bert_config.json' };

/** Reads one model file from a folder (Node) or a base URL (fetch, with progress); `optional` files may be absent. */
async function readModelFile(base, name, optional, onProgress) {
  const local = isNode && !/^https?:/.test(String(base));
  const dir = base instanceof URL && local ? base.pathname : String(base);
  const where = local ? (await import('node:path')).join(dir, name) : new URL(name, dir.endsWith('/') ? dir : `${dir}/`);
  return readBytes(where, name, optional, onProgress);
}

/** The bytes of a file path (Node) or URL (fetch), `onProgress({file, loaded, total})` per chunk, in a Uint8Array. */
function readBytes(where, name, optional, onProgress) {
  return streamBytes(where, name, optional, onProgress, collect);
}

/** A sink gathering chunks in one Uint8Array (of the announced size when there is one). */
function collect(total) {
  let bytes = new Uint8Array(total);
  let at = 0;
  return {
    push(chunk) {
      if (at + chunk.length > bytes.length) {
        const grown = new Uint8Array(Math.max(2 * bytes.length, at + chunk.length));
        grown.set(bytes.subarray(0, at));
        bytes = grown;
      }
      bytes.set(chunk, at);
      at += chunk.length;
    },
    done: () => bytes.subarray(0, at),
  };
}

/** A sink copying chunks straight into the wasm module's memory (a `RawBytes`): no whole copy on the JS side. */
function intoWasm(total) {
  const bytes = new RawBytes(total);
  return { push: (chunk) => bytes.push(chunk), done: () => bytes, free: () => bytes.free() };
}

const CHUNK = 1 << 20;

/**
 * Streams a file path (Node: read in 1 MiB chunks) or a URL (fetch) into `sink(total)`, `onProgress({file, loaded,
 * total})` per chunk; returns `sink.done()`, or `undefined` when an `optional` file is absent.
 */
async function streamBytes(where, name, optional, onProgress, sink) {
  const chunks = isNode && !/^https?:/.test(String(where)) ? await fileChunks(where, optional) : await urlChunks(where, name, optional);
  if (!chunks) return undefined;
  const out = sink(chunks.total);
  try {
    let loaded = 0;
    for await (const chunk of chunks) {
      out.push(chunk);
      loaded += chunk.length;
      onProgress?.({ file: name, loaded, total: chunks.total });
    }
    return out.done();
  } catch (e) {
    out.free?.();
    throw e;
  }
}

/** An async iterable of a local file's chunks (one reused buffer) with its `total` size, or null if optional and absent. */
async function fileChunks(where, optional) {
  const { open, stat } = await import('node:fs/promises');
  const path = where instanceof URL ? where.pathname : String(where);
  const failed = (e) => arbiterError('MODEL', `model: cannot read ${path}: ${e.message}`);
  let total;
  try {
    total = (await stat(path)).size;
  } catch (e) {
    if (optional) return null;
    throw failed(e);
  }
  return {
    total,
    async *[Symbol.asyncIterator]() {
      const file = await open(path).catch((e) => { throw failed(e); });
      const buffer = new Uint8Array(Math.max(1, Math.min(CHUNK, total)));
      try {
        for (;;) {
          const { bytesRead } = await file.read(buffer, 0, buffer.length, null).catch((e) => { throw failed(e); });
          if (bytesRead === 0) return;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await file.close();
      }
    },
  };
}

/** The response body of a URL as an async iterable with its announced `total` (0 when unknown), or null. */
async function urlChunks(where, name, optional) {
  const response = await fetch(where);
  if (!response.ok) {
    if (optional) return null;
    throw arbiterError('MODEL', `model: ${name}: HTTP ${response.status} from ${where}`);
  }
  const total = Number(response.headers.get('content-length')) || 0;
  return { total, [Symbol.asyncIterator]: () => response.body[Symbol.asyncIterator]() };
}

const asBytes = (x) => (typeof x === 'string' ? new TextEncoder().encode(x) : x instanceof Uint8Array ? x : new Uint8Array(x));

/** `raw` set to run on `gpu` when one is given; freed if the upload fails (the error is rethrown). */
function withGpu(raw, gpu) {
  if (!gpu) return raw;
  try {
    raw.useGpu(gpu.raw);
  } catch (e) {
    raw.free();
    throw e;
  }
  return raw;
}

/** A BERT-family sentence encoder (sentence-transformers pooling). Long-lived: call `free()` when done. */
export class Encoder {
  #raw;
  constructor(raw) {
    this.#raw = raw;
  }

  /**
   * Loads a model from a folder (Node), a base URL (its files are fetched, `onProgress({file, loaded, total})`), or
   * the files' bytes `{config, weights, tokenizer, sentenceConfig?}`. With `gpu` (from `Gpu.request()`), the weights
   * are uploaded and `embed` runs there.
   */
  static async load(source, { onProgress, gpu } = {}) {
    await init();
    let files = source;
    if (typeof source === 'string' || source instanceof URL) {
      files = {};
      for (const [key, name] of Object.entries(MODEL_FILES)) {
        files[key] = await readModelFile(source, name, key === 'sentenceConfig', onProgress);
      }
    }
    for (const key of ['config', 'weights', 'tokenizer']) {
      if (!files?.[key]) throw arbiterError('MODEL', `model: ${MODEL_FILES[key]} is missing`);
    }
    const raw = RawEncoder.load(asBytes(files.config), asBytes(files.weights), asBytes(files.tokenizer),
      files.sentenceConfig ? asBytes(files.sentenceConfig) : undefined);
    return new Encoder(withGpu(raw, gpu));
  }

  /** The embedding dimension. */
  get dimension() { return this.#live().dimension; }

  /**
   * Unit-length sentence embeddings, one Float32Array per text, and the path that ran: `device` is
   * `gpu: <adapter>`, `cpu`, or `cpu (<why the GPU failed>)`.
   */
  async embed(texts) {
    const list = typeof texts === 'string' ? [texts] : [...texts];
    const d = this.dimension;
    const { data, device } = await this.#live().embed(list);
    return { embeddings: list.map((_, i) => data.subarray(i * d, (i + 1) * d)), device };
  }

  free() {
    if (this.#raw) {
      this.#raw.free();
      this.#raw = null;
    }
  }
  [Symbol.dispose]() { this.free(); }

  #live() {
    if (!this.#raw) throw arbiterError('FREED', 'this encoder was freed');
    return this.#raw;
  }
}

// ---- Local reward scoring. Heads are plain JSON objects (`{kind: 'linear', weights, bias}`, ...): store them with
// JSON.stringify, load them with JSON.parse. Embeddings are what `Encoder.embed` returns (an array of Float32Array)
// or `{data: Float32Array, dim}`; votes are `{a, b, score, weight?, user?}` with rows of the embeddings and a's
// score (1 won, 0.5 tie, 0 lost).

function flatEmbeddings(embeddings) {
  if (embeddings && embeddings.data instanceof Float32Array && Number.isInteger(embeddings.dim)) return embeddings;
  const rows = [...(embeddings ?? [])];
  const dim = rows[0]?.length ?? 0;
  const data = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    if (r.length !== dim) throw arbiterError('INVALID_OPTION', `invalid option \`embeddings\`: embedding ${i} has ${r.length} values, embedding 0 has ${dim}`);
    data.set(r, i * dim);
  });
  return { data, dim };
}

const headText = (head) => (typeof head === 'string' ? head : JSON.stringify(head));

function plainContext(context = {}) {
  const { prompt, ...rest } = context;
  return prompt === undefined ? rest : { ...rest, prompt: Array.from(prompt) };
}

/** Each embedding's score under a reward head (`context.prompt`: the prompt's embedding, `context.user`: PAL's user). */
export function rewardScores(head, embeddings, context = {}) {
  requireInit();
  return rawRewardScores(headText(head), flatEmbeddings(embeddings).data, plainContext(context));
}

/** P(i ≻ j) for every pair of embeddings under a head, row-major n×n. */
export function rewardPreferences(head, embeddings, context = {}) {
  requireInit();
  return rawRewardPreferences(headText(head), flatEmbeddings(embeddings).data, plainContext(context));
}

/** Fits a linear reward head (an MLP with `hidden` units) from votes by Bradley-Terry loss, ridge and early stopping. */
export function fitRewardHead(embeddings, votes, options = {}) {
  requireInit();
  const { data, dim } = flatEmbeddings(embeddings);
  return rawFitRewardHead(data, dim, votes, options);
}

/** PAL few-shot: fits only `user`'s prototype weights on a PAL-A head from that user's votes. */
export function fitRewardUser(head, user, embeddings, votes, options = {}) {
  requireInit();
  return rawFitRewardUser(headText(head), flatEmbeddings(embeddings).data, user, votes, options);
}

/** Fits a PAL-A ideal-point model (K prototypes, each user's weights) from votes that name their `user`. */
export function fitPal(embeddings, votes, options = {}) {
  requireInit();
  const { data, dim } = flatEmbeddings(embeddings);
  return rawFitPal(data, dim, votes, options);
}

/** Best-of-N selection by `rule` (max, direction, weighted, maxmin, spo, sppo, nash, rps); ties go to the lowest index. */
export function bestOfN(request) {
  requireInit();
  const { preferences, ...rest } = request ?? {};
  return rawBestOfN(preferences === undefined ? rest : { ...rest, preferences: Array.from(preferences) });
}

/** MAP's alignment palette: λ ≥ 0 meeting the targets `palette` in expectation, weights over samples, KKT report. */
export function mapPalette(rewards, palette, options = {}) {
  requireInit();
  return rawMapPalette(rewards.map((r) => Array.from(r)), Array.from(palette), options);
}

// ---- Small-policy inference: a Llama-family GGUF (SmolLM2-135M-Instruct) generating and scoring text here.

const aborted = (signal) => signal.reason ?? new DOMException('generation aborted', 'AbortError');

/**
 * A generation: an async iterator of `{token, text}` pieces (iterate it once); `result` resolves to the whole answer
 * when it ends, also when the loop breaks early (`finish: 'cancelled'`), and rejects when it fails or is aborted.
 */
class Generation {
  #model;
  #prompt;
  #options;
  #started = false;
  #settle;
  result;

  constructor(model, prompt, options) {
    this.#model = model;
    this.#prompt = prompt;
    this.#options = options;
    this.result = new Promise((resolve, reject) => { this.#settle = { resolve, reject }; });
    this.result.catch(() => {});
  }

  async *[Symbol.asyncIterator]() {
    if (this.#started) throw arbiterError('INVALID_OPTION', 'a generation can be iterated only once');
    this.#started = true;
    const { signal, onToken, ...options } = this.#options;
    let raw = null;
    let prefill = 0;
    let start = 0;
    try {
      if (signal?.aborted) throw aborted(signal);
      start = performance.now();
      raw = await this.#model.start(this.#prompt, options);
      prefill = performance.now() - start;
      start = performance.now();
      for (;;) {
        await tick();
        if (signal?.aborted) throw aborted(signal);
        const step = await raw.next();
        if (step === undefined) break;
        onToken?.(step);
        yield step;
      }
    } catch (e) {
      this.#settle.reject(e);
      throw e;
    } finally {
      if (raw) {
        this.#settle.resolve(summary(raw, prefill, performance.now() - start, this.#model.device));
        raw.free();
      }
    }
  }

  /** Runs the generation to its end (without streaming) and returns `result`. */
  async complete() {
    for await (const _ of this) { /* drain */ }
    return this.result;
  }
}

function summary(raw, prefillMs, decodeMs, device) {
  const perSecond = (n, ms) => (ms > 0 ? (1000 * n) / ms : 0);
  const tokens = raw.tokens;
  return {
    text: raw.text,
    tokens,
    finish: raw.finish ?? 'cancelled',
    promptTokens: raw.promptTokens,
    prefillTokensPerSecond: perSecond(raw.promptTokens, prefillMs),
    decodeTokensPerSecond: perSecond(tokens.length, decodeMs),
    device,
  };
}

/**
 * A Llama-family language model from a GGUF file (SmolLM2-135M-Instruct Q4_1: 98 MB). Long-lived: call `free()`.
 * Prompts are a string (one user message), a list of `{role, content}` messages (both through the model's chat
 * template) or `{text}` (raw text, control tokens such as `<|im_start|>` recognised).
 */
export class Llama {
  #raw;
  constructor(raw) {
    this.#raw = raw;
  }

  /**
   * From a file path (Node) or a URL (fetched, `onProgress({file, loaded, total})`), both streamed chunk by chunk
   * into the wasm module's memory, or from the file's bytes. With `gpu` (from `Gpu.request()`), the weights are
   * uploaded and `generate`/`logprobs` run there.
   */
  static async load(source, { onProgress, gpu } = {}) {
    await init();
    let raw;
    if (typeof source === 'string' || source instanceof URL) {
      const name = String(source).split('/').pop();
      raw = RawLlama.loadStreamed(await streamBytes(source, name, false, onProgress, intoWasm));
    } else if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
      raw = RawLlama.load(asBytes(source));
    } else {
      throw arbiterError('INVALID_OPTION', 'invalid option `source`: expected a path, a URL, a Uint8Array or an ArrayBuffer');
    }
    return new Llama(withGpu(raw, gpu));
  }

  /** The network's shape: `{layers, dim, hidden, heads, kvHeads, headDim, ropeBase, rmsEps, vocab, context}`. */
  get config() { return this.#live().config; }

  /** Where generation and scoring run: `gpu: <adapter>` (loaded with `gpu`) or `cpu`. */
  get device() { return this.#live().device; }

  /** Token ids of `text`; with `{special: true}` control tokens written in the text are recognised. */
  tokenize(text, { special = false } = {}) {
    return this.#live().encode(text, special);
  }

  /** The text of token ids. */
  detokenize(ids) {
    return this.#live().decode(Uint32Array.from(ids));
  }

  /** Messages through the model's chat template (ending with the assistant's turn unless told otherwise). */
  chatTemplate(messages, { addGenerationPrompt = true } = {}) {
    return this.#live().chat(messages, addGenerationPrompt);
  }

  /**
   * Generates an answer: `for await (const {token, text} of model.generate(prompt, options))`, then `await
   * .result` (`{text, tokens, finish, promptTokens, prefillTokensPerSecond, decodeTokensPerSecond, device}`), or
   * `await model.generate(...).complete()`. Options: `maxTokens` (128), `temperature` (0: greedy), `topK` (40),
   * `topP` (0.95), `repetitionPenalty` (1), `repeatLastN` (64), `seed`, `stop` (strings), `system` (a system
   * message), `signal` (an AbortSignal: the iterator and `result` reject with its reason), `onToken(step)`.
   */
  generate(prompt, { system, ...options } = {}) {
    return new Generation(this.#live(), this.#promptIds(prompt, system), options);
  }

  /**
   * Log-probabilities of `response` as the answer to `prompt`: `{tokens, logprobs, total}` (natural logs, one per
   * response token; `total` is their sum). `{system}` sets a system message.
   */
  async logprobs(prompt, response, { system } = {}) {
    const raw = this.#live();
    const ids = this.#promptIds(prompt, system);
    const tokens = raw.encode(response, false);
    await tick();
    const logprobs = await raw.logprobs(ids, tokens);
    return { tokens, logprobs, total: logprobs.reduce((s, x) => s + x, 0) };
  }

  /**
   * DPO's implicit reward of `response`: β·(log π(response | prompt) − log π_ref(response | prompt)), where π is this
   * model under `system` and π_ref is `reference` (another Llama; default this one) under `referenceSystem`.
   */
  async implicitReward(prompt, response, { beta = 0.1, system, reference = this, referenceSystem } = {}) {
    const policy = await this.logprobs(prompt, response, { system });
    const ref = await reference.logprobs(prompt, response, { system: referenceSystem });
    return { reward: beta * (policy.total - ref.total), policy: policy.total, reference: ref.total, tokens: policy.tokens.length };
  }

  free() {
    if (this.#raw) {
      this.#raw.free();
      this.#raw = null;
    }
  }
  [Symbol.dispose]() { this.free(); }

  #promptIds(prompt, system) {
    const raw = this.#live();
    if (prompt !== null && typeof prompt === 'object' && !Array.isArray(prompt) && typeof prompt.text === 'string') {
      return raw.encode(prompt.text, true);
    }
    const messages = typeof prompt === 'string' ? [{ role: 'user', content: prompt }] : [...(prompt ?? [])];
    if (system !== undefined) messages.unshift({ role: 'system', content: system });
    return raw.encode(raw.chat(messages, true), true);
  }

  #live() {
    if (!this.#raw) throw arbiterError('FREED', 'this model was freed');
    return this.#raw;
  }
}
