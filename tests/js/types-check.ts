// Compiled with tsc --strict (never run): the public declarations in pkg/index.d.ts type-check as users write them.
import { init, Battles, Gpu, rank, rankSync } from '../../pkg/index.js';
import type { ArbiterError, Coefficient, Leaderboard, ModelRating, RankOptions } from '../../pkg/index.js';

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
