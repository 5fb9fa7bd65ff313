// The local contestant: SmolLM2-135M-Instruct (the GGUF that scripts/setup.sh installs, served at /models/) answers
// battle prompts in this worker, off the page's thread, streaming its text back. Messages in:
//   { type: 'load', url, device }               → { type: 'progress', loaded, total }…, then { type: 'loaded', device }
//   { type: 'generate', id, prompt, maxTokens } → { type: 'token', id, text }…, then { type: 'done', id, text, tokensPerSecond }
// Any failure → { type: 'error', id?, message }.
// `device` as in examples/generate: 'auto' runs on a hardware WebGPU adapter and otherwise on the CPU (a software
// adapter such as SwiftShader is slower than the CPU), 'gpu' on any adapter (an error without one), 'cpu' on the CPU.
import { Gpu, Llama } from '../pkg/index.js';

let model = null;
let gpu = null; // the model's GPU context, kept for the model's lifetime
// One generation at a time, in order: a new request waits for the one before it.
let queue = Promise.resolve();

async function openGpu(device) {
  if (!['auto', 'gpu', 'cpu'].includes(device)) throw new Error(`device must be auto, gpu or cpu, not ${JSON.stringify(device)}`);
  if (device === 'cpu') return null;
  const found = await Gpu.request().catch(() => null);
  if (found && (device === 'gpu' || !found.isSoftware)) return found;
  found?.free();
  if (device === 'gpu') throw new Error('device gpu: this browser offers no WebGPU adapter');
  return null;
}

async function load({ url, device }) {
  gpu = await openGpu(device);
  try {
    model = await Llama.load(url, { gpu, onProgress: ({ loaded, total }) => postMessage({ type: 'progress', loaded, total }) });
  } catch (e) {
    gpu?.free();
    gpu = null;
    throw e;
  }
  postMessage({ type: 'loaded', device: model.device });
}

async function generate({ id, prompt, maxTokens }) {
  const generation = model.generate(prompt, { maxTokens });
  for await (const { text } of generation) if (text) postMessage({ type: 'token', id, text });
  const result = await generation.result;
  postMessage({ type: 'done', id, text: result.text, tokensPerSecond: result.decodeTokensPerSecond });
}

const fail = (id) => (e) => postMessage({ type: 'error', id, message: e.code ? `${e.code}: ${e.message}` : String(e.message ?? e) });

onmessage = ({ data }) => {
  if (data.type === 'load') {
    queue = load(data).catch(fail());
  } else if (data.type === 'generate') {
    queue = queue.then(() => (model ? generate(data) : Promise.reject(new Error('the model is not loaded')))).catch(fail(data.id));
  }
};
