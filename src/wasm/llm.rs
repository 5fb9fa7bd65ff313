//! The small policy model for JS: load a GGUF (from bytes, or streamed chunk by chunk into a [`JsBytes`]), optionally
//! attach a GPU, tokenise and apply the chat template, generate one token per call (`pkg/index.js` turns the calls
//! into an async iterator and checks an `AbortSignal` between them), and score responses token by token. Every
//! forward pass returns a Promise: on the GPU its result arrives only after the event loop turns.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::methods::json;
use super::{busy, js_error, to_js};
use crate::nn::bpe::Message;
use crate::nn::generate::{logprobs, Forward, GenerateOptions, Generator};
use crate::nn::llama::{Cache, Llama, Logits};
use crate::Error;

/// Bytes gathered in the module's memory chunk by chunk (a model file streamed in: no whole copy on the JS side).
#[wasm_bindgen(js_name = RawBytes)]
pub struct JsBytes {
    inner: Vec<u8>,
}

fn out_of_memory(bytes: usize) -> JsValue {
    js_error(&Error::Model(format!("cannot allocate {bytes} bytes for the model file")))
}

#[wasm_bindgen(js_class = RawBytes)]
impl JsBytes {
    /// An empty buffer with room for `capacity` bytes (the file's size when known, else 0).
    #[wasm_bindgen(constructor)]
    pub fn new(capacity: usize) -> Result<JsBytes, JsValue> {
        let mut inner = Vec::new();
        inner.try_reserve_exact(capacity).map_err(|_| out_of_memory(capacity))?;
        Ok(JsBytes { inner })
    }

    /// Appends `chunk`.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), JsValue> {
        self.inner.try_reserve(chunk.len()).map_err(|_| out_of_memory(self.inner.len() + chunk.len()))?;
        self.inner.extend_from_slice(chunk);
        Ok(())
    }

    /// Bytes so far.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.inner.len()
    }
}

/// The model a call runs on: the CPU's, or its copy on the GPU when one is attached.
#[derive(Clone)]
struct Model {
    llama: Rc<Llama>,
    #[cfg(feature = "gpu")]
    gpu: Option<(Rc<crate::gpu::Gpu>, Rc<crate::gpu::llama::GpuLlama>)>,
}

/// The KV cache of the device a generation started on.
#[derive(Debug)]
enum AnyCache {
    Cpu(Cache),
    #[cfg(feature = "gpu")]
    Gpu(crate::gpu::llama::GpuCache),
}

impl Forward for Model {
    type Cache = AnyCache;

    fn llama(&self) -> &Llama {
        &self.llama
    }

    fn cache(&self) -> AnyCache {
        #[cfg(feature = "gpu")]
        if let Some((_, on)) = &self.gpu {
            return AnyCache::Gpu(on.cache());
        }
        AnyCache::Cpu(self.llama.cache())
    }

    async fn forward(&self, cache: &mut AnyCache, tokens: &[u32], want: Logits) -> crate::Result<Vec<f32>> {
        match cache {
            AnyCache::Cpu(c) => self.llama.forward(c, tokens, want),
            #[cfg(feature = "gpu")]
            AnyCache::Gpu(c) => {
                let Some((gpu, model)) = &self.gpu else { return Err(Error::Gpu("no GPU model".into())) };
                let on = crate::gpu::llama::OnDevice { gpu, model, llama: &self.llama };
                on.forward(c, tokens, want).await
            }
        }
    }
}

impl Model {
    /// `gpu: <adapter>` or `cpu`.
    #[cfg_attr(not(feature = "gpu"), allow(clippy::unused_self))]
    fn device(&self) -> String {
        #[cfg(feature = "gpu")]
        if let Some((gpu, _)) = &self.gpu {
            return format!("gpu: {}", gpu.adapter());
        }
        "cpu".into()
    }
}

/// A loaded Llama-family model (long-lived: call `free()`; it holds the GGUF's bytes, ~98 MB for SmolLM2-135M, and
/// their copy on the GPU when one is attached).
#[wasm_bindgen(js_name = RawLlama)]
pub struct JsLlama {
    model: Model,
}

#[wasm_bindgen(js_class = RawLlama)]
impl JsLlama {
    /// From the bytes of a GGUF file (copied once into the module's memory; the caller's copy can be dropped).
    pub fn load(bytes: Vec<u8>) -> Result<JsLlama, JsValue> {
        Llama::from_gguf(bytes).map(JsLlama::new).map_err(|e| js_error(&e))
    }

    /// From bytes streamed into the module's memory (`bytes` is consumed: no copy).
    #[wasm_bindgen(js_name = loadStreamed)]
    #[allow(clippy::needless_pass_by_value)] // taking it by value moves the JS object's bytes here
    pub fn load_streamed(bytes: JsBytes) -> Result<JsLlama, JsValue> {
        let JsBytes { inner } = bytes;
        Llama::from_gguf(inner).map(JsLlama::new).map_err(|e| js_error(&e))
    }

    /// Uploads the weights to `gpu`; later generations and scores run there.
    #[cfg(feature = "gpu")]
    #[wasm_bindgen(js_name = useGpu)]
    pub fn use_gpu(&mut self, gpu: &super::gpu::JsGpu) -> Result<(), JsValue> {
        let context = gpu.context();
        let on = crate::gpu::llama::GpuLlama::new(&context, &self.model.llama).map_err(|e| js_error(&e))?;
        self.model.gpu = Some((context, Rc::new(on)));
        Ok(())
    }

    /// `gpu: <adapter>` once a GPU is attached, else `cpu`.
    #[wasm_bindgen(getter)]
    pub fn device(&self) -> String {
        self.model.device()
    }

    /// The network's shape (`layers`, `dim`, `heads`, `kvHeads`, `vocab`, `context`, …).
    #[wasm_bindgen(getter)]
    pub fn config(&self) -> Result<JsValue, JsValue> {
        to_js(&self.model.llama.config)
    }

    /// Token ids of `text`; with `special`, control tokens written in the text (`<|im_start|>`) are recognised.
    pub fn encode(&self, text: &str, special: bool) -> Result<Vec<u32>, JsValue> {
        self.model.llama.tokenizer.encode(text, special).map_err(|e| js_error(&e))
    }

    /// The text of token ids (invalid UTF-8 replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        self.model.llama.tokenizer.decode(ids)
    }

    /// `messages` (`[{role, content}]`) through the model's chat template.
    pub fn chat(&self, messages: JsValue, add_generation_prompt: bool) -> Result<String, JsValue> {
        let messages: Vec<Message> = serde_json::from_value(json(messages, "messages")?)
            .map_err(|e| js_error(&Error::option("messages", format!("expected [{{role, content}}]: {e}"))))?;
        self.model.llama.tokenizer.chat(&messages, add_generation_prompt).map_err(|e| js_error(&e))
    }

    /// Runs the prompt (prefill): a Promise of the generation, ready for `next()`.
    pub fn start(&self, prompt: Vec<u32>, options: JsValue) -> Result<js_sys::Promise, JsValue> {
        let options = GenerateOptions::from_json(&json(options, "options")?).map_err(|e| js_error(&e))?;
        let model = self.model.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let inner = Generator::new(&model, &prompt, options).await.map_err(|e| js_error(&e))?;
            Ok(JsGeneration { model, inner: Rc::new(RefCell::new(inner)) }.into())
        }))
    }

    /// A Promise of the natural-log probability of each token of `response` after `prompt` (a Float32Array).
    pub fn logprobs(&self, prompt: Vec<u32>, response: Vec<u32>) -> js_sys::Promise {
        let model = self.model.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let lp = logprobs(&model, &prompt, &response).await.map_err(|e| js_error(&e))?;
            Ok(js_sys::Float32Array::from(lp.as_slice()).into())
        })
    }
}

impl JsLlama {
    fn new(llama: Llama) -> Self {
        JsLlama {
            model: Model {
                llama: Rc::new(llama),
                #[cfg(feature = "gpu")]
                gpu: None,
            },
        }
    }
}

/// A generation in progress (call `free()`; it holds the KV cache). One `next()` at a time: a call while one is
/// pending rejects with code `BUSY`.
#[wasm_bindgen(js_name = RawGeneration)]
pub struct JsGeneration {
    model: Model,
    inner: Rc<RefCell<Generator<AnyCache>>>,
}

#[wasm_bindgen(js_class = RawGeneration)]
impl JsGeneration {
    /// A Promise of the next `{token, text}`, or of `undefined` once generation has finished.
    // The borrow is held across the await on purpose: every other access uses `try_borrow` and gets `BUSY`.
    #[allow(clippy::await_holding_refcell_ref)]
    pub fn next(&self) -> js_sys::Promise {
        let (model, inner) = (self.model.clone(), self.inner.clone());
        wasm_bindgen_futures::future_to_promise(async move {
            let mut generator = inner.try_borrow_mut().map_err(|_| busy("generation"))?;
            match generator.next(&model).await.map_err(|e| js_error(&e))? {
                Some(step) => to_js(&step),
                None => Ok(JsValue::UNDEFINED),
            }
        })
    }

    /// Why generation ended (`eos`, `stop`, `length`), or `undefined` while it goes on.
    #[wasm_bindgen(getter)]
    pub fn finish(&self) -> Result<JsValue, JsValue> {
        self.read()?.finish.map_or(Ok(JsValue::UNDEFINED), |f| to_js(&f))
    }

    /// The text so far.
    #[wasm_bindgen(getter)]
    pub fn text(&self) -> Result<String, JsValue> {
        Ok(self.read()?.text.clone())
    }

    /// The generated token ids so far.
    #[wasm_bindgen(getter)]
    pub fn tokens(&self) -> Result<Vec<u32>, JsValue> {
        Ok(self.read()?.tokens.clone())
    }

    /// Prompt tokens run at the start.
    #[wasm_bindgen(getter, js_name = promptTokens)]
    pub fn prompt_tokens(&self) -> Result<usize, JsValue> {
        Ok(self.read()?.prompt_tokens())
    }
}

impl JsGeneration {
    fn read(&self) -> Result<std::cell::Ref<'_, Generator<AnyCache>>, JsValue> {
        self.inner.try_borrow().map_err(|_| busy("generation"))
    }
}
