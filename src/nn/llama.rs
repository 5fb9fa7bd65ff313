//! A Llama-family causal language model from a GGUF file (SmolLM2 and its kin): RMSNorm, rotary position
//! embeddings (llama.cpp's NORM layout: adjacent pairs), grouped-query attention with a KV cache, SwiGLU, tied or
//! separate output embeddings. The weights stay quantised in memory: decoding multiplies straight from the blocks
//! (`Tensor::dot_row`), prefill dequantises one weight row at a time and applies it to every prompt token.

use ndarray::{Array2, ArrayView2};

use super::bpe::BpeTokenizer;
use super::gguf::{Gguf, Tensor};
use crate::error::{Error, Result};

fn model(what: impl Into<String>) -> Error {
    Error::Model(what.into())
}

/// The shape of the network, from `<arch>.*` metadata.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LlamaConfig {
    pub layers: usize,
    pub dim: usize,
    pub hidden: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub rope_base: f32,
    pub rms_eps: f32,
    pub vocab: usize,
    pub context: usize,
}

impl LlamaConfig {
    fn read(gguf: &Gguf) -> Result<Self> {
        let arch = gguf.string("general.architecture")?;
        if arch != "llama" {
            return Err(model(format!("general.architecture `{arch}` is not supported (llama)")));
        }
        let n = |key: &str| gguf.u32(&format!("llama.{key}")).map(|v| v as usize);
        let (dim, heads) = (n("embedding_length")?, n("attention.head_count")?);
        let kv_heads = n("attention.head_count_kv").unwrap_or(heads);
        if heads == 0 || kv_heads == 0 || dim % heads != 0 || heads % kv_heads != 0 {
            return Err(model(format!(
                "llama: {heads} heads, {kv_heads} KV heads and width {dim} do not fit together"
            )));
        }
        let head_dim = dim / heads;
        let rotary = n("rope.dimension_count").unwrap_or(head_dim);
        if rotary != head_dim {
            return Err(model(format!(
                "llama.rope.dimension_count {rotary}: only full rotary ({head_dim}) is supported"
            )));
        }
        Ok(Self {
            layers: n("block_count")?,
            dim,
            hidden: n("feed_forward_length")?,
            heads,
            kv_heads,
            head_dim,
            rope_base: gguf.f32("llama.rope.freq_base").unwrap_or(10_000.0),
            rms_eps: gguf.f32("llama.attention.layer_norm_rms_epsilon")?,
            vocab: gguf.strings("tokenizer.ggml.tokens")?.len(),
            context: n("context_length")?,
        })
    }
}

/// A loaded model: the GGUF bytes, its tokenizer and the small F32 tensors, dequantised once.
pub struct Llama {
    gguf: Gguf,
    pub config: LlamaConfig,
    pub tokenizer: BpeTokenizer,
    attn_norm: Vec<Vec<f32>>,
    ffn_norm: Vec<Vec<f32>>,
    output_norm: Vec<f32>,
    /// `output.weight`, or `token_embd.weight` when the embeddings are tied.
    output: String,
}

impl std::fmt::Debug for Llama {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llama").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The KV cache of one conversation: per layer, keys and values of every position so far (`kv_heads·head_dim` each).
#[derive(Clone, Debug, Default)]
pub struct Cache {
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    /// Positions filled.
    pub len: usize,
}

impl Llama {
    /// Loads a model from the bytes of a GGUF file.
    ///
    /// # Errors
    /// `MODEL` naming the key or tensor that is missing, of the wrong shape or type.
    pub fn from_gguf(bytes: Vec<u8>) -> Result<Self> {
        let gguf = Gguf::parse(bytes)?;
        let config = LlamaConfig::read(&gguf)?;
        let tokenizer = BpeTokenizer::from_gguf(&gguf)?;
        let (d, kv) = (config.dim, config.kv_heads * config.head_dim);
        let expect = |name: &str, cols: usize, rows: usize| -> Result<()> {
            let t = gguf.tensor(name)?;
            if t.cols() != cols || t.rows() != rows {
                return Err(model(format!("tensor `{name}` has shape {:?}, expected [{cols}, {rows}]", t.shape)));
            }
            Ok(())
        };
        let vector = |name: &str| -> Result<Vec<f32>> {
            expect(name, d, 1)?;
            Ok(gguf.tensor(name)?.dequantize())
        };
        let (mut attn_norm, mut ffn_norm) = (Vec::new(), Vec::new());
        for l in 0..config.layers {
            let at = |s: &str| format!("blk.{l}.{s}.weight");
            expect(&at("attn_q"), d, d)?;
            expect(&at("attn_k"), d, kv)?;
            expect(&at("attn_v"), d, kv)?;
            expect(&at("attn_output"), d, d)?;
            expect(&at("ffn_gate"), d, config.hidden)?;
            expect(&at("ffn_up"), d, config.hidden)?;
            expect(&at("ffn_down"), config.hidden, d)?;
            attn_norm.push(vector(&at("attn_norm"))?);
            ffn_norm.push(vector(&at("ffn_norm"))?);
        }
        expect("token_embd.weight", d, config.vocab)?;
        let output = if gguf.tensor("output.weight").is_ok() { "output.weight" } else { "token_embd.weight" };
        expect(output, d, config.vocab)?;
        let output_norm = vector("output_norm.weight")?;
        Ok(Self { output: output.to_owned(), gguf, config, tokenizer, attn_norm, ffn_norm, output_norm })
    }

    fn weight(&self, layer: usize, name: &str) -> Result<Tensor<'_>> {
        self.gguf.tensor(&format!("blk.{layer}.{name}.weight"))
    }

    /// An empty cache for this model.
    pub fn cache(&self) -> Cache {
        Cache { keys: vec![Vec::new(); self.config.layers], values: vec![Vec::new(); self.config.layers], len: 0 }
    }

    /// Runs `tokens` after what `cache` holds, appends their keys and values, and returns the logits of the
    /// positions `want` selects (`Last`: the final one; `All`: every one, row after row).
    ///
    /// # Errors
    /// `MODEL` for a token outside the vocabulary or a context longer than the model's.
    pub fn forward(&self, cache: &mut Cache, tokens: &[u32], want: Logits) -> Result<Vec<f32>> {
        let c = &self.config;
        if cache.len + tokens.len() > c.context {
            return Err(model(format!("{} tokens exceed the context of {}", cache.len + tokens.len(), c.context)));
        }
        let t = tokens.len();
        let embed = self.gguf.tensor("token_embd.weight")?;
        let mut x = vec![0.0f32; t * c.dim];
        for (i, &id) in tokens.iter().enumerate() {
            if id as usize >= c.vocab {
                return Err(model(format!("token {id} is outside the vocabulary of {}", c.vocab)));
            }
            embed.dequantize_row(id as usize, &mut x[i * c.dim..(i + 1) * c.dim]);
        }
        let start = cache.len;
        for l in 0..c.layers {
            self.attention(l, cache, &mut x, t, start)?;
            self.feed_forward(l, &mut x, t)?;
        }
        cache.len += t;
        let rows: Vec<usize> = match want {
            Logits::Last => vec![t - 1],
            Logits::All => (0..t).collect(),
        };
        let output = self.gguf.tensor(&self.output)?;
        let mut logits = Vec::with_capacity(rows.len() * c.vocab);
        let mut h = vec![0.0f32; c.dim];
        for r in rows {
            rms_norm(&x[r * c.dim..(r + 1) * c.dim], &self.output_norm, c.rms_eps, &mut h);
            let mut out = vec![0.0f32; c.vocab];
            output.matvec(&h, &mut out);
            logits.extend(out);
        }
        Ok(logits)
    }

    fn attention(&self, l: usize, cache: &mut Cache, x: &mut [f32], t: usize, start: usize) -> Result<()> {
        let c = &self.config;
        let (d, hd, kv) = (c.dim, c.head_dim, c.kv_heads * c.head_dim);
        let mut h = vec![0.0f32; t * d];
        for i in 0..t {
            rms_norm(&x[i * d..(i + 1) * d], &self.attn_norm[l], c.rms_eps, &mut h[i * d..(i + 1) * d]);
        }
        let mut q = matmul(&self.weight(l, "attn_q")?, &h, t);
        let mut k = matmul(&self.weight(l, "attn_k")?, &h, t);
        let v = matmul(&self.weight(l, "attn_v")?, &h, t);
        for i in 0..t {
            rope(&mut q[i * d..(i + 1) * d], hd, start + i, c.rope_base);
            rope(&mut k[i * kv..(i + 1) * kv], hd, start + i, c.rope_base);
        }
        cache.keys[l].extend_from_slice(&k);
        cache.values[l].extend_from_slice(&v);
        let (keys, values) = (&cache.keys[l], &cache.values[l]);
        let group = c.heads / c.kv_heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let mut out = vec![0.0f32; t * d];
        let mut scores = Vec::with_capacity(start + t);
        for i in 0..t {
            let visible = start + i + 1;
            for head in 0..c.heads {
                let qh = &q[i * d + head * hd..i * d + (head + 1) * hd];
                let kvh = (head / group) * hd;
                scores.clear();
                scores.extend((0..visible).map(|p| dot(qh, &keys[p * kv + kvh..p * kv + kvh + hd]) * scale));
                softmax(&mut scores);
                let o = &mut out[i * d + head * hd..i * d + (head + 1) * hd];
                for (p, w) in scores.iter().enumerate() {
                    for (o, v) in o.iter_mut().zip(&values[p * kv + kvh..p * kv + kvh + hd]) {
                        *o += w * v;
                    }
                }
            }
        }
        let projected = matmul(&self.weight(l, "attn_output")?, &out, t);
        x.iter_mut().zip(&projected).for_each(|(x, p)| *x += p);
        Ok(())
    }

    fn feed_forward(&self, l: usize, x: &mut [f32], t: usize) -> Result<()> {
        let c = &self.config;
        let d = c.dim;
        let mut h = vec![0.0f32; t * d];
        for i in 0..t {
            rms_norm(&x[i * d..(i + 1) * d], &self.ffn_norm[l], c.rms_eps, &mut h[i * d..(i + 1) * d]);
        }
        let mut gate = matmul(&self.weight(l, "ffn_gate")?, &h, t);
        let up = matmul(&self.weight(l, "ffn_up")?, &h, t);
        gate.iter_mut().zip(&up).for_each(|(g, u)| *g = *g / (1.0 + (-*g).exp()) * u);
        let down = matmul(&self.weight(l, "ffn_down")?, &gate, t);
        x.iter_mut().zip(&down).for_each(|(x, y)| *x += y);
        Ok(())
    }
}

/// Which positions' logits [`Llama::forward`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    Last,
    All,
}

/// `x Wᵀ` for `t` rows of `x`. One token multiplies straight from the quantised blocks; a batch (prefill)
/// dequantises the weight once into a temporary f32 matrix (at most hidden × width, 3.5 MB for SmolLM2-135M) and
/// runs one matrix product, so the resident model stays quantised.
fn matmul(w: &Tensor, x: &[f32], t: usize) -> Vec<f32> {
    let (rows, cols) = (w.rows(), w.cols());
    let mut out = vec![0.0f32; t * rows];
    if t == 1 {
        w.matvec(x, &mut out);
        return out;
    }
    let weights = Array2::from_shape_vec((rows, cols), w.dequantize());
    let inputs = ArrayView2::from_shape((t, cols), x);
    match (weights, inputs) {
        (Ok(weights), Ok(inputs)) => inputs.dot(&weights.t()).into_raw_vec_and_offset().0,
        _ => out,
    }
}

/// Σ aᵢbᵢ with eight running sums (vectorised by LLVM).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `out = x / √(mean(x²) + eps) · g`.
fn rms_norm(x: &[f32], g: &[f32], eps: f32, out: &mut [f32]) {
    let mean = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let inv = 1.0 / (mean + eps).sqrt();
    for ((o, v), g) in out.iter_mut().zip(x).zip(g) {
        *o = v * inv * g;
    }
}

/// Rotary embedding of every head in `x` at position `pos`: pairs (2i, 2i+1) turn by pos·base^(−2i/head_dim).
fn rope(x: &mut [f32], head_dim: usize, pos: usize, base: f32) {
    for head in x.chunks_exact_mut(head_dim) {
        for (i, pair) in head.chunks_exact_mut(2).enumerate() {
            let theta = pos as f32 * base.powf(-2.0 * i as f32 / head_dim as f32);
            let (sin, cos) = theta.sin_cos();
            let (a, b) = (pair[0], pair[1]);
            pair[0] = a * cos - b * sin;
            pair[1] = a * sin + b * cos;
        }
    }
}

/// In-place softmax with the maximum subtracted.
pub(crate) fn softmax(x: &mut [f32]) {
    let top = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - top).exp();
        sum += *v;
    }
    for v in x.iter_mut() {
        *v /= sum;
    }
}
