//! A BERT encoder (Devlin et al. 2019) as sentence-transformers runs it: WordPiece tokens from the model's own
//! `tokenizer.json` (the `tokenizers` crate), truncated to `max_seq_length`, absolute position embeddings,
//! post-layer-norm blocks with exact (erf) GELU, then the mean of the token states and an L2 normalisation.
//!
//! Each text runs on its own (no padding, so no mask is needed); matrix products go through ndarray's
//! `matrixmultiply` (wasm SIMD in the browser build).

use ndarray::{Array1, Array2, ArrayView2, Axis, Slice};
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationParams};

use crate::error::{Error, Result};

fn model_error(what: impl Into<String>) -> Error {
    Error::Model(what.into())
}

/// The fields of `config.json` the forward pass needs.
#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    pub model_type: String,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_position")]
    pub position_embedding_type: String,
}

fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}
fn default_position() -> String {
    "absolute".into()
}

struct Linear {
    /// out × in, as stored.
    w: Array2<f32>,
    b: Array1<f32>,
}

impl Linear {
    fn apply(&self, x: &ArrayView2<f32>) -> Array2<f32> {
        x.dot(&self.w.t()) + &self.b
    }
}

struct LayerNorm {
    g: Array1<f32>,
    b: Array1<f32>,
    eps: f32,
}

impl LayerNorm {
    fn apply(&self, x: &mut Array2<f32>) {
        for mut row in x.rows_mut() {
            let n = row.len() as f32;
            let mean = row.sum() / n;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
            let inv = 1.0 / (var + self.eps).sqrt();
            for ((v, g), b) in row.iter_mut().zip(&self.g).zip(&self.b) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A loaded sentence encoder.
pub struct Encoder {
    config: Config,
    tokenizer: Tokenizer,
    word: Array2<f32>,
    position: Array2<f32>,
    token_type: Array2<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Reads the tensors of one model file by name, checking dtype and shape.
struct Tensors<'a> {
    inner: SafeTensors<'a>,
}

impl Tensors<'_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let t =
            self.inner.tensor(name).map_err(|_| model_error(format!("model.safetensors has no tensor `{name}`")))?;
        if t.dtype() != Dtype::F32 {
            return Err(model_error(format!("tensor `{name}` is {:?}; only F32 is supported", t.dtype())));
        }
        if t.shape() != shape {
            return Err(model_error(format!("tensor `{name}` has shape {:?}, expected {shape:?}", t.shape())));
        }
        Ok(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }

    fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Array2<f32>> {
        Array2::from_shape_vec((rows, cols), self.get(name, &[rows, cols])?).map_err(|e| model_error(e.to_string()))
    }

    fn vector(&self, name: &str, len: usize) -> Result<Array1<f32>> {
        Ok(Array1::from(self.get(name, &[len])?))
    }

    fn linear(&self, prefix: &str, out: usize, inp: usize) -> Result<Linear> {
        Ok(Linear {
            w: self.matrix(&format!("{prefix}.weight"), out, inp)?,
            b: self.vector(&format!("{prefix}.bias"), out)?,
        })
    }

    fn norm(&self, prefix: &str, len: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm {
            g: self.vector(&format!("{prefix}.weight"), len)?,
            b: self.vector(&format!("{prefix}.bias"), len)?,
            eps: eps as f32,
        })
    }
}

impl Encoder {
    /// Loads an encoder from the bytes of `config.json`, `model.safetensors` and `tokenizer.json`, and optionally
    /// sentence-transformers' `sentence_bert_config.json` (its `max_seq_length`; default: the position limit).
    /// Tensor names may carry a `bert.` prefix.
    ///
    /// # Errors
    /// `MODEL`, naming the file, field or tensor that is missing, malformed or unsupported (architecture, dtype, shape).
    pub fn from_bytes(config: &[u8], weights: &[u8], tokenizer: &[u8], sentence_config: Option<&[u8]>) -> Result<Self> {
        let config: Config = serde_json::from_slice(config).map_err(|e| model_error(format!("config.json: {e}")))?;
        if config.model_type != "bert" {
            return Err(model_error(format!(
                "config.json: model_type `{}` is not supported (bert)",
                config.model_type
            )));
        }
        if config.hidden_act != "gelu" {
            return Err(model_error(format!(
                "config.json: hidden_act `{}` is not supported (gelu)",
                config.hidden_act
            )));
        }
        if config.position_embedding_type != "absolute" {
            return Err(model_error(format!(
                "config.json: position_embedding_type `{}` is not supported (absolute)",
                config.position_embedding_type
            )));
        }
        if config.num_attention_heads == 0 || !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            return Err(model_error("config.json: hidden_size must be a multiple of num_attention_heads"));
        }
        let max_length = match sentence_config {
            Some(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(bytes)
                    .map_err(|e| model_error(format!("sentence_bert_config.json: {e}")))?;
                v["max_seq_length"].as_u64().map_or(config.max_position_embeddings, |m| m as usize)
            }
            None => config.max_position_embeddings,
        }
        .min(config.max_position_embeddings);
        let mut tokenizer =
            Tokenizer::from_bytes(tokenizer).map_err(|e| model_error(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length, ..TruncationParams::default() }))
            .map_err(|e| model_error(format!("tokenizer.json: {e}")))?;
        let inner = SafeTensors::deserialize(weights).map_err(|e| model_error(format!("model.safetensors: {e}")))?;
        let prefix = if inner.names().iter().any(|n| n.starts_with("bert.")) { "bert." } else { "" };
        let t = Tensors { inner };
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let eps = config.layer_norm_eps;
        let vocab = tokenizer.get_vocab_size(true);
        let word_shape = t
            .inner
            .tensor(&format!("{prefix}embeddings.word_embeddings.weight"))
            .map(|v| v.shape().to_vec())
            .map_err(|_| model_error("model.safetensors has no tensor `embeddings.word_embeddings.weight`"))?;
        if word_shape.len() != 2 || word_shape[0] < vocab {
            return Err(model_error(format!(
                "word embeddings {word_shape:?} do not cover the tokenizer's {vocab} tokens"
            )));
        }
        let p = |name: &str| format!("{prefix}{name}");
        let layers = (0..config.num_hidden_layers)
            .map(|l| {
                let at = |name: &str| p(&format!("encoder.layer.{l}.{name}"));
                Ok(Layer {
                    query: t.linear(&at("attention.self.query"), h, h)?,
                    key: t.linear(&at("attention.self.key"), h, h)?,
                    value: t.linear(&at("attention.self.value"), h, h)?,
                    attention_out: t.linear(&at("attention.output.dense"), h, h)?,
                    attention_norm: t.norm(&at("attention.output.LayerNorm"), h, eps)?,
                    intermediate: t.linear(&at("intermediate.dense"), i, h)?,
                    output: t.linear(&at("output.dense"), h, i)?,
                    output_norm: t.norm(&at("output.LayerNorm"), h, eps)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let type_rows = t
            .inner
            .tensor(&p("embeddings.token_type_embeddings.weight"))
            .map(|v| v.shape().first().copied().unwrap_or(0))
            .map_err(|_| model_error("model.safetensors has no tensor `embeddings.token_type_embeddings.weight`"))?;
        Ok(Self {
            word: t.matrix(&p("embeddings.word_embeddings.weight"), word_shape[0], h)?,
            position: t.matrix(&p("embeddings.position_embeddings.weight"), config.max_position_embeddings, h)?,
            token_type: t.matrix(&p("embeddings.token_type_embeddings.weight"), type_rows, h)?,
            embedding_norm: t.norm(&p("embeddings.LayerNorm"), h, eps)?,
            layers,
            tokenizer,
            config,
        })
    }

    /// The embedding dimension.
    pub fn dimension(&self) -> usize {
        self.config.hidden_size
    }

    /// Token ids (with the special tokens) of a text, truncated as the model is.
    ///
    /// # Errors
    /// `MODEL` when the tokenizer fails.
    pub fn tokens(&self, text: &str) -> Result<(Vec<u32>, Vec<u32>)> {
        let e = self.tokenizer.encode(text, true).map_err(|e| model_error(format!("tokenizer: {e}")))?;
        Ok((e.get_ids().to_vec(), e.get_type_ids().to_vec()))
    }

    /// Sentence embeddings (mean-pooled, unit length), one per text.
    ///
    /// # Errors
    /// `MODEL` when the tokenizer fails or yields a token outside the model's tables.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        texts.iter().map(|t| self.embed_one(t)).collect()
    }

    fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        let (ids, types) = self.tokens(text)?;
        let states = self.forward(&ids, &types)?;
        let mut pooled = states.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(self.dimension()));
        let norm = pooled.dot(&pooled).sqrt().max(1e-12);
        pooled /= norm;
        Ok(pooled.to_vec())
    }

    /// The last hidden states (tokens × hidden) of one sequence.
    fn forward(&self, ids: &[u32], types: &[u32]) -> Result<Array2<f32>> {
        let (n, h) = (ids.len(), self.config.hidden_size);
        let mut x = Array2::<f32>::zeros((n, h));
        for (r, (&id, &ty)) in ids.iter().zip(types).enumerate() {
            let (id, ty) = (id as usize, ty as usize);
            if id >= self.word.nrows() || ty >= self.token_type.nrows() || r >= self.position.nrows() {
                return Err(model_error(format!(
                    "token {id} (type {ty}) at position {r} is outside the model's tables"
                )));
            }
            let mut row = x.row_mut(r);
            row += &self.word.row(id);
            row += &self.position.row(r);
            row += &self.token_type.row(ty);
        }
        self.embedding_norm.apply(&mut x);
        for layer in &self.layers {
            x = self.block(layer, x);
        }
        Ok(x)
    }

    fn block(&self, layer: &Layer, mut x: Array2<f32>) -> Array2<f32> {
        let heads = self.config.num_attention_heads;
        let d = self.config.hidden_size / heads;
        let view = x.view();
        let (q, k, v) = (layer.query.apply(&view), layer.key.apply(&view), layer.value.apply(&view));
        let scale = 1.0 / (d as f32).sqrt();
        let mut context = Array2::<f32>::zeros(x.raw_dim());
        for head in 0..heads {
            let cols = Slice::from(head * d..(head + 1) * d);
            let mut scores = q.slice_axis(Axis(1), cols).dot(&k.slice_axis(Axis(1), cols).t()) * scale;
            for mut row in scores.rows_mut() {
                let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                row.mapv_inplace(|s| (s - top).exp());
                let sum = row.sum();
                row /= sum;
            }
            context.slice_axis_mut(Axis(1), cols).assign(&scores.dot(&v.slice_axis(Axis(1), cols)));
        }
        x += &layer.attention_out.apply(&context.view());
        layer.attention_norm.apply(&mut x);
        let mut inner = layer.intermediate.apply(&x.view());
        inner.mapv_inplace(gelu);
        x += &layer.output.apply(&inner.view());
        layer.output_norm.apply(&mut x);
        x
    }
}

/// GELU with the normal CDF, x·Φ(x) = ½x(1 + erf(x/√2)) (BERT's exact `gelu`, not the tanh approximation), with
/// erf from Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7, below f32's resolution of the activations).
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

fn erf(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    (1.0 - poly * (-x * x).exp()).copysign(x)
}

#[cfg(test)]
mod tests {
    #[test]
    fn erf_is_within_abramowitz_stegun_bounds() {
        // erf(0.5), erf(1), erf(2), erf(-1.5) from tables.
        for (x, want) in [(0.5f32, 0.520_499_9f64), (1.0, 0.842_700_8), (2.0, 0.995_322_3), (-1.5, -0.966_105_1)] {
            assert!((f64::from(super::erf(x)) - want).abs() < 3e-7, "erf({x})");
        }
        assert!(super::erf(0.0).abs() < 2e-7);
        assert!((super::gelu(1.0) - 0.841_344_7).abs() < 1e-6);
    }
}
