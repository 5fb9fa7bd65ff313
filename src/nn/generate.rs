//! Text generation and scoring with a [`Llama`]: a step-by-step [`Generator`] (so callers stream tokens, time the
//! phases and cancel between steps), llama.cpp's samplers (repetition penalty, top-k, top-p, temperature; greedy at
//! temperature 0) drawing from a seeded [`Stream`], stop strings held back until they can no longer match, and
//! per-token log-probabilities of a given response. Both run on any [`Forward`]: the CPU's [`Llama`] or the GPU's
//! `gpu::llama::OnDevice`, through the same code.

use serde::Serialize;

use super::llama::{softmax, Cache, Llama, Logits};
use crate::error::{Error, Result};
use crate::rng::Stream;

/// A forward pass generation and scoring run on: [`Llama::forward`]'s contract with a cache of its own kind. The
/// future completes at once on the CPU; on the GPU it waits for the readback (natively it blocks, in wasm it
/// resolves after the event loop turns).
pub trait Forward {
    /// The KV cache of one sequence.
    type Cache;
    /// The model on the CPU: its tokenizer and shape.
    fn llama(&self) -> &Llama;
    /// An empty cache.
    fn cache(&self) -> Self::Cache;
    /// Runs `tokens` after what `cache` holds and returns the logits `want` selects.
    #[allow(async_fn_in_trait)] // callers await on one thread (wasm's futures are not `Send`)
    async fn forward(&self, cache: &mut Self::Cache, tokens: &[u32], want: Logits) -> Result<Vec<f32>>;
}

impl Forward for Llama {
    type Cache = Cache;

    fn llama(&self) -> &Llama {
        self
    }

    fn cache(&self) -> Cache {
        Llama::cache(self)
    }

    async fn forward(&self, cache: &mut Cache, tokens: &[u32], want: Logits) -> Result<Vec<f32>> {
        Llama::forward(self, cache, tokens, want)
    }
}

/// How to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateOptions {
    /// Most new tokens (default 128).
    pub max_tokens: usize,
    /// 0 for greedy decoding (the default); otherwise logits are divided by it before sampling.
    pub temperature: f32,
    /// Keep the k most likely tokens (0: all; default 40). Ignored when greedy.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p (1: all; default 0.95). Ignored when greedy.
    pub top_p: f32,
    /// llama.cpp's repetition penalty on the last `repeat_last_n` tokens: positive logits are divided by it,
    /// negative ones multiplied (1: off, the default).
    pub repetition_penalty: f32,
    /// The window of the repetition penalty (default 64).
    pub repeat_last_n: usize,
    /// Seeds the sampler.
    pub seed: u64,
    /// Generation stops before any of these strings; the text returned excludes it.
    pub stop: Vec<String>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_tokens: 128,
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            repetition_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0,
            stop: Vec::new(),
        }
    }
}

impl GenerateOptions {
    /// From a JSON options object (`maxTokens`, `temperature`, `topK`, `topP`, `repetitionPenalty`, `repeatLastN`,
    /// `seed`, `stop`: a string or a list of strings); absent keys keep their defaults, unknown keys are an error.
    ///
    /// # Errors
    /// `INVALID_OPTION` naming the key.
    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let mut o = crate::options::Options::new(value)?;
        let d = Self::default();
        let stop = match o.take("stop") {
            None => Vec::new(),
            Some(serde_json::Value::String(s)) => vec![s],
            Some(serde_json::Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => Ok(s),
                    v => Err(Error::option("stop", format!("`{v}` is not a string"))),
                })
                .collect::<Result<_>>()?,
            Some(v) => return Err(Error::option("stop", format!("`{v}` is not a string or a list of strings"))),
        };
        let seed = o.f64("seed", 0.0)?;
        if seed < 0.0 || seed.fract() != 0.0 || seed > 9_007_199_254_740_991.0 {
            return Err(Error::option("seed", format!("`{seed}` is not a whole number in [0, 2^53)")));
        }
        let options = Self {
            max_tokens: o.usize("maxTokens", d.max_tokens)?,
            temperature: o.f64("temperature", f64::from(d.temperature))? as f32,
            top_k: o.usize("topK", d.top_k)?,
            top_p: o.f64("topP", f64::from(d.top_p))? as f32,
            repetition_penalty: o.f64("repetitionPenalty", f64::from(d.repetition_penalty))? as f32,
            repeat_last_n: o.usize("repeatLastN", d.repeat_last_n)?,
            seed: seed as u64,
            stop,
        };
        o.finish("generate")?;
        check(&options)?;
        Ok(options)
    }
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Finish {
    /// The model produced an end-of-generation token (its `eos`, or another end-of-turn token llama.cpp stops at).
    Eos,
    /// A stop string appeared.
    Stop,
    /// `max_tokens` were generated.
    Length,
}

/// One generated token and the text it completed (empty while a multi-byte character or a possible stop string
/// is pending).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub token: u32,
    pub text: String,
}

/// A generation in progress on a [`Forward`] whose cache is `C`. `new` runs the prompt (prefill); each `next`
/// decodes one token.
#[derive(Debug)]
pub struct Generator<C = Cache> {
    options: GenerateOptions,
    cache: C,
    logits: Vec<f32>,
    history: Vec<u32>,
    prompt_tokens: usize,
    stream: Stream,
    /// Bytes of generated tokens not yet returned as text (an incomplete UTF-8 character).
    bytes: Vec<u8>,
    /// Text decoded but held back: it may be the start of a stop string.
    held: String,
    /// Text returned so far.
    pub text: String,
    pub tokens: Vec<u32>,
    pub finish: Option<Finish>,
}

impl<C> Generator<C> {
    /// Runs `prompt` through the model.
    ///
    /// # Errors
    /// `EMPTY` for an empty prompt, `INVALID_OPTION` for bad options, `MODEL` for bad tokens or a prompt beyond the
    /// context.
    pub async fn new<M: Forward<Cache = C>>(model: &M, prompt: &[u32], options: GenerateOptions) -> Result<Self> {
        if prompt.is_empty() {
            return Err(Error::Empty(" (the prompt has no tokens)".into()));
        }
        check(&options)?;
        let mut cache = model.cache();
        let logits = model.forward(&mut cache, prompt, Logits::Last).await?;
        let stream = Stream::new(options.seed, 0);
        Ok(Self {
            options,
            cache,
            logits,
            history: prompt.to_vec(),
            prompt_tokens: prompt.len(),
            stream,
            bytes: Vec::new(),
            held: String::new(),
            text: String::new(),
            tokens: Vec::new(),
            finish: None,
        })
    }

    /// Prompt tokens run by `new`.
    pub fn prompt_tokens(&self) -> usize {
        self.prompt_tokens
    }

    /// The logits the next token is drawn from (before the repetition penalty).
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// Samples the next token and runs it through the model; `None` once generation has finished.
    ///
    /// # Errors
    /// `MODEL` when the context is full; `GPU` when the device fails.
    pub async fn next<M: Forward<Cache = C>>(&mut self, model: &M) -> Result<Option<Step>> {
        if self.finish.is_some() {
            return Ok(None);
        }
        let token = self.sample();
        self.tokens.push(token);
        self.history.push(token);
        let tokenizer = &model.llama().tokenizer;
        if tokenizer.end.contains(&token) {
            return Ok(Some(self.end(Finish::Eos, token)));
        }
        self.bytes.extend_from_slice(tokenizer.token_bytes(token));
        let complete = match std::str::from_utf8(&self.bytes) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.bytes.len(),
        };
        let piece: Vec<u8> = self.bytes.drain(..complete).collect();
        self.held.push_str(&String::from_utf8_lossy(&piece));
        if let Some(at) = self.options.stop.iter().filter_map(|s| self.held.find(s.as_str())).min() {
            self.held.truncate(at);
            return Ok(Some(self.end(Finish::Stop, token)));
        }
        let keep = self.options.stop.iter().map(|s| partial_suffix(&self.held, s)).max().unwrap_or(0);
        let text: String = self.held.drain(..self.held.len() - keep).collect();
        self.text.push_str(&text);
        if self.tokens.len() >= self.options.max_tokens {
            let mut step = self.end(Finish::Length, token);
            step.text.insert_str(0, &text);
            return Ok(Some(step));
        }
        self.logits = model.forward(&mut self.cache, &[token], Logits::Last).await?;
        Ok(Some(Step { token, text }))
    }

    /// Ends generation: the held-back text (no stop string matched it) and any cut character are flushed.
    fn end(&mut self, finish: Finish, token: u32) -> Step {
        self.finish = Some(finish);
        let mut text = std::mem::take(&mut self.held);
        if finish != Finish::Stop {
            text.push_str(&String::from_utf8_lossy(&std::mem::take(&mut self.bytes)));
        }
        self.text.push_str(&text);
        Step { token, text }
    }

    /// llama.cpp's order: repetition penalty, then greedy or top-k → top-p → temperature → a draw.
    fn sample(&mut self) -> u32 {
        let o = &self.options;
        let mut logits = self.logits.clone();
        if o.repetition_penalty != 1.0 {
            let from = self.history.len().saturating_sub(o.repeat_last_n);
            let mut seen = self.history[from..].to_vec();
            seen.sort_unstable();
            seen.dedup();
            for &t in &seen {
                if let Some(l) = logits.get_mut(t as usize) {
                    *l = if *l > 0.0 { *l / o.repetition_penalty } else { *l * o.repetition_penalty };
                }
            }
        }
        if o.temperature <= 0.0 {
            return argmax(&logits);
        }
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        order.sort_by(|a, b| logits[*b as usize].total_cmp(&logits[*a as usize]).then(a.cmp(b)));
        if o.top_k > 0 {
            order.truncate(o.top_k);
        }
        let mut p: Vec<f32> = order.iter().map(|&t| logits[t as usize]).collect();
        softmax(&mut p);
        let mut mass = 0.0;
        let keep = p.iter().position(|x| {
            mass += x;
            mass >= o.top_p
        });
        let keep = keep.map_or(p.len(), |i| i + 1);
        let mut scaled: Vec<f32> = order[..keep].iter().map(|&t| logits[t as usize] / o.temperature).collect();
        softmax(&mut scaled);
        let u = self.stream.uniform() as f32;
        let mut acc = 0.0;
        for (i, q) in scaled.iter().enumerate() {
            acc += q;
            if u < acc {
                return order[i];
            }
        }
        order[keep - 1]
    }
}

/// The longest suffix of `text` that is a proper prefix of `stop` (text that may yet become `stop`).
fn partial_suffix(text: &str, stop: &str) -> usize {
    (1..stop.len().min(text.len() + 1))
        .rev()
        .find(|&n| text.is_char_boundary(text.len() - n) && stop.is_char_boundary(n) && text.ends_with(&stop[..n]))
        .unwrap_or(0)
}

fn argmax(x: &[f32]) -> u32 {
    x.iter().enumerate().fold(0, |best, (i, v)| if *v > x[best] { i } else { best }) as u32
}

fn check(o: &GenerateOptions) -> Result<()> {
    let bad = |option: &'static str, why: &str| Err(Error::option(option, why.to_owned()));
    if !(o.temperature >= 0.0 && o.temperature.is_finite()) {
        return bad("temperature", "must be a finite number ≥ 0");
    }
    if !(o.top_p > 0.0 && o.top_p <= 1.0) {
        return bad("topP", "must be in (0, 1]");
    }
    if !(o.repetition_penalty > 0.0 && o.repetition_penalty.is_finite()) {
        return bad("repetitionPenalty", "must be a finite number > 0");
    }
    if o.stop.iter().any(String::is_empty) {
        return bad("stop", "stop strings must not be empty");
    }
    Ok(())
}

/// Natural-log probabilities of each token of `response` after `prompt` (teacher forcing), one per response token.
///
/// # Errors
/// `EMPTY` for an empty prompt or response; `MODEL` for bad tokens or a text beyond the context; `GPU` when the
/// device fails.
pub async fn logprobs<M: Forward>(model: &M, prompt: &[u32], response: &[u32]) -> Result<Vec<f32>> {
    if prompt.is_empty() || response.is_empty() {
        return Err(Error::Empty(" (scoring needs a prompt and a response)".into()));
    }
    let mut cache = model.cache();
    let vocab = model.llama().config.vocab;
    let mut logits = model.forward(&mut cache, prompt, Logits::Last).await?;
    if response.len() > 1 {
        logits.extend(model.forward(&mut cache, &response[..response.len() - 1], Logits::All).await?);
    }
    Ok(response.iter().zip(logits.chunks_exact(vocab)).map(|(&t, row)| log_softmax_at(row, t as usize)).collect())
}

/// log softmax(row)[t], computed in f64.
fn log_softmax_at(row: &[f32], t: usize) -> f32 {
    let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = row.iter().map(|&x| f64::from(x - top).exp()).sum();
    (f64::from(row.get(t).copied().unwrap_or(f32::NEG_INFINITY) - top) - sum.ln()) as f32
}

/// DPO's implicit reward β·(log π(y|x) − log π_ref(y|x)) from the two sequence log-probabilities.
pub fn implicit_reward(policy_logprob: f64, reference_logprob: f64, beta: f64) -> f64 {
    beta * (policy_logprob - reference_logprob)
}

#[cfg(test)]
mod tests {
    #[test]
    fn stop_strings_are_held_back_while_they_may_still_match() {
        assert_eq!(super::partial_suffix("Hello\nUs", "\nUser:"), 3);
        assert_eq!(super::partial_suffix("Hello", "\nUser:"), 0);
        assert_eq!(super::partial_suffix("Hello\n", "\nUser:"), 1);
        assert_eq!(super::partial_suffix("é", "éa"), 2, "whole characters");
        assert_eq!(super::partial_suffix("ab", "ab"), 0, "an equal string is a match, not a partial one");
    }
}
