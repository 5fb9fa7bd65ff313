// The optional local contestant: SmolLM2-135M-Instruct answering battle prompts in a worker (llm-worker.js), its
// text streamed into the page. Answers are greedy, so each prompt's answer is generated once and kept.
export const LOCAL = 'SmolLM2-135M-Instruct (local)';
const MODEL_URL = '/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf';
const MAX_TOKENS = 160;

export class Contestant {
  #worker = new Worker(new URL('llm-worker.js', import.meta.url), { type: 'module' });
  #answers = new Map(); // prompt text → Promise of the full answer
  #streams = new Map(); // request id → { onText, text, ok, fail }
  #next = 0;
  device = null;
  /** Resolves once the model is loaded (rejects when it cannot be). */
  loaded;

  /** `onProgress(loaded, total)`: bytes of the model file read so far; `device`: 'auto', 'gpu' or 'cpu' (llm-worker.js). */
  constructor(onProgress, device = 'auto') {
    this.loaded = new Promise((ok, fail) => {
      this.#worker.onmessage = ({ data }) => {
        const stream = this.#streams.get(data.id);
        if (data.type === 'progress') onProgress(data.loaded, data.total);
        else if (data.type === 'loaded') {
          this.device = data.device;
          ok();
        } else if (data.type === 'token' && stream) {
          stream.text += data.text;
          stream.onText(stream.text);
        } else if (data.type === 'done' && stream) {
          this.#streams.delete(data.id);
          stream.ok(data.text);
        } else if (data.type === 'error') {
          if (stream) {
            this.#streams.delete(data.id);
            stream.fail(new Error(data.message));
          } else fail(new Error(data.message));
        }
      };
    });
    this.#worker.postMessage({ type: 'load', url: MODEL_URL, device });
  }

  /** Ends the worker and the model in it (after a failed load). */
  close() {
    this.#worker.terminate();
  }

  /** The answer to `prompt`; `onText(textSoFar)` follows it as it streams (once, with the whole text, if cached). */
  answer(prompt, onText) {
    const cached = this.#answers.get(prompt);
    if (cached) return cached.then((text) => { onText(text); return text; });
    const id = this.#next;
    this.#next += 1;
    const promise = new Promise((ok, fail) => this.#streams.set(id, { onText, text: '', ok, fail }));
    this.#answers.set(prompt, promise);
    promise.catch(() => this.#answers.delete(prompt));
    this.#worker.postMessage({ type: 'generate', id, prompt, maxTokens: MAX_TOKENS });
    return promise;
  }
}
