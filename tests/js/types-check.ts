// Compiled with tsc --strict (never run): the public declarations in pkg/index.d.ts type-check as users write them.
import { init, Battles, Gpu, rank, rankSync } from '../../pkg/index.js';
import type { ArbiterError, Coefficient, Leaderboard, ModelRating, RankOptions } from '../../pkg/index.js';
import * as arbiter from '../../pkg/index.js';

async function main(): Promise<void> {
  await init();
  const battles: Battles = Battles.parse('model_a,model_b,winner\nx,y,model_a\n', { format: 'csv', skipInvalid: true });
  const options: RankOptions = { method: 'bt', ci: 'bootstrap', rounds: 100, seed: 1, anchor: { model: 'x', value: 1000 } };
  const board: Leaderboard = rankSync(battles, options);
  const top: ModelRating | undefined = board.models[0];
  const name: string = top?.model ?? '';
  const controller = new AbortController();
  const gpu: Gpu | null = await Gpu.request();
  const later = await rank(battles, { ci: 'sandwich', gpu, signal: controller.signal, onProgress: ({ done, total }) => void (done / total) });
  const p: number[][] | undefined = later.matrices?.predicted;
  const styled = Battles.parse('{"model_a":"x","model_b":"y","winner":"tie","response_a":"a","response_b":"b"}', { style: true });
  const controlled: Leaderboard = await rank(styled, { style: 'arena-rank', ci: 'bootstrap', gpu });
  const first: Coefficient | undefined = controlled.coefficients[0];
  const convention: 'fastchat' | 'arena-rank' | null = controlled.style;
  void first?.lower;
  void convention;
  styled.free();
  if (gpu) {
    const flat: Float32Array = await gpu.predicted([1000, 1100], { scale: 400 });
    void flat;
    gpu.free();
  }
  try {
    battles.free();
  } catch (e) {
    const err = e as ArbiterError;
    const code: 'PARSE' | string = err.code;
    void code;
  }
  void name;
  void p;
}
void main;

// ---- The methods beyond Bradley-Terry.
async function methods(battles: arbiter.Battles, human: arbiter.Battles): Promise<void> {
  const boards: arbiter.MethodBoard[] = [
    arbiter.davidson(battles, { ridge: 0 }),
    arbiter.raoKupper(battles),
    arbiter.plackettLuce(battles, { alpha: 0.5 }),
    arbiter.plackettLuce([['a', 'b', 'c'], { chosen: 'a', among: ['b'] }]),
    arbiter.wengLin(battles, { model: 'thurstone-mosteller-full' }),
    arbiter.nash(battles, { margins: 'fishburn', impute: 'half', beta: 0.1, mu: { a: 1, b: 2 } }),
    arbiter.nash([{ battles, weight: 2 }, { battles: human }], { beta: 0.01 }),
    arbiter.gpm(battles, { k: 2, hybrid: false }),
    arbiter.mixture(battles, { groups: 3, soft: true }),
    arbiter.lcpo(battles, { perAnnotator: false }),
  ];
  const tie: number | undefined = boards[0].tie;
  const p: number | undefined = boards[5].models[0].probability;
  const groups = boards[8].groups?.map((g) => g.models.length);
  const eq: arbiter.Equilibrium = arbiter.nash({ matrix: [[0, 1], [-1, 0]] }, { beta: 0.1, mu: [0.5, 0.5] });
  const payoff = arbiter.preferenceMatrix(battles, { margins: 'nlhf' });
  const teams: arbiter.WengLinRating[][] = arbiter.wengLinRate([[{ mu: 25, sigma: 8 }], [{ mu: 25, sigma: 8 }]], { ranks: [1, 2] });
  const agreement: arbiter.Agreement = arbiter.judgeAgreement(human, battles, { ci: 'none' });
  const consensus: arbiter.Consensus = arbiter.dawidSkene(human);
  const strength = arbiter.preferenceStrength(human)[0].spread;
  const net = arbiter.netWinScore(battles, 'a', ['b', 'c']).average;
  using sampler = new arbiter.PairSampler(battles.models, { strategy: 'fastchat', boost: ['a'], targets: { a: ['b'] } });
  const [a, b]: [string, string] = sampler.next();
  sampler.observe(a, b, 'tie');
  const sim = arbiter.simulateSampling({ ratings: { a: 0, b: 50 }, strategy: 'information-gain', targetWidth: 80 });
  console.log(tie, p, groups, eq.exploitability, payoff.matrix.length, teams[0][0].mu, agreement.kendall, consensus.priors, strength, net, sim.votes);
}
void methods;

async function embeddings(): Promise<void> {
  using encoder = await arbiter.Encoder.load('/models/all-MiniLM-L6-v2', { onProgress: ({ file, loaded, total }) => void [file, loaded / total] });
  const gpu = await arbiter.Gpu.request();
  using onGpu = await arbiter.Encoder.load('/models/all-MiniLM-L6-v2', { gpu: gpu && !gpu.isSoftware ? gpu : null });
  const { embeddings: rows, device }: { embeddings: Float32Array[]; device: string } = await onGpu.embed(['a text', 'another']);
  const fit = arbiter.fitRewardHead(rows, [{ a: 0, b: 1, score: 1 }], { validation: [{ a: 1, b: 0, score: 0.5 }], l2: 1e-3 });
  const scores: Float64Array = arbiter.rewardScores(fit.head, rows, { user: 'me' });
  const stored: arbiter.RewardHead = JSON.parse(JSON.stringify(fit.head));
  const p: Float64Array = arbiter.rewardPreferences(stored, { data: new Float32Array(768), dim: 384 });
  const pal = arbiter.fitPal(rows, [{ a: 0, b: 1, score: 1, user: 'u' }], { prototypes: 2 });
  const mine = arbiter.fitRewardUser(pal.head, 'me', rows, [{ a: 1, b: 0, score: 1 }]);
  const pick = arbiter.bestOfN({ rule: 'nash', preferences: p });
  const palette = arbiter.mapPalette([[1, 2], [0, 1]], [1.5, 0.5]);
  console.log(device, scores[0], mine.report.train.accuracy, pick.mixture?.probabilities, palette.kkt.satisfied);
  const fromBytes = await arbiter.Encoder.load({ config: '{}', weights: new Uint8Array(0), tokenizer: '{}' });
  console.log(rows[0][0], encoder.dimension, fromBytes.dimension);
  fromBytes.free();
}
void embeddings;

async function generate(): Promise<void> {
  const model: arbiter.Llama = await arbiter.Llama.load('/models/smollm2.gguf', { onProgress: ({ loaded, total }) => void (loaded / total) });
  const controller = new AbortController();
  const generation = model.generate('Name a color.', { maxTokens: 16, temperature: 0.7, seed: 3, stop: ['\n'], signal: controller.signal });
  let text = '';
  for await (const { token, text: piece } of generation) text += piece + String(token);
  const result: arbiter.GenerationResult = await generation.result;
  const finish: 'eos' | 'stop' | 'length' | 'cancelled' = result.finish;
  const chat: arbiter.ChatMessage[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }];
  const done = await model.generate(chat).complete();
  const scored: arbiter.TokenLogprobs = await model.logprobs({ text: '<|im_start|>user\nHi<|im_end|>\n' }, 'Hello');
  const r = await model.implicitReward('Hi', 'Hello', { beta: 0.1, system: 'Be kind.', reference: model });
  const c: arbiter.LlamaConfig = model.config;
  console.log(text, finish, done.decodeTokensPerSecond, scored.logprobs[0], r.reward, c.kvHeads, model.tokenize('a')[0], model.detokenize([1, 2]));
  model.free();
  const gpu: arbiter.Gpu | null = await arbiter.Gpu.request();
  const onGpu = await arbiter.Llama.load(new URL('https://example.org/smollm2.gguf'), { gpu });
  const device: string = onGpu.device;
  console.log(device, (await onGpu.generate('Hi', { maxTokens: 2 }).complete()).device);
  onGpu.free();
}
void generate;
