//! A Llama-family causal language model from a GGUF file (SmolLM2 and its kin): RMSNorm, rotary position
//! embeddings (llama.cpp's NORM layout: adjacent pairs), grouped-query attention with a KV cache, SwiGLU, tied or
//! separate output embeddings. The weights stay quantised in memory, and every product with a quantised weight is
//! llama.cpp's: the activations are quantised to 8 bits per block and multiplied block by block in integers
//! ([`quant`]), so the logits follow llama.cpp's rather than those of a float model.

use super::bpe::BpeTokenizer;
use super::ggml;
use super::gguf::{Gguf, Tensor};
use super::quant::{self, round_f16};
use crate::error::{Error, Result};

fn model(what: impl Into<String>) -> Error {
    Error::Model(what.into())
}

/// The shape of the network, from `<arch>.*` metadata.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
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
            vocab: gguf.string_array("tokenizer.ggml.tokens")?.len(),
            context: n("context_length")?,
        })
    }
}

/// A loaded model: the GGUF bytes, its tokenizer and the small F32 tensors, dequantised once.
pub struct Llama {
    pub(crate) gguf: Gguf,
    pub config: LlamaConfig,
    pub tokenizer: BpeTokenizer,
    pub(crate) attn_norm: Vec<Vec<f32>>,
    pub(crate) ffn_norm: Vec<Vec<f32>>,
    pub(crate) output_norm: Vec<f32>,
    /// `output.weight`, or `token_embd.weight` when the embeddings are tied.
    pub(crate) output: String,
}

impl std::fmt::Debug for Llama {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llama").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The KV cache of one conversation: per layer, keys and values of every position so far (`kv_heads·head_dim` each),
/// rounded to f16 as llama.cpp keeps them but stored as f32 (46 KB per position for SmolLM2-135M, twice llama.cpp's),
/// so that attention reads them as they are: widening the whole f16 cache of a layer at every step took ~10% of a
/// decode at a few hundred positions.
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

    pub(crate) fn weight(&self, layer: usize, name: &str) -> Result<Tensor<'_>> {
        self.gguf.tensor(&format!("blk.{layer}.{name}.weight"))
    }

    /// An empty cache for this model.
    pub fn cache(&self) -> Cache {
        Cache { keys: vec![Vec::new(); self.config.layers], values: vec![Vec::new(); self.config.layers], len: 0 }
    }

    /// Runs `tokens` after what `cache` holds, appends their keys and values, and returns the logits of the
    /// positions `want` selects (`Last`: the final one; `All`: every one, row after row). Long inputs run in
    /// batches of [`UBATCH`] tokens, as llama.cpp's micro-batches.
    ///
    /// # Errors
    /// `MODEL` for a token outside the vocabulary or a context longer than the model's.
    pub fn forward(&self, cache: &mut Cache, tokens: &[u32], want: Logits) -> Result<Vec<f32>> {
        let c = &self.config;
        if cache.len + tokens.len() > c.context {
            return Err(model(format!("{} tokens exceed the context of {}", cache.len + tokens.len(), c.context)));
        }
        if let Some(id) = tokens.iter().find(|&&id| id as usize >= c.vocab) {
            return Err(model(format!("token {id} is outside the vocabulary of {}", c.vocab)));
        }
        let mut logits = Vec::new();
        for (batch, keep) in micro_batches(tokens, want) {
            logits.extend(self.batch(cache, batch, keep)?);
        }
        Ok(logits)
    }

    fn batch(&self, cache: &mut Cache, tokens: &[u32], want: Logits) -> Result<Vec<f32>> {
        let c = &self.config;
        let t = tokens.len();
        let embed = self.gguf.tensor("token_embd.weight")?;
        let mut x = vec![0.0f32; t * c.dim];
        for (i, &id) in tokens.iter().enumerate() {
            embed.dequantize_row(id as usize, &mut x[i * c.dim..(i + 1) * c.dim]);
        }
        let start = cache.len;
        let rope = ggml::Rope::new(c.rope_base, c.head_dim);
        let angles: Vec<_> = (start..start + t).map(|pos| rope.table(pos)).collect();
        for l in 0..c.layers {
            self.attention(l, cache, &mut x, &angles)?;
            self.feed_forward(l, &mut x, t)?;
        }
        cache.len += t;
        let rows: Vec<usize> = match want {
            Logits::None => return Ok(Vec::new()),
            Logits::Last => vec![t - 1],
            Logits::All => (0..t).collect(),
        };
        let h = self.norm(&x, &rows, &self.output_norm);
        Ok(matmul(&self.gguf.tensor(&self.output)?, &h, rows.len()))
    }

    /// RMSNorm of the given rows of `x` with gain `g`.
    fn norm(&self, x: &[f32], rows: &[usize], g: &[f32]) -> Vec<f32> {
        let d = self.config.dim;
        let mut h = vec![0.0f32; rows.len() * d];
        for (i, r) in rows.iter().enumerate() {
            ggml::rms_norm(&x[r * d..(r + 1) * d], g, self.config.rms_eps, &mut h[i * d..(i + 1) * d]);
        }
        h
    }

    /// One layer's attention for the batch's `angles.len()` positions after the cache's, turned by `angles`.
    fn attention(&self, l: usize, cache: &mut Cache, x: &mut [f32], angles: &[Vec<(f32, f32)>]) -> Result<()> {
        let c = &self.config;
        let (t, start) = (angles.len(), cache.len);
        let (d, kv) = (c.dim, c.kv_heads * c.head_dim);
        let h = self.norm(x, &(0..t).collect::<Vec<_>>(), &self.attn_norm[l]);
        let (wq, wk, wv) = (self.weight(l, "attn_q")?, self.weight(l, "attn_k")?, self.weight(l, "attn_v")?);
        let [mut q, mut k, v] = quant::matmuls([&wq, &wk, &wv], &h);
        for (i, table) in angles.iter().enumerate() {
            ggml::Rope::turn(&mut q[i * d..(i + 1) * d], table);
            ggml::Rope::turn(&mut k[i * kv..(i + 1) * kv], table);
        }
        cache.keys[l].extend(k.iter().map(|&x| round_f16(x)));
        cache.values[l].extend(v.iter().map(|&x| round_f16(x)));
        let shape = ggml::Heads { heads: c.heads, kv_heads: c.kv_heads, head_dim: c.head_dim };
        let out = ggml::attention(&q, t, start, &cache.keys[l], &cache.values[l], shape);
        let projected = matmul(&self.weight(l, "attn_output")?, &out, t);
        x.iter_mut().zip(&projected).for_each(|(x, p)| *x += *p);
        Ok(())
    }

    fn feed_forward(&self, l: usize, x: &mut [f32], t: usize) -> Result<()> {
        let h = self.norm(x, &(0..t).collect::<Vec<_>>(), &self.ffn_norm[l]);
        let (wg, wu) = (self.weight(l, "ffn_gate")?, self.weight(l, "ffn_up")?);
        let [mut gate, up] = quant::matmuls([&wg, &wu], &h);
        ggml::swiglu(&mut gate, &up);
        let down = matmul(&self.weight(l, "ffn_down")?, &gate, t);
        x.iter_mut().zip(&down).for_each(|(x, y)| *x += *y);
        Ok(())
    }
}

/// llama.cpp's default micro-batch (`n_ubatch`): prompts longer than this run in pieces of it.
pub const UBATCH: usize = 512;

/// `tokens` in micro-batches of [`UBATCH`], each with the logits it returns: the last batch what `want` asks for,
/// earlier ones every row for `Logits::All`, else none (the CPU's and the GPU's forward split prompts alike).
pub fn micro_batches(tokens: &[u32], want: Logits) -> impl Iterator<Item = (&[u32], Logits)> {
    let last = tokens.len().saturating_sub(1) / UBATCH;
    tokens.chunks(UBATCH).enumerate().map(move |(i, batch)| {
        let keep = if i == last || want == Logits::All { want } else { Logits::None };
        (batch, keep)
    })
}

/// Which positions' logits [`Llama::forward`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    Last,
    All,
    /// None (a prompt's earlier micro-batches).
    None,
}

/// `x Wᵀ` for `t` rows of `x`, as llama.cpp's CPU backend computes it ([`quant::matmul`]).
fn matmul(w: &Tensor, x: &[f32], t: usize) -> Vec<f32> {
    quant::matmul(w, &x[..t * w.cols()])
}

/// In-place softmax with the maximum subtracted.
pub(crate) fn softmax(x: &mut [f32]) {
    let top = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = super::glibc::expf(*v - top);
        sum += *v;
    }
    for v in x.iter_mut() {
        *v /= sum;
    }
}
