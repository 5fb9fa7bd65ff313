// Golden reference outputs of llama.cpp itself (through the prebuilt npm binding
// @fugood/llama.node 1.7.15, installed on demand: it is not in package.json because npm would also fetch its
// CUDA and Vulkan builds, ~300 MB, on every CI machine) on the
// SmolLM2-135M-Instruct Q4_1 GGUF, for the Rust re-implementation to match.
//
// Run by hand from the repository root (about 5 minutes on 1 thread; llama.cpp
// prints its own logs to stdout/stderr, hence the redirect):
//
//   npm install --no-save --omit=optional @fugood/llama.node@1.7.15 @fugood/node-llama-linux-x64@1.7.15
//   node scripts/golden/make_llama_goldens.mjs > /tmp/make_llama_goldens.log 2>&1; tail -n 30 /tmp/make_llama_goldens.log
//
// Optional: MODEL=/path/to/SmolLM2-135M-Instruct.Q4_1.gguf (default under
// ~/.cache/arbiter/models/smollm2-135m/) and OUT=path (default
// tests/golden/smollm2-llamacpp.json).
//
// What it writes (see the "notes" fields inside the JSON for exact semantics):
//   tokenize   token ids of LLMFAO prompts, 30 LLMFAO responses and hand cases,
//              as llama.cpp tokenises them (common_tokenize(add_special=false,
//              parse_special=true)), plus llama.cpp's detokenisation of them.
//   chat       ChatML prompt from the GGUF's jinja chat template + its ids.
//   greedy     48-token greedy continuations (ids + text).
//   first_step top-20 full-vocab softmax probabilities (temperature 1) at the
//              first generated position, plus logits derived from llama.cpp's
//              own final hidden state.
//   perf       llama.cpp timings for a 128-token prompt + 64 generated tokens.
//
// The binding exposes neither generated token ids nor raw logits, so:
//   - generated/candidate token ids are recovered from the token strings the
//     binding reports (n_probs), through the GGUF vocabulary parsed here, and
//     checked against llama.cpp's detokenize();
//   - raw logits are derived: llama.cpp's final normed hidden state (embedding
//     context, pooling "last", no normalisation) times the Q8_0 token_embd
//     matrix read from the GGUF, emulating ggml's scalar Q8_0 x Q8_0 dot
//     product (the prebuilt linux-x64 binary has no AVX code paths). These are
//     checked against llama.cpp's probabilities: ln(p_i/p_top) = l_i - l_top.

import { createHash } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const llama = await import('@fugood/llama.node')
const { loadModel, BuildInfo, toggleNativeLog, addNativeLogListener } = llama

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const MODEL =
  process.env.MODEL ||
  path.join(os.homedir(), '.cache/arbiter/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf')
const OUT = process.env.OUT || path.join(ROOT, 'tests/golden/smollm2-llamacpp.json')
const LLMFAO = process.env.LLMFAO_DIR || path.resolve(ROOT, '../shared/data/llmfao')
const LLMFAO_ALT = path.join(ROOT, 'shared/data/llmfao')

const N_CTX = 2048
const N_THREADS = 1
const GREEDY_N = 48
const TOP_N = 20
const N_CHAT = 10

const say = (...a) => console.error('[goldens]', ...a)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------- helpers

/** Shortest decimal that reads back as the same float32. */
function f32(x) {
  if (!Number.isFinite(x)) return x
  const t = Math.fround(x)
  for (let p = 6; p <= 9; p++) {
    const v = Number(t.toPrecision(p))
    if (Math.fround(v) === t) return v
  }
  return t
}
/** Round a double for storage (derived, not bit-exact values). */
const r6 = (x) => Number(x.toPrecision(7))

/** JSON with objects indented and arrays of primitives on one line. */
function stringify(v, ind = '') {
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) return '[' + v.map((x) => JSON.stringify(x)).join(',') + ']'
    const i2 = ind + '  '
    return '[\n' + v.map((x) => i2 + stringify(x, i2)).join(',\n') + '\n' + ind + ']'
  }
  if (v && typeof v === 'object') {
    const i2 = ind + '  '
    const ks = Object.keys(v).filter((k) => v[k] !== undefined)
    if (!ks.length) return '{}'
    return '{\n' + ks.map((k) => i2 + JSON.stringify(k) + ': ' + stringify(v[k], i2)).join(',\n') + '\n' + ind + '}'
  }
  return JSON.stringify(v)
}

function readJsonl(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
}

// ---------------------------------------------------------------- GGUF

/** Minimal GGUF v3 reader: metadata and tensor table. */
function readGguf(file) {
  const fd = fs.openSync(file, 'r')
  const size = fs.fstatSync(fd).size
  const head = Buffer.alloc(Math.min(size, 8 << 20))
  fs.readSync(fd, head, 0, head.length, 0)
  let o = 0
  const u32 = () => { const v = head.readUInt32LE(o); o += 4; return v }
  const u64 = () => { const v = Number(head.readBigUInt64LE(o)); o += 8; return v }
  const str = () => { const n = u64(); const s = head.toString('utf8', o, o + n); o += n; return s }
  const scalar = (t) => {
    switch (t) {
      case 0: return head.readUInt8(o++)
      case 1: return head.readInt8(o++)
      case 2: { const v = head.readUInt16LE(o); o += 2; return v }
      case 3: { const v = head.readInt16LE(o); o += 2; return v }
      case 4: return u32()
      case 5: { const v = head.readInt32LE(o); o += 4; return v }
      case 6: { const v = head.readFloatLE(o); o += 4; return v }
      case 7: return head.readUInt8(o++) !== 0
      case 8: return str()
      case 10: return u64()
      case 11: { const v = Number(head.readBigInt64LE(o)); o += 8; return v }
      case 12: { const v = head.readDoubleLE(o); o += 8; return v }
      default: throw new Error('gguf: bad value type ' + t)
    }
  }
  const value = (t) => {
    if (t !== 9) return scalar(t)
    const et = u32(); const n = u64(); const a = new Array(n)
    for (let i = 0; i < n; i++) a[i] = value(et)
    return a
  }
  if (head.toString('latin1', 0, 4) !== 'GGUF') throw new Error('not a GGUF file')
  o = 4
  const version = u32(); const nTensors = u64(); const nKv = u64()
  const kv = {}
  for (let i = 0; i < nKv; i++) { const k = str(); const t = u32(); kv[k] = value(t) }
  const tensors = {}
  for (let i = 0; i < nTensors; i++) {
    const name = str(); const nd = u32(); const ne = []
    for (let d = 0; d < nd; d++) ne.push(u64())
    const type = u32(); const offset = u64()
    tensors[name] = { ne, type, offset }
  }
  const align = kv['general.alignment'] ?? 32
  const dataOffset = Math.ceil(o / align) * align
  fs.closeSync(fd)
  return { version, kv, tensors, dataOffset, size }
}

/** GPT-2 byte<->unicode table: unicode code point -> byte. */
function gpt2ByteDecoder() {
  const bs = []
  for (let b = 33; b <= 126; b++) bs.push(b)
  for (let b = 161; b <= 172; b++) bs.push(b)
  for (let b = 174; b <= 255; b++) bs.push(b)
  const cs = bs.slice(); let n = 0
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n); n++ }
  const dec = new Map()
  bs.forEach((b, i) => dec.set(cs[i], b))
  return dec
}

function fp16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1; const e = (h >> 10) & 0x1f; const m = h & 0x3ff
  if (e === 0) return s * m * 2 ** -24
  if (e === 31) return m ? NaN : s * Infinity
  return s * (1 + m / 1024) * 2 ** (e - 15)
}
/** float32 -> fp16 bits, round to nearest even (ggml's software conversion). */
function f32ToFp16(x) {
  const f = new Float32Array([x]); const u = new Uint32Array(f.buffer)[0]
  const sign = (u >>> 16) & 0x8000; let e = (u >>> 23) & 0xff; let m = u & 0x7fffff
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0)
  e = e - 127 + 15
  if (e >= 31) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    m |= 0x800000; const shift = 14 - e
    let hm = m >>> shift; const rem = m & ((1 << shift) - 1); const half = 1 << (shift - 1)
    if (rem > half || (rem === half && (hm & 1))) hm++
    return sign | hm
  }
  let hm = m >>> 13; const rem = m & 0x1fff
  let out = sign | (e << 10) | hm
  if (rem > 0x1000 || (rem === 0x1000 && (hm & 1))) out++
  return out
}
const roundf = (x) => (x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5))

// ---------------------------------------------------------------- main

const t0 = Date.now()
const pkg = require('@fugood/llama.node/package.json')
const binPkg = require(`@fugood/node-llama-${process.platform}-${process.arch}/package.json`)

say('hashing', MODEL)
const modelBuf = fs.readFileSync(MODEL)
const sha256 = createHash('sha256').update(modelBuf).digest('hex')
const gguf = readGguf(MODEL)
const vocab = gguf.kv['tokenizer.ggml.tokens']
const ttype = gguf.kv['tokenizer.ggml.token_type']
const byteDec = gpt2ByteDecoder()
/** Bytes llama.cpp's token_to_piece(special=true) yields for each id. */
const pieceBytes = vocab.map((s, id) => {
  if (ttype[id] !== 1) return Buffer.from(s, 'utf8') // control / user-defined: raw text
  return Buffer.from([...s].map((c) => {
    const b = byteDec.get(c.codePointAt(0))
    if (b === undefined) throw new Error(`token ${id}: char outside GPT-2 byte map`)
    return b
  }))
})
/** The string the binding reports for a token (rnllama tokens_to_output_formatted_string). */
const reported = (buf) => (buf.length === 1 && buf[0] & 0x80 ? 'byte: \\x' + buf[0].toString(16) : buf.toString('utf8'))
const byReported = new Map()
pieceBytes.forEach((b, id) => {
  const k = reported(b)
  if (!byReported.has(k)) byReported.set(k, [])
  byReported.get(k).push(id)
})
const idsFor = (s) => byReported.get(s) || []

/** Resolve per-step reported strings to ids, disambiguating invalid-UTF-8 pieces by the text bytes. */
function resolveIds(strs, textBytes) {
  const sols = []
  const walk = (i, off, acc) => {
    if (sols.length > 1) return
    if (i === strs.length) { if (!textBytes || off === textBytes.length) sols.push(acc.slice()); return }
    for (const id of idsFor(strs[i])) {
      const b = pieceBytes[id]
      if (textBytes && (off + b.length > textBytes.length || !textBytes.subarray(off, off + b.length).equals(b))) continue
      acc.push(id); walk(i + 1, off + b.length, acc); acc.pop()
    }
  }
  walk(0, 0, [])
  return sols
}

// token_embd (Q8_0) for derived logits
const te = gguf.tensors['token_embd.weight']
if (te.type !== 8) throw new Error('token_embd is not Q8_0')
const [nEmbd, nVocab] = te.ne
const teBase = gguf.dataOffset + te.offset
const rowBytes = (nEmbd / 32) * 34
/** logits = E . h : ggml scalar Q8_0 x Q8_0 emulation (f32) and an exact f64 reference. */
function deriveLogits(h) {
  const nb = nEmbd / 32
  const qd = new Float64Array(nb); const qs = new Int8Array(nEmbd)
  for (let b = 0; b < nb; b++) {
    let amax = 0
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(h[b * 32 + j]))
    const d = Math.fround(amax / 127); const id = d ? Math.fround(1 / d) : 0
    qd[b] = fp16ToF32(f32ToFp16(d))
    for (let j = 0; j < 32; j++) qs[b * 32 + j] = roundf(Math.fround(h[b * 32 + j] * id))
  }
  const emul = new Float32Array(nVocab); const exact = new Float64Array(nVocab)
  for (let r = 0; r < nVocab; r++) {
    let o = teBase + r * rowBytes; let sumf = 0; let sx = 0
    for (let b = 0; b < nb; b++) {
      const dw = fp16ToF32(modelBuf.readUInt16LE(o)); o += 2
      let sumi = 0; let sb = 0
      for (let j = 0; j < 32; j++) {
        const w = modelBuf.readInt8(o + j)
        sumi += w * qs[b * 32 + j]; sb += w * h[b * 32 + j]
      }
      o += 32
      sumf = Math.fround(sumf + Math.fround(sumi * Math.fround(dw * qd[b])))
      sx += dw * sb
    }
    emul[r] = sumf; exact[r] = sx
  }
  return { emul, exact }
}

// ---------------------------------------------------------------- inputs

const llmfaoDir = fs.existsSync(path.join(LLMFAO, 'prompts.jsonl')) ? LLMFAO : LLMFAO_ALT
const prompts = readJsonl(path.join(llmfaoDir, 'prompts.jsonl'))
const results = readJsonl(path.join(llmfaoDir, 'results.jsonl'))
const respSel = results.filter((r, i) => i % 37 === 0).slice(0, 30)
const hand = [
  '', ' ', '  multiple   spaces', 'Hello world! 123', 'What is 12345 + 678?', 'Café déjà vu.',
  '日本語のテキスト', 'emoji 👍🏽 family 👨‍👩‍👧 flag 🇫🇷', '½ ² ٣ ⅷ', 'tabs\tand\nnewlines\r\n',
  '<|im_start|>user\nHi<|im_end|>\n', "don't won't I'll we've", 'x = [1,2,3]; // code', '   leading and trailing   ',
]

// ---------------------------------------------------------------- llama.cpp

const logs = []
addNativeLogListener((level, text) => logs.push(text))
await toggleNativeLog(true)

const ctxOpts = {
  model: MODEL, n_ctx: N_CTX, n_threads: N_THREADS, n_gpu_layers: 0, use_mmap: true, lib_variant: 'default',
}
say('loading model (generation context)')
const ctx = await loadModel(ctxOpts)
const systemInfo = ctx.getSystemInfo()
const modelInfo = ctx.getModelInfo()
const addBos = String(modelInfo.metadata['tokenizer.ggml.add_bos_token'])

const tok = async (text) => Array.from((await ctx.tokenize(text)).tokens)
const detok = (ids) => ctx.detokenize(ids)

async function tokCase(text, extra = {}, pieces = false) {
  const ids = await tok(text)
  const d = await detok(ids)
  const c = { ...extra, text, ids, detok: d, roundtrip: d === text }
  if (pieces) c.pieces = ids.map((i) => vocab[i])
  return c
}

say('tokenize')
const tokenize = {
  notes: 'ids = llama.cpp common_tokenize(ctx, text, add_special=false, parse_special=true) (the binding\'s tokenize()). ' +
    'No BOS is added: the GGUF has tokenizer.ggml.add_bos_token=false, and completion() also tokenises with ' +
    'add_special=llama_vocab_get_add_bos()=false, parse_special=true. detok = llama.cpp detokenize (common_detokenize, ' +
    'special=true); roundtrip = (detok === text). pieces (hand cases) are the GGUF vocab strings (GPT-2 byte-level form).',
  add_special: false, parse_special: true, gguf_add_bos_token: addBos,
  llmfao_prompts: [], llmfao_responses: [], hand: [],
}
for (const p of prompts) tokenize.llmfao_prompts.push(await tokCase(p.text, { id: p.id }))
for (const r of respSel) tokenize.llmfao_responses.push(await tokCase(r.result, { id: r.id }))
for (const h of hand) tokenize.hand.push(await tokCase(h, {}, true))

say('chat')
const chat = {
  notes: 'prompt = binding getFormattedChat([{role:"user",content}], undefined, {add_generation_prompt:true}), which renders ' +
    'the GGUF tokenizer.chat_template with llama.cpp\'s jinja engine (type "jinja"); the template injects the default ' +
    'system prompt. ids = tokenize(prompt) (parse_special=true, no BOS). completion() tokenises its prompt with the same ' +
    'common_tokenize(add_special=false, parse_special=true); completion_prompt_n = prompt tokens llama.cpp evaluated ' +
    'for the greedy run (equals ids.length). llama_chat_builtin_prompt = the same ' +
    'call with jinja:false (llama.cpp\'s built-in "chatml" formatter), which does NOT inject the system prompt; not used below.',
  conversations: [],
}
const chatPrompts = prompts.slice(0, N_CHAT)
for (const p of chatPrompts) {
  const messages = [{ role: 'user', content: p.text }]
  const f = ctx.getFormattedChat(messages, undefined, { add_generation_prompt: true })
  const fb = ctx.getFormattedChat(messages, undefined, { add_generation_prompt: true, jinja: false })
  chat.conversations.push({
    id: p.id, messages, add_generation_prompt: true, template_type: f.type, prompt: f.prompt, ids: await tok(f.prompt),
    llama_chat_builtin_prompt: fb.prompt,
  })
}

// sampler settings: everything that could alter the distribution switched off explicitly
const neutral = {
  top_p: 1, min_p: 0, typical_p: 1, typ_p: 1, top_n_sigma: -1, mirostat: 0,
  penalty_last_n: 0, penalty_repeat: 1, penalty_freq: 0, penalty_present: 0,
  dry_multiplier: 0, xtc_probability: 0, xtc_threshold: 1, seed: 1234, stop: [], ignore_eos: false,
}
// The binding never clears its list of per-token probabilities between completions
// (rnllama generated_token_probs): each result carries all earlier entries first.
let probsSeen = 0
async function complete(opts) {
  ctx.clearCache(true) // fresh KV + no prefix reuse: the whole prompt is evaluated every time
  const res = await ctx.completion(opts)
  await sleep(30)
  const all = res.completion_probabilities || []
  if (all.length < probsSeen) throw new Error('completion_probabilities shrank; cannot align')
  const steps = all.slice(probsSeen)
  probsSeen = all.length
  return { res, steps }
}

say('greedy')
const greedy = {
  notes: 'completion({prompt: chat prompt, n_predict: 48, temperature: 0, top_k: 1, no penalties/DRY/XTC/top-p/min-p, ' +
    'stop: [], n_probs: 1}) after clearCache(true). Sampler chain top_k(1) -> temp(0) -> dist, i.e. argmax of the ' +
    'logits. Generation stops early only when llama.cpp samples an end-of-generation token: this GGUF\'s EOG set is ' +
    '{0 <|endoftext|>, 2 <|im_end|>, 4 <reponame>} (eog_ids). ids are the generated ids, without the EOG token; ' +
    'stop_token is the EOG id when stopped_eos. ids were recovered from the token strings the binding reports and ' +
    'verified: detokenize(ids) === text.',
  n_predict: GREEDY_N, sampler: { temperature: 0, top_k: 1, ...neutral, n_probs: 1 }, runs: [],
}
for (const c of chat.conversations) {
  const { res, steps } = await complete({ prompt: c.prompt, n_predict: GREEDY_N, temperature: 0, top_k: 1, ...neutral, n_probs: 1 })
  c.completion_prompt_n = res.timings.prompt_n
  let stopTok
  let genSteps = steps
  if (res.stopped_eos && steps.length && steps[steps.length - 1].content === '') {
    stopTok = idsFor(steps[steps.length - 1].probs[0].tok_str)[0]
    genSteps = steps.slice(0, -1)
  }
  const textBytes = Buffer.from(res.text, 'utf8')
  const sols = resolveIds(genSteps.map((s) => s.content), res.text.includes('\uFFFD') ? null : textBytes)
  const ids = sols[0] || []
  const d = await detok(ids)
  greedy.runs.push({
    id: c.id, ids, text: res.text, stopped_eos: !!res.stopped_eos, stop_token: stopTok,
    n_generated: ids.length, tokens_predicted: res.tokens_predicted,
    ids_verified: d === res.text && sols.length === 1, ids_ambiguous: sols.length > 1 ? true : undefined,
    pieces: ids.map((i) => pieceBytes[i].toString('utf8')),
  })
  say(`greedy ${c.id}: ${ids.length} tok${res.stopped_eos ? ' +EOS' : ''}: ${JSON.stringify(res.text.slice(0, 80))}`)
}

say('first_step (temperature 1, full vocab)')
const firstStep = {
  notes: 'probs: for each chat prompt, completion({n_predict: 1, temperature: 1, top_k: 0, top_p: 1, min_p: 0, ' +
    'typical_p: 1, no penalties/DRY/XTC, n_probs: 20}) after clearCache(true). The chain then leaves every candidate ' +
    'untouched, temp(1) divides by 1, and the final dist sampler sets p_i = float(expf(l_i - l_max)) / sum_j(...) (sum ' +
    'in double) over the FULL 49152-token vocabulary; n_probs reports the 20 largest p (f32) of that softmax, i.e. ' +
    'softmax(raw logits) at T=1. The token it then sampled is irrelevant and discarded. logit_minus_top = ln(p_i / p_0) ' +
    '= l_i - l_0 exactly up to f32 rounding (~1e-6). ' +
    'The binding does not expose raw logits. logit_derived are llama.cpp-derived: h = llama.cpp\'s final normed hidden ' +
    'state of the last prompt token (separate embedding context, pooling "last", embd_normalize -1: the result_norm ' +
    'tensor that feeds the LM head), then logits = token_embd(Q8_0, tied) . h computed here emulating ggml\'s scalar ' +
    'path (h quantised to Q8_0 by quantize_row_q8_0_ref, per-block int dot, f32 accumulation). logit_f64 = the same ' +
    'with dequantised weights and unquantised h in float64. check.max_abs_err_diff = max_i |(ld_i - ld_0) - ' +
    'logit_minus_top_i| over the top 20, check.p_max_rel_err = max relative error of softmax(logit_derived) vs p. ' +
    'hidden_state = h (576 floats, f32).',
  top_n: TOP_N, sampler: { temperature: 1, top_k: 0, ...neutral, n_probs: TOP_N }, runs: [],
}
const fsRuns = []
for (const c of chat.conversations) {
  const { steps } = await complete({ prompt: c.prompt, n_predict: 1, temperature: 1, top_k: 0, ...neutral, n_probs: TOP_N })
  if (steps.length !== 1) throw new Error(`first_step ${c.id}: expected 1 probability entry, got ${steps.length}`)
  const probs = steps[0].probs
  fsRuns.push({ c, probs })
}
await ctx.release()

say('loading model (embedding context, pooling last)')
const ectx = await loadModel({ ...ctxOpts, embedding: true, pooling_type: 'last', embd_normalize: -1 })
for (const { c, probs } of fsRuns) {
  ectx.clearCache(true)
  const h = (await ectx.embedding(c.prompt, { embd_normalize: -1 })).embedding
  const { emul, exact } = deriveLogits(h)
  // argmax + softmax of derived logits
  let mx = -Infinity; let am = -1
  for (let i = 0; i < nVocab; i++) if (emul[i] > mx) { mx = emul[i]; am = i }
  let s = 0
  for (let i = 0; i < nVocab; i++) s += Math.exp(emul[i] - mx)
  const top = probs.map((p, rank) => {
    const cands = idsFor(p.tok_str)
    let id = cands[0]
    if (cands.length > 1) { // invalid-UTF-8 pieces: pick the one whose derived prob matches
      id = cands.reduce((a, b) => (Math.abs(Math.exp(emul[a] - mx) / s - p.prob) <= Math.abs(Math.exp(emul[b] - mx) / s - p.prob) ? a : b))
    }
    return { rank, id, piece: p.tok_str, prob: f32(p.prob), logit_minus_top: r6(Math.log(p.prob / probs[0].prob)),
      logit_derived: f32(emul[id]), logit_f64: r6(exact[id]), ambiguous_piece: cands.length > 1 ? cands : undefined }
  })
  let errDiff = 0; let errP = 0
  for (const t of top) {
    errDiff = Math.max(errDiff, Math.abs((emul[t.id] - emul[top[0].id]) - Math.log(t.prob / top[0].prob)))
    errP = Math.max(errP, Math.abs(Math.exp(emul[t.id] - mx) / s - t.prob) / t.prob)
  }
  const g = greedy.runs.find((r) => r.id === c.id)
  const greedyFirst = g.ids.length ? g.ids[0] : g.stop_token
  firstStep.runs.push({
    id: c.id, n_prompt: c.ids.length, top,
    logsumexp_derived: r6(mx + Math.log(s)),
    check: { argmax_derived: am, top1_equals_greedy_first: top[0].id === greedyFirst, max_abs_err_diff: r6(errDiff), p_max_rel_err: r6(errP) },
    hidden_state: Array.from(h, f32),
  })
  say(`first_step ${c.id}: top ${top.slice(0, 3).map((t) => `${JSON.stringify(t.piece)} ${t.prob.toFixed(4)}`).join(', ')}; diff err ${errDiff.toExponential(2)}`)
}
await ectx.release()

say('perf')
const pctx = await loadModel(ctxOpts)
const ptok = async (t) => Array.from((await pctx.tokenize(t)).tokens)
const corpus = results.slice(0, 40).map((r) => r.result).join('\n\n')
const cids = await ptok(corpus)
let perfText = null
for (let n = 128; n < 160 && !perfText; n++) {
  const t = await pctx.detokenize(cids.slice(0, n))
  for (let cut = t.length; cut > t.length - 40 && cut > 0; cut--) {
    const tt = t.slice(0, cut)
    if ((await ptok(tt)).length === 128) { perfText = tt; break }
  }
}
if (!perfText) throw new Error('could not build a 128-token prompt')
const perfPromptIds = await ptok(perfText)
// bench() does not clear the KV cache itself and fails after a completion: run it first, on a fresh context
pctx.clearCache(true)
const bench = await pctx.bench(128, 64, 1, 3)
pctx.clearCache(true)
const pres = await pctx.completion({ prompt: perfText, n_predict: 64, temperature: 0, top_k: 1, ...neutral, ignore_eos: true })
await sleep(50)
const perf = {
  notes: 'completion timings of one run on a fresh context (clearCache(true)): a 128-token plain-text prompt (first ' +
    'LLMFAO responses, truncated so that it tokenises to exactly 128 ids), 64 greedy tokens with ignore_eos, n_threads=1, ' +
    'CPU only, run after bench. prompt_per_second/predicted_per_second are llama.cpp\'s own counters (llama_perf_context prompt eval; ' +
    'rnllama generation time). bench = binding bench(pp=128, tg=64, pl=1, nr=3): llama-bench-style averages over 3 ' +
    'runs with random tokens. The prebuilt linux-x64 binary is a generic x86-64 build (system_info lists no AVX/AVX2; ' +
    'Q4_1/Q8_0 dot products run ggml\'s scalar code), so these numbers are far below an AVX2 llama.cpp build.',
  n_threads: N_THREADS, prompt_ids: perfPromptIds, prompt_text: perfText, n_prompt: perfPromptIds.length, n_predict: 64,
  timings: pres.timings, tokens_predicted: pres.tokens_predicted, bench,
}
await pctx.release()
await sleep(100)

const eogIds = []
for (const l of logs) {
  const m = /EOG token\s+=\s+(\d+)/.exec(l)
  if (m && !eogIds.includes(+m[1])) eogIds.push(+m[1])
}
const faLine = logs.find((l) => /Flash Attention (enabled|disabled)/.test(l))

const out = {
  generator: 'scripts/golden/make_llama_goldens.mjs',
  generated_at: new Date().toISOString(),
  llama_node_version: pkg.version,
  llama_node_binary: `${binPkg.name}@${binPkg.version}`,
  llama_cpp: { build_number: BuildInfo.number, commit: BuildInfo.commit },
  node_version: process.version,
  system_info: systemInfo.trim(),
  cpu: os.cpus()[0]?.model,
  model: {
    file: path.basename(MODEL), size_bytes: modelBuf.length, sha256, desc: modelInfo.desc, n_params: modelInfo.nParams,
    gguf_version: gguf.version, n_vocab: nVocab, n_embd: nEmbd,
    bos_id: gguf.kv['tokenizer.ggml.bos_token_id'], eos_id: gguf.kv['tokenizer.ggml.eos_token_id'], eog_ids: eogIds,
  },
  context: {
    n_ctx: N_CTX, n_threads: N_THREADS, n_gpu_layers: 0, devices: 'CPU only (generic linux-x64 binary, no GPU backend)',
    n_batch: 2048, n_ubatch: 512, kv_cache_type: 'f16', flash_attn_type: 'auto', flash_attn_log: faLine?.trim(),
  },
  tokenize, chat, greedy, first_step: firstStep, perf,
}
const json = stringify(out) + '\n'
fs.mkdirSync(path.dirname(OUT), { recursive: true })
fs.writeFileSync(OUT, json)
say(`wrote ${OUT} (${json.length} bytes) in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
say('perf timings', JSON.stringify(pres.timings))
say('bench', JSON.stringify(bench))
process.exit(0)
