#!/usr/bin/env node
// A small policy model with the npm package in pkg/: SmolLM2-135M-Instruct (GGUF) answering a prompt, or scoring a
// response.
//
// node examples/generate.mjs --model FILE --prompt TEXT [--max-tokens N] [--seed S] [--temperature T] [--top-k K]
//     [--top-p P] [--repetition-penalty R] [--stop TEXT]... [--device cpu|gpu|auto] [--json]
// node examples/generate.mjs --model FILE --prompt TEXT --score RESPONSE [--json]
//
// The same arguments and output as `cargo run --example generate` (see examples/generate.rs): the answer streams to
// stdout, then a summary line; with --json one object {"text", "tokens", "prefill_tokens_per_s",
// "decode_tokens_per_s", "device", "finish"}, or {"logprob", "tokens", "device"} with --score. `--device gpu` requires
// a WebGPU adapter (the WGSL forward), `cpu` never uses one, `auto` (the default) uses a hardware adapter and otherwise
// the CPU (wasm; a software adapter such as SwiftShader is slower); "device" says which ran. WebGPU in Node needs
// `NODE_OPTIONS="--import ./tests/js/webgpu-node.mjs"` (Dawn); without it `auto` is the CPU.
import { init, Gpu, Llama } from '../pkg/index.js';

function fail(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

const USAGE = 'usage: generate --model FILE --prompt TEXT [--score RESPONSE] [--max-tokens N] [--seed S] '
  + '[--temperature T] [--device cpu|gpu|auto] [--json]';

function parseArgs(args) {
  const a = { model: null, prompt: null, score: null, device: 'auto', json: false, options: { stop: [] } };
  const number = (name, v) => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x)) throw fail('INVALID_OPTION', `invalid option \`${name}\`: \`${v}\` is not a valid number`);
    return x;
  };
  for (let i = 0; i < args.length; i += 1) {
    const value = (name) => {
      if (i + 1 >= args.length) throw fail('INVALID_OPTION', `invalid option \`${name}\`: needs a value`);
      return args[++i];
    };
    const option = { '--max-tokens': 'maxTokens', '--seed': 'seed', '--temperature': 'temperature', '--top-k': 'topK',
      '--top-p': 'topP', '--repetition-penalty': 'repetitionPenalty' }[args[i]];
    if (option) {
      a.options[option] = number(args[i], value(args[i]));
      continue;
    }
    switch (args[i]) {
      case '--model': a.model = value('--model'); break;
      case '--prompt': a.prompt = value('--prompt'); break;
      case '--score': a.score = value('--score'); break;
      case '--stop': a.options.stop.push(value('--stop')); break;
      case '--device': a.device = value('--device'); break;
      case '--json': a.json = true; break;
      default: throw fail('INVALID_OPTION', `invalid option \`arguments\`: unknown argument \`${args[i]}\``);
    }
  }
  if (!a.model || a.prompt === null) throw fail('INVALID_OPTION', `invalid option \`arguments\`: ${USAGE}`);
  if (!['cpu', 'gpu', 'auto'].includes(a.device)) throw fail('INVALID_OPTION', `invalid option \`--device\`: \`${a.device}\` is not cpu, gpu or auto`);
  return a;
}

/** The model on the chosen path, the GPU context (or null) and what `device` says. */
async function open(a) {
  const gpu = a.device === 'cpu' ? null : await Gpu.request();
  if (!gpu) {
    if (a.device === 'gpu') throw fail('GPU', 'GPU error: no WebGPU adapter');
    return { model: await Llama.load(a.model), gpu, device: a.device === 'cpu' ? 'cpu' : 'cpu (no WebGPU adapter)' };
  }
  if (a.device === 'auto' && gpu.isSoftware) {
    const device = `cpu (${gpu.adapter} is a software adapter)`;
    gpu.free();
    return { model: await Llama.load(a.model), gpu: null, device };
  }
  const model = await Llama.load(a.model, { gpu });
  return { model, gpu, device: model.device };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  await init();
  const { model, gpu, device } = await open(a);
  try {
    if (a.score !== null) {
      const { total, tokens } = await model.logprobs(a.prompt, a.score);
      return a.json ? JSON.stringify({ logprob: total, tokens: tokens.length, device })
        : `log p(response | prompt) = ${total.toFixed(4)} over ${tokens.length} tokens (${device})`;
    }
    const generation = model.generate(a.prompt, a.options);
    for await (const { text } of generation) if (!a.json) process.stdout.write(text);
    const r = await generation.result;
    const out = { text: r.text, tokens: r.tokens.length, prefill_tokens_per_s: r.prefillTokensPerSecond,
      decode_tokens_per_s: r.decodeTokensPerSecond, device, finish: r.finish };
    return a.json ? JSON.stringify(out)
      : `\n[${out.tokens} tokens, ${r.finish}; prefill ${out.prefill_tokens_per_s.toFixed(1)} tokens/s (${r.promptTokens} tokens), `
        + `decode ${out.decode_tokens_per_s.toFixed(1)} tokens/s, ${device}]`;
  } finally {
    model.free();
    gpu?.free();
  }
}

main().then((out) => console.log(out), (e) => {
  console.error(`error[${e.code ?? 'INTERNAL'}] ${e.message}`);
  process.exit(2);
});
