#!/usr/bin/env node
// Local sentence embeddings with a real encoder, with the npm package in pkg/.
//
// node examples/reward.mjs --model DIR --texts FILE [--device cpu|gpu|auto] [--json]
//
// The same arguments and output as `cargo run --example reward` (see examples/reward.rs).
import { readFile } from 'node:fs/promises';
import { init, Encoder } from '../pkg/index.js';

function fail(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

try {
  const args = process.argv.slice(2);
  let model = null;
  let texts = null;
  let device = 'auto';
  let json = false;
  for (let i = 0; i < args.length; i += 1) {
    const value = (name) => {
      if (i + 1 >= args.length) throw fail('INVALID_OPTION', `invalid option \`${name}\`: needs a value`);
      return args[++i];
    };
    switch (args[i]) {
      case '--model': model = value('--model'); break;
      case '--texts': texts = value('--texts'); break;
      case '--device': device = value('--device'); break;
      case '--json': json = true; break;
      default: throw fail('INVALID_OPTION', `invalid option \`arguments\`: unknown argument \`${args[i]}\``);
    }
  }
  if (!model || !texts) throw fail('INVALID_OPTION', 'invalid option `arguments`: usage: reward --model DIR --texts FILE [--device cpu|gpu|auto] [--json]');
  if (device === 'gpu') throw fail('GPU', 'gpu: the encoder has no GPU path yet; use --device cpu');
  if (device !== 'cpu' && device !== 'auto') throw fail('INVALID_OPTION', `invalid option \`--device\`: \`${device}\` is not cpu, gpu or auto`);
  await init();
  const encoder = await Encoder.load(model);
  let text;
  try {
    text = await readFile(texts, 'utf8');
  } catch (e) {
    throw fail('INVALID_OPTION', `invalid option \`--texts\`: cannot read \`${texts}\`: ${e.message}`);
  }
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const rows = encoder.embed(lines).map((e, i) => ({
    text: lines[i],
    head: Array.from(e.subarray(0, 8)),
    norm: Math.sqrt(e.reduce((s, x) => s + x * x, 0)),
  }));
  const dimension = encoder.dimension;
  encoder.free();
  if (json) console.log(JSON.stringify({ device: 'cpu', dimension, texts: rows }));
  else {
    console.log(`device: cpu, dimension ${dimension}`);
    for (const r of rows) console.log(`${r.head.map((x) => (x >= 0 ? '+' : '') + x.toFixed(4)).join(' ')} | norm ${r.norm.toFixed(6)} | ${r.text}`);
  }
} catch (e) {
  if (!e.code) throw e;
  console.error(`error[${e.code}] ${e.message}`);
  process.exit(2);
}
