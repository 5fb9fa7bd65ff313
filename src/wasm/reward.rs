//! Local reward scoring for JS: heads travel as JSON text, embeddings as one flat Float32Array, votes and options
//! as plain objects; `crate::reward::api` does the work. Nothing here but conversions.

use wasm_bindgen::prelude::*;

use super::js_error;
use super::methods::{json, out};
use crate::reward::api;

/// Scores of each embedding row under a head.
#[wasm_bindgen(js_name = rawRewardScores)]
pub fn scores(head: &str, embeddings: &[f32], context: JsValue) -> Result<Vec<f64>, JsValue> {
    api::score(head, embeddings, &json(context, "context")?).map_err(|e| js_error(&e))
}

/// P(row i ≻ row j), row-major.
#[wasm_bindgen(js_name = rawRewardPreferences)]
pub fn preferences(head: &str, embeddings: &[f32], context: JsValue) -> Result<Vec<f64>, JsValue> {
    api::preferences(head, embeddings, &json(context, "context")?).map_err(|e| js_error(&e))
}

/// A linear (or MLP) head fitted from votes: `{head, report}`.
#[wasm_bindgen(js_name = rawFitRewardHead)]
pub fn fit(embeddings: &[f32], dim: usize, votes: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    out(api::fit(embeddings, dim, &json(votes, "votes")?, &json(options, "options")?))
}

/// A PAL-A head with `user`'s weights fitted from that user's votes: `{head, report}`.
#[wasm_bindgen(js_name = rawFitRewardUser)]
pub fn fit_user(
    head: &str,
    embeddings: &[f32],
    user: &str,
    votes: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    out(api::fit_user(head, embeddings, user, &json(votes, "votes")?, &json(options, "options")?))
}

/// A whole PAL-A model from votes naming their users: `{head, report}`.
#[wasm_bindgen(js_name = rawFitPal)]
pub fn fit_pal(embeddings: &[f32], dim: usize, votes: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    out(api::fit_pal_model(embeddings, dim, &json(votes, "votes")?, &json(options, "options")?))
}

/// A best-of-N pick by rule.
#[wasm_bindgen(js_name = rawBestOfN)]
pub fn best_of_n(request: JsValue) -> Result<JsValue, JsValue> {
    out(api::best_of_n(&json(request, "request")?))
}

/// MAP's palette solution.
#[wasm_bindgen(js_name = rawMapPalette)]
pub fn map_palette(rewards: JsValue, palette: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    out(api::map_palette(&json(rewards, "rewards")?, &json(palette, "palette")?, &json(options, "options")?))
}
