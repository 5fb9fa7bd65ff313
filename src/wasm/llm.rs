//! The small policy model for JS: load a GGUF from bytes, tokenise and apply the chat template, generate one token
//! per call (`pkg/index.js` turns the calls into an async iterator and checks an `AbortSignal` between them), and
//! score responses token by token. Nothing here but conversions.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::methods::json;
use super::{js_error, to_js};
use crate::nn::bpe::Message;
use crate::nn::generate::{logprobs, GenerateOptions, Generator};
use crate::nn::llama::Llama;
use crate::Error;

/// A loaded Llama-family model (long-lived: call `free()`; it holds the GGUF's bytes, ~98 MB for SmolLM2-135M).
#[wasm_bindgen(js_name = RawLlama)]
pub struct JsLlama {
    inner: Rc<Llama>,
}

#[wasm_bindgen(js_class = RawLlama)]
impl JsLlama {
    /// From the bytes of a GGUF file (copied once into the module's memory; the caller's copy can be dropped).
    pub fn load(bytes: Vec<u8>) -> Result<JsLlama, JsValue> {
        Llama::from_gguf(bytes).map(|m| JsLlama { inner: Rc::new(m) }).map_err(|e| js_error(&e))
    }

    /// The network's shape (`layers`, `dim`, `heads`, `kvHeads`, `vocab`, `context`, …).
    #[wasm_bindgen(getter)]
    pub fn config(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.config)
    }

    /// Token ids of `text`; with `special`, control tokens written in the text (`<|im_start|>`) are recognised.
    pub fn encode(&self, text: &str, special: bool) -> Result<Vec<u32>, JsValue> {
        self.inner.tokenizer.encode(text, special).map_err(|e| js_error(&e))
    }

    /// The text of token ids (invalid UTF-8 replaced).
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.tokenizer.decode(ids)
    }

    /// `messages` (`[{role, content}]`) through the model's chat template.
    pub fn chat(&self, messages: JsValue, add_generation_prompt: bool) -> Result<String, JsValue> {
        let messages: Vec<Message> = serde_json::from_value(json(messages, "messages")?)
            .map_err(|e| js_error(&Error::option("messages", format!("expected [{{role, content}}]: {e}"))))?;
        self.inner.tokenizer.chat(&messages, add_generation_prompt).map_err(|e| js_error(&e))
    }

    /// Runs the prompt (prefill) and returns the generation, ready for `next()`.
    pub fn start(&self, prompt: &[u32], options: JsValue) -> Result<JsGeneration, JsValue> {
        let options = GenerateOptions::from_json(&json(options, "options")?).map_err(|e| js_error(&e))?;
        let inner = Generator::new(&self.inner, prompt, options).map_err(|e| js_error(&e))?;
        Ok(JsGeneration { model: self.inner.clone(), inner })
    }

    /// Natural-log probability of each token of `response` after `prompt`.
    pub fn logprobs(&self, prompt: &[u32], response: &[u32]) -> Result<Vec<f32>, JsValue> {
        logprobs(&self.inner, prompt, response).map_err(|e| js_error(&e))
    }
}

/// A generation in progress (call `free()`; it holds the KV cache).
#[wasm_bindgen(js_name = RawGeneration)]
pub struct JsGeneration {
    model: Rc<Llama>,
    inner: Generator,
}

#[wasm_bindgen(js_class = RawGeneration)]
impl JsGeneration {
    /// The next `{token, text}`, or `undefined` once generation has finished.
    pub fn next(&mut self) -> Result<JsValue, JsValue> {
        match self.inner.next(&self.model).map_err(|e| js_error(&e))? {
            Some(step) => to_js(&step),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// Why generation ended (`eos`, `stop`, `length`), or `undefined` while it goes on.
    #[wasm_bindgen(getter)]
    pub fn finish(&self) -> Result<JsValue, JsValue> {
        self.inner.finish.map_or(Ok(JsValue::UNDEFINED), |f| to_js(&f))
    }

    /// The text so far.
    #[wasm_bindgen(getter)]
    pub fn text(&self) -> String {
        self.inner.text.clone()
    }

    /// The generated token ids so far.
    #[wasm_bindgen(getter)]
    pub fn tokens(&self) -> Vec<u32> {
        self.inner.tokens.clone()
    }

    /// Prompt tokens run at the start.
    #[wasm_bindgen(getter, js_name = promptTokens)]
    pub fn prompt_tokens(&self) -> usize {
        self.inner.prompt_tokens()
    }
}
