//! A BERT encoder (Devlin et al. 2019) as sentence-transformers runs it: WordPiece tokens from the model's own
//! `tokenizer.json` (the `tokenizers` crate), truncated to `max_seq_length`, absolute position embeddings,
//! post-layer-norm blocks with exact (erf) GELU, then the mean of the token states and an L2 normalisation.
//!
//! Texts run in packed batches (`ops::Seq`: the sequences end to end, no padding), so each dense layer is one
//! large matrix product through ndarray's `matrixmultiply` (wasm SIMD in the browser build); attention stays inside
//! each sequence. The query, key and value projections are fused into one `3h × h` layer at load.

use ndarray::{concatenate, Array1, Array2, Axis};
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationParams};

use super::ops::{self, LayerNorm, Linear, Seq};
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

/// One transformer block's weights (post-layer-norm BERT).
pub(crate) struct Layer {
    pub(crate) qkv: Linear,
    pub(crate) attention_out: Linear,
    pub(crate) attention_norm: LayerNorm,
    pub(crate) intermediate: Linear,
    pub(crate) output: Linear,
    pub(crate) output_norm: LayerNorm,
}

/// A loaded sentence encoder.
pub struct Encoder {
    pub(crate) config: Config,
    tokenizer: Tokenizer,
    pub(crate) word: Array2<f32>,
    pub(crate) position: Array2<f32>,
    pub(crate) token_type: Array2<f32>,
    pub(crate) embedding_norm: LayerNorm,
    pub(crate) layers: Vec<Layer>,
}

/// Token ids of several texts packed end to end, as the forward pass consumes them.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// Word-piece ids, all sequences end to end.
    pub ids: Vec<u32>,
    /// Token type (segment) ids, parallel to `ids`.
    pub types: Vec<u32>,
    /// Where each text's tokens lie.
    pub seqs: Vec<Seq>,
}

/// Texts are packed into batches of at most this many tokens (bounds the activations: 4096 × 1536 f32 = 25 MB for
/// MiniLM's intermediate layer).
const BATCH_TOKENS: usize = 4096;

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
                    qkv: fuse(&[
                        t.linear(&at("attention.self.query"), h, h)?,
                        t.linear(&at("attention.self.key"), h, h)?,
                        t.linear(&at("attention.self.value"), h, h)?,
                    ])?,
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

    /// Sentence embeddings (mean-pooled, unit length), one per text, computed in packed batches.
    ///
    /// # Errors
    /// `MODEL` when the tokenizer fails or yields a token outside the model's tables.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in self.batches(texts)? {
            let states = self.forward(&batch)?;
            out.extend(ops::mean_pool(&states.view(), &batch.seqs));
        }
        Ok(out)
    }

    /// Tokenises `texts` into packed batches of at most [`BATCH_TOKENS`] tokens (a longer text gets its own).
    ///
    /// # Errors
    /// `MODEL` when the tokenizer fails.
    pub fn batches(&self, texts: &[&str]) -> Result<Vec<Batch>> {
        let mut batches: Vec<Batch> = Vec::new();
        for text in texts {
            let (ids, types) = self.tokens(text)?;
            let fits = batches.last().is_some_and(|b| b.ids.len() + ids.len() <= BATCH_TOKENS);
            if !fits {
                batches.push(Batch::default());
            }
            let Some(batch) = batches.last_mut() else { continue };
            batch.seqs.push(Seq { start: batch.ids.len(), len: ids.len() });
            batch.ids.extend(ids);
            batch.types.extend(types);
        }
        Ok(batches)
    }

    /// The summed word, position and token-type embeddings of a batch, layer-normalised (`tokens × hidden`).
    ///
    /// # Errors
    /// `MODEL` when a token is outside the model's tables.
    pub fn embeddings(&self, batch: &Batch) -> Result<Array2<f32>> {
        let mut x = Array2::<f32>::zeros((batch.ids.len(), self.config.hidden_size));
        for s in &batch.seqs {
            for r in 0..s.len {
                let t = s.start + r;
                let (id, ty) = (batch.ids[t] as usize, batch.types[t] as usize);
                if id >= self.word.nrows() || ty >= self.token_type.nrows() || r >= self.position.nrows() {
                    return Err(model_error(format!(
                        "token {id} (type {ty}) at position {r} is outside the model's tables"
                    )));
                }
                let mut row = x.row_mut(t);
                row += &self.word.row(id);
                row += &self.position.row(r);
                row += &self.token_type.row(ty);
            }
        }
        self.embedding_norm.apply(&mut x, None);
        Ok(x)
    }

    /// The last hidden states (`tokens × hidden`) of a packed batch, on the CPU.
    ///
    /// # Errors
    /// `MODEL` when a token is outside the model's tables.
    pub fn forward(&self, batch: &Batch) -> Result<Array2<f32>> {
        let mut x = self.embeddings(batch)?;
        for layer in &self.layers {
            let qkv = layer.qkv.apply(&x.view());
            let context = ops::attention(&qkv.view(), &batch.seqs, self.config.num_attention_heads);
            drop(qkv);
            let mut y = layer.attention_out.apply(&context.view());
            layer.attention_norm.apply(&mut y, Some(&x));
            let mut inner = layer.intermediate.apply(&y.view());
            inner.mapv_inplace(ops::gelu);
            x = layer.output.apply(&inner.view());
            layer.output_norm.apply(&mut x, Some(&y));
        }
        Ok(x)
    }
}

/// One layer whose outputs are those of `parts` stacked (the fused query/key/value projection).
fn fuse(parts: &[Linear]) -> Result<Linear> {
    let w: Vec<_> = parts.iter().map(|p| p.w.view()).collect();
    let b: Vec<_> = parts.iter().map(|p| p.b.view()).collect();
    Ok(Linear {
        w: concatenate(Axis(0), &w).map_err(|e| model_error(e.to_string()))?,
        b: concatenate(Axis(0), &b).map_err(|e| model_error(e.to_string()))?,
    })
}
