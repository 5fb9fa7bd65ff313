//! The sentence encoder for JS: load from bytes, embed texts into one flat Float32Array.

use wasm_bindgen::prelude::*;

use super::js_error;
use crate::nn::Encoder;

/// A loaded sentence encoder (long-lived: call `free()`; it holds the model's weights, ~90 MB for MiniLM).
#[wasm_bindgen(js_name = RawEncoder)]
pub struct JsEncoder {
    inner: Encoder,
}

#[wasm_bindgen(js_class = RawEncoder)]
impl JsEncoder {
    /// From the bytes of config.json, model.safetensors, tokenizer.json and (optionally) sentence_bert_config.json.
    #[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands an optional byte array over as an owned vector
    pub fn load(
        config: &[u8],
        weights: &[u8],
        tokenizer: &[u8],
        sentence_config: Option<Vec<u8>>,
    ) -> Result<JsEncoder, JsValue> {
        Encoder::from_bytes(config, weights, tokenizer, sentence_config.as_deref())
            .map(|inner| JsEncoder { inner })
            .map_err(|e| js_error(&e))
    }

    /// The embedding dimension.
    #[wasm_bindgen(getter)]
    pub fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    /// Embeddings of `texts`, row-major (texts × dimension).
    #[allow(clippy::needless_pass_by_value)] // wasm-bindgen hands JS string arrays over as owned vectors
    pub fn embed(&self, texts: Vec<String>) -> Result<Vec<f32>, JsValue> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let rows = self.inner.embed(&refs).map_err(|e| js_error(&e))?;
        Ok(rows.concat())
    }
}
