#!/usr/bin/env node
// A leaderboard from a battles file, with the npm package built in pkg/ (run scripts/build-wasm.sh first).
//
// node examples/leaderboard.mjs FILE [--format auto|json|jsonl|csv|counts] [--columns A,B,WINNER]
//     [--method bt|elo|davidson|rao-kupper|pl|weng-lin|nash|gpm|mixture|lcpo] [--groups K] [--ci none|sandwich|bootstrap] [--rounds N] [--seed S] [--level 0.95]
//     [--anchor MODEL=VALUE | --baseline MODEL] [--both-bad tie|exclude] [--ridge L] [--k K] [--skip-invalid] [--json]
//     [--style] [--style-convention fastchat|arena-rank] [--device cpu|gpu|auto]
//
// --device gpu needs WebGPU in Node (navigator.gpu; tests/js/webgpu-node.mjs installs Dawn's), auto uses it when
// present, cpu never does.
// The same flags and output as `cargo run --example leaderboard`. Bad input: exit code 2 and one line on stderr,
// `error[CODE] message`.
import { readFile } from 'node:fs/promises';
import * as arbiter from '../pkg/index.js';

const { init, Battles, Gpu, rank } = arbiter;

// The methods beyond Bradley-Terry, by their command-line name (see examples/leaderboard.rs).
const METHODS = {
  davidson: arbiter.davidson,
  'rao-kupper': arbiter.raoKupper,
  pl: arbiter.plackettLuce,
  'weng-lin': arbiter.wengLin,
  nash: arbiter.nash,
  gpm: arbiter.gpm,
  mixture: arbiter.mixture,
  lcpo: arbiter.lcpo,
};

function usage(message) {
  const err = new Error(message);
  err.code = 'INVALID_OPTION';
  return err;
}

function parseArgs(argv) {
  const parse = {};
  const options = {};
  let file = null;
  let json = false;
  let device = 'auto';
  let convention = 'fastchat';
  let method = null;
  const methodOptions = {};
  const number = (flag, v) => {
    const x = Number(v);
    if (v === undefined || v.trim() === '' || !Number.isFinite(x)) throw usage(`invalid option \`${flag}\`: \`${v}\` is not a valid number`);
    return x;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw usage(`invalid option \`${flag}\`: needs a value`);
      i += 1;
      return argv[i];
    };
    switch (flag) {
      case '--json': json = true; break;
      case '--style': parse.style = true; break;
      case '--style-convention': {
        convention = value();
        if (!['fastchat', 'arena-rank'].includes(convention)) throw usage(`invalid option \`styleConvention\`: \`${convention}\` is not one of fastchat, arena-rank`);
        break;
      }
      case '--device': {
        device = value();
        if (!['cpu', 'gpu', 'auto'].includes(device)) throw usage(`invalid option \`--device\`: \`${device}\` is not cpu, gpu or auto`);
        break;
      }
      case '--skip-invalid': parse.skipInvalid = true; break;
      case '--format': parse.format = value(); break;
      case '--columns': {
        const parts = value().split(',');
        if (parts.length !== 3 && parts.length !== 4) throw usage('invalid option `--columns`: expects A,B,WINNER[,JUDGE]');
        parse.columns = { modelA: parts[0], modelB: parts[1], winner: parts[2] };
        if (parts.length === 4) parse.columns.judge = parts[3];
        break;
      }
      case '--method': {
        const m = value();
        if (m in METHODS) method = m;
        else if (m === 'bt' || m === 'elo') options.method = m;
        else throw usage(`invalid option \`--method\`: \`${m}\` is not one of bt, elo, ${Object.keys(METHODS).join(', ')}`);
        break;
      }
      case '--groups': {
        const k = number(flag, value());
        if (!Number.isInteger(k) || k < 0) throw usage(`invalid option \`--groups\`: \`${k}\` is not a valid number`);
        methodOptions.groups = k;
        break;
      }
      case '--ci': options.ci = value(); break;
      case '--rounds': options.rounds = number(flag, value()); break;
      case '--seed': options.seed = number(flag, value()); break;
      case '--level': options.level = number(flag, value()); break;
      case '--ridge': options.ridge = number(flag, value()); break;
      case '--k': options.k = number(flag, value()); break;
      case '--anchor': {
        const v = value();
        const at = v.lastIndexOf('=');
        if (at < 0) throw usage('invalid option `--anchor`: expects MODEL=VALUE');
        options.anchor = { model: v.slice(0, at), value: number(flag, v.slice(at + 1)) };
        break;
      }
      case '--baseline': options.baseline = value(); break;
      case '--both-bad': options.bothBad = value(); break;
      default:
        if (flag.startsWith('--')) throw usage(`invalid option \`arguments\`: unknown flag \`${flag}\``);
        if (file !== null) throw usage(`invalid option \`arguments\`: unexpected argument \`${flag}\``);
        file = flag;
    }
  }
  if (file === null) throw usage('invalid option `FILE`: usage: leaderboard FILE [options] (see the source for the list)');
  if (parse.style) options.style = convention;
  if (!method && Object.keys(methodOptions).length > 0) throw usage('invalid option `--groups`: applies to --method mixture only');
  return { file, parse, options, json, device, method, methodOptions };
}

function table(board, plain, skipped) {
  const width = Math.max(5, ...board.models.map((m) => [...m.model].length));
  const num = (x) => x.toFixed(2).padStart(9);
  let head = `${'rank'.padStart(4)}  ${'model'.padEnd(width)}  ${'rating'.padStart(9)}  ${'lower'.padStart(9)}  ${'upper'.padStart(9)}  ${'battles'.padStart(7)}`;
  if (plain) head += '  no style  moved';
  const lines = [head];
  board.models.forEach((m, position) => {
    let line = `${String(m.rank).padStart(4)}  ${m.model.padEnd(width)}  ${num(m.rating)}  ${num(m.lower)}  ${num(m.upper)}  ${String(m.battles).padStart(7)}`;
    const at = plain ? plain.models.findIndex((o) => o.model === m.model) : -1;
    if (at >= 0) {
      const moved = at - position;
      line += `  ${plain.models[at].rating.toFixed(2).padStart(8)}  ${(moved >= 0 ? `+${moved}` : String(moved)).padStart(5)}`;
    }
    lines.push(line + (m.identified ? '' : '  (not identified)'));
  });
  for (const c of board.coefficients) lines.push(`coefficient ${c.name.padEnd(22)} ${c.value.toFixed(4).padStart(9)}  [${c.lower.toFixed(4)}, ${c.upper.toFixed(4)}]`);
  lines.push(`device: ${board.device}`);
  for (const w of board.warnings) lines.push(`warning: ${w}`);
  if (skipped > 0) lines.push(`skipped ${skipped} invalid rows`);
  return lines.join('\n');
}

// The table of a method board (the same as the Rust example's method_table).
function methodTable(board) {
  const width = Math.max(5, ...board.models.map((m) => [...m.model].length));
  const lines = [];
  const rows = (models) => {
    lines.push(`${'rank'.padStart(4)}  ${'model'.padEnd(width)}  ${'rating'.padStart(9)}  ${''.padStart(11)}  ${'battles'.padStart(7)}`);
    models.forEach((m, i) => {
      const extra = m.probability !== undefined ? `p=${m.probability.toFixed(4)}` : m.mu !== undefined ? `mu=${m.mu.toFixed(3)}` : m.winRate !== undefined ? `win=${m.winRate.toFixed(4)}` : '';
      lines.push(`${String(i + 1).padStart(4)}  ${m.model.padEnd(width)}  ${m.rating.toFixed(2).padStart(9)}  ${extra.padStart(11)}  ${String(m.battles).padStart(7)}${m.identified ? '' : '  (not identified)'}`);
    });
  };
  rows(board.models);
  (board.groups ?? []).forEach((g, i) => {
    lines.push('', `group ${i}: weight ${g.weight.toFixed(3)}, ${g.annotators.length} annotators`);
    rows(g.models);
  });
  for (const [name, v] of [['tie', board.tie], ['exploitability', board.exploitability], ['exploitability of the BT #1', board.btTopExploitability], ['eta', board.eta], ['log-likelihood', board.logLikelihood]]) {
    if (v !== undefined) lines.push(`${name}: ${v.toFixed(6)}`);
  }
  for (const w of board.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}

async function device(kind) {
  if (kind === 'cpu') return null;
  const gpu = await Gpu.request();
  if (!gpu && kind === 'gpu') {
    const err = new Error('no adapter: WebGPU is not available in this Node (see tests/js/webgpu-node.mjs)');
    err.code = 'GPU';
    throw err;
  }
  return gpu;
}

try {
  const args = parseArgs(process.argv.slice(2));
  await init();
  let bytes;
  try {
    bytes = await readFile(args.file);
  } catch (e) {
    throw usage(`invalid option \`FILE\`: cannot read \`${args.file}\`: ${e.message}`);
  }
  const battles = Battles.parse(bytes, args.parse);
  if (args.method) {
    const board = METHODS[args.method](battles, args.methodOptions);
    battles.free();
    console.log(args.json ? JSON.stringify(board) : methodTable(board));
    process.exit(0);
  }
  const gpu = await device(args.device);
  const board = await rank(battles, { ...args.options, gpu });
  if (!gpu && args.device !== 'cpu') board.device = 'cpu (no GPU adapter)';
  const plain = args.options.style && !args.json ? await rank(battles, { ...args.options, style: undefined, ci: 'none' }) : null;
  const skipped = battles.skipped;
  battles.free();
  gpu?.free();
  console.log(args.json ? JSON.stringify({ ...board, skipped }) : table(board, plain, skipped.length));
} catch (e) {
  if (!e.code) throw e;
  console.error(`error[${e.code}] ${e.message}`);
  process.exit(2);
}
