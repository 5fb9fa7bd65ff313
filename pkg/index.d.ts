/**
 * arbiter: exact, fast arena statistics (Bradley-Terry, Elo, confidence intervals) for Node, pages and Web Workers.
 *
 * ```js
 * import { init, Battles, rank } from 'arbiter';
 * await init();
 * const battles = Battles.parse(jsonlText);            // LMArena records
 * const board = await rank(battles, { ci: 'bootstrap', rounds: 1000, seed: 0 });
 * battles.free();
 * ```
 *
 * Every error thrown is an `ArbiterError` (`name === 'ArbiterError'`) with a stable `code` and, for bad input, the
 * 1-based `row` it concerns.
 */

/** Stable error codes. */
export type ErrorCode =
  | 'PARSE'
  | 'MISSING_FIELD'
  | 'UNKNOWN_LABEL'
  | 'INVALID_NUMBER'
  | 'SELF_BATTLE'
  | 'EMPTY'
  | 'UNKNOWN_MODEL'
  | 'INVALID_OPTION'
  | 'CANCELLED'
  | 'GPU'
  | 'NOT_INITIALIZED'
  | 'FREED'
  | 'BUSY'
  | 'MODEL';

/** The errors arbiter throws. */
export interface ArbiterError extends Error {
  name: 'ArbiterError';
  code: ErrorCode;
  /** Line (JSONL, CSV) or element number (JSON array), from 1, when a row is to blame. */
  row?: number;
}

/**
 * Loads the wasm module; idempotent (every call returns the same Promise). Node reads it from disk; a page or worker
 * fetches it next to this file unless `input` says where it is.
 */
export function init(input?: string | URL | Request | Response | BufferSource | WebAssembly.Module): Promise<void>;

/** Bytes of wasm memory arbiter holds (it grows as needed and is returned only when the page or process ends). */
export function memoryBytes(): number;

/** Where each field of a record is. Defaults are LMArena's names. */
export interface Columns {
  /** Side A's model. Default `model_a`. */
  modelA?: string;
  /** Side B's model. Default `model_b`. */
  modelB?: string;
  /** The verdict. Default `winner` (`outcome` is accepted when `winner` is absent). */
  winner?: string;
  /** Identical battles a row stands for (counts tables). Default `count`. */
  count?: string;
  /** A positive per-row weight. Default `weight`. */
  weight?: string;
  /** The item (prompt + pair). Default `id`. */
  id?: string;
  /** Who voted. Default `judge`. */
  judge?: string;
  /** Default `category`. */
  category?: string;
  /** Default `tstamp`. */
  tstamp?: string;
}

/** Winner labels per outcome. The A and B column names always count as A and B labels too. */
export interface Labels {
  /** Default `['model_a']`. */
  a?: string[];
  /** Default `['model_b']`. */
  b?: string[];
  /** Default `['tie']`. */
  tie?: string[];
  /** Default `['tie (bothbad)']`. */
  bothBad?: string[];
}

/** How to read a battles file. */
export interface ParseOptions {
  /** `auto` (default) guesses from the first character: `[` JSON, `{` JSONL, otherwise CSV. `counts` is CSV with a required count column. */
  format?: 'auto' | 'json' | 'jsonl' | 'csv' | 'counts';
  columns?: Columns;
  labels?: Labels;
  /** Skip invalid rows and list them in `Battles.skipped` instead of throwing on the first. Default false. */
  skipInvalid?: boolean;
  /**
   * Read per-battle covariates for style control (JSON and JSONL only). Per record, the first source present:
   * `features_a`/`features_b` (objects of name → number per side), LMArena's `conv_metadata` counts,
   * `conversation_a`/`conversation_b` (message lists; assistant turns count) or `response_a`/`response_b` (strings).
   * From texts, LMArena's four style features are counted: `sum_assistant_tokens` (OpenAI `cl100k_base` tokens),
   * `header_count`, `list_count`, `bold_count`; each becomes d = (a − b)/(a + b + 1). A per-battle `features` object
   * (e.g. property differences) is added as given. Default false.
   */
  style?: boolean;
}

/** A row that `skipInvalid` left out. */
export interface Skipped {
  row: number;
  code: ErrorCode;
  message: string;
}

/** Parsed battles. Long-lived: call `free()` when done. */
export class Battles {
  private constructor();
  /** Parses LMArena JSON or JSONL, CSV with a column mapping, or a counts table, from text or UTF-8 bytes. */
  static parse(data: string | Uint8Array, options?: ParseOptions): Battles;
  /**
   * Parses JSONL battles from a stream (`fetch(url).body`, a Node stream, any async iterable of strings or bytes),
   * line by line as chunks arrive, so a file of millions of battles never sits in memory as one string.
   */
  static parseStream(stream: AsyncIterable<string | Uint8Array> | ReadableStream<Uint8Array>, options?: ParseOptions): Promise<Battles>;
  /** Appends JSONL records (whole lines), read with `options` (pass those of the first parse). All or nothing. */
  append(text: string, options?: ParseOptions): void;
  /** Number of records. */
  readonly length: number;
  /** Number of battles (the sum of counts). */
  readonly total: number;
  /** Model names in order of first appearance. */
  readonly models: string[];
  /** Rows left out by `skipInvalid`. */
  readonly skipped: Skipped[];
  /** The battles as LMArena JSONL (lossless for the fields arbiter reads). */
  toJsonl(): string;
  /** Releases the wasm memory. */
  free(): void;
  [Symbol.dispose](): void;
}

/** Options of a ranking. Defaults are LMArena's conventions. */
export interface RankOptions {
  /** `bt` (default): Bradley-Terry MLE, ties as ½ win. `elo`: online Elo in input order. */
  method?: 'bt' | 'elo';
  /** `none` (default), `sandwich` (arena-rank's robust covariance; bt only) or `bootstrap` (seeded, percentile). */
  ci?: 'none' | 'sandwich' | 'bootstrap';
  /** Bootstrap rounds. Default 1000. */
  rounds?: number;
  /** Bootstrap seed, a whole number below 2^53. The same seed gives the same intervals everywhere. Default 0. */
  seed?: number;
  /** Confidence level. Default 0.95. */
  level?: number;
  /** Rating = init + (scale / ln base)·θ. Defaults 400, 10, 1000. */
  scale?: number;
  base?: number;
  init?: number;
  /** Fix one model's rating (FastChat: `{model: 'mixtral-8x7b-instruct-v0.1', value: 1114}`). Default: mean = init. */
  anchor?: { model: string; value: number };
  /** Report ratings as the predicted win rate in % against this model (Arena-Hard style). */
  baseline?: string;
  /** L2 ridge λ on θ (½λ‖θ‖²). Default 0; data without a finite MLE fall back to 1 (see `warnings`). */
  ridge?: number;
  /** arena-rank's sandwich `hessian_reg` (times N for unweighted data). Default 1e-5. */
  hessianReg?: number;
  /** Newton stops when max |gradient| ≤ tolerance · N. Default 1e-12. */
  tolerance?: number;
  /** Elo K-factor. Default 4. */
  k?: number;
  /** `tie` (default, LMArena): both-bad ties count as ties. `exclude` (Music Arena): left out. */
  bothBad?: 'tie' | 'exclude';
  /** arena-rank's `reweighted`: weight each battle by 1 / max(pair count, minPairCount). Default false. */
  reweighted?: boolean;
  /** Default 50. */
  minPairCount?: number;
  /** Also return count, win-rate and predicted-probability matrices. Default false. */
  matrices?: boolean;
  /**
   * Style control: fit P(A wins) = σ(θ_A − θ_B + β·z) on the battles' covariates (parse with `style: true`), z-scored
   * over the fitted battles. `fastchat`: FastChat's L2 0.5 on every parameter with the summed loss (LMArena's
   * leaderboard); `arena-rank`: arena-rank's L2 1 on the coefficients only with the mean loss. Default: none.
   */
  style?: 'fastchat' | 'arena-rank';
}

/** Options only `rank()` (the asynchronous form) takes. */
export interface AsyncRankOptions extends RankOptions {
  /**
   * Run the heavy work on this GPU: style-control fits and their bootstrap (f32 reductions, within 0.01 Elo of the
   * CPU), the bootstrap's resampling (the CPU's exact draws), the predicted-probability matrix. `null` or a failing
   * device: the CPU path, which draws the same resamples. `device` in the result says which ran.
   */
  gpu?: Gpu | null;
  /** Called after each slice of bootstrap rounds. */
  onProgress?: (progress: { done: number; total: number }) => void;
  /** Aborting rejects with an `ArbiterError` of code `CANCELLED`. */
  signal?: AbortSignal;
  /** Length of a slice of work between yields to the event loop, in ms. Default 20. */
  chunkMs?: number;
}

/** One leaderboard row. */
export interface ModelRating {
  model: string;
  rating: number;
  /** Interval bounds at `level` (equal to `rating` when `ci` is `none`). */
  lower: number;
  upper: number;
  /** Variance of the rating (sandwich or bootstrap); 0 without intervals. */
  variance: number;
  /** FastChat's displayed rank: 1 + the number of models whose lower bound is above this model's upper bound. */
  rank: number;
  battles: number;
  wins: number;
  losses: number;
  ties: number;
  /** False where the data cannot pin the rating (undefeated, winless, cut off from the rest). */
  identified: boolean;
}

/** Pairwise matrices, rows and columns in leaderboard order. */
export interface Matrices {
  models: string[];
  /** Battles between i and j. */
  counts: number[][];
  /** Observed score of i against j (ties ½), `null` where they never met. */
  winRate: (number | null)[][];
  /** P(i beats j) predicted by the ratings. */
  predicted: number[][];
}

/** A covariate's coefficient under style control: log-odds of A winning per standard deviation of the covariate. */
export interface Coefficient {
  name: string;
  value: number;
  /** Interval bounds at `level` (sandwich or bootstrap; equal to `value` when `ci` is `none`). */
  lower: number;
  upper: number;
  variance: number;
}

/** A leaderboard: models sorted by rating, best first. */
export interface Leaderboard {
  method: 'bt' | 'elo';
  ci: 'none' | 'sandwich' | 'bootstrap';
  level: number;
  /** Bootstrap rounds run. */
  rounds: number;
  seed: number;
  /** The ridge the fit used. */
  ridge: number;
  /** Newton iterations of the point fit. */
  iterations: number;
  /** Battles ranked. */
  battles: number;
  models: ModelRating[];
  /** Things to know about the result (e.g. a fallback ridge for data without a finite MLE). */
  warnings: string[];
  /** The style-control convention, or `null` without style control. */
  style: 'fastchat' | 'arena-rank' | null;
  /** The covariates' coefficients (empty without style control). */
  coefficients: Coefficient[];
  /** Where the work ran: `cpu`, `gpu: <adapter>`, or `cpu (<why the GPU was not used>)`. */
  device: string;
  matrices?: Matrices;
}

/** Ranks battles synchronously (the whole bootstrap in one call). */
export function rankSync(battles: Battles, options?: RankOptions): Leaderboard;

/** Ranks battles, running the bootstrap in slices that keep a page responsive, with progress and cancellation. */
export function rank(battles: Battles, options?: AsyncRankOptions): Promise<Leaderboard>;

/** A WebGPU device with arbiter's kernels. Long-lived: call `free()` when done. */
export class Gpu {
  private constructor();
  /** Resolves to a context, or to `null` where WebGPU or an adapter is unavailable (the CPU path then runs). */
  static request(): Promise<Gpu | null>;
  /** The adapter's name and backend. */
  readonly adapter: string;
  /** True for a software adapter (SwiftShader, lavapipe), slower than the CPU paths. */
  readonly isSoftware: boolean;
  /** P(i beats j) for ratings on the rating scale, row-major n×n: the GPU twin of `matrices.predicted` (f32). */
  predicted(ratings: ArrayLike<number>, options?: { scale?: number; base?: number }): Promise<Float32Array>;
  free(): void;
  [Symbol.dispose](): void;
}

// ---- Beyond Bradley-Terry (synchronous, CPU; each runs in milliseconds on an arena's data)

/** Options every method board accepts: the rating scale, `init + scale / ln(base) · θ` (defaults 400, 10, 1000). */
export interface ScaleOptions {
  scale?: number;
  base?: number;
  init?: number;
}

/** One model's row of a method board, best first. */
export interface MethodRow {
  model: string;
  /** Elo-scale rating (Weng-Lin: μ − 3σ; Nash: the win rate against the equilibrium lottery). */
  rating: number;
  /** Nash: the model's mass in the equilibrium lottery. */
  probability?: number;
  /** Weng-Lin: skill mean and uncertainty. */
  mu?: number;
  sigma?: number;
  /** GPM: mean predicted win rate against every other model. */
  winRate?: number;
  /** GPM: the model's embedding (length 2k). */
  embedding?: number[];
  /** False where the data cannot pin the rating. */
  identified: boolean;
  battles: number;
  wins: number;
  losses: number;
  ties: number;
}

/** A method's leaderboard. Fields a method does not produce are absent. */
export interface MethodBoard {
  method: 'davidson' | 'rao-kupper' | 'pl' | 'weng-lin' | 'nash' | 'gpm' | 'mixture' | 'lcpo';
  battles: number;
  models: MethodRow[];
  /** Davidson's ν or Rao-Kupper's θ. */
  tie?: number;
  logLikelihood?: number;
  iterations?: number;
  /** Nash: exploitability of the lottery (0 at the equilibrium), margin convention, uniqueness certificate. */
  exploitability?: number;
  margins?: 'nlhf' | 'fishburn';
  unique?: boolean;
  /** Nash: exploitability of playing the Bradley-Terry #1 alone. */
  btTopExploitability?: number;
  /** GPM: half the embedding dimension. */
  k?: number;
  /** Plackett-Luce on battles: tied battles left out. */
  dropped?: number;
  /** Mixture: one leaderboard per annotator group. */
  groups?: { weight: number; annotators: string[]; battles: number; models: MethodRow[] }[];
  /** LCPO: per-annotator correctness η and the battle-weighted mean. */
  annotators?: { judge: string; eta: number; battles: number }[];
  eta?: number;
  warnings: string[];
}

/** Davidson's tie model (ties carry information): ratings and ν (`tie`). */
export function davidson(battles: Battles, options?: ScaleOptions & { ridge?: number }): MethodBoard;
/** Rao-Kupper's tie model: ratings and θ ≥ 1 (`tie`). */
export function raoKupper(battles: Battles, options?: ScaleOptions & { ridge?: number }): MethodBoard;

/** A top-1 choice: `chosen` picked among itself and `among`. */
export interface Choice {
  chosen: string;
  among: string[];
}
/** Plackett-Luce (Hunter's MM) on battles (ties dropped) or on rankings (names, best first) and top-1 choices. */
export function plackettLuce(input: Battles | (string[] | Choice)[], options?: ScaleOptions & { alpha?: number }): MethodBoard;

/** openskill's Weng-Lin models. */
export type WengLinModel =
  | 'plackett-luce'
  | 'bradley-terry-full'
  | 'bradley-terry-part'
  | 'thurstone-mosteller-full'
  | 'thurstone-mosteller-part';
export interface WengLinOptions {
  model?: WengLinModel;
  mu?: number;
  sigma?: number;
  beta?: number;
  tau?: number;
}
export interface WengLinRating {
  mu: number;
  sigma: number;
}
/** Weng-Lin ratings over the battles in input order (ties are draws). */
export function wengLin(battles: Battles, options?: WengLinOptions): MethodBoard;
/** One match: returns the teams updated. Lower rank = better; or higher score = better. */
export function wengLinRate(
  teams: WengLinRating[][],
  options?: WengLinOptions & {
    ranks?: number[];
    scores?: number[];
    weights?: number[][];
    kappa?: number;
    margin?: number;
    limitSigma?: boolean;
    balance?: boolean;
    windowSize?: number;
    epsilon?: number;
    weightBounds?: [number, number] | null;
  },
): WengLinRating[][];

export interface NashOptions {
  /** NLHF probabilistic margins P − ½ (default) or Fishburn's vote margins. */
  margins?: 'nlhf' | 'fishburn';
  /** Jeffreys smoothing of P̂ (default ½). */
  alpha?: number;
  /** Pairs that never met: Bradley-Terry's prediction (default) or ½. */
  impute?: 'bt' | 'half';
  /** KL regularisation strength towards the reference lottery `mu` (default 0). */
  beta?: number;
  /** The reference lottery of the regularised game, {model: weight} (default uniform). */
  mu?: Record<string, number>;
}
/** The equilibrium of a payoff matrix. */
export interface Equilibrium {
  probabilities: number[];
  value: number;
  exploitability: number;
  support: number[];
  unique: boolean;
  iterations: number;
  converged: boolean;
}
/** The maximal lottery of battles, or the equilibrium of a skew-symmetric payoff matrix. */
export function nash(battles: Battles, options?: NashOptions & ScaleOptions): MethodBoard;
/** MNPO: the equilibrium against a weighted population of judges (each judge's battles; weight default 1). */
export function nash(judges: { battles: Battles; weight?: number }[], options?: NashOptions): MethodBoard;
export function nash(
  game: { matrix: number[][] | ArrayLike<number>; n?: number },
  options?: { beta?: number; mu?: number[]; solver?: 'exact' | 'extragradient' },
): Equilibrium;

/** The payoff matrix `nash` solves (row-major n×n; A_ij = i's margin over j, A_ji = −A_ij). */
export function preferenceMatrix(
  battles: Battles,
  options?: Omit<NashOptions, 'beta' | 'mu'>,
): { models: string[]; n: number; matrix: number[]; margins: 'nlhf' | 'fishburn'; observedPairs: number; unobservedPairs: number };

/** GPM preference embeddings: k (default 1) blocks, BT + GPM hybrid by default, L2 prior `l2` (default 10). */
export function gpm(battles: Battles, options?: ScaleOptions & { k?: number; hybrid?: boolean; l2?: number; seed?: number }): MethodBoard;
/** EM mixture of Bradley-Terry over annotator groups (`judge`); `groups` K (default 2). */
export function mixture(battles: Battles, options?: ScaleOptions & { groups?: number; soft?: boolean; seed?: number }): MethodBoard;
/** Noise-robust EM (LCPO) with per-annotator correctness (or one global η). */
export function lcpo(battles: Battles, options?: ScaleOptions & { perAnnotator?: boolean }): MethodBoard;

/** Dawid-Skene consensus of items (`id`) judged by several annotators (`judge`). */
export interface Consensus {
  /** Class priors: A better, B better, tie. */
  priors: number[];
  annotators: { judge: string; accuracy: number; votes: number }[];
  items: { id: string; modelA: string; modelB: string; label: 'model_a' | 'model_b' | 'tie'; posterior: number[]; votes: number }[];
  iterations: number;
  logLikelihood: number;
}
export function dawidSkene(battles: Battles): Consensus;

/** Mean (+1 all A … −1 all B) and spread (population sd) of the votes on each item. */
export function preferenceStrength(
  battles: Battles,
): { id: string; modelA: string; modelB: string; mean: number; spread: number; votes: number }[];

/** Judge against humans on the same items (CapArena). */
export interface Agreement {
  items: number;
  votes: number;
  agreementWithTies: number;
  agreementWithoutTies: number;
  decisiveVotes: number;
  /** Rank correlations of the two Bradley-Terry leaderboards (common models). */
  spearman: number;
  kendall: number;
  models: number;
}
export function judgeAgreement(human: Battles, judge: Battles, options?: RankOptions): Agreement;

/** CapArena-Auto: net wins in % per baseline, averaged over the baselines. */
export function netWinScore(battles: Battles, model: string, baselines: string[]): { perBaseline: [string, number][]; average: number };

/** Pair-sampling strategies (models by name). */
export type SamplerOptions = { seed?: number } & (
  | { strategy?: 'uniform' }
  | { strategy: 'information-gain' }
  | { strategy: 'weighted'; weights?: [string, string, number][] }
  | { strategy: 'buckets'; sizes: Record<string, number>; big?: number; small?: number; mode?: 'big-vs-small' | 'small' }
  | {
      strategy: 'fastchat';
      modelWeights?: Record<string, number>;
      boost?: string[];
      outage?: string[];
      anonymous?: string[];
      targets?: Record<string, string[]>;
    }
);

/** Draws the next pair to show in an arena. Long-lived: call `free()`. */
export class PairSampler {
  constructor(models: string[], options?: SamplerOptions);
  /** The next pair of names, sides shuffled. */
  next(): [string, string];
  /** Reports a vote; the information-gain strategy learns from it. */
  observe(a: string, b: string, winner: 'a' | 'b' | 'tie'): void;
  free(): void;
  [Symbol.dispose](): void;
}

/** Simulates an arena with known ratings until the mean 95% CI width is under `targetWidth` (Elo points). */
export function simulateSampling(
  options: { ratings: Record<string, number>; targetWidth?: number; maxVotes?: number } & SamplerOptions,
): { votes: number; reached: boolean; widths: [number, number][] };

// ---- Local embeddings

/** The files of a sentence-transformers model, as bytes (or text for the JSON files). */
export interface ModelFiles {
  config: Uint8Array | string;
  weights: Uint8Array | ArrayBuffer;
  tokenizer: Uint8Array | string;
  /** sentence_bert_config.json (its max_seq_length); optional. */
  sentenceConfig?: Uint8Array | string;
}

/** A BERT-family sentence encoder (mean pooling, L2 norm), on the CPU or a GPU. Long-lived: call `free()`. */
export class Encoder {
  /** From a folder (Node), a base URL (fetched with progress) or the files' bytes; with `gpu`, embeds there. */
  static load(
    source: string | URL | ModelFiles,
    options?: { onProgress?: (p: { file: string; loaded: number; total: number }) => void; gpu?: Gpu | null },
  ): Promise<Encoder>;
  readonly dimension: number;
  /** Unit-length embeddings, one per text, and the path that ran (`gpu: <adapter>`, `cpu` or `cpu (<why>)`). */
  embed(texts: string | string[]): Promise<{ embeddings: Float32Array[]; device: string }>;
  free(): void;
  [Symbol.dispose](): void;
}

// ---- Local reward scoring (spec section 2). Heads are plain JSON objects; store them with JSON.stringify.

/** An affine map x ↦ W x + b, W as rows (outputs × inputs). */
export interface Affine {
  weights: number[][];
  bias: number[];
}

/** A reward head over sentence embeddings, tagged by `kind`. */
export type RewardHead =
  | { kind: 'linear'; weights: number[]; bias: number }
  | { kind: 'mlp'; layers: Affine[]; activation?: 'relu' | 'gelu' }
  /** ArmoRM: attribute probes, a gating MLP on the prompt embedding, verbosity penalties. Needs `context.prompt`. */
  | { kind: 'armo'; probes: Affine; gating: Affine[]; temperature?: number; logitScale?: number; verbosity: number; penalties: number[] }
  /** DPA: attribute probes and a preference direction v (normalised when scoring). */
  | { kind: 'dpa'; probes: Affine; direction: number[] }
  /** PAL-A (distance to the user's ideal point). Needs `context.user`. */
  | { kind: 'pal'; form: 'distance'; prototypes: number[][]; projector?: Affine | null; users: Record<string, number[]> }
  /** PAL-B (angle to a prompt-conditioned direction). Needs `context.user` and `context.prompt`. */
  | { kind: 'pal'; form: 'angle'; promptProjectors: Affine[]; logScale?: number; projector?: Affine | null; users: Record<string, number[]> }
  /** GPM: skew-symmetric preference embeddings; pairwise only (`rewardPreferences`). */
  | { kind: 'gpm'; map: Affine; promptHead?: Affine | null; tau?: number };

/** `Encoder.embed`'s output, or one flat row-major matrix. */
export type EmbeddingRows = Float32Array[] | { data: Float32Array; dim: number };

/** What a head may need besides the response: the prompt's embedding (ArmoRM, PAL-B) and the user (PAL). */
export interface RewardContext {
  prompt?: Float32Array | number[];
  user?: string;
}

/** A vote between embedding rows `a` and `b`: a's score (1 won, 0.5 tie, 0 lost), a weight (default 1), the user (PAL). */
export interface RewardVote {
  a: number;
  b: number;
  score: number;
  weight?: number;
  user?: string;
}

/** Loss (mean BT log-loss) and accuracy (a tie vote counts ½) on a set of votes. */
export interface RewardMetrics {
  loss: number;
  accuracy: number;
}

/** Each embedding's score under `head`. */
export function rewardScores(head: RewardHead | string, embeddings: EmbeddingRows, context?: RewardContext): Float64Array;

/** P(i ≻ j) for every pair, row-major n×n. */
export function rewardPreferences(head: RewardHead | string, embeddings: EmbeddingRows, context?: RewardContext): Float64Array;

/** Fits a linear head (an MLP with `hidden` units) by Bradley-Terry loss with a ridge, early-stopped on `validation`. */
export function fitRewardHead(
  embeddings: EmbeddingRows,
  votes: RewardVote[],
  options?: {
    validation?: RewardVote[];
    l2?: number;
    hidden?: number;
    activation?: 'relu' | 'gelu';
    maxIterations?: number;
    patience?: number;
    tolerance?: number;
    seed?: number;
  },
): {
  head: RewardHead;
  report: { train: RewardMetrics; validation: RewardMetrics | null; iterations: number; bestIteration: number; converged: boolean };
};

/** PAL few-shot: only `user`'s K prototype weights move. */
export function fitRewardUser(
  head: RewardHead | string,
  user: string,
  embeddings: EmbeddingRows,
  votes: RewardVote[],
  options?: { l2?: number; maxIterations?: number },
): { head: RewardHead; report: { train: RewardMetrics; iterations: number } };

/** A PAL-A model (K prototypes and every user's weights) from votes naming their `user`. */
export function fitPal(
  embeddings: EmbeddingRows,
  votes: RewardVote[],
  options?: { prototypes?: number; iterations?: number; learningRate?: number; prototypeL2?: number; logitL2?: number; seed?: number },
): { head: RewardHead; report: { train: RewardMetrics; iterations: number } };

/** Best-of-N selection; ties go to the lowest index. */
export function bestOfN(
  request:
    | { rule: 'max'; scores: number[] | Float64Array }
    | { rule: 'direction'; rewards: number[][]; direction: number[] }
    | { rule: 'weighted'; rewards: number[][]; lambda: number[] }
    | { rule: 'maxmin'; rewards: number[][] }
    | { rule: 'spo' | 'sppo' | 'nash'; preferences: number[] | Float64Array }
    | { rule: 'rps'; candidates: { direction: number[]; rewards: number[] }[]; target: number[] },
): {
  index: number;
  /** SPO / SPPO win rates. */
  values?: number[];
  /** The Nash mixture over candidates. */
  mixture?: { probabilities: number[]; best: number; exploitability: number };
  rps?: { index: number; score: number; baseline: number | null };
};

/** MAP's palette: `rewards` m × N (reward functions × samples), `palette` the m targets. */
export function mapPalette(
  rewards: (number[] | Float64Array)[],
  palette: number[] | Float64Array,
  options?: { tolerance?: number; maxIterations?: number },
): {
  lambda: number[];
  weights: number[];
  expected: number[];
  dual: number;
  kkt: { active: boolean[]; violation: number; tolerance: number; satisfied: boolean };
  iterations: number;
};

// ---- Small-policy inference: a Llama-family GGUF (SmolLM2-135M-Instruct) generating and scoring text locally.

/** A chat message. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

/** One user message, a conversation through the chat template, or raw text (control tokens recognised). */
export type Prompt = string | ChatMessage[] | { text: string };

export interface LlamaConfig {
  layers: number;
  dim: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ropeBase: number;
  rmsEps: number;
  vocab: number;
  context: number;
}

export interface GenerateOptions {
  /** Most new tokens (128). */
  maxTokens?: number;
  /** 0 (the default) decodes greedily; otherwise logits are divided by it before sampling. */
  temperature?: number;
  /** Keep the k most likely tokens (40; 0: all). */
  topK?: number;
  /** Nucleus sampling mass (0.95). */
  topP?: number;
  /** llama.cpp's repetition penalty (1: off). */
  repetitionPenalty?: number;
  /** Window of the repetition penalty (64). */
  repeatLastN?: number;
  /** Seeds the sampler: the same seed, prompt and options give the same text. */
  seed?: number;
  /** Generation ends before any of these strings. */
  stop?: string | string[];
  /** A system message before the prompt. */
  system?: string;
  /** Cancels between tokens: the iterator and `result` reject with the signal's reason. */
  signal?: AbortSignal;
  /** Called with every piece, as the iterator yields it. */
  onToken?: (step: GenerationStep) => void;
}

/** One generated token and the text it completed (empty while a character or a possible stop string is pending). */
export interface GenerationStep {
  token: number;
  text: string;
}

export interface GenerationResult {
  text: string;
  tokens: Uint32Array;
  /** `eos` (an end-of-turn token), `stop` (a stop string), `length` (maxTokens) or `cancelled` (the loop broke). */
  finish: 'eos' | 'stop' | 'length' | 'cancelled';
  promptTokens: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** The path that ran: `gpu: <adapter>` or `cpu` (the model's `device`). */
  device: string;
}

/** A generation in progress: iterate it once for the pieces; `result` resolves when it ends. */
export interface Generation extends AsyncIterable<GenerationStep> {
  readonly result: Promise<GenerationResult>;
  /** Runs to the end without streaming. */
  complete(): Promise<GenerationResult>;
}

export interface TokenLogprobs {
  tokens: Uint32Array;
  /** Natural-log probability of each response token. */
  logprobs: Float32Array;
  total: number;
}

/** A Llama-family language model from a GGUF file. Long-lived: call `free()` when done. */
export class Llama {
  /**
   * From a file path (Node) or a URL (fetched with progress), streamed into the wasm module's memory, or from the
   * file's bytes. With `gpu` (from `Gpu.request()`) the weights are uploaded and `generate`/`logprobs` run there.
   */
  static load(
    source: string | URL | Uint8Array | ArrayBuffer,
    options?: { onProgress?: (p: { file: string; loaded: number; total: number }) => void; gpu?: Gpu | null },
  ): Promise<Llama>;
  readonly config: LlamaConfig;
  /** Where generation and scoring run: `gpu: <adapter>` or `cpu`. */
  readonly device: string;
  tokenize(text: string, options?: { special?: boolean }): Uint32Array;
  detokenize(ids: ArrayLike<number>): string;
  chatTemplate(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
  generate(prompt: Prompt, options?: GenerateOptions): Generation;
  logprobs(prompt: Prompt, response: string, options?: { system?: string }): Promise<TokenLogprobs>;
  /** β·(log π(response | prompt, system) − log π_ref(response | prompt, referenceSystem)). */
  implicitReward(
    prompt: Prompt,
    response: string,
    options?: { beta?: number; system?: string; reference?: Llama; referenceSystem?: string },
  ): Promise<{ reward: number; policy: number; reference: number; tokens: number }>;
  free(): void;
  [Symbol.dispose](): void;
}
