#!/usr/bin/env node
// How well an LLM judge agrees with human votes on the same items (CapArena's protocol), with the npm package in pkg/.
//
// node examples/judge_agreement.mjs HUMAN_FILE JUDGE_FILE [--columns A,B,WINNER] [--json]
//
// The same arguments and output as `cargo run --example judge_agreement` (see examples/judge_agreement.rs).
import { readFile } from 'node:fs/promises';
import { init, Battles, judgeAgreement } from '../pkg/index.js';

function usage(message) {
  const err = new Error(message);
  err.code = 'INVALID_OPTION';
  return err;
}

function parseArgs(argv) {
  const files = [];
  let json = false;
  let columns = null;
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    if (flag === '--json') json = true;
    else if (flag === '--columns') {
      if (i + 1 >= argv.length) throw usage('invalid option `--columns`: needs a value');
      const parts = argv[++i].split(',');
      if (parts.length !== 3) throw usage('invalid option `--columns`: expects A,B,WINNER');
      columns = { modelA: parts[0], modelB: parts[1], winner: parts[2] };
    } else if (flag.startsWith('--')) throw usage(`invalid option \`arguments\`: unknown flag \`${flag}\``);
    else files.push(flag);
  }
  if (files.length !== 2) throw usage('invalid option `FILE`: usage: judge_agreement HUMAN_FILE JUDGE_FILE [--columns A,B,WINNER] [--json]');
  return { files, json, columns };
}

// A CSV whose header has `left` and `right` but no `model_a` is read as LLMFAO.
async function read(path, columns) {
  let text;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw usage(`invalid option \`FILE\`: cannot read \`${path}\`: ${e.message}`);
  }
  if (!columns) {
    const header = text.slice(0, Math.max(0, text.indexOf('\n'))).split(',').map((s) => s.trim());
    if (!header.includes('model_a') && header.includes('left') && header.includes('right')) columns = { modelA: 'left', modelB: 'right' };
  }
  return Battles.parse(text, columns ? { columns } : {});
}

try {
  const args = parseArgs(process.argv.slice(2));
  await init();
  const human = await read(args.files[0], args.columns);
  const judge = await read(args.files[1], args.columns);
  const a = judgeAgreement(human, judge);
  human.free();
  judge.free();
  if (args.json) {
    console.log(JSON.stringify({
      items: a.items,
      votes: a.votes,
      agreement_with_ties: a.agreementWithTies,
      agreement_without_ties: a.agreementWithoutTies,
      decisive_votes: a.decisiveVotes,
      spearman: a.spearman,
      kendall: a.kendall,
      models: a.models,
    }));
  } else {
    console.log(`items ${a.items}  votes compared ${a.votes}\nagreement with ties     ${a.agreementWithTies.toFixed(4)}\n`
      + `agreement without ties  ${a.agreementWithoutTies.toFixed(4)}  (${a.decisiveVotes} decisive pairs)\n`
      + `model level (${a.models} models): Spearman ${a.spearman.toFixed(4)}  Kendall ${a.kendall.toFixed(4)}`);
  }
} catch (e) {
  if (!e.code) throw e;
  console.error(`error[${e.code}] ${e.message}`);
  process.exit(2);
}
