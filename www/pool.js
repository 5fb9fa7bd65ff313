// Battle pools: prompts and the responses of models to them. The default is LLMFAO (www/data/llmfao-pool.json, made
// by scripts/make-demo-data.mjs); users add their own as JSONL, one response per line:
//   {"prompt": "…", "model": "…", "response": "…"}            (optional "prompt_id" groups lines by id)

/** A pool: { name, prompts: [{ id, text }], models: [names], answers: Map(prompt index → Map(model → text)) }. */
function build(name, prompts, models, triples) {
  const answers = new Map(prompts.map((_, i) => [i, new Map()]));
  for (const [p, m, text] of triples) answers.get(p).set(models[m], text);
  return { name, prompts, models, answers };
}

/** From www/data/llmfao-pool.json's shape: { name, prompts, models, responses: [[prompt, model, text]] }. */
export function fromCompact(data) {
  return build(data.name, data.prompts, data.models, data.responses);
}

/** From user JSONL; throws an Error naming the line for a bad one. */
export function fromJsonl(name, text) {
  const prompts = [];
  const promptAt = new Map();
  const models = [];
  const modelAt = new Map();
  const triples = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let r;
    try {
      r = JSON.parse(line);
    } catch {
      throw new Error(`line ${i + 1}: not JSON`);
    }
    for (const k of ['prompt', 'model', 'response']) {
      if (typeof r[k] !== 'string' || !r[k]) throw new Error(`line ${i + 1}: "${k}" must be a non-empty string`);
    }
    const key = String(r.prompt_id ?? r.prompt);
    if (!promptAt.has(key)) {
      promptAt.set(key, prompts.length);
      prompts.push({ id: key, text: r.prompt });
    }
    if (!modelAt.has(r.model)) {
      modelAt.set(r.model, models.length);
      models.push(r.model);
    }
    triples.push([promptAt.get(key), modelAt.get(r.model), r.response]);
  });
  if (models.length < 2) throw new Error('a pool needs responses of at least two models');
  return build(name, prompts, models, triples);
}

/** Prompt indexes both models answered. */
export function commonPrompts(pool, a, b) {
  return [...pool.answers].filter(([, byModel]) => byModel.has(a) && byModel.has(b)).map(([p]) => p);
}

/** Back to the compact shape (to keep an imported pool in localStorage). */
export function toCompact(pool) {
  const modelAt = new Map(pool.models.map((m, i) => [m, i]));
  const responses = [...pool.answers].flatMap(([p, byModel]) => [...byModel].map(([m, text]) => [p, modelAt.get(m), text]));
  return { name: pool.name, prompts: pool.prompts, models: pool.models, responses };
}
