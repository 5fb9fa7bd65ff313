// The local contestant: SmolLM2-135M-Instruct (the GGUF that scripts/setup.sh installs, served at /models/) answers
// battle prompts in this worker, off the page's thread, streaming its text back. Messages in:
//   { type: 'load', url }                       → { type: 'progress', loaded, total }…, then { type: 'loaded', device }
//   { type: 'generate', id, prompt, maxTokens } → { type: 'token', id, text }…, then { type: 'done', id, text, tokensPerSecond }
// Any failure → { type: 'error', id?, message }.
import { Llama } from '../pkg/index.js';

let model = null;
// One generation at a time, in order: a new request waits for the one before it.
let queue = Promise.resolve();

async function generate({ id, prompt, maxTokens }) {
  const generation = model.generate(prompt, { maxTokens });
  for await (const { text } of generation) if (text) postMessage({ type: 'token', id, text });
  const result = await generation.result;
  postMessage({ type: 'done', id, text: result.text, tokensPerSecond: result.decodeTokensPerSecond });
}

const fail = (id) => (e) => postMessage({ type: 'error', id, message: e.code ? `${e.code}: ${e.message}` : String(e.message ?? e) });

onmessage = ({ data }) => {
  if (data.type === 'load') {
    queue = Llama.load(data.url, { onProgress: ({ loaded, total }) => postMessage({ type: 'progress', loaded, total }) })
      .then((m) => {
        model = m;
        postMessage({ type: 'loaded', device: m.device ?? 'cpu' });
      }, fail());
  } else if (data.type === 'generate') {
    queue = queue.then(() => (model ? generate(data) : Promise.reject(new Error('the model is not loaded')))).catch(fail(data.id));
  }
};
