//! The wasm-bindgen layer: the only module that knows JS. It converts options objects and results and delegates
//! to the core; `pkg/index.js` wraps it in the public, documented API (`pkg/index.d.ts`).
//!
//! Every function returns `Result<_, JsValue>` whose error is a JS `Error` with a stable `code` (and `row` when a
//! row is to blame), so no panic crosses the boundary for bad input.

#[cfg(feature = "gpu")]
mod gpu;
mod llm;
mod methods;
mod nn;
mod options;
mod reward;

use wasm_bindgen::prelude::*;

use crate::battles::Battles;
use crate::rank::Ranking;
use crate::Error;

/// Converts a core error into a JS `Error` with `code` (and `row`).
pub(crate) fn js_error(e: &Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("ArbiterError");
    let _ = js_sys::Reflect::set(&err, &"code".into(), &e.code().into());
    if let Some(row) = e.row() {
        let _ = js_sys::Reflect::set(&err, &"row".into(), &(row as f64).into());
    }
    err.into()
}

/// The error of a call made while a Promise on the same object is pending: code `BUSY`.
pub(crate) fn busy(what: &'static str) -> JsValue {
    let err = js_error(&Error::option(what, format!("another operation on this {what} is still running")));
    let _ = js_sys::Reflect::set(&err, &"code".into(), &"BUSY".into());
    err
}

pub(crate) fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).map_err(|e| js_error(&Error::option("output", e.to_string())))
}

/// A parsed set of battles (long-lived: call `free()` when done).
#[wasm_bindgen(js_name = RawBattles)]
pub struct JsBattles {
    pub(crate) inner: Battles,
}

#[wasm_bindgen(js_class = RawBattles)]
impl JsBattles {
    /// Parses battles from text with `{format, columns, labels, skipInvalid}`.
    pub fn parse(text: &str, options: JsValue) -> Result<JsBattles, JsValue> {
        let options = options::parse_options(options)?;
        Battles::parse(text, &options).map(|inner| JsBattles { inner }).map_err(|e| js_error(&e))
    }

    /// Parses battles from UTF-8 bytes (no JS string in between: large files take half the memory).
    #[wasm_bindgen(js_name = parseBytes)]
    pub fn parse_bytes(bytes: &[u8], options: JsValue) -> Result<JsBattles, JsValue> {
        let options = options::parse_options(options)?;
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let at = crate::error::Location {
                row: 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count(),
                field: None,
            };
            js_error(&Error::Parse { at, message: format!("invalid UTF-8: {e}") })
        })?;
        Battles::parse(text, &options).map(|inner| JsBattles { inner }).map_err(|e| js_error(&e))
    }

    /// Appends JSONL records (whole lines) parsed with the same options; all or nothing.
    pub fn append(&mut self, text: &str, options: JsValue) -> Result<(), JsValue> {
        let options = options::parse_options(options)?;
        self.inner.append(text, &options).map_err(|e| js_error(&e))
    }

    /// Number of records.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.inner.len()
    }

    /// Number of battles (sum of counts).
    #[wasm_bindgen(getter)]
    pub fn total(&self) -> f64 {
        self.inner.total() as f64
    }

    /// Model names in order of first appearance.
    #[wasm_bindgen(getter)]
    pub fn models(&self) -> Vec<String> {
        self.inner.models().to_vec()
    }

    /// Rows left out by `skipInvalid`: `[{row, code, message}]`.
    #[wasm_bindgen(getter)]
    pub fn skipped(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.skipped())
    }

    /// LMArena JSONL text of these battles.
    #[wasm_bindgen(js_name = toJsonl)]
    pub fn to_jsonl(&self) -> String {
        self.inner.to_jsonl()
    }
}

/// A ranking in progress: the point fit is done at construction; bootstrap rounds run in chunks.
#[wasm_bindgen(js_name = RawRanking)]
pub struct JsRanking {
    inner: Ranking,
}

#[wasm_bindgen(js_class = RawRanking)]
impl JsRanking {
    #[wasm_bindgen(constructor)]
    pub fn new(battles: &JsBattles, options: JsValue) -> Result<JsRanking, JsValue> {
        let options = options::rank_options(options)?;
        Ranking::new(&battles.inner, &options).map(|inner| JsRanking { inner }).map_err(|e| js_error(&e))
    }

    /// Bootstrap rounds still to run.
    #[wasm_bindgen(getter)]
    pub fn remaining(&self) -> u32 {
        self.inner.remaining()
    }

    /// Bootstrap rounds done.
    #[wasm_bindgen(getter)]
    pub fn done(&self) -> u32 {
        self.inner.done()
    }

    /// Runs up to `k` more rounds.
    #[wasm_bindgen(js_name = runRounds)]
    pub fn run_rounds(&mut self, k: u32) {
        self.inner.run_rounds(k);
    }

    /// The leaderboard as a plain object.
    pub fn leaderboard(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.leaderboard())
    }

    /// Rating-scale values (before identification) in leaderboard order, for predicted probabilities.
    #[wasm_bindgen(js_name = ratingScale)]
    pub fn rating_scale(&self) -> Vec<f64> {
        self.inner.rating_scale()
    }

    /// Counts, observed win rates and predicted probabilities, in leaderboard order.
    pub fn matrices(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.matrices())
    }
}
