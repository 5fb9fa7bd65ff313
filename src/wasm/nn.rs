//! The sentence encoder for JS: load from bytes, optionally attach a GPU, embed texts (a Promise of one flat
//! Float32Array and the path that ran).

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::js_error;
use crate::nn::Encoder;

#[cfg(feature = "gpu")]
type OnGpu = Option<(Rc<crate::gpu::Gpu>, Rc<crate::gpu::encoder::GpuEncoder>)>;
#[cfg(not(feature = "gpu"))]
type OnGpu = Option<()>;

/// A loaded sentence encoder (long-lived: call `free()`; it holds the model's weights, ~90 MB for MiniLM, and
/// their copy on the GPU when one is attached).
#[wasm_bindgen(js_name = RawEncoder)]
pub struct JsEncoder {
    inner: Rc<Encoder>,
    gpu: OnGpu,
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
            .map(|inner| JsEncoder { inner: Rc::new(inner), gpu: None })
            .map_err(|e| js_error(&e))
    }

    /// Uploads the weights to `gpu`; later `embed` calls run there (falling back to the CPU if the device fails).
    #[cfg(feature = "gpu")]
    #[wasm_bindgen(js_name = useGpu)]
    pub fn use_gpu(&mut self, gpu: &super::gpu::JsGpu) -> Result<(), JsValue> {
        let context = gpu.context();
        let on = crate::gpu::encoder::GpuEncoder::new(&context, &self.inner).map_err(|e| js_error(&e))?;
        self.gpu = Some((context, Rc::new(on)));
        Ok(())
    }

    /// The embedding dimension.
    #[wasm_bindgen(getter)]
    pub fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    /// Embeddings of `texts`: a Promise of `{data: Float32Array (texts × dimension, row-major), device}`, where
    /// `device` is `gpu: <adapter>`, `cpu`, or `cpu (<why the GPU failed>)`.
    pub fn embed(&self, texts: Vec<String>) -> js_sys::Promise {
        let encoder = self.inner.clone();
        let gpu = self.gpu.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let (rows, device) = embed(&encoder, gpu, &refs).await.map_err(|e| js_error(&e))?;
            let out = js_sys::Object::new();
            let data = js_sys::Float32Array::from(rows.concat().as_slice());
            js_sys::Reflect::set(&out, &"data".into(), &data)?;
            js_sys::Reflect::set(&out, &"device".into(), &device.into())?;
            Ok(out.into())
        })
    }
}

#[cfg(feature = "gpu")]
async fn embed(encoder: &Encoder, gpu: OnGpu, texts: &[&str]) -> crate::Result<(Vec<Vec<f32>>, String)> {
    let Some((context, on)) = gpu else { return Ok((encoder.embed(texts)?, "cpu".into())) };
    match on.embed(&context, encoder, texts).await {
        Ok(rows) => Ok((rows, format!("gpu: {}", context.adapter()))),
        Err(e) => Ok((encoder.embed(texts)?, format!("cpu ({e})"))),
    }
}

#[cfg(not(feature = "gpu"))]
#[allow(clippy::unused_async)]
async fn embed(encoder: &Encoder, _: OnGpu, texts: &[&str]) -> crate::Result<(Vec<Vec<f32>>, String)> {
    Ok((encoder.embed(texts)?, "cpu".into()))
}
